//! Secrets at rest (TOTP seeds, provider tokens): XChaCha20-Poly1305 under a key from the data
//! directory, with the key id stored beside the ciphertext so keys can rotate. The associated
//! data binds a ciphertext to its row, so a ciphertext copied to another row does not decrypt.
//!
//! Short secrets that only need comparing (recovery codes, sent codes) are not encrypted but
//! hashed with a key ([`SecretBox::keyed_hash`]).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::Sha256;

use super::Keys;

const NONCE_BYTES: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    /// Base64 of nonce ‖ ciphertext ‖ tag.
    pub ciphertext: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CipherError {
    #[error("no encryption key with id {0:?} in encryption.keys")]
    UnknownKey(String),
    #[error("the ciphertext is damaged or belongs elsewhere")]
    Damaged,
}

#[derive(Clone, Debug)]
pub struct SecretBox {
    keys: Keys,
}

impl SecretBox {
    pub fn new(keys: Keys) -> Self {
        Self { keys }
    }

    pub fn seal(&self, plaintext: &[u8], associated: &str) -> Sealed {
        let key = self.keys.current_encryption_key();
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        let cipher = XChaCha20Poly1305::new((&key.bytes).into());
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: associated.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any message shorter than 256 GiB");
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        Sealed {
            key_id: key.id.clone(),
            ciphertext: STANDARD.encode(stored),
        }
    }

    pub fn open(&self, sealed: &Sealed, associated: &str) -> Result<Vec<u8>, CipherError> {
        let key = self
            .keys
            .encryption_key(&sealed.key_id)
            .ok_or_else(|| CipherError::UnknownKey(sealed.key_id.clone()))?;
        let bytes = STANDARD
            .decode(&sealed.ciphertext)
            .map_err(|_| CipherError::Damaged)?;
        if bytes.len() < NONCE_BYTES {
            return Err(CipherError::Damaged);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        XChaCha20Poly1305::new((&key.bytes).into())
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: associated.as_bytes(),
                },
            )
            .map_err(|_| CipherError::Damaged)
    }

    /// HMAC-SHA256 under the data directory's hashing key, in hex, with a purpose label so one
    /// kind of hash cannot stand for another.
    pub fn keyed_hash(&self, purpose: &str, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.keys.hashing_key())
            .expect("HMAC takes keys of any length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_box() -> (tempfile::TempDir, SecretBox) {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::load_or_create(dir.path()).unwrap();
        (dir, SecretBox::new(keys))
    }

    #[test]
    fn a_sealed_secret_opens_with_the_same_associated_data_only() {
        let (_dir, secret_box) = secret_box();
        let sealed = secret_box.seal(b"the seed", "method:1");
        assert_eq!(sealed.key_id, "k1");
        assert!(!sealed.ciphertext.contains("the seed"));
        assert_eq!(secret_box.open(&sealed, "method:1").unwrap(), b"the seed");
        assert_eq!(
            secret_box.open(&sealed, "method:2"),
            Err(CipherError::Damaged)
        );
    }

    #[test]
    fn the_same_secret_seals_differently_each_time() {
        let (_dir, secret_box) = secret_box();
        assert_ne!(secret_box.seal(b"x", "a"), secret_box.seal(b"x", "a"));
    }

    #[test]
    fn a_damaged_ciphertext_or_unknown_key_is_an_error_not_a_panic() {
        let (_dir, secret_box) = secret_box();
        let mut sealed = secret_box.seal(b"the seed", "a");
        sealed.ciphertext = "AAAA".into();
        assert_eq!(secret_box.open(&sealed, "a"), Err(CipherError::Damaged));
        sealed.key_id = "k9".into();
        assert!(matches!(
            secret_box.open(&sealed, "a"),
            Err(CipherError::UnknownKey(_))
        ));
    }

    #[test]
    fn keyed_hashes_depend_on_purpose_and_key() {
        let (_dir, one) = secret_box();
        let (_dir2, two) = secret_box();
        assert_eq!(
            one.keyed_hash("recovery", "X"),
            one.keyed_hash("recovery", "X")
        );
        assert_ne!(
            one.keyed_hash("recovery", "X"),
            one.keyed_hash("other", "X")
        );
        assert_ne!(
            one.keyed_hash("recovery", "X"),
            two.keyed_hash("recovery", "X")
        );
    }
}
