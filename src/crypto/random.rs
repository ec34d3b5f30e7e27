//! Random identifiers and secrets, and the digests that let the store find a secret without
//! keeping it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use crate::clock::Instant;

/// `bytes` random bytes from the operating system, URL-safe base64 without padding.
pub fn token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

/// `bytes` random bytes as `token` does, after `now` (milliseconds, 12 hex digits) and a dot.
/// A key that starts with its time lands on the last page of its index, beside the keys made
/// just before it; a random key lands on a random page, which is one more page written per
/// login (a session's id and its refresh token's digest are both keys; figures in BENCHMARKS.md,
/// "Why the constants are what they are").
/// The time says when a session began, which its owner and its access token tell anyway.
pub fn ordered_token(now: Instant, bytes: usize) -> String {
    format!("{:0TIME_DIGITS$x}.{}", now.millis().max(0), token(bytes))
}

/// Hex digits of an `ordered_token`'s time: milliseconds until the year 10889.
const TIME_DIGITS: usize = 12;

/// `lookup_digest` of an `ordered_token`, behind the token's time, so that the digests are
/// ordered as the tokens are. A string without that time (a token from before ordered tokens,
/// whose alphabet has no dot) gets its plain `lookup_digest`.
pub fn ordered_lookup_digest(token: &str) -> String {
    match token.split_once('.') {
        Some((time, _))
            // Lower-case, as `ordered_token` writes it.
            if time.len() == TIME_DIGITS
                && time
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            format!("{time}{}", lookup_digest(token))
        }
        _ => lookup_digest(token),
    }
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

/// `chars` characters drawn uniformly from `alphabet` (an app password's).
pub fn from_alphabet(alphabet: &[u8], chars: usize) -> String {
    use rand::Rng;
    (0..chars)
        .map(|_| alphabet[OsRng.gen_range(0..alphabet.len())] as char)
        .collect()
}

/// A key made at the start of this process and never kept: digests under it tell apart, for
/// as long as the process lives, values it must not hold in clear (Basic credentials it
/// remembers for a second).
#[derive(Clone)]
pub struct ProcessKey([u8; 32]);

impl ProcessKey {
    pub fn new() -> Self {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        Self(key)
    }

    /// HMAC-SHA256 of the parts, each ended by a zero byte so that no two lists of parts run
    /// together into the same input.
    pub fn digest(&self, parts: &[&[u8]]) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        for part in parts {
            mac.update(part);
            mac.update(&[0]);
        }
        mac.finalize().into_bytes().into()
    }
}

impl Default for ProcessKey {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ProcessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProcessKey(…)")
    }
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
    fn a_process_key_tells_parts_apart_and_differs_per_process() {
        let key = ProcessKey::new();
        assert_eq!(key.digest(&[b"a", b"bc"]), key.digest(&[b"a", b"bc"]));
        assert_ne!(key.digest(&[b"a", b"bc"]), key.digest(&[b"ab", b"c"]));
        assert_ne!(key.digest(&[b"a"]), ProcessKey::new().digest(&[b"a"]));
        let drawn = from_alphabet(b"ab", 64);
        assert_eq!(drawn.len(), 64);
        assert!(drawn.contains('a') && drawn.contains('b'));
    }

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
    fn ordered_tokens_sort_by_their_time_and_still_hold_the_random_bytes() {
        let earlier = ordered_token(Instant::from_millis(1_764_000_000_000), 32);
        let later = ordered_token(Instant::from_millis(1_764_000_000_001), 32);
        assert!(earlier < later);
        assert!(earlier.starts_with("019ab697e800."));
        assert_eq!(earlier.len(), 12 + 1 + 43);
        assert_ne!(
            ordered_token(Instant::from_millis(5), 32),
            ordered_token(Instant::from_millis(5), 32)
        );
    }

    #[test]
    fn an_ordered_tokens_digest_keeps_its_time_in_front() {
        let earlier = ordered_token(Instant::from_millis(1_764_000_000_000), 32);
        let later = ordered_token(Instant::from_millis(1_764_000_000_001), 32);
        let digest = ordered_lookup_digest(&earlier);
        assert_eq!(digest, format!("019ab697e800{}", lookup_digest(&earlier)));
        assert!(digest < ordered_lookup_digest(&later));
    }

    #[test]
    fn a_token_without_a_time_is_looked_up_by_its_plain_digest() {
        for token in [
            token(32),
            "0123456789ab".into(),
            "0123456789AB.x".into(),
            "12.x".into(),
        ] {
            assert_eq!(ordered_lookup_digest(&token), lookup_digest(&token));
        }
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
