//! The password guard's counters, as pure functions: which counters a password check takes
//! from before the password is compared, and the account's own, which only counts.

use crate::clock::Instant;
use crate::domain::{LoginId, UserId};
use crate::limits::PasswordGuardSettings;
use crate::store::Counter;

/// Whose passwords a counter counts: an account, or a login id that names nobody (counted the
/// same way, so that the guard does not tell who has an account).
pub(super) fn account_key(user: Option<UserId>, login_id: &LoginId) -> String {
    match (user, login_id) {
        (Some(user), _) => format!("user:{user}"),
        (None, LoginId::Username(name)) => format!("name:{}", name.as_str().to_lowercase()),
        (None, LoginId::Email(email)) => format!("email:{}", email.as_str().to_lowercase()),
    }
}

/// The counters a password check takes from before the password is compared, which refuse it
/// (429) when full: per account and address, and per address.
pub(super) fn address_counters(
    settings: &PasswordGuardSettings,
    account: &str,
    ip: Option<&str>,
    now: Instant,
) -> Vec<Counter> {
    let Some(ip) = ip else {
        return Vec::new();
    };
    vec![
        Counter::new(
            format!("password:{account}:ip:{ip}"),
            &settings.per_account_and_ip,
            now,
        ),
        Counter::new(format!("password:ip:{ip}"), &settings.per_ip, now),
    ]
}

/// The account's own counter of wrong passwords from anywhere. It never refuses: past its max
/// the account is asked for more (`under_attack`), not locked.
pub(super) fn account_counter(
    settings: &PasswordGuardSettings,
    account: &str,
    now: Instant,
) -> Counter {
    Counter {
        max: i64::MAX,
        ..Counter::new(format!("password:{account}"), &settings.per_account, now)
    }
}

/// Whether an account's wrong passwords in the window reached its limit: then a trusted
/// computer no longer spares its second factor.
pub(super) fn under_attack(settings: &PasswordGuardSettings, wrong_passwords: i64) -> bool {
    wrong_passwords >= settings.per_account.max
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Email, Username};

    #[test]
    fn an_account_is_counted_as_itself_whatever_id_it_is_named_by() {
        let user = UserId::new();
        let by_name = LoginId::Username(Username::parse("Ada").unwrap());
        let by_email = LoginId::Email(Email::parse("ada@example.com").unwrap());
        assert_eq!(
            account_key(Some(user), &by_name),
            account_key(Some(user), &by_email)
        );
        assert_eq!(
            account_key(None, &by_name),
            account_key(None, &LoginId::Username(Username::parse("ADA").unwrap()))
        );
    }

    #[test]
    fn an_address_is_limited_per_account_and_over_all_accounts() {
        let settings = PasswordGuardSettings::default();
        let now = Instant::from_millis(1_000_000);
        let counters = address_counters(&settings, "user:x", Some("192.0.2.1"), now);
        let keys: Vec<&str> = counters.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            keys,
            ["password:user:x:ip:192.0.2.1", "password:ip:192.0.2.1"]
        );
        assert_eq!(counters[0].max, settings.per_account_and_ip.max);
        assert_eq!(counters[1].max, settings.per_ip.max);
        assert!(address_counters(&settings, "user:x", None, now).is_empty());
    }

    #[test]
    fn an_account_past_its_limit_is_asked_for_more_not_locked() {
        let settings = PasswordGuardSettings::default();
        assert!(!under_attack(&settings, settings.per_account.max - 1));
        assert!(under_attack(&settings, settings.per_account.max));
        let counter = account_counter(&settings, "user:x", Instant::from_millis(0));
        assert_eq!(
            counter.max,
            i64::MAX,
            "the account's own counter never refuses"
        );
    }
}
