//! The key files of `<data_dir>/oidc-keys/`: `rs256-<unix seconds>.p8` and
//! `es256-<unix seconds>.p8`, PKCS#8 DER, mode 0600. A new file appears whole (written beside
//! under a hidden name, then linked to its own), so a server reading the directory at the same
//! moment never reads half a key.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use rsa::pkcs8::EncodePrivateKey;
use serde_json::json;

use super::super::keys::{KeyError, write_new_bytes};
use super::{Algorithm, Pair, SigningKey, thumbprint};

pub(super) const DIRECTORY: &str = "oidc-keys";
const RSA_BITS: usize = 2048;

/// The directory's key files of `algorithm`, newest first, with the second each was made.
pub(super) fn key_files(dir: &Path, algorithm: Algorithm) -> Result<Vec<(i64, PathBuf)>, KeyError> {
    let mut files: Vec<(i64, PathBuf)> = listing(dir)?
        .into_iter()
        .filter_map(|name| {
            let (named, made) = parse_name(&name)?;
            (named == algorithm).then(|| (made, dir.join(&name)))
        })
        .collect();
    files.sort_by_key(|(made, _)| std::cmp::Reverse(*made));
    Ok(files)
}

/// The names of the key files in `dir`, sorted: what a server compares to notice a change.
pub(super) fn listing(dir: &Path) -> Result<Vec<String>, KeyError> {
    let entries = std::fs::read_dir(dir).map_err(|source| KeyError::Read {
        path: dir.to_owned(),
        source,
    })?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| parse_name(name).is_some())
        .collect();
    names.sort();
    Ok(names)
}

/// `rs256-1733500000.p8` → (RS256, 1733500000).
fn parse_name(name: &str) -> Option<(Algorithm, i64)> {
    let (prefix, rest) = name.split_once('-')?;
    let algorithm = Algorithm::ALL
        .into_iter()
        .find(|a| a.file_prefix() == prefix)?;
    let made: i64 = rest.strip_suffix(".p8")?.parse().ok()?;
    (made >= 0).then_some((algorithm, made))
}

/// The second a new key of an algorithm is named by: now, or one past the newest key's if that
/// is not earlier, so that the new key is always the newest (two rotations in one second, or a
/// clock set back).
pub fn next_key_second(existing: &[i64], now_seconds: i64) -> i64 {
    existing
        .iter()
        .map(|made| made + 1)
        .fold(now_seconds, i64::max)
}

/// Makes a key of `algorithm` named by `second` and writes it whole; `AlreadyExists` (as
/// `KeyError::Write`) when another process made that file first.
pub(super) fn write_key(
    dir: &Path,
    algorithm: Algorithm,
    second: i64,
) -> Result<PathBuf, KeyError> {
    let name = format!("{}-{second}.p8", algorithm.file_prefix());
    let path = dir.join(&name);
    let der = new_key(algorithm, &path)?;
    // Written under a name no reader lists, then linked: the file appears complete or not at all.
    let hidden = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&hidden);
    write_new_bytes(&hidden, &der)?;
    let linked = std::fs::hard_link(&hidden, &path);
    let _ = std::fs::remove_file(&hidden);
    linked.map_err(|source| KeyError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
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

pub(super) fn read_key(
    path: &Path,
    algorithm: Algorithm,
    created: i64,
) -> Result<SigningKey, KeyError> {
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
        created,
        path: path.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_is_named_after_now_unless_a_key_as_new_exists() {
        assert_eq!(next_key_second(&[], 100), 100);
        assert_eq!(next_key_second(&[50, 90], 100), 100);
        assert_eq!(
            next_key_second(&[100], 100),
            101,
            "a second rotation in one second"
        );
        assert_eq!(next_key_second(&[90, 130], 100), 131, "a clock set back");
    }

    #[test]
    fn only_key_files_are_listed_and_their_names_say_algorithm_and_second() {
        assert_eq!(parse_name("rs256-17.p8"), Some((Algorithm::Rs256, 17)));
        assert_eq!(parse_name("es256-0.p8"), Some((Algorithm::Es256, 0)));
        for other in [
            ".rs256-17.p8.42.tmp",
            "rs256-17.p8~",
            "hs256-17.p8",
            "es256--1.p8",
            "es256-x.p8",
        ] {
            assert_eq!(parse_name(other), None, "{other}");
        }
    }
}
