//! OpenID Connect's signing keys: an RSA key for RS256 (the algorithm every client supports)
//! and a P-256 key for ES256, kept in the data directory (`oidc-keys/`, PKCS#8 DER, mode 0600)
//! and made the first time they are needed. Each file is named by its algorithm and the second
//! it was made; the newest of each algorithm signs, every one kept is published in the JWKS, so
//! that a rotation (a newer file) leaves the tokens signed by the older key verifiable until the
//! operator removes it.
//!
//! Tokens are JWS compact serialisations with a header Tessera writes itself (`alg`, `kid`,
//! `typ`): a token is verified only with the key its `kid` names and that key's algorithm.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use rsa::pkcs8::EncodePrivateKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::keys::{KeyError, ensure_private_dir, write_new_bytes};

const DIRECTORY: &str = "oidc-keys";
const RSA_BITS: usize = 2048;
/// Far above any token Tessera makes; longer input is refused before decoding.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

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
        let dir = data_dir.join(DIRECTORY);
        ensure_private_dir(&dir)?;
        let mut keys = Vec::new();
        for algorithm in Algorithm::ALL {
            let mut files = key_files(&dir, algorithm)?;
            if files.is_empty() {
                let path = dir.join(format!(
                    "{}-{}.p8",
                    algorithm.file_prefix(),
                    crate::clock::Instant::now().millis() / 1000
                ));
                match write_new_bytes(&path, &new_key(algorithm, &path)?) {
                    Ok(()) => {}
                    // Another process made one a moment ago: read it.
                    Err(KeyError::Write { source, .. })
                        if source.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(other) => return Err(other),
                }
                files = key_files(&dir, algorithm)?;
            }
            for path in files {
                keys.push(read_key(&path, algorithm)?);
            }
        }
        Ok(Self {
            keys,
            random: SystemRandom::new(),
        })
    }

    /// The key id that signs with `algorithm` now.
    pub fn current_kid(&self, algorithm: Algorithm) -> &str {
        &self.current(algorithm).kid
    }

    /// The JSON Web Key Set of every key kept (`/oauth2/jwks`).
    pub fn jwks(&self) -> Value {
        json!({ "keys": self.keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
    }

    /// `claims` as a JWS compact serialisation, signed by the newest key of `algorithm`.
    pub fn sign(&self, algorithm: Algorithm, claims: &Value) -> String {
        let key = self.current(algorithm);
        let header = json!({"alg": algorithm.as_str(), "kid": key.kid, "typ": "JWT"});
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
        serde_json::from_slice(&decode(payload)?).map_err(|_| JwsError::Malformed)
    }

    fn current(&self, algorithm: Algorithm) -> &SigningKey {
        self.keys
            .iter()
            .find(|k| k.algorithm == algorithm)
            .expect("load_or_create keeps a key of every algorithm")
    }
}

/// The length of `header.payload` in a compact JWS.
fn header_and_payload_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(0)
}

/// The key files of `algorithm`, newest first (by the second in their names).
fn key_files(dir: &Path, algorithm: Algorithm) -> Result<Vec<PathBuf>, KeyError> {
    let entries = std::fs::read_dir(dir).map_err(|source| KeyError::Read {
        path: dir.to_owned(),
        source,
    })?;
    let prefix = format!("{}-", algorithm.file_prefix());
    let mut files: Vec<(i64, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let made: i64 = name
                .strip_prefix(&prefix)?
                .strip_suffix(".p8")?
                .parse()
                .ok()?;
            Some((made, entry.path()))
        })
        .collect();
    files.sort_by_key(|(made, _)| std::cmp::Reverse(*made));
    Ok(files.into_iter().map(|(_, path)| path).collect())
}

fn new_key(algorithm: Algorithm, path: &Path) -> Result<Vec<u8>, KeyError> {
    let failed = |why: String| KeyError::Damaged {
        path: path.to_owned(),
        why,
    };
    match algorithm {
        Algorithm::Rs256 => {
            let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS)
                .map_err(|e| failed(format!("cannot make an RSA key: {e}")))?;
            Ok(key
                .to_pkcs8_der()
                .map_err(|e| failed(format!("cannot encode the RSA key: {e}")))?
                .as_bytes()
                .to_vec())
        }
        Algorithm::Es256 => Ok(EcdsaKeyPair::generate_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &SystemRandom::new(),
        )
        .map_err(|_| failed("cannot make a P-256 key".into()))?
        .as_ref()
        .to_vec()),
    }
}

fn read_key(path: &Path, algorithm: Algorithm) -> Result<SigningKey, KeyError> {
    let der = std::fs::read(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })?;
    let damaged = |why: &str| KeyError::Damaged {
        path: path.to_owned(),
        why: why.to_owned(),
    };
    let (pair, public) = match algorithm {
        Algorithm::Rs256 => {
            let pair = RsaKeyPair::from_pkcs8(&der)
                .map_err(|_| damaged("not an RSA private key of 2048 to 4096 bits in PKCS#8"))?;
            let parts: ring::rsa::PublicKeyComponents<Vec<u8>> = pair.public().into();
            let public = json!({
                "kty": "RSA",
                "n": URL_SAFE_NO_PAD.encode(&parts.n),
                "e": URL_SAFE_NO_PAD.encode(&parts.e),
            });
            (Pair::Rsa(pair), public)
        }
        Algorithm::Es256 => {
            let pair = EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &der,
                &SystemRandom::new(),
            )
            .map_err(|_| damaged("not a P-256 private key in PKCS#8"))?;
            // An uncompressed point: 0x04, then x and y of 32 bytes each.
            let point = pair.public_key().as_ref();
            let public = json!({
                "kty": "EC",
                "crv": "P-256",
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
            });
            (Pair::Ec(pair), public)
        }
    };
    let kid = thumbprint(&public);
    let mut jwk = public;
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!(algorithm.as_str());
    jwk["use"] = json!("sig");
    Ok(SigningKey {
        algorithm,
        kid,
        jwk,
        pair,
    })
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
