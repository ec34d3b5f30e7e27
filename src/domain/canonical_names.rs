//! Moving the users made before today's rules of names to their canonical
//! forms, decided here and carried out by the store at start (`store/names.rs`). Two rows whose
//! canonical forms collide (`admin` and `ａｄｍｉｎ`) are left as they were and reported: which
//! account is the real `admin` is for an operator to say, not for a migration to guess.

use std::collections::{BTreeMap, BTreeSet};

use super::{Email, Username};

/// A user's names and keys as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredNames {
    pub id: String,
    pub username: String,
    pub username_key: String,
    pub email: Option<String>,
    pub email_key: Option<String>,
}

/// What the store writes and what it reports.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct NamesPlan {
    /// Rows to write with these names and keys.
    pub changes: Vec<StoredNames>,
    /// Canonical keys that more than one row would take, with those rows' ids: each of them
    /// keeps the name and key it had.
    pub collisions: Vec<Collision>,
    /// Rows whose name or email today's rules refuse (an invisible character, mixed scripts):
    /// kept as they were; they still log in (`LoginId::parse`) but cannot be saved unchanged.
    pub refused: Vec<(String, &'static str)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collision {
    pub field: &'static str,
    pub key: String,
    pub ids: Vec<String>,
}

impl NamesPlan {
    pub fn is_clean(&self) -> bool {
        self.collisions.is_empty() && self.refused.is_empty()
    }

    /// One line for the log: every user id an operator has to look at.
    pub fn report(&self) -> String {
        let collisions: Vec<String> = self
            .collisions
            .iter()
            .map(|c| format!("{} {:?}: {}", c.field, c.key, c.ids.join(", ")))
            .collect();
        let refused: Vec<String> = self
            .refused
            .iter()
            .map(|(id, field)| format!("{field} of {id}"))
            .collect();
        format!(
            "users left unchanged because their canonical names collide (rename all but one): \
             [{}]; names today's rules refuse (rename them): [{}]",
            collisions.join("; "),
            refused.join(", ")
        )
    }
}

/// One field's stored value and key, and the canonical pair it would take.
struct Field {
    old_key: String,
    new: Option<(String, String)>,
}

/// Decides, for every row, the names and keys it ends with. A row takes its canonical pair
/// unless that key is another row's too (before or after), in which case it keeps its own;
/// keys that were unique stay unique, since a row that keeps its key keeps one that was.
pub fn plan(rows: &[StoredNames]) -> NamesPlan {
    let mut plan = NamesPlan::default();
    let usernames: Vec<Option<Field>> = rows
        .iter()
        .map(|row| {
            Some(Field {
                old_key: row.username_key.clone(),
                new: Username::parse(&row.username)
                    .ok()
                    .map(|n| (n.as_str().to_owned(), n.key().to_owned())),
            })
        })
        .collect();
    let emails: Vec<Option<Field>> = rows
        .iter()
        .map(|row| {
            let (Some(email), Some(key)) = (&row.email, &row.email_key) else {
                return None;
            };
            Some(Field {
                old_key: key.clone(),
                new: Email::parse(email)
                    .ok()
                    .map(|e| (e.as_str().to_owned(), e.key().to_owned())),
            })
        })
        .collect();
    let username_keys = settle("username", &usernames, rows, &mut plan);
    let email_keys = settle("email", &emails, rows, &mut plan);
    for (i, row) in rows.iter().enumerate() {
        let pick = |field: &Option<Field>, takes: bool| match field {
            Some(Field {
                new: Some(pair), ..
            }) if takes => Some(pair.clone()),
            _ => None,
        };
        let mut changed = row.clone();
        if let Some((name, key)) = pick(&usernames[i], username_keys[i]) {
            changed.username = name;
            changed.username_key = key;
        }
        if let Some((address, key)) = pick(&emails[i], email_keys[i]) {
            changed.email = Some(address);
            changed.email_key = Some(key);
        }
        if changed != *row {
            plan.changes.push(changed);
        }
    }
    plan
}

