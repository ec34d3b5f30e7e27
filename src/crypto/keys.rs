//! Key files in the data directory: the token-signing key and the keys that encrypt secrets at
//! rest. They are made once, with mode 0600, and never written over.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use rand::rngs::OsRng;

const SIGNING_FILE: &str = "signing.key";
const HASHING_FILE: &str = "hashing.key";
const ENCRYPTION_FILE: &str = "encryption.keys";
const KEY_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot create data directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write key file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {path} is damaged: {why}")]
    Damaged { path: PathBuf, why: String },
}

/// An encryption key and the id stored beside every ciphertext it makes, so that a new key
/// can be added while old ciphertexts stay readable.
#[derive(Clone)]
pub struct EncryptionKey {
    pub id: String,
    pub bytes: [u8; KEY_BYTES],
}

#[derive(Clone)]
pub struct Keys {
    signing: [u8; KEY_BYTES],
    /// Keys the hashes of short secrets (recovery codes, sent codes), so that a stolen database
    /// alone is not enough to guess them offline.
    hashing: [u8; KEY_BYTES],
    /// Oldest first; the last one encrypts.
    encryption: Vec<EncryptionKey>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.encryption.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("Keys")
            .field("signing", &"<redacted>")
            .field("encryption_key_ids", &ids)
            .finish()
    }
}

impl Keys {
    /// Reads the keys from `data_dir`, making the directory and any missing key file first.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, KeyError> {
        ensure_private_dir(data_dir)?;
        let signing_path = data_dir.join(SIGNING_FILE);
        if !signing_path.exists() {
            write_new(
                &signing_path,
                &format!("{}\n", STANDARD.encode(random_key())),
            )?;
        }
        let hashing_path = data_dir.join(HASHING_FILE);
        if !hashing_path.exists() {
            write_new(
                &hashing_path,
                &format!("{}\n", STANDARD.encode(random_key())),
            )?;
        }
        let encryption_path = data_dir.join(ENCRYPTION_FILE);
        if !encryption_path.exists() {
            let line = format!(
                "# id key (base64). The last line encrypts; every line decrypts.\nk1 {}\n",
                STANDARD.encode(random_key())
            );
            write_new(&encryption_path, &line)?;
        }
        let signing = parse_key(&signing_path, read(&signing_path)?.trim())?;
        let hashing = parse_key(&hashing_path, read(&hashing_path)?.trim())?;
        let encryption = parse_encryption_keys(&encryption_path, &read(&encryption_path)?)?;
        Ok(Self {
            signing,
            hashing,
            encryption,
        })
    }

    pub fn signing_key(&self) -> &[u8; KEY_BYTES] {
        &self.signing
    }

    pub fn hashing_key(&self) -> &[u8; KEY_BYTES] {
        &self.hashing
    }

    pub fn current_encryption_key(&self) -> &EncryptionKey {
        // `parse_encryption_keys` refuses an empty file, so there is always a last key.
        &self.encryption[self.encryption.len() - 1]
    }

    pub fn encryption_key(&self, id: &str) -> Option<&EncryptionKey> {
        self.encryption.iter().find(|k| k.id == id)
    }
}

fn random_key() -> [u8; KEY_BYTES] {
    let mut key = [0u8; KEY_BYTES];
    OsRng.fill_bytes(&mut key);
    key
}

pub(super) fn ensure_private_dir(dir: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| KeyError::CreateDir {
            path: dir.to_owned(),
            source,
        })
}

fn write_new(path: &Path, content: &str) -> Result<(), KeyError> {
    write_new_bytes(path, content.as_bytes())
}

/// Writes a new key file, readable by its owner only; never over one that exists.
pub(super) fn write_new_bytes(path: &Path, content: &[u8]) -> Result<(), KeyError> {
    let error = |source| KeyError::Write {
        path: path.to_owned(),
        source,
    };
    // `create_new` fails rather than replace a key another process wrote a moment ago.
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(error)?;
    file.write_all(content).map_err(error)?;
    file.sync_all().map_err(error)
}

fn read(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })
}

fn parse_key(path: &Path, encoded: &str) -> Result<[u8; KEY_BYTES], KeyError> {
    let damaged = |why: &str| KeyError::Damaged {
        path: path.to_owned(),
        why: why.to_owned(),
    };
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|_| damaged("a key is not base64"))?;
    bytes
        .try_into()
        .map_err(|_| damaged("a key is not 32 bytes long"))
}

fn parse_encryption_keys(path: &Path, text: &str) -> Result<Vec<EncryptionKey>, KeyError> {
    let mut keys = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((id, encoded)) = line.split_once(char::is_whitespace) else {
            return Err(KeyError::Damaged {
                path: path.to_owned(),
                why: "each line must be `<id> <base64 key>`".into(),
            });
        };
        keys.push(EncryptionKey {
            id: id.to_owned(),
            bytes: parse_key(path, encoded.trim())?,
        });
    }
    if keys.is_empty() {
        return Err(KeyError::Damaged {
            path: path.to_owned(),
            why: "it holds no key".into(),
        });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn keys_are_made_once_private_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = Keys::load_or_create(&data).unwrap();
        let again = Keys::load_or_create(&data).unwrap();
        assert_eq!(first.signing_key(), again.signing_key());
        assert_eq!(first.current_encryption_key().id, "k1");
        for file in [SIGNING_FILE, HASHING_FILE, ENCRYPTION_FILE] {
            let mode = std::fs::metadata(data.join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }

    #[test]
    fn a_damaged_key_file_is_reported_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SIGNING_FILE), "not base64!\n").unwrap();
        let error = Keys::load_or_create(dir.path()).unwrap_err();
        assert!(error.to_string().contains("signing.key"), "{error}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(SIGNING_FILE)).unwrap(),
            "not base64!\n"
        );
    }

    #[test]
    fn keys_never_print() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::load_or_create(dir.path()).unwrap();
        let shown = format!("{keys:?}");
        assert!(!shown.contains(&STANDARD.encode(keys.signing_key())));
    }
}
