//! The structure ARCHITECTURE.md describes, checked over the source: the rooms (the top-level
//! modules of `src/`) import each other without a cycle, files beside each other in one folder
//! do too, the HTTP layer never reaches the store, and no file grows past 800 lines (in `src/`,
//! `tests/` and `bench/src/`).
//!
//! Imports are read from the text: every `use` tree and every `crate::…`, `super::…` path,
//! resolved to the module file that defines it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A source file: its module path (`["store", "code_check"]`) and its text without comments.
struct SourceFile {
    module: Vec<String>,
    path: PathBuf,
    code: String,
}

fn source_files() -> Vec<SourceFile> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut folders = vec![root.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a source file is readable");
                files.push(SourceFile {
                    module: module_of(&path.strip_prefix(&root).unwrap().to_string_lossy()),
                    code: without_comments(&text),
                    path,
                });
            }
        }
    }
    files.sort_by(|a, b| a.module.cmp(&b.module));
    files
}

/// `store/code_check/mod.rs` → `["store", "code_check"]`; `lib.rs` and `main.rs` → `[]`.
fn module_of(relative: &str) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The text with `//` comments (doc comments included) blanked out, up to its unit tests: they
/// are no part of the structure, and their paths start one module deeper.
fn without_comments(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    text.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            if trimmed.starts_with("//") {
                ""
            } else {
                line.split(" // ").next().unwrap_or(line)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path the file names from its crate: `use` trees flattened, and inline paths.
fn paths_in(file: &SourceFile) -> Vec<Vec<String>> {
    let code = &file.code;
    let mut paths = Vec::new();
    // `use` statements (a line that starts one), whose trees may group paths in braces.
    let mut offset = 0;
    for line in code.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let trimmed = line.trim_start();
        let tree_at = if trimmed.starts_with("use ") {
            Some(4)
        } else if trimmed.starts_with("pub") {
            trimmed.find(" use ").map(|at| at + 5)
        } else {
            None
        };
        let Some(tree_at) = tree_at else { continue };
        let from = start + (line.len() - trimmed.len()) + tree_at;
        let Some(end) = code[from..].find(';') else {
            continue;
        };
        let tree = code[from..from + end].replace(['\n', '\r', '\t'], " ");
        flatten_use_tree(&tree, &mut Vec::new(), &mut paths);
    }
    // Inline paths: `crate::x::y` and `super::x` outside `use` (a `use` path is found again
    // here, harmlessly).
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(start) {
            let at = from + at;
            from = at + start.len();
            if code[..at]
                .chars()
                .last()
                .is_some_and(|c| is_ident_char(c) || c == ':')
            {
                continue;
            }
            let path: String = code[at..]
                .chars()
                .take_while(|c| is_ident_char(*c) || *c == ':')
                .collect();
            paths.push(
                path.split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            );
        }
    }
    paths
        .into_iter()
        .filter_map(|path| resolve(&file.module, &path))
        .collect()
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn flatten_use_tree(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let segments = |path: &str| -> Vec<String> {
        path.split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    for item in split_top_level(tree) {
        let depth = prefix.len();
        match (item.find('{'), item.rfind('}')) {
            (Some(open), Some(close)) => {
                prefix.extend(segments(&item[..open]));
                flatten_use_tree(&item[open + 1..close], prefix, out);
            }
            _ => {
                let mut path = prefix.clone();
                path.extend(segments(item.split(" as ").next().unwrap_or(item)));
                out.push(path);
            }
        }
        prefix.truncate(depth);
    }
}

/// Splits `a, b::{c, d}, e` at the commas outside braces.
fn split_top_level(tree: &str) -> Vec<&str> {
    let (mut items, mut depth, mut start) = (Vec::new(), 0, 0);
    for (at, c) in tree.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&tree[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    items.push(&tree[start..]);
    items
        .into_iter()
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .collect()
}

/// The absolute path of `path` as written in `module`, if it starts from the crate.
fn resolve(module: &[String], path: &[String]) -> Option<Vec<String>> {
    let first = path.first()?;
    match first.as_str() {
        "crate" => Some(path[1..].to_vec()),
        "super" | "self" => {
            let mut base = module.to_vec();
            let mut rest = path;
            while let Some(head) = rest.first() {
                match head.as_str() {
                    "super" => {
                        base.pop();
                    }
                    "self" => {}
                    _ => break,
                }
                rest = &rest[1..];
            }
            base.extend(rest.iter().cloned());
            Some(base)
        }
        _ => None,
    }
}

/// The module file a path lands in: the longest module of `modules` it starts with.
fn file_of<'a>(modules: &'a BTreeSet<Vec<String>>, path: &[String]) -> Option<&'a Vec<String>> {
    (0..=path.len())
        .rev()
        .find_map(|len| modules.get(&path[..len].to_vec()))
}

/// The import graph between files, each edge with an example of what it names.
fn file_graph(files: &[SourceFile]) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for file in files {
        let edges = graph.entry(file.module.clone()).or_default();
        for path in paths_in(file) {
            if let Some(target) = file_of(&modules, &path)
                && target != &file.module
            {
                edges.insert(target.clone());
            }
        }
    }
    graph
}

