//! `[webauthn]`: the relying party security keys and passkeys are bound to. Its id is the
//! public URL's host unless `rp_id` names a parent domain, so that keys made here also work
//! at the other sites under it. How many ceremonies may begin: each one begun is a row kept
//! five minutes, so they are counted per client address (without a session) and per user. And
//! `attestation_roots_file` names the certificates that a registration's attestation must lead
//! to when the settings restrict authenticator models.

use std::path::PathBuf;

use base64::Engine;
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{AttestationCaListBuilder, Uuid};

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
    /// A PEM file of the authenticator makers' attestation root certificates (FIDO metadata's
    /// `attestationRootCertificates`), which `two_factor.webauthn.allowed_aaguids` needs.
    pub attestation_roots_file: Option<PathBuf>,
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
            attestation_roots_file: None,
        }
    }
}

/// The certificates of a PEM text, DER-encoded, each checked as X.509; or why not, naming
/// the configuration key.
pub fn read_attestation_roots(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    const KEY: &str = "webauthn.attestation_roots_file";
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut roots = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let body = &rest[start + BEGIN.len()..];
        let Some(end) = body.find(END) else {
            return Err(format!("{KEY}: a certificate has no {END} line"));
        };
        let text: String = body[..end].split_whitespace().collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| format!("{KEY}: certificate {} is not base64", roots.len() + 1))?;
        // The library's own reading, so that what passes here is what it will trust.
        AttestationCaListBuilder::new()
            .insert_device_der(&der, Uuid::nil(), String::new(), Default::default())
            .map_err(|_| format!("{KEY}: certificate {} is not X.509", roots.len() + 1))?;
        roots.push(der);
        rest = &body[end + END.len()..];
    }
    if roots.is_empty() {
        return Err(format!(
            "{KEY}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it"
        ));
    }
    Ok(roots)
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
            _ => self.attestation_roots().map(|_| ()),
        }
    }

    /// The attestation roots the file names (none without a file), DER-encoded.
    pub fn attestation_roots(&self) -> Result<Vec<Vec<u8>>, String> {
        let Some(path) = &self.attestation_roots_file else {
            return Ok(Vec::new());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("webauthn.attestation_roots_file = {}: {e}", path.display()))?;
        read_attestation_roots(&text)
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
    fn attestation_roots_are_read_from_a_pem_file_and_refused_by_their_key() {
        let missing = WebauthnConfig {
            attestation_roots_file: Some("/nonexistent/roots.pem".into()),
            ..WebauthnConfig::default()
        };
        let said = missing.check("http://127.0.0.1:8080").unwrap_err();
        assert!(
            said.starts_with("webauthn.attestation_roots_file"),
            "{said}"
        );
        for bad in [
            "no certificate here",
            "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----",
            "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----",
        ] {
            let said = read_attestation_roots(bad).unwrap_err();
            assert!(
                said.starts_with("webauthn.attestation_roots_file:"),
                "{said}"
            );
        }
        let root = a_root();
        assert_eq!(read_attestation_roots(&root).unwrap().len(), 1);
        let two = format!("{root}\n{}", a_root());
        assert_eq!(read_attestation_roots(&two).unwrap().len(), 2);
        assert!(
            WebauthnConfig::default()
                .attestation_roots()
                .unwrap()
                .is_empty()
        );
    }

    /// A self-signed certificate made now, as PEM.
    fn a_root() -> String {
        use openssl::{ec, hash, nid, pkey, x509};
        let group = ec::EcGroup::from_curve_name(nid::Nid::X9_62_PRIME256V1).unwrap();
        let key = pkey::PKey::from_ec_key(ec::EcKey::generate(&group).unwrap()).unwrap();
        let mut name = x509::X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "Test Root").unwrap();
        let name = name.build();
        let mut cert = x509::X509Builder::new().unwrap();
        cert.set_version(2).unwrap();
        cert.set_subject_name(&name).unwrap();
        cert.set_issuer_name(&name).unwrap();
        cert.set_pubkey(&key).unwrap();
        cert.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        cert.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        cert.sign(&key, hash::MessageDigest::sha256()).unwrap();
        String::from_utf8(cert.build().to_pem().unwrap()).unwrap()
    }

    #[test]
    fn allowed_authenticator_models_need_attestation_roots() {
        use crate::config::Config;
        let model = "cb69481e-8ff7-4039-93ec-0a2729a154a8";
        let text = format!("[two_factor.webauthn]\nallowed_aaguids = [\"{model}\"]\n");
        let error = Config::from_toml(&text, Vec::new()).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("webauthn.attestation_roots_file"),
            "{error}"
        );
        let text = "[two_factor.webauthn]\npasskeys = false\nuser_verification = \"required\"\n";
        let config = Config::from_toml(text, Vec::new()).unwrap();
        assert!(!config.two_factor.webauthn.passkeys);
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
