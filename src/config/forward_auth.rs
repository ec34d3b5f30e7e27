//! `[forward_auth]`: the login portal reverse proxies send browsers to, the headers that tell an
//! application who is signed in, and the sites a browser may be sent back to over plain http.

use serde::{Deserialize, Serialize};

use crate::domain::DomainPattern;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardAuthConfig {
    /// Where the proxies send a browser to log in; the public URL by default.
    pub portal_url: Option<String>,
    /// The names of the headers a proxy passes on to the application.
    pub headers: ForwardAuthHeaders,
    /// Domains (`intranet.test`, `*.lan`) the portal sends a browser back to over http; https
    /// only for every other.
    #[serde(deserialize_with = "list_or_text")]
    pub allow_http_domains: Vec<String>,
    /// A file of access rules (TOML, or JSON for a name ending in `.json`) that replaces the
    /// stored ones: read again within a second of a change; `check-config` checks it.
    pub access_rules_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardAuthHeaders {
    pub user: String,
    pub groups: String,
    pub name: String,
    pub email: String,
}

impl Default for ForwardAuthHeaders {
    fn default() -> Self {
        Self {
            user: "Remote-User".into(),
            groups: "Remote-Groups".into(),
            name: "Remote-Name".into(),
            email: "Remote-Email".into(),
        }
    }
}

impl ForwardAuthConfig {
    /// Every problem of the section, each naming its key.
    pub fn check(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if let Some(url) = &self.portal_url
            && url::Url::parse(url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .is_none()
        {
            problems.push(format!(
                "forward_auth.portal_url = {url:?} must be an http:// or https:// URL"
            ));
        }
        let headers = &self.headers;
        let mut seen = Vec::new();
        for (key, name) in [
            ("user", &headers.user),
            ("groups", &headers.groups),
            ("name", &headers.name),
            ("email", &headers.email),
        ] {
            let token = !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !token {
                problems.push(format!(
                    "forward_auth.headers.{key} = {name:?} is not a header name (letters, digits, \
                     - and _)"
                ));
            } else if seen.contains(&name.to_ascii_lowercase()) {
                problems.push(format!(
                    "forward_auth.headers.{key} = {name:?} is the name of another header"
                ));
            }
            seen.push(name.to_ascii_lowercase());
        }
        for (at, raw) in self.allow_http_domains.iter().enumerate() {
            if let Err(e) = DomainPattern::parse(raw) {
                problems.push(format!(
                    "forward_auth.allow_http_domains[{at}]: {}",
                    e.message
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// `allow_http_domains`, read (`check` refused the configuration where one does not).
    pub fn allow_http(&self) -> Vec<DomainPattern> {
        self.allow_http_domains
            .iter()
            .filter_map(|raw| DomainPattern::parse(raw).ok())
            .collect()
    }
}

/// A list, or one text of entries separated by commas (as an environment variable gives it).
fn list_or_text<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Given::deserialize(deserializer)? {
        Given::List(list) => list,
        Given::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_section_comes_from_the_file_or_the_environment_with_its_defaults() {
        let config = Config::load(None, env(&[])).unwrap();
        assert_eq!(config.forward_auth.headers.user, "Remote-User");
        assert_eq!(config.forward_auth_portal_url(), "http://127.0.0.1:8080");
        let config = Config::from_toml(
            "public_url = \"https://login.example.com/\"\n\
             [forward_auth]\nallow_http_domains = [\"*.lan\"]\n\
             [forward_auth.headers]\nuser = \"X-User\"\n",
            env(&[("TESSERA_FORWARD_AUTH__HEADERS__EMAIL", "X-Email")]),
        )
        .unwrap();
        assert_eq!(
            config.forward_auth_portal_url(),
            "https://login.example.com"
        );
        assert_eq!(config.forward_auth.headers.user, "X-User");
        assert_eq!(config.forward_auth.headers.email, "X-Email");
        assert_eq!(config.forward_auth.allow_http().len(), 1);
        let config = Config::load(
            None,
            env(&[
                (
                    "TESSERA_FORWARD_AUTH__PORTAL_URL",
                    "https://auth.example.com/",
                ),
                ("TESSERA_FORWARD_AUTH__ALLOW_HTTP_DOMAINS", "a.lan, *.test"),
            ]),
        )
        .unwrap();
        assert_eq!(config.forward_auth_portal_url(), "https://auth.example.com");
        assert_eq!(config.forward_auth.allow_http_domains, ["a.lan", "*.test"]);
    }

    #[test]
    fn a_bad_entry_of_the_section_is_refused_with_its_key_named() {
        for (var, value, named) in [
            (
                "TESSERA_FORWARD_AUTH__PORTAL_URL",
                "auth.example.com",
                "forward_auth.portal_url",
            ),
            (
                "TESSERA_FORWARD_AUTH__HEADERS__USER",
                "Remote User",
                "forward_auth.headers.user",
            ),
            (
                "TESSERA_FORWARD_AUTH__HEADERS__NAME",
                "remote-user",
                "forward_auth.headers.name",
            ),
            (
                "TESSERA_FORWARD_AUTH__ALLOW_HTTP_DOMAINS",
                "ok.lan, *",
                "forward_auth.allow_http_domains[1]",
            ),
            ("TESSERA_FORWARD_AUTH__PORTAL", "x", "portal"),
        ] {
            let error = Config::load(None, env(&[(var, value)])).unwrap_err();
            assert!(error.to_string().contains(named), "{var}={value}: {error}");
        }
    }
}