/// The cycles of `graph` (its strongly connected parts of more than one node).
fn cycles<N: Ord + Clone>(graph: &BTreeMap<N, BTreeSet<N>>) -> Vec<Vec<N>> {
    // Kosaraju: order by finish time on the graph, then collect on the reversed graph.
    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    for start in graph.keys() {
        if seen.contains(start) {
            continue;
        }
        let mut stack = vec![(start.clone(), false)];
        while let Some((node, done)) = stack.pop() {
            if done {
                order.push(node);
                continue;
            }
            if !seen.insert(node.clone()) {
                continue;
            }
            stack.push((node.clone(), true));
            for next in graph.get(&node).into_iter().flatten() {
                if !seen.contains(next) {
                    stack.push((next.clone(), false));
                }
            }
        }
    }
    let mut reversed: BTreeMap<N, BTreeSet<N>> = BTreeMap::new();
    for (from, tos) in graph {
        for to in tos {
            reversed.entry(to.clone()).or_default().insert(from.clone());
        }
    }
    let mut assigned = BTreeSet::new();
    let mut found = Vec::new();
    for start in order.iter().rev() {
        if assigned.contains(start) {
            continue;
        }
        let mut part = Vec::new();
        let mut stack = vec![start.clone()];
        while let Some(node) = stack.pop() {
            if !assigned.insert(node.clone()) {
                continue;
            }
            part.push(node.clone());
            for next in reversed.get(&node).into_iter().flatten() {
                if !assigned.contains(next) {
                    stack.push(next.clone());
                }
            }
        }
        if part.len() > 1 {
            part.sort();
            found.push(part);
        }
    }
    found
}

fn room_of(module: &[String]) -> String {
    module.first().cloned().unwrap_or_else(|| "crate".into())
}

fn shown(module: &[String]) -> String {
    format!("crate::{}", module.join("::"))
}

#[test]
fn the_rooms_import_each_other_without_a_cycle() {
    let files = source_files();
    let graph = file_graph(&files);
    let mut rooms: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in &graph {
        let edges = rooms.entry(room_of(from)).or_default();
        edges.extend(
            tos.iter()
                .map(|to| room_of(to))
                .filter(|to| *to != room_of(from) && to != "crate"),
        );
    }
    let found = cycles(&rooms);
    // Each import that ties a cycle, file to file, to say where to cut.
    let ties: Vec<String> = found
        .iter()
        .flat_map(|cycle| {
            graph.iter().flat_map(move |(from, tos)| {
                tos.iter()
                    .filter(move |to| {
                        room_of(from) != room_of(to)
                            && cycle.contains(&room_of(from))
                            && cycle.contains(&room_of(to))
                    })
                    .map(move |to| format!("{} -> {}", shown(from), shown(to)))
            })
        })
        .collect();
    assert!(
        found.is_empty(),
        "rooms in a cycle: {found:?}, tied by:\n{}",
        ties.join("\n")
    );
}

#[test]
fn files_beside_each_other_import_each_other_without_a_cycle() {
    let files = source_files();
    // A module and the modules inside it may name each other: the parent declares the child,
    // the child uses the parent's types. Between files that are not nested, no loop.
    let nested = |a: &[String], b: &[String]| a.starts_with(b) || b.starts_with(a);
    let siblings: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = file_graph(&files)
        .into_iter()
        .map(|(from, tos)| {
            let tos = tos.into_iter().filter(|to| !nested(&from, to)).collect();
            (from, tos)
        })
        .collect();
    let found: Vec<Vec<String>> = cycles(&siblings)
        .into_iter()
        .map(|cycle| cycle.iter().map(|m| shown(m)).collect())
        .collect();
    assert!(found.is_empty(), "files in a cycle: {found:?}");
}

#[test]
fn the_http_layer_calls_services_and_never_the_store() {
    let offenders: Vec<String> = source_files()
        .into_iter()
        .filter(|file| file.module.first().is_some_and(|room| room == "http"))
        .filter(|file| file.code.contains("core.store") || file.code.contains(".store."))
        .map(|file| file.path.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "HTTP files reaching the store: {offenders:?}"
    );
}

/// Every Rust file under `folder` (relative to the repository), with its number of lines.
fn line_counts(folder: &str) -> Vec<(PathBuf, usize)> {
    let mut counts = Vec::new();
    let mut folders = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join(folder)];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("the folder is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a source file is readable");
                counts.push((path, text.lines().count()));
            }
        }
    }
    counts
}

#[test]
fn no_source_file_is_longer_than_800_lines() {
    // The tests and the performance suite are read as often as the server, so the rule is theirs too.
    let long: Vec<String> = ["src", "tests", "bench/src"]
        .into_iter()
        .flat_map(line_counts)
        .filter(|(_, lines)| *lines > 800)
        .map(|(path, lines)| format!("{} ({lines} lines)", path.display()))
        .collect();
    assert!(long.is_empty(), "split these by responsibility: {long:?}");
}

#[test]
fn the_checks_above_see_imports_and_cycles() {
    // The reader finds grouped, nested and relative imports...
    let file = SourceFile {
        module: vec!["a".into(), "b".into()],
        path: PathBuf::from("src/a/b.rs"),
        code: "use super::{c::X, d::{Y, e}};\nuse crate::f::G as H;\nfn z() { crate::g::h(); }"
            .into(),
    };
    let paths = paths_in(&file);
    for expected in [
        &["a", "c", "X"][..],
        &["a", "d", "Y"],
        &["a", "d", "e"],
        &["f", "G"],
        &["g", "h"],
    ] {
        assert!(
            paths.iter().any(|p| p == expected),
            "{expected:?} not in {paths:?}"
        );
    }
    // ...and the cycle finder finds a loop, and nothing in a line.
    let graph = |edges: &[(u8, u8)]| {
        let mut graph: BTreeMap<u8, BTreeSet<u8>> = BTreeMap::new();
        for (from, to) in edges {
            graph.entry(*from).or_default().insert(*to);
            graph.entry(*to).or_default();
        }
        graph
    };
    assert_eq!(
        cycles(&graph(&[(1, 2), (2, 3), (3, 1), (3, 4)])),
        vec![vec![1, 2, 3]]
    );
    assert!(cycles(&graph(&[(1, 2), (2, 3), (1, 3)])).is_empty());
}