/// Whether each row takes its canonical key for one field; collisions and refusals go into
/// the plan's report.
fn settle(
    field: &'static str,
    fields: &[Option<Field>],
    rows: &[StoredNames],
    plan: &mut NamesPlan,
) -> Vec<bool> {
    let mut takes: Vec<bool> = fields
        .iter()
        .map(|f| matches!(f, Some(Field { new: Some(_), .. })))
        .collect();
    for (i, f) in fields.iter().enumerate() {
        if let Some(Field { new: None, .. }) = f {
            plan.refused.push((rows[i].id.clone(), field));
        }
    }
    let mut collided: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // Each round sends back to its old key every row that would share a key; old keys were
    // unique, so the rounds end.
    loop {
        let mut holders: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, f) in fields.iter().enumerate() {
            let Some(f) = f else { continue };
            let key = match (&f.new, takes[i]) {
                (Some((_, key)), true) => key.as_str(),
                _ => f.old_key.as_str(),
            };
            holders.entry(key).or_default().push(i);
        }
        let mut moved = false;
        for (key, holders) in holders.into_iter().filter(|(_, h)| h.len() > 1) {
            let ids = collided.entry(key.to_owned()).or_default();
            for &i in &holders {
                ids.insert(rows[i].id.clone());
                if takes[i] {
                    takes[i] = false;
                    moved = true;
                }
            }
        }
        if !moved {
            break;
        }
    }
    plan.collisions
        .extend(collided.into_iter().map(|(key, ids)| Collision {
            field,
            key,
            ids: ids.into_iter().collect(),
        }));
    takes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, username: &str, email: Option<&str>) -> StoredNames {
        StoredNames {
            id: id.to_owned(),
            username: username.to_owned(),
            // Keyed as before the rules: lowercase, nothing more.
            username_key: username.to_lowercase(),
            email: email.map(str::to_owned),
            email_key: email.map(str::to_lowercase),
        }
    }

    #[test]
    fn rows_whose_canonical_names_collide_are_reported_and_left_alone() {
        let rows = [
            row("1", "admin", None),
            row("2", "\u{ff41}\u{ff44}\u{ff4d}\u{ff49}\u{ff4e}", None),
            row("3", "cafe\u{301}", None),
            row("4", "caf\u{e9}", None),
            row("5", "Bob", None),
        ];
        let plan = plan(&rows);
        assert!(plan.changes.is_empty(), "{:?}", plan.changes);
        assert_eq!(
            plan.collisions,
            [
                Collision {
                    field: "username",
                    key: "admin".into(),
                    ids: vec!["1".into(), "2".into()]
                },
                Collision {
                    field: "username",
                    key: "caf\u{e9}".into(),
                    ids: vec!["3".into(), "4".into()]
                },
            ]
        );
        assert!(plan.report().contains("1, 2"));
    }

    #[test]
    fn a_row_alone_with_its_canonical_name_takes_it() {
        let rows = [
            row("1", "\u{ff21}da", Some("Ann@B\u{fc}cher.de")),
            row("2", "cafe\u{301}", None),
        ];
        let plan = plan(&rows);
        assert!(plan.is_clean(), "{}", plan.report());
        assert_eq!(plan.changes.len(), 2);
        assert_eq!(plan.changes[0].username, "Ada");
        assert_eq!(plan.changes[0].username_key, "ada");
        assert_eq!(
            plan.changes[0].email_key.as_deref(),
            Some("ann@xn--bcher-kva.de")
        );
        assert_eq!(plan.changes[1].username_key, "caf\u{e9}");
    }

    #[test]
    fn a_name_the_rules_refuse_is_reported_and_kept() {
        let rows = [row("1", "\u{430}dmin", None), row("2", "admin", None)];
        let plan = plan(&rows);
        assert!(plan.changes.is_empty());
        assert!(plan.collisions.is_empty());
        assert_eq!(plan.refused, [("1".to_owned(), "username")]);
    }

    #[test]
    fn emails_collide_apart_from_usernames() {
        let rows = [
            row("1", "ann", Some("ann@xn--bcher-kva.de")),
            row("2", "\u{ff22}en", Some("ANN@b\u{fc}cher.de")),
        ];
        let plan = plan(&rows);
        assert_eq!(plan.collisions.len(), 1);
        assert_eq!(plan.collisions[0].field, "email");
        // Ben's username still moves to its canonical form; his email does not.
        assert_eq!(plan.changes.len(), 1);
        assert_eq!(plan.changes[0].username, "Ben");
        assert_eq!(plan.changes[0].email.as_deref(), Some("ANN@b\u{fc}cher.de"));
    }
}
