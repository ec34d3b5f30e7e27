//! Random identifiers and secrets, and the digests that let the store find a secret without
//! keeping it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

/// `bytes` random bytes from the operating system, URL-safe base64 without padding.
pub fn token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

/// A public identifier (of an API key, a trusted computer): `prefix` and 16 hex digits, so it
/// never starts with a dash or holds a character a shell or URL would mind.
pub fn public_id(prefix: &str) -> String {
    let mut bytes = [0u8; 8];
    OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// A password for a person to type: 20 characters from an alphabet without look-alikes
/// (about 115 bits).
pub fn readable_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..20)
        .map(|_| {
            let i = (OsRng.next_u32() as usize) % ALPHABET.len();
            ALPHABET[i] as char
        })
        .collect()
}

/// The SHA-256 of a high-entropy secret (a session token, an API key), in hex: what the store
/// keeps and looks up. A plain digest is enough here because the secrets are 256-bit random
/// values, not guessable passwords.
pub fn lookup_digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_url_safe() {
        let a = token(32);
        let b = token(32);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn public_ids_are_plain_and_unique() {
        let a = public_id("ak_");
        assert!(a.starts_with("ak_") && a.len() == 19);
        assert!(a[3..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, public_id("ak_"));
    }

    #[test]
    fn a_readable_password_has_twenty_unambiguous_characters() {
        let password = readable_password();
        assert_eq!(password.chars().count(), 20);
        assert!(!password.contains(['0', 'O', 'l', '1', 'I']));
    }
}
