//! `[webauthn]`: the relying party security keys and passkeys are bound to. Its id is the
//! public URL's host unless `rp_id` names a parent domain, so that keys made here also work
//! at the other sites under it. And how many ceremonies may begin: each one begun is a row kept
//! five minutes, so they are counted per client address (without a session) and per user.

use serde::{Deserialize, Serialize};

use crate::domain::{CookieDomain, Host};
use crate::limits::Limit;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebauthnConfig {
    /// The relying-party id (`example.com`): the public URL's host or a parent domain of it;
    /// none: the public URL's host.
    pub rp_id: Option<String>,
    /// Ceremonies begun without a session (a passkey sign-in, a login's second factor) from
    /// one client address.
    pub ceremonies_per_address: Limit,
    /// Ceremonies begun for one user (a registration, a re-authentication).
    pub ceremonies_per_user: Limit,
}

impl Default for WebauthnConfig {
    fn default() -> Self {
        // Windows as long as a ceremony lives: at most `max` unexpired rows for each.
        Self {
            rp_id: None,
            ceremonies_per_address: Limit {
                max: 100,
                window_seconds: 300,
            },
            ceremonies_per_user: Limit {
                max: 30,
                window_seconds: 300,
            },
        }
    }
}

/// Where WebAuthn's ceremonies are bound: the relying-party id and the one origin allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    pub id: String,
    pub origin: url::Url,
}

impl WebauthnConfig {
    /// The relying party for `public_url` (its key named `key` in messages), or why there is
    /// none. A public URL whose host is an IP address has none: browsers refuse WebAuthn there.
    pub fn relying_party(&self, key: &str, public_url: &str) -> Result<RelyingParty, String> {
        let origin = url::Url::parse(public_url).map_err(|e| format!("{key}: {e}"))?;
        let host = match (origin.domain(), Host::of(&origin)) {
            (Some(_), Some(host)) => host,
            _ => {
                return Err(format!(
                    "{key} = {public_url:?} has no domain name: WebAuthn needs one (browsers \
                     refuse security keys at an IP address)"
                ));
            }
        };
        let Some(raw) = &self.rp_id else {
            return Ok(RelyingParty {
                id: host.as_str().to_owned(),
                origin,
            });
        };
        // A parent domain follows a cookie domain's rules: never a top-level domain or an IP.
        let domain =
            CookieDomain::parse(raw).map_err(|e| format!("webauthn.rp_id: {}", e.message))?;
        if !domain.covers(&host) {
            return Err(format!(
                "webauthn.rp_id = {raw:?} is neither {key}'s host {host} nor a parent domain of \
                 it: browsers would refuse every key (name the host or its parent domain, or \
                 leave rp_id out)"
            ));
        }
        Ok(RelyingParty {
            id: domain.as_str().to_owned(),
            origin,
        })
    }

    /// Every problem of the section: an `rp_id` must fit the public URL. Without one, a public
    /// URL without a domain name only turns WebAuthn off (the default `http://127.0.0.1:8080`).
    pub fn check(&self, public_url: &str) -> Result<(), String> {
        for (name, limit) in [
            ("ceremonies_per_address", self.ceremonies_per_address),
            ("ceremonies_per_user", self.ceremonies_per_user),
        ] {
            if limit.max < 1 || !(1..=86_400).contains(&limit.window_seconds) {
                return Err(format!(
                    "webauthn.{name} needs max >= 1 and window_seconds of 1 to 86400"
                ));
            }
        }
        match (&self.rp_id, self.relying_party("public_url", public_url)) {
            (Some(_), Err(message)) => Err(message),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(rp_id: Option<&str>, url: &str) -> Result<RelyingParty, String> {
        WebauthnConfig {
            rp_id: rp_id.map(str::to_owned),
            ..WebauthnConfig::default()
        }
        .relying_party("public_url", url)
    }

    #[test]
    fn the_relying_party_is_the_public_hosts_or_a_parent_domain() {
        let own = rp(None, "https://login.example.com").unwrap();
        assert_eq!(own.id, "login.example.com");
        assert_eq!(own.origin.as_str(), "https://login.example.com/");
        assert_eq!(
            rp(Some("Example.com"), "https://login.example.com")
                .unwrap()
                .id,
            "example.com"
        );
        assert_eq!(
            rp(Some("login.example.com"), "https://login.example.com")
                .unwrap()
                .id,
            "login.example.com"
        );
        let other = rp(Some("example.org"), "https://login.example.com").unwrap_err();
        assert!(
            other.starts_with("webauthn.rp_id = \"example.org\""),
            "{other}"
        );
        // A lookalike suffix is not a parent domain.
        assert!(rp(Some("ample.com"), "https://login.example.com").is_err());
        assert!(
            rp(Some("com"), "https://login.example.com")
                .unwrap_err()
                .starts_with("webauthn.rp_id:")
        );
        assert!(
            rp(None, "http://127.0.0.1:8080")
                .unwrap_err()
                .starts_with("public_url")
        );
    }

    #[test]
    fn check_config_refuses_only_an_rp_id_that_does_not_fit() {
        let none = WebauthnConfig::default();
        assert!(none.check("http://127.0.0.1:8080").is_ok());
        let parent = WebauthnConfig {
            rp_id: Some("example.com".into()),
            ..WebauthnConfig::default()
        };
        assert!(parent.check("https://login.example.com").is_ok());
        assert!(parent.check("http://127.0.0.1:8080").is_err());
        assert!(
            parent
                .check("https://login.example.org")
                .unwrap_err()
                .contains("webauthn.rp_id")
        );
        let unbounded = WebauthnConfig {
            ceremonies_per_address: Limit {
                max: 0,
                window_seconds: 300,
            },
            ..WebauthnConfig::default()
        };
        assert!(
            unbounded
                .check("https://login.example.com")
                .unwrap_err()
                .starts_with("webauthn.ceremonies_per_address")
        );
    }
}
