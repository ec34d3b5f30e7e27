//! How many ceremonies may begin. Each one begun is a row kept five minutes
//! (`webauthn_challenges`), and the login page begins one for any visitor: a ceremony begun
//! without a session is counted against its client address, one begun for a user (a
//! registration, a re-authentication) against that user, each in a rolling window of the
//! counters every limit uses (`store::Counter`). Past the limit nothing is written.

use super::{WebAuthn, WebauthnError};
use crate::audit::Origin;
use crate::clock::Instant;
use crate::config::WebauthnConfig;
use crate::domain::UserId;
use crate::limits::{Limit, retry_after_seconds};
use crate::store::{Counter, NewCeremony};

/// Who a ceremony is counted against.
#[derive(Debug, Clone, Copy)]
pub(super) enum StartedBy<'a> {
    /// A visitor without a session, by the client address of `Origin`.
    Address(&'a Origin),
    /// A ceremony for this user's own keys.
    User(UserId),
}

/// The two limits of `[webauthn]`.
#[derive(Debug, Clone, Copy)]
pub(super) struct CeremonyLimits {
    per_address: Limit,
    per_user: Limit,
}

impl CeremonyLimits {
    pub(super) fn of(config: &WebauthnConfig) -> Self {
        Self {
            per_address: config.ceremonies_per_address,
            per_user: config.ceremonies_per_user,
        }
    }

    /// The counter a ceremony begun `by` takes at `now`; none for a request without an address
    /// (never one of the HTTP server's).
    fn counter(&self, by: StartedBy<'_>, now: Instant) -> Option<Counter> {
        match by {
            StartedBy::Address(origin) => origin
                .ip
                .as_deref()
                .map(|ip| Counter::new(format!("webauthn:ip:{ip}"), &self.per_address, now)),
            StartedBy::User(user) => Some(Counter::new(
                format!("webauthn:user:{user}"),
                &self.per_user,
                now,
            )),
        }
    }
}

impl WebAuthn {
    /// Keeps `ceremony` once its starter's counter has room: past the limit, `Throttled` and
    /// nothing written.
    pub(super) async fn keep_ceremony(
        &self,
        ceremony: &NewCeremony,
        by: StartedBy<'_>,
        now: Instant,
    ) -> Result<(), WebauthnError> {
        if let Some(counter) = self.limits.counter(by, now)
            && let Some(full) = self.counters.take(&[counter]).await?.first()
        {
            return Err(WebauthnError::Throttled {
                retry_after_seconds: retry_after_seconds(now, full.room_at),
                per_user: matches!(by, StartedBy::User(_)),
            });
        }
        Ok(self.store.insert_ceremony(ceremony).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> CeremonyLimits {
        CeremonyLimits::of(&WebauthnConfig {
            ceremonies_per_address: Limit {
                max: 3,
                window_seconds: 60,
            },
            ceremonies_per_user: Limit {
                max: 5,
                window_seconds: 300,
            },
            ..WebauthnConfig::default()
        })
    }

    #[test]
    fn a_visitor_is_counted_by_address_and_a_user_by_account() {
        let now = Instant::from_millis(1_000_000);
        let origin = Origin {
            ip: Some("203.0.113.7".into()),
            ..Origin::default()
        };
        let visitor = limits()
            .counter(StartedBy::Address(&origin), now)
            .expect("an address is counted");
        assert_eq!(visitor.key, "webauthn:ip:203.0.113.7");
        assert_eq!((visitor.max, visitor.window_millis), (3, 60_000));
        let user = UserId::new();
        let own = limits()
            .counter(StartedBy::User(user), now)
            .expect("a user is counted");
        assert_eq!(own.key, format!("webauthn:user:{user}"));
        assert_eq!((own.max, own.window_millis), (5, 300_000));
        let nowhere = Origin::default();
        assert!(
            limits()
                .counter(StartedBy::Address(&nowhere), now)
                .is_none()
        );
    }
}
