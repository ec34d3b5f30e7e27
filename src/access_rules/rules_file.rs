//! Access rules kept in a file the configuration names (`forward_auth.access_rules_file`), for
//! operators who keep their setup in files: TOML (the configuration's own format) or, for a name
//! ending in `.json`, the JSON document the API takes. While a file is named, it is the rules:
//! the API, the CLI and the console show them and refuse to change them.

use std::path::Path;

use super::rules::{AccessRules, AccessRulesDocument};

/// The document and its compiled rules of a file's `text`; or its problems, each naming the
/// rule and field (`rules[1].networks[0]: …`) or where the text does not read.
pub fn compile(path: &Path, text: &str) -> Result<(AccessRulesDocument, AccessRules), Vec<String>> {
    let document: AccessRulesDocument = if is_json(path) {
        serde_json::from_str(text).map_err(|e| vec![format!("does not read as JSON: {e}")])?
    } else {
        toml::from_str(text).map_err(|e| vec![format!("does not read as TOML: {}", e.message())])?
    };
    let rules = AccessRules::compile(&document)
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    Ok((document, rules))
}

/// `compile` of the file at `path`, read now; every problem names the file.
pub fn load(path: &Path) -> Result<(String, AccessRulesDocument, AccessRules), String> {
    let named = |problems: Vec<String>| {
        problems
            .iter()
            .map(|p| format!("forward_auth.access_rules_file ({}): {p}", path.display()))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| named(vec![format!("cannot be read: {e}")]))?;
    let (document, rules) = compile(path, &text).map_err(named)?;
    Ok((text, document, rules))
}

fn is_json(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_toml_file_reads_as_the_document_the_api_takes() {
        let toml = r#"
            defaultPolicy = "deny"

            [[rules]]
            domain = ["app.example.com"]
            policy = "one_factor"

            [[rules]]
            domain = ["*.example.com"]
            subject = ["group:admins"]
            policy = "two_factor"
        "#;
        let (document, _) = compile(Path::new("rules.toml"), toml).unwrap();
        let json = r#"{"defaultPolicy": "deny", "rules": [
            {"domain": ["app.example.com"], "policy": "one_factor"},
            {"domain": ["*.example.com"], "subject": ["group:admins"], "policy": "two_factor"}]}"#;
        let (same, _) = compile(Path::new("rules.JSON"), json).unwrap();
        assert_eq!(document, same);
    }

    #[test]
    fn a_problem_names_its_rule_and_field_or_where_the_text_does_not_read() {
        let bad_rule = "[[rules]]\npolicy = \"bypass\"\n\n[[rules]]\nnetworks = [\"10.0.0/8\"]\npolicy = \"deny\"\n";
        let problems = compile(Path::new("rules.toml"), bad_rule).unwrap_err();
        assert!(
            problems[0].starts_with("rules[1].networks[0]: \"10.0.0/8\" is not a network"),
            "{problems:?}"
        );
        let unread = compile(Path::new("rules.toml"), "rules = 3").unwrap_err();
        assert!(unread[0].starts_with("does not read as TOML"), "{unread:?}");
        let missing = load(Path::new("/nonexistent/rules.toml")).unwrap_err();
        assert!(
            missing.starts_with(
                "forward_auth.access_rules_file (/nonexistent/rules.toml): cannot be read"
            ),
            "{missing}"
        );
    }
}
