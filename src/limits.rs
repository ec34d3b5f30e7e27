//! A number of events allowed per rolling window: the send budgets of the fraud guard, the
//! password guard and the Verify API's buckets count in such windows (`store::Counter`).

use serde::{Deserialize, Serialize};

use crate::clock::Instant;

/// A number of events allowed per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limit {
    pub max: i64,
    #[serde(alias = "window_seconds")]
    pub window_seconds: i64,
}

/// Whole seconds from `now` until `room_at`, when a full limit admits the next event (at least
/// 1): what a refusal's `Retry-After` says.
pub fn retry_after_seconds(now: Instant, room_at: Instant) -> i64 {
    ((room_at.millis() - now.millis() + 999) / 1000).max(1)
}

/// How many wrong passwords the password guard lets through. An address past its limits waits
/// (429 with `Retry-After`); an account past its own is never locked, but asked for more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordGuardSettings {
    /// Wrong passwords for one account from one client address.
    pub per_account_and_ip: Limit,
    /// Wrong passwords from one client address, over all accounts.
    pub per_ip: Limit,
    /// Wrong passwords for one account from anywhere: past it, a trusted computer no longer
    /// spares the account its second factor.
    pub per_account: Limit,
}

impl Default for PasswordGuardSettings {
    fn default() -> Self {
        Self {
            per_account_and_ip: Limit {
                max: 10,
                window_seconds: 900,
            },
            per_ip: Limit {
                max: 100,
                window_seconds: 900,
            },
            per_account: Limit {
                max: 50,
                window_seconds: 3600,
            },
        }
    }
}

impl PasswordGuardSettings {
    /// The first limit that cannot work, named.
    pub fn check(&self) -> Result<(), String> {
        for (name, limit) in [
            ("per_account_and_ip", self.per_account_and_ip),
            ("per_ip", self.per_ip),
            ("per_account", self.per_account),
        ] {
            if limit.max < 1 || !(1..=86_400).contains(&limit.window_seconds) {
                return Err(format!(
                    "password_guard.{name} needs max >= 1 and window_seconds of 1 to 86400"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_says_the_whole_seconds_until_there_is_room() {
        let now = Instant::from_millis(125_000);
        assert_eq!(retry_after_seconds(now, Instant::from_millis(180_000)), 55);
        assert_eq!(retry_after_seconds(now, Instant::from_millis(125_001)), 1);
        assert_eq!(retry_after_seconds(now, Instant::from_millis(126_500)), 2);
        assert_eq!(retry_after_seconds(now, now), 1, "never zero");
    }
}
