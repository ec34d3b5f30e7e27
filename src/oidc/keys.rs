//! The operator's hands on the signing keys (`tessera oidc keys list|rotate|retire`): a
//! rotation makes a new key of an algorithm that signs from then on, the older ones staying
//! published so that the tokens they signed still verify; a retirement removes an older key once
//! no token it signed can still be live (`retire_verdict`). Servers sharing the data directory
//! see either within a second (`crypto::oidc_keys::KeyRing`).

use super::{Oidc, OidcError};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::oidc_keys::{Algorithm, KeyInfo, OidcKeys};

/// Beyond the longest token lifetime, how long a retirement waits: a server sharing the
/// directory signs with the old key for up to a second after the rotation, and the clocks of
/// nodes and applications differ by a little.
pub const RETIRE_MARGIN_SECONDS: i64 = 60;

/// Whether a key may be removed now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetireVerdict {
    Allowed,
    /// It is the newest of its algorithm: it signs.
    Signing,
    /// A token it signed may still be live until `possible_at` (Unix seconds).
    TooRecent {
        possible_at: i64,
    },
}

/// A key that stopped signing when its successor was made may go once the longest-lived token
/// it could have signed (an ID token or access token; refresh tokens are opaque) has expired.
pub fn retire_verdict(
    key: &KeyInfo,
    longest_token_seconds: i64,
    now_seconds: i64,
) -> RetireVerdict {
    let Some(replaced_at) = key.replaced_at else {
        return RetireVerdict::Signing;
    };
    let possible_at = replaced_at + longest_token_seconds + RETIRE_MARGIN_SECONDS;
    if now_seconds >= possible_at {
        RetireVerdict::Allowed
    } else {
        RetireVerdict::TooRecent { possible_at }
    }
}

/// A retirement refused: nothing was removed.
#[derive(Debug, thiserror::Error)]
pub enum RetireError {
    #[error("no key has the id {0}")]
    UnknownKey(String),
    #[error("the key {0} signs now: rotate first, then retire it once its tokens have expired")]
    Signing(String),
    /// Each key with the second (Unix time) from which it may go.
    #[error("tokens signed by these keys may still be live")]
    TooRecent {
        keys: Vec<(String, i64)>,
        longest_token_seconds: i64,
    },
    #[error(transparent)]
    Internal(#[from] OidcError),
}

impl Oidc {
    /// Every key kept, the newest of each algorithm first.
    pub async fn signing_keys(&self) -> Result<Vec<KeyInfo>, OidcError> {
        Ok(self.keys().await?.describe())
    }

