//! OpenID Connect's signing keys: RSA keys for RS256 (the algorithm every client supports)
//! and P-256 keys for ES256, kept in the data directory (`oidc-keys/`, PKCS#8 DER, mode 0600,
//! `files.rs`) and made the first time they are needed. Each file is named by its algorithm and
//! the second it was made; the newest of each algorithm signs, every one kept is published in
//! the JWKS, so that a rotation (a newer file) leaves the tokens signed by the older key
//! verifiable until the operator retires it. A running server notices a rotation by itself
//! (`live.rs`).
//!
//! Tokens are JWS compact serialisations with a header Tessera writes itself (`alg`, `kid`,
//! `typ`): a token is verified only with the key its `kid` names and that key's algorithm.

mod files;
mod live;

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::keys::{KeyError, ensure_private_dir};

pub use files::next_key_second;
pub use live::KeyRing;

/// Far above any token Tessera makes; longer input is refused before decoding.
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// The `typ` of the tokens Tessera signs unless told otherwise (ID tokens, a client's access
/// tokens).
pub const JWT: &str = "JWT";

/// The signing algorithms Tessera's keys sign with (RFC 7518).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Rs256,
    Es256,
}

impl Algorithm {
    pub const ALL: [Algorithm; 2] = [Algorithm::Rs256, Algorithm::Es256];

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Es256 => "ES256",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    fn file_prefix(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "rs256",
            Algorithm::Es256 => "es256",
        }
    }
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

struct SigningKey {
    algorithm: Algorithm,
    kid: String,
    /// The public key as a JWK (RFC 7517), with its `kid`, `alg` and `use`.
    jwk: Value,
    pair: Pair,
    /// The second it was made (from its file's name).
    created: i64,
    path: PathBuf,
}

/// What an operator sees of a key: never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub kid: String,
    pub algorithm: Algorithm,
    /// The second it was made (Unix time).
    pub created: i64,
    /// When the next key of its algorithm was made, which took over its signing; `None`: it
    /// signs now.
    pub replaced_at: Option<i64>,
    pub file: PathBuf,
}

impl KeyInfo {
    pub fn signs(&self) -> bool {
        self.replaced_at.is_none()
    }
}

/// Every signing key of the data directory, the newest of each algorithm first.
pub struct OidcKeys {
    keys: Vec<SigningKey>,
    random: SystemRandom,
}

impl std::fmt::Debug for OidcKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
        f.debug_struct("OidcKeys").field("kids", &kids).finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("the token is not a JWS Tessera signed")]
    Malformed,
    #[error("the token's signature does not verify")]
    BadSignature,
}

