//! The keys a running server signs with, kept up to date with the directory: an operator's
//! rotation or retirement (another process, `tessera oidc keys …`) is seen without a restart.
//! The directory's listing is compared at most once per second, on the first use after that
//! second; only a changed listing reads the files again.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::super::keys::KeyError;
use super::{OidcKeys, files, key_directory};

/// How stale the keys in use may be: a rotation signs on every server sharing the directory
/// within this time (plus the request that notices it).
pub const LOOK_EVERY: Duration = Duration::from_secs(1);

/// The data directory's keys, read again when its listing changes. Cheap to clone.
#[derive(Clone)]
pub struct KeyRing {
    inner: Arc<Inner>,
}

struct Inner {
    data_dir: PathBuf,
    state: Mutex<State>,
}

struct State {
    keys: Arc<OidcKeys>,
    listing: Vec<String>,
    looked: Instant,
    /// A listing whose files could not be read: not tried again until the listing changes.
    refused: Option<Vec<String>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("data_dir", &self.inner.data_dir)
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// Reads (or makes) the keys of `data_dir`. Making an RSA key takes a moment: callers run
    /// this off the async threads.
    pub fn open(data_dir: &Path) -> Result<Self, KeyError> {
        let keys = OidcKeys::load_or_create(data_dir)?;
        let listing = files::listing(&key_directory(data_dir))?;
        Ok(Self {
            inner: Arc::new(Inner {
                data_dir: data_dir.to_owned(),
                state: Mutex::new(State {
                    keys: Arc::new(keys),
                    listing,
                    looked: Instant::now(),
                    refused: None,
                }),
            }),
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// The keys in force, read again first if the directory changed since the last look (at
    /// most one look per second).
    pub fn keys(&self) -> Arc<OidcKeys> {
        let mut state = self.lock();
        if state.looked.elapsed() >= LOOK_EVERY {
            self.look(&mut state);
        }
        state.keys.clone()
    }

    /// The keys as the directory holds them now (after this process changed it).
    pub fn reload(&self) -> Result<Arc<OidcKeys>, KeyError> {
        let mut state = self.lock();
        let keys = Arc::new(OidcKeys::load_or_create(&self.inner.data_dir)?);
        state.listing = files::listing(&key_directory(&self.inner.data_dir))?;
        state.keys = keys.clone();
        state.looked = Instant::now();
        state.refused = None;
        Ok(keys)
    }

    fn look(&self, state: &mut State) {
        state.looked = Instant::now();
        let dir = key_directory(&self.inner.data_dir);
        let listing = match files::listing(&dir) {
            Ok(listing) => listing,
            Err(error) => {
                tracing::warn!(%error, "cannot list the OpenID Connect keys; the ones read before stay in use");
                return;
            }
        };
        if listing == state.listing || state.refused.as_ref() == Some(&listing) {
            return;
        }
        match OidcKeys::load_or_create(&self.inner.data_dir) {
            Ok(keys) => {
                tracing::info!(
                    keys = listing.len(),
                    "the OpenID Connect keys changed: read again"
                );
                state.keys = Arc::new(keys);
                state.listing = listing;
                state.refused = None;
            }
            Err(error) => {
                tracing::error!(%error, "cannot read the changed OpenID Connect keys; the ones read before stay in use");
                state.refused = Some(listing);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding it left a complete state behind (each field is replaced whole).
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::oidc_keys::Algorithm;

    #[test]
    fn a_key_added_by_another_process_is_seen_at_the_next_look() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::open(dir.path()).unwrap();
        let before = ring.keys().current_kid(Algorithm::Es256).to_owned();
        OidcKeys::add_key(dir.path(), Algorithm::Es256, 0).unwrap();
        // The look is due: as it would be a second later.
        ring.lock().looked -= LOOK_EVERY;
        let after = ring.keys();
        assert_ne!(after.current_kid(Algorithm::Es256), before);
        assert_eq!(after.describe().len(), 3, "the old key stays published");
    }

    #[test]
    fn a_damaged_file_leaves_the_keys_in_use_until_the_listing_changes_again() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::open(dir.path()).unwrap();
        let kid = ring.keys().current_kid(Algorithm::Rs256).to_owned();
        std::fs::write(dir.path().join("oidc-keys/rs256-99999999999.p8"), b"junk").unwrap();
        ring.lock().looked -= LOOK_EVERY;
        assert_eq!(ring.keys().current_kid(Algorithm::Rs256), kid);
        assert!(ring.lock().refused.is_some());
    }
}