    /// A new key of each of `algorithms`, which signs from now on; answers the keys as they are
    /// now. Audited per key.
    pub async fn rotate_keys(
        &self,
        algorithms: &[Algorithm],
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Vec<KeyInfo>, OidcError> {
        let ring = self.key_ring().await?.clone();
        let before = ring.keys();
        let chosen = algorithms.to_vec();
        let after = tokio::task::spawn_blocking(move || {
            for algorithm in chosen {
                OidcKeys::add_key(ring.data_dir(), algorithm, now.seconds())?;
            }
            ring.reload()
        })
        .await
        .map_err(anyhow::Error::from)?
        .map_err(anyhow::Error::from)?;
        for algorithm in algorithms {
            let event = AuditEvent::new(EventKind::OidcKeyRotate, actor.clone(), origin, now)
                .detail("algorithm", algorithm.as_str())
                .detail("kid", after.current_kid(*algorithm))
                .detail("replaces", before.current_kid(*algorithm));
            self.audit_store.record_event(&event).await?;
        }
        Ok(after.describe())
    }

    /// Removes the keys `kids` (every key that no longer signs, when none is named), all or
    /// none: each must be past `retire_verdict`'s time, unless `force`. A key that signs is
    /// never removed. Answers the keys removed. Audited per key.
    pub async fn retire_keys(
        &self,
        kids: &[String],
        force: bool,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Vec<KeyInfo>, RetireError> {
        let ring = self.key_ring().await?.clone();
        let keys = ring.keys();
        let listed = keys.describe();
        let chosen: Vec<KeyInfo> = if kids.is_empty() {
            listed.into_iter().filter(|k| !k.signs()).collect()
        } else {
            kids.iter()
                .map(|kid| {
                    listed
                        .iter()
                        .find(|k| &k.kid == kid)
                        .cloned()
                        .ok_or_else(|| RetireError::UnknownKey(kid.clone()))
                })
                .collect::<Result<_, _>>()?
        };
        let longest = self.longest_token_seconds().await?;
        let mut too_recent = Vec::new();
        for key in &chosen {
            match retire_verdict(key, longest, now.seconds()) {
                RetireVerdict::Allowed => {}
                RetireVerdict::Signing => return Err(RetireError::Signing(key.kid.clone())),
                RetireVerdict::TooRecent { possible_at } => {
                    too_recent.push((key.kid.clone(), possible_at));
                }
            }
        }
        if !too_recent.is_empty() && !force {
            return Err(RetireError::TooRecent {
                keys: too_recent,
                longest_token_seconds: longest,
            });
        }
        let removing = chosen.clone();
        tokio::task::spawn_blocking(move || {
            for key in &removing {
                keys.remove_key(&key.kid)?;
            }
            ring.reload()
        })
        .await
        .map_err(|e| OidcError::Internal(e.into()))?
        .map_err(|e| OidcError::Internal(e.into()))?;
        for key in &chosen {
            let early = too_recent.iter().any(|(kid, _)| *kid == key.kid);
            let event = AuditEvent::new(EventKind::OidcKeyRetire, actor.clone(), origin, now)
                .detail("algorithm", key.algorithm.as_str())
                .detail("kid", key.kid.clone())
                .detail("forced", early);
            self.audit_store
                .record_event(&event)
                .await
                .map_err(OidcError::from)?;
        }
        Ok(chosen)
    }

    /// The longest lifetime of a token a key may have signed: any client's ID token or access
    /// token, or the JSON API's access token (whatever signs those now: the setting may have
    /// changed since).
    async fn longest_token_seconds(&self) -> Result<i64, OidcError> {
        let clients = self.oidc_store.longest_token_seconds().await?;
        Ok(clients.max(self.api_token_seconds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(replaced_at: Option<i64>) -> KeyInfo {
        KeyInfo {
            kid: "k1".into(),
            algorithm: Algorithm::Rs256,
            created: 1_000,
            replaced_at,
            file: "oidc-keys/rs256-1000.p8".into(),
        }
    }

    #[test]
    fn the_key_that_signs_is_never_retired() {
        assert_eq!(
            retire_verdict(&key(None), 0, i64::MAX),
            RetireVerdict::Signing
        );
    }

    #[test]
    fn an_old_key_goes_once_the_longest_token_it_signed_has_expired_and_a_margin_more() {
        let replaced = key(Some(10_000));
        let possible_at = 10_000 + 3_600 + RETIRE_MARGIN_SECONDS;
        assert_eq!(
            retire_verdict(&replaced, 3_600, 10_000),
            RetireVerdict::TooRecent { possible_at }
        );
        assert_eq!(
            retire_verdict(&replaced, 3_600, possible_at - 1),
            RetireVerdict::TooRecent { possible_at }
        );
        assert_eq!(
            retire_verdict(&replaced, 3_600, possible_at),
            RetireVerdict::Allowed
        );
    }

    #[test]
    fn a_longer_lifetime_waits_longer() {
        let replaced = key(Some(0));
        let now = 3_600 + RETIRE_MARGIN_SECONDS;
        assert_eq!(
            retire_verdict(&replaced, 3_600, now),
            RetireVerdict::Allowed
        );
        assert_eq!(
            retire_verdict(&replaced, 86_400, now),
            RetireVerdict::TooRecent {
                possible_at: 86_400 + RETIRE_MARGIN_SECONDS
            }
        );
    }
}