impl OidcKeys {
    /// Reads the keys from `data_dir/oidc-keys`, making a key of each algorithm that has none.
    /// Making the RSA key takes a moment: callers run this off the async threads.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, KeyError> {
        let dir = key_directory(data_dir);
        ensure_private_dir(&dir)?;
        let mut keys = Vec::new();
        for algorithm in Algorithm::ALL {
            let mut found = files::key_files(&dir, algorithm)?;
            if found.is_empty() {
                let now = crate::clock::Instant::now().seconds();
                match files::write_key(&dir, algorithm, now) {
                    Ok(_) => {}
                    // Another process made one a moment ago: read it.
                    Err(KeyError::Write { source, .. })
                        if source.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(other) => return Err(other),
                }
                found = files::key_files(&dir, algorithm)?;
            }
            for (created, path) in found {
                keys.push(files::read_key(&path, algorithm, created)?);
            }
        }
        Ok(Self {
            keys,
            random: SystemRandom::new(),
        })
    }

    /// Writes a new key of `algorithm` that signs from now on (the older ones stay published).
    /// Making an RSA key takes a moment: callers run this off the async threads.
    pub fn add_key(
        data_dir: &Path,
        algorithm: Algorithm,
        now_seconds: i64,
    ) -> Result<(), KeyError> {
        let dir = key_directory(data_dir);
        ensure_private_dir(&dir)?;
        let made: Vec<i64> = files::key_files(&dir, algorithm)?
            .into_iter()
            .map(|(made, _)| made)
            .collect();
        files::write_key(&dir, algorithm, next_key_second(&made, now_seconds))?;
        Ok(())
    }

    /// Removes the file of the key `kid`; a server stops publishing it at its next look.
    pub fn remove_key(&self, kid: &str) -> Result<(), KeyError> {
        let Some(key) = self.keys.iter().find(|k| k.kid == kid) else {
            return Ok(());
        };
        std::fs::remove_file(&key.path).map_err(|source| KeyError::Write {
            path: key.path.clone(),
            source,
        })
    }

    /// Every key, the newest of each algorithm first.
    pub fn describe(&self) -> Vec<KeyInfo> {
        self.keys
            .iter()
            .map(|key| KeyInfo {
                kid: key.kid.clone(),
                algorithm: key.algorithm,
                created: key.created,
                replaced_at: self
                    .keys
                    .iter()
                    .filter(|k| k.algorithm == key.algorithm && k.created > key.created)
                    .map(|k| k.created)
                    .min(),
                file: key.path.clone(),
            })
            .collect()
    }

    /// The key id that signs with `algorithm` now.
    pub fn current_kid(&self, algorithm: Algorithm) -> &str {
        &self.current(algorithm).kid
    }

    /// The JSON Web Key Set of every key kept (`/oauth2/jwks`).
    pub fn jwks(&self) -> Value {
        json!({ "keys": self.keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
    }

    /// `claims` as a JWS compact serialisation of `typ` JWT, signed by the newest key of
    /// `algorithm`.
    pub fn sign(&self, algorithm: Algorithm, claims: &Value) -> String {
        self.sign_typed(algorithm, JWT, claims)
    }

    /// `sign`, with the header's `typ` said: a verifier that asks for it refuses any other kind
    /// of token these keys sign.
    pub fn sign_typed(&self, algorithm: Algorithm, typ: &str, claims: &Value) -> String {
        let key = self.current(algorithm);
        let header = json!({"alg": algorithm.as_str(), "kid": key.kid, "typ": typ});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = match &key.pair {
            Pair::Rsa(pair) => {
                let mut out = vec![0u8; pair.public().modulus_len()];
                pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &self.random,
                    input.as_bytes(),
                    &mut out,
                )
                .expect("an RSA key of 2048 bits or more signs any input");
                out
            }
            Pair::Ec(pair) => pair
                .sign(&self.random, input.as_bytes())
                .expect("a P-256 key signs any input")
                .as_ref()
                .to_vec(),
        };
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// The claims of a token signed by one of these keys, whatever its expiry (the caller
    /// judges the claims).
    pub fn verify(&self, token: &str) -> Result<Value, JwsError> {
        self.verify_header(token).map(|(_, claims)| claims)
    }

    /// `verify`, for a token whose header's `typ` must be `typ`.
    pub fn verify_typed(&self, token: &str, typ: &str) -> Result<Value, JwsError> {
        match self.verify_header(token)? {
            (header, claims) if header["typ"].as_str() == Some(typ) => Ok(claims),
            _ => Err(JwsError::Malformed),
        }
    }

    fn verify_header(&self, token: &str) -> Result<(Value, Value), JwsError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(JwsError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signed), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::Malformed);
        };
        let decode = |part: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| JwsError::Malformed)
        };
        let header: Value =
            serde_json::from_slice(&decode(header)?).map_err(|_| JwsError::Malformed)?;
        let kid = header["kid"].as_str().ok_or(JwsError::Malformed)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or(JwsError::BadSignature)?;
        if header["alg"].as_str() != Some(key.algorithm.as_str()) {
            return Err(JwsError::BadSignature);
        }
        let input = &token[..header_and_payload_len(token)];
        let signature_bytes = decode(signed)?;
        let verified = match &key.pair {
            Pair::Rsa(pair) => signature::UnparsedPublicKey::new(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                pair.public().as_ref(),
            )
            .verify(input.as_bytes(), &signature_bytes),
            Pair::Ec(pair) => signature::UnparsedPublicKey::new(
                &signature::ECDSA_P256_SHA256_FIXED,
                pair.public_key().as_ref(),
            )
            .verify(input.as_bytes(), &signature_bytes),
        };
        verified.map_err(|_| JwsError::BadSignature)?;
        let claims = serde_json::from_slice(&decode(payload)?).map_err(|_| JwsError::Malformed)?;
        Ok((header, claims))
    }

    fn current(&self, algorithm: Algorithm) -> &SigningKey {
        self.keys
            .iter()
            .find(|k| k.algorithm == algorithm)
            .expect("load_or_create keeps a key of every algorithm")
    }
}

fn key_directory(data_dir: &Path) -> PathBuf {
    data_dir.join(files::DIRECTORY)
}

/// The length of `header.payload` in a compact JWS.
fn header_and_payload_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(0)
}

