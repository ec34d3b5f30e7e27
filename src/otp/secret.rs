use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use data_encoding::BASE32_NOPAD;
use rand::RngCore;
use rand::rngs::OsRng;

use crate::domain::Invalid;

/// RFC 4226: at least 128 bits, 160 recommended (and what Tessera makes).
const MIN_BYTES: usize = 16;
const GENERATED_BYTES: usize = 20;
/// Far above any real secret; refused before decoding.
const MAX_ENCODED_CHARS: usize = 256;

/// The shared key of an authenticator. Never printed; at rest it is encrypted.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl TotpSecret {
    pub fn generate() -> Self {
        let mut key = vec![0u8; GENERATED_BYTES];
        OsRng.fill_bytes(&mut key);
        Self(key)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, Invalid> {
        if bytes.len() < MIN_BYTES {
            return Err(Invalid::new(
                "[tooShort]",
                format!(
                    "the secret is {} bits; at least {} bits are required",
                    bytes.len() * 8,
                    MIN_BYTES * 8
                ),
            ));
        }
        if bytes.len() > 128 {
            return Err(Invalid::new(
                "[tooLong]",
                "the secret is longer than 1024 bits",
            ));
        }
        Ok(Self(bytes))
    }

    /// RFC 4648 base32 as authenticator apps show it: case, spaces, dashes and `=` padding do
    /// not matter.
    pub fn from_base32(raw: &str) -> Result<Self, Invalid> {
        if raw.len() > MAX_ENCODED_CHARS {
            return Err(Invalid::new("[tooLong]", "the secret is too long"));
        }
        let cleaned: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '='))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if cleaned.is_empty() {
            return Err(Invalid::new("[blank]", "a secret is required"));
        }
        let bytes = BASE32_NOPAD.decode(cleaned.as_bytes()).map_err(|_| {
            Invalid::new(
                "[invalid]",
                "the secret is not base32 (letters A-Z and digits 2-7)",
            )
        })?;
        Self::from_bytes(bytes)
    }

    /// Standard base64, the form of the `secret` field of the FusionAuth API.
    pub fn from_base64(raw: &str) -> Result<Self, Invalid> {
        if raw.len() > MAX_ENCODED_CHARS {
            return Err(Invalid::new("[tooLong]", "the secret is too long"));
        }
        if raw.trim().is_empty() {
            return Err(Invalid::new("[blank]", "a secret is required"));
        }
        let bytes = STANDARD
            .decode(raw.trim())
            .map_err(|_| Invalid::new("[invalid]", "the secret is not base64"))?;
        Self::from_bytes(bytes)
    }

    pub fn to_base32(&self) -> String {
        BASE32_NOPAD.encode(&self.0)
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.0)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_secret_is_160_bits_and_round_trips_through_both_encodings() {
        let secret = TotpSecret::generate();
        assert_eq!(secret.bytes().len(), 20);
        assert_eq!(secret.to_base32().len(), 32);
        assert!(!secret.to_base32().contains('='));
        assert_eq!(
            TotpSecret::from_base32(&secret.to_base32()).unwrap(),
            secret
        );
        assert_eq!(
            TotpSecret::from_base64(&secret.to_base64()).unwrap(),
            secret
        );
    }

    #[test]
    fn base32_is_read_the_way_people_copy_it() {
        let expected = TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
        assert_eq!(expected.bytes(), b"12345678901234567890");
        for variant in [
            "gezd gnbv gy3t qojq gezd gnbv gy3t qojq",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ====",
        ] {
            assert_eq!(TotpSecret::from_base32(variant).unwrap(), expected);
        }
    }

    #[test]
    fn short_or_malformed_secrets_are_refused_with_a_reason() {
        // 15 bytes = 120 bits.
        let error = TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBV").unwrap_err();
        assert_eq!(error.code, "[tooShort]");
        assert!(error.message.contains("120 bits"));
        assert_eq!(
            TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNB1")
                .unwrap_err()
                .code,
            "[invalid]"
        );
        assert_eq!(TotpSecret::from_base32("").unwrap_err().code, "[blank]");
        assert_eq!(
            TotpSecret::from_base64("%%%").unwrap_err().code,
            "[invalid]"
        );
        assert_eq!(
            TotpSecret::from_base32(&"A".repeat(300)).unwrap_err().code,
            "[tooLong]"
        );
    }

    #[test]
    fn a_secret_never_prints() {
        let secret = TotpSecret::generate();
        assert!(!format!("{secret:?}").contains(&secret.to_base32()));
    }
}
