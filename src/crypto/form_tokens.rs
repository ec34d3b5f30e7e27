//! The pages' CSRF tokens, "signed double submit" (OWASP): a form's token is an HMAC of the
//! browser's session (or, before a login, of its pre-session id), so a token fits only the
//! cookie it was made for, and a cookie planted by someone else comes with no token that fits.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Keys;

/// What a form's token is bound to: the value of a cookie the browser holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormBinding<'a> {
    /// The session cookie of a signed-in browser (or of one whose session has ended).
    Session(&'a str),
    /// The pre-session cookie of a browser that has no session cookie.
    PreSession(&'a str),
}

#[derive(Clone)]
pub struct FormTokens {
    key: [u8; 32],
}

impl FormTokens {
    /// Keyed by a key of its own, derived from `hashing.key` with a label, so that no other
    /// hash the server makes can stand for a form token.
    pub fn new(keys: &Keys) -> Self {
        let mut derive = <Hmac<Sha256> as Mac>::new_from_slice(keys.hashing_key())
            .expect("HMAC takes keys of any length");
        derive.update(b"tessera form tokens v1");
        Self {
            key: derive.finalize().into_bytes().into(),
        }
    }

    /// The token the forms of a page carry for this binding.
    pub fn token(&self, binding: FormBinding<'_>) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(binding).finalize().into_bytes())
    }

    /// Whether a submitted token was made for this binding (compared in constant time).
    pub fn fits(&self, binding: FormBinding<'_>, token: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(token) {
            Ok(bytes) => self.mac(binding).verify_slice(&bytes).is_ok(),
            Err(_) => false,
        }
    }

    fn mac(&self, binding: FormBinding<'_>) -> Hmac<Sha256> {
        let (kind, value) = match binding {
            FormBinding::Session(value) => ("session", value),
            FormBinding::PreSession(value) => ("pre-session", value),
        };
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .expect("HMAC takes keys of any length");
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FormBinding::*;

    fn tokens() -> (tempfile::TempDir, FormTokens) {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::load_or_create(dir.path()).unwrap();
        (dir, FormTokens::new(&keys))
    }

    #[test]
    fn a_token_fits_the_binding_it_was_made_for_and_no_other() {
        let (_dir, forms) = tokens();
        let token = forms.token(Session("cookie-a"));
        assert!(forms.fits(Session("cookie-a"), &token));
        assert!(!forms.fits(Session("cookie-b"), &token));
        assert!(!forms.fits(PreSession("cookie-a"), &token));
        assert!(!forms.fits(Session("cookie-a"), "cookie-a"));
        assert!(!forms.fits(Session("cookie-a"), ""));
        assert!(!forms.fits(Session("cookie-a"), &token[1..]));
    }

    #[test]
    fn another_server_key_makes_other_tokens() {
        let (_a, first) = tokens();
        let (_b, second) = tokens();
        let token = first.token(PreSession("same"));
        assert!(!second.fits(PreSession("same"), &token));
    }
}
