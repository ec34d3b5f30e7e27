//! `[session]`: how long a browser's session on the pages lives (idle, at most, when remembered),
//! and the parent domain its cookie is shared on, so that the sites a reverse proxy protects
//! under that domain (forward-auth) see it.

use serde::{Deserialize, Serialize};

use crate::domain::{CookieDomain, Host};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// The parent domain (`example.com`) the session cookie is set on; none: the cookie stays
    /// with the host that set it.
    pub cookie_domain: Option<String>,
    /// A web session unused this long ends; 0: never for being idle.
    pub inactivity_timeout_seconds: i64,
    /// How long a web session lives at most, when "Remember me" was not ticked.
    pub absolute_timeout_seconds: i64,
    /// How long a session, and its cookie, live when "Remember me" was ticked; 0: the login
    /// page does not offer it.
    pub remember_me_seconds: i64,
}

/// Four hours: a meeting or a lunch break does not end a session, a night does (unless
/// "Remember me" was ticked).
pub const DEFAULT_INACTIVITY_SECONDS: i64 = 4 * 3600;
/// Twelve hours: a working day, however busy.
pub const DEFAULT_ABSOLUTE_SECONDS: i64 = 12 * 3600;
/// Thirty days, the refresh tokens' default lifetime.
pub const DEFAULT_REMEMBER_ME_SECONDS: i64 = 30 * 86_400;
/// The longest any of them may be: 400 days, the most a browser keeps a cookie.
const MAX_SECONDS: i64 = 400 * 86_400;

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            cookie_domain: None,
            inactivity_timeout_seconds: DEFAULT_INACTIVITY_SECONDS,
            absolute_timeout_seconds: DEFAULT_ABSOLUTE_SECONDS,
            remember_me_seconds: DEFAULT_REMEMBER_ME_SECONDS,
        }
    }
}

impl SessionConfig {
    /// Every problem of the section, each naming its key. `sites` are the URLs a browser logs
    /// in at (the public URL, the forward-auth portal), each with its key: the cookie domain must
    /// cover their hosts, or the browser would refuse the cookie they set.
    pub fn check(&self, sites: &[(&str, &str)]) -> Result<(), String> {
        let mut problems = Vec::new();
        if let Some(raw) = &self.cookie_domain {
            match CookieDomain::parse(raw) {
                Err(e) => problems.push(format!("session.cookie_domain: {}", e.message)),
                Ok(domain) => {
                    for (key, url) in sites {
                        let host = url::Url::parse(url).ok().and_then(|u| Host::of(&u));
                        match host {
                            Some(host) if domain.covers(&host) => {}
                            Some(host) => problems.push(format!(
                                "session.cookie_domain = {raw:?} does not cover {key}'s host \
                                 {host}: a browser there would refuse the cookie (name its \
                                 parent domain, or leave cookie_domain out)"
                            )),
                            None => problems
                                .push(format!("session.cookie_domain needs {key} to name a host")),
                        }
                    }
                }
            }
        }
        for (key, seconds, least) in [
            (
                "inactivity_timeout_seconds",
                self.inactivity_timeout_seconds,
                0,
            ),
            (
                "absolute_timeout_seconds",
                self.absolute_timeout_seconds,
                60,
            ),
            ("remember_me_seconds", self.remember_me_seconds, 0),
        ] {
            if !(least..=MAX_SECONDS).contains(&seconds) {
                problems.push(format!(
                    "session.{key} = {seconds} must be {least} to {MAX_SECONDS} seconds (400 days)"
                ));
            }
        }
        if (1..60).contains(&self.inactivity_timeout_seconds) {
            // Activity is recorded at most once a minute: a shorter limit would end busy sessions.
            problems.push(format!(
                "session.inactivity_timeout_seconds = {} must be 0 (off) or at least 60",
                self.inactivity_timeout_seconds
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// `cookie_domain`, read (`check` refused the configuration where it does not).
    pub fn cookie_domain(&self) -> Option<CookieDomain> {
        self.cookie_domain
            .as_deref()
            .and_then(|raw| CookieDomain::parse(raw).ok())
    }
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
        assert_eq!(config.session.cookie_domain(), None);
        assert_eq!(config.session.inactivity_timeout_seconds, 4 * 3600);
        assert_eq!(config.session.absolute_timeout_seconds, 12 * 3600);
        assert_eq!(config.session.remember_me_seconds, 30 * 86_400);
        let config = Config::from_toml(
            "public_url = \"https://auth.example.com/\"\n\
             [session]\ncookie_domain = \"Example.com\"\nremember_me_seconds = 0\n",
            env(&[("TESSERA_SESSION__INACTIVITY_TIMEOUT_SECONDS", "0")]),
        )
        .unwrap();
        assert_eq!(
            config.session.cookie_domain().unwrap().as_str(),
            "example.com"
        );
        assert_eq!(config.session.inactivity_timeout_seconds, 0);
        assert_eq!(config.session.remember_me_seconds, 0);
        let config = Config::load(
            None,
            env(&[
                ("TESSERA_PUBLIC_URL", "https://example.com"),
                ("TESSERA_SESSION__COOKIE_DOMAIN", "example.com"),
            ]),
        )
        .unwrap();
        assert!(config.to_redacted_toml().contains("cookie_domain"));
    }

    #[test]
    fn a_bad_entry_of_the_section_is_refused_with_its_key_named() {
        for (pairs, named) in [
            (
                vec![
                    ("TESSERA_PUBLIC_URL", "https://auth.example.com"),
                    ("TESSERA_SESSION__COOKIE_DOMAIN", "example.org"),
                ],
                "session.cookie_domain = \"example.org\" does not cover public_url",
            ),
            (
                vec![
                    ("TESSERA_PUBLIC_URL", "https://auth.example.com"),
                    (
                        "TESSERA_FORWARD_AUTH__PORTAL_URL",
                        "https://login.example.net",
                    ),
                    ("TESSERA_SESSION__COOKIE_DOMAIN", "example.com"),
                ],
                "does not cover forward_auth.portal_url",
            ),
            (
                vec![
                    ("TESSERA_PUBLIC_URL", "https://auth.example.com"),
                    ("TESSERA_SESSION__COOKIE_DOMAIN", "com"),
                ],
                "session.cookie_domain: \"com\" is a top-level domain",
            ),
            (
                vec![("TESSERA_SESSION__COOKIE_DOMAIN", "127.0.0.1")],
                "session.cookie_domain",
            ),
            (
                vec![("TESSERA_SESSION__INACTIVITY_TIMEOUT_SECONDS", "30")],
                "session.inactivity_timeout_seconds",
            ),
            (
                vec![("TESSERA_SESSION__ABSOLUTE_TIMEOUT_SECONDS", "0")],
                "session.absolute_timeout_seconds",
            ),
            (
                vec![("TESSERA_SESSION__REMEMBER_ME_SECONDS", "-1")],
                "session.remember_me_seconds",
            ),
            (vec![("TESSERA_SESSION__COOKIE", "x")], "cookie"),
        ] {
            let error = Config::load(None, env(&pairs)).unwrap_err();
            assert!(error.to_string().contains(named), "{pairs:?}: {error}");
        }
    }
}
