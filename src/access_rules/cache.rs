//! The access rules as every node reads them: the stored document, compiled once per version,
//! read again from the database when the copy in hand is a second old. A node's own change
//! replaces its copy at once; another node's is seen at its next read, within the second,
//! without a database round trip per proxied request. Where the configuration names a file of
//! rules instead, the file is read again each second the same way (`rules_file.rs`).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use super::rules::{AccessRules, AccessRulesDocument, SETTINGS_KEY, Subject};
use crate::clock::Instant;
use crate::store::{SettingStore, StoreError};

/// How long a copy of the rules is used before the document is read again.
pub const FRESH_MILLIS: i64 = 1000;

/// One version of the document: its text as stored (`None`: never written) and its rules.
struct Held {
    text: Option<String>,
    rules: Arc<AccessRules>,
    read_at: Instant,
}

#[derive(Clone)]
pub struct RulesCache {
    setting_store: SettingStore,
    /// `forward_auth.access_rules_file`: the rules are this file's, not the stored document's.
    file: Option<Arc<PathBuf>>,
    copy: Arc<Mutex<Option<Arc<Held>>>>,
    /// One read of the database at a time; the requests that wait find its copy fresh.
    reading: Arc<tokio::sync::Mutex<()>>,
}

impl RulesCache {
    pub fn new(setting_store: SettingStore, file: Option<PathBuf>) -> Self {
        Self {
            setting_store,
            file: file.map(Arc::new),
            copy: Arc::new(Mutex::new(None)),
            reading: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The rules in force, read again when the copy in hand is a second old (compiled again only
    /// when the text changed).
    pub async fn rules(&self, now: Instant) -> Result<Arc<AccessRules>, StoreError> {
        if let Some(rules) = self.fresh(now) {
            return Ok(rules);
        }
        let _turn = self.reading.lock().await;
        if let Some(rules) = self.fresh(now) {
            return Ok(rules);
        }
        let held = self.held();
        let (text, rules) = match &self.file {
            Some(path) => from_file(path, held.as_deref()).await,
            None => {
                let text = self.setting_store.setting(SETTINGS_KEY).await?;
                let rules = match held {
                    Some(copy) if copy.text == text => copy.rules.clone(),
                    _ => Arc::new(compile_stored(text.as_deref())),
                };
                (text, rules)
            }
        };
        self.keep(text, rules.clone(), now);
        Ok(rules)
    }

    /// Where the rules in force name `subject` (`rules[2].subject[0]`), or `None`.
    pub async fn naming(
        &self,
        subject: &Subject,
        now: Instant,
    ) -> Result<Option<String>, StoreError> {
        Ok(self.rules(now).await?.naming(subject))
    }

    /// The file the rules are kept in, when the configuration names one.
    pub fn file(&self) -> Option<&PathBuf> {
        self.file.as_deref()
    }

    /// After this node stored `text`: its rules apply here at once.
    pub async fn replace(&self, text: String, rules: AccessRules, now: Instant) {
        // Waits for a read in flight, which could otherwise put the text it read before the
        // change back in place.
        let _turn = self.reading.lock().await;
        self.keep(Some(text), Arc::new(rules), now);
    }

    fn fresh(&self, now: Instant) -> Option<Arc<AccessRules>> {
        self.held()
            .filter(|copy| is_fresh(copy.read_at, now))
            .map(|copy| copy.rules.clone())
    }

    fn held(&self) -> Option<Arc<Held>> {
        self.copy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn keep(&self, text: Option<String>, rules: Arc<AccessRules>, now: Instant) {
        *self.copy.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(Held {
            text,
            rules,
            read_at: now,
        }));
    }
}

/// The text of the rules file and its rules, read now. A change that does not read or compile
/// keeps the rules before it, and says so in the log once: an edit half saved must neither open
/// every site nor close them all (`check-config` names the problem).
async fn from_file(path: &PathBuf, held: Option<&Held>) -> (Option<String>, Arc<AccessRules>) {
    let before = || held.map_or_else(|| Arc::new(AccessRules::deny_all()), |h| h.rules.clone());
    let text = match tokio::fs::read_to_string(path).await {
        Ok(text) => text,
        Err(error) => {
            if held.is_none_or(|h| h.text.is_some()) {
                tracing::error!(path = %path.display(), %error, "cannot read the access rules file: the rules before stand");
            }
            return (None, before());
        }
    };
    if let Some(held) = held.filter(|h| h.text.as_deref() == Some(text.as_str())) {
        return (Some(text), held.rules.clone());
    }
    match super::rules_file::compile(path, &text) {
        Ok((_, rules)) => (Some(text), Arc::new(rules)),
        Err(problems) => {
            tracing::error!(path = %path.display(), problems = %problems.join("; "), "the access rules file has problems: the rules before stand");
            (Some(text), before())
        }
    }
}

/// Whether a copy read at `read_at` still stands at `now` (a clock that went back reads again).
fn is_fresh(read_at: Instant, now: Instant) -> bool {
    (0..FRESH_MILLIS).contains(&(now.millis() - read_at.millis()))
}

/// The rules of a stored text. One that no longer reads (written by another version) lets
/// nothing through, and says so in the log: failing open would expose every site.
pub fn compile_stored(text: Option<&str>) -> AccessRules {
    let Some(text) = text else {
        return AccessRules::compile(&AccessRulesDocument::default())
            .unwrap_or_else(|_| AccessRules::deny_all());
    };
    let document = match serde_json::from_str::<AccessRulesDocument>(text) {
        Ok(document) => document,
        Err(error) => {
            tracing::error!(%error, "the stored access rules do not read: every request is denied");
            return AccessRules::deny_all();
        }
    };
    AccessRules::compile(&document).unwrap_or_else(|errors| {
        let said: Vec<String> = errors.iter().map(ToString::to_string).collect();
        tracing::error!(errors = %said.join("; "), "the stored access rules do not compile: every request is denied");
        AccessRules::deny_all()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_stands_for_less_than_a_second_and_not_when_the_clock_went_back() {
        let read = Instant::from_millis(10_000);
        assert!(is_fresh(read, read));
        assert!(is_fresh(read, Instant::from_millis(10_999)));
        assert!(!is_fresh(read, Instant::from_millis(11_000)));
        assert!(!is_fresh(read, Instant::from_millis(9_999)));
    }

    #[test]
    fn a_stored_document_that_does_not_read_lets_nothing_through() {
        use crate::access_rules::rules::{HttpMethod, Policy, Resource, Verdict};
        use crate::domain::Host;
        let host = Host::of(&url::Url::parse("https://app.example.com/").unwrap()).unwrap();
        let method = HttpMethod::parse("GET").unwrap();
        let resource = Resource {
            host: &host,
            path: "/",
            method: &method,
            client: None,
        };
        for text in [
            r#"{"defaultPolicy": "bypass", "rules": [], "extra": 1}"#,
            r#"{"defaultPolicy": "bypass", "rules": [{"networks": ["x"], "policy": "bypass"}]}"#,
        ] {
            assert_eq!(
                compile_stored(Some(text)).decide(&resource, None),
                Verdict::Policy {
                    policy: Policy::Deny,
                    rule: None
                },
                "{text}"
            );
        }
        assert_eq!(
            compile_stored(Some(r#"{"defaultPolicy": "bypass"}"#)).decide(&resource, None),
            Verdict::Policy {
                policy: Policy::Bypass,
                rule: None
            }
        );
    }
}