/// The JWK thumbprint (RFC 7638): the SHA-256 of the required members in lexical order, with no
/// whitespace, written out here so that no map's ordering decides it.
fn thumbprint(public: &Value) -> String {
    let member = |name: &str| public[name].as_str().unwrap_or_default().to_owned();
    let canonical = match public["kty"].as_str() {
        Some("RSA") => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            member("e"),
            member("n")
        ),
        _ => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            member("crv"),
            member("x"),
            member("y")
        ),
    };
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> (tempfile::TempDir, OidcKeys) {
        let dir = tempfile::tempdir().unwrap();
        let keys = OidcKeys::load_or_create(dir.path()).unwrap();
        (dir, keys)
    }

    #[test]
    fn a_token_signed_with_either_algorithm_verifies_and_a_changed_one_does_not() {
        let (_dir, keys) = keys();
        let claims = json!({"sub": "ann", "aud": "grafana"});
        for algorithm in Algorithm::ALL {
            let token = keys.sign(algorithm, &claims);
            assert_eq!(keys.verify(&token), Ok(claims.clone()), "{algorithm:?}");
            let (input, _) = token.rsplit_once('.').unwrap();
            let forged_claims = URL_SAFE_NO_PAD.encode(json!({"sub": "admin"}).to_string());
            let (header, _) = input.split_once('.').unwrap();
            let forged = format!(
                "{header}.{forged_claims}.{}",
                token.rsplit('.').next().unwrap()
            );
            assert_eq!(keys.verify(&forged), Err(JwsError::BadSignature));
        }
        assert_eq!(keys.verify("not.a.token"), Err(JwsError::Malformed));
        assert_eq!(keys.verify("two.parts"), Err(JwsError::Malformed));
    }

    #[test]
    fn a_header_that_names_another_algorithm_than_its_key_is_refused() {
        let (_dir, keys) = keys();
        let token = keys.sign(Algorithm::Rs256, &json!({"sub": "ann"}));
        let (_, rest) = token.split_once('.').unwrap();
        let header = json!({"alg": "HS256", "kid": keys.current_kid(Algorithm::Rs256)});
        let swapped = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()));
        assert_eq!(keys.verify(&swapped), Err(JwsError::BadSignature));
    }

    #[test]
    fn the_keys_are_made_once_and_read_again_with_the_same_ids() {
        let dir = tempfile::tempdir().unwrap();
        let first = OidcKeys::load_or_create(dir.path()).unwrap();
        let again = OidcKeys::load_or_create(dir.path()).unwrap();
        for algorithm in Algorithm::ALL {
            assert_eq!(first.current_kid(algorithm), again.current_kid(algorithm));
        }
        let jwks = again.jwks();
        let published = jwks["keys"].as_array().unwrap();
        assert_eq!(published.len(), 2);
        assert!(
            published
                .iter()
                .all(|k| k["use"] == "sig" && k.get("d").is_none())
        );
        let token = first.sign(Algorithm::Es256, &json!({"n": 1}));
        assert!(again.verify(&token).is_ok());
    }

    #[test]
    fn a_new_key_signs_and_the_old_one_still_verifies_until_it_is_removed() {
        let (dir, before) = keys();
        let old_token = before.sign(Algorithm::Rs256, &json!({"sub": "ann"}));
        OidcKeys::add_key(dir.path(), Algorithm::Rs256, 0).unwrap();
        let after = OidcKeys::load_or_create(dir.path()).unwrap();
        let old_kid = before.current_kid(Algorithm::Rs256);
        assert_ne!(after.current_kid(Algorithm::Rs256), old_kid);
        assert!(after.verify(&old_token).is_ok());
        let listed = after.describe();
        let old = listed.iter().find(|k| k.kid == old_kid).unwrap();
        let new = &listed[0];
        assert!(new.signs() && !old.signs());
        assert_eq!(old.replaced_at, Some(new.created));
        assert!(new.created > old.created);

        after.remove_key(old_kid).unwrap();
        let kept = OidcKeys::load_or_create(dir.path()).unwrap();
        assert_eq!(kept.verify(&old_token), Err(JwsError::BadSignature));
        assert_eq!(kept.jwks()["keys"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn a_verifier_that_names_the_type_refuses_tokens_of_another() {
        let (_dir, keys) = keys();
        let access = keys.sign_typed(Algorithm::Es256, "at+jwt", &json!({"sub": "ann"}));
        let id = keys.sign(Algorithm::Es256, &json!({"sub": "ann"}));
        assert!(keys.verify_typed(&access, "at+jwt").is_ok());
        assert_eq!(keys.verify_typed(&id, "at+jwt"), Err(JwsError::Malformed));
        assert!(keys.verify(&access).is_ok());
    }

    #[test]
    fn the_key_id_is_the_rfc_7638_thumbprint() {
        // RFC 7638 §3.1's example key and thumbprint.
        let public = json!({
            "e": "AQAB",
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        });
        assert_eq!(
            thumbprint(&public),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
