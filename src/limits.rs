//! A number of events allowed per fixed window: the send budgets of the fraud guard and the
//! password guard count in such windows.

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

impl Limit {
    /// The start of the fixed window `now` falls in, in milliseconds.
    pub fn window_start(&self, now: Instant) -> i64 {
        let window = self.window_seconds * 1000;
        now.millis() - now.millis().rem_euclid(window)
    }

    /// Seconds until the window `now` falls in ends (at least 1): when a full one lets the
    /// next event through.
    pub fn retry_after_seconds(&self, now: Instant) -> i64 {
        let ends = self.window_start(now) + self.window_seconds * 1000;
        ((ends - now.millis() + 999) / 1000).max(1)
    }
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
    fn windows_are_fixed_and_aligned_and_say_when_they_end() {
        let limit = Limit {
            max: 1,
            window_seconds: 60,
        };
        assert_eq!(limit.window_start(Instant::from_millis(125_000)), 120_000);
        assert_eq!(limit.window_start(Instant::from_millis(120_000)), 120_000);
        assert_eq!(limit.retry_after_seconds(Instant::from_millis(125_000)), 55);
        assert_eq!(limit.retry_after_seconds(Instant::from_millis(179_999)), 1);
    }
}
