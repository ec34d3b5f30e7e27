//! Which events of the audit log a person is told of, as pure functions of the event. Reading
//! the log, rather than being called by each flow, makes every path to the same change (a
//! page, the API, the CLI, an administrator) give the same notice.

use super::NoticeKind;
use crate::audit::{Actor, EventKind, Origin};
use crate::crypto::random::lookup_digest;
use crate::domain::UserId;
use crate::store::{DeviceSeen, LoggedEvent};

/// What one notice tells, read from its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Happened {
    pub kind: NoticeKind,
    pub user: UserId,
    /// Someone other than the person made the change: an administrator, the CLI, an API key.
    pub by_someone_else: bool,
    /// The second factor added or removed (`authenticator`, `sms` for a phone, `email`), when
    /// known.
    pub method: Option<String>,
}

/// The notice an event calls for, if any. `device`: for a login, whether its computer was
/// known to the account (only a new one is told; an account's first computer is not).
pub fn notice_for(event: &LoggedEvent, device: Option<DeviceSeen>) -> Option<Happened> {
    let user = UserId::parse(event.target.as_deref()?).ok()?;
    let detail = |key: &str| {
        event
            .details
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let kind = match EventKind::parse(&event.kind)? {
        EventKind::LoginSuccess if device == Some(DeviceSeen::New) => NoticeKind::NewComputer,
        EventKind::PasswordChange => NoticeKind::PasswordChanged,
        // An invitation's link sets the first password the person chose: nothing to tell.
        EventKind::PasswordReset if detail("purpose").as_deref() != Some("invitation") => {
            NoticeKind::PasswordChanged
        }
        EventKind::TwoFactorEnable => NoticeKind::MethodAdded,
        EventKind::TwoFactorDisable => NoticeKind::MethodRemoved,
        EventKind::RecoveryCodeUse => NoticeKind::RecoveryCodeUsed,
        EventKind::RecoveryCodesRegenerate => NoticeKind::RecoveryCodesRenewed,
        EventKind::TwoFactorReset => NoticeKind::TwoFactorReset,
        EventKind::AccessCodeUse => NoticeKind::AccessCodeUsed,
        _ => return None,
    };
    let by_someone_else = Actor::parse(&event.actor) != Some(Actor::User(user));
    Some(Happened {
        kind,
        user,
        by_someone_else,
        method: detail("method"),
    })
}

/// The account and computer of a login, whose computer is looked up before `notice_for`;
/// `None` for any other event.
pub fn login_of(event: &LoggedEvent) -> Option<(UserId, String)> {
    if event.kind != EventKind::LoginSuccess.as_str() {
        return None;
    }
    let user = UserId::parse(event.target.as_deref()?).ok()?;
    Some((user, device_of(&event.origin)))
}

/// The computer a login came from: the browser's id (its digest, from the pages), or for a
/// client that keeps none (an application calling the API), its address and user agent.
fn device_of(origin: &Origin) -> String {
    match &origin.device {
        Some(device) => device.clone(),
        None => {
            let seen = format!(
                "address:{}|agent:{}",
                origin.ip.as_deref().unwrap_or(""),
                origin.user_agent.as_deref().unwrap_or("")
            );
            lookup_digest(&seen)[..32].to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Instant;

    fn event(kind: EventKind, actor: &str, user: UserId) -> LoggedEvent {
        LoggedEvent {
            id: 1,
            at: Instant::from_millis(0),
            kind: kind.as_str().to_owned(),
            actor: actor.to_owned(),
            target: Some(user.to_string()),
            origin: Origin::default(),
            details: serde_json::json!({}),
        }
    }

    #[test]
    fn only_a_login_from_a_computer_new_to_an_account_with_others_is_told() {
        let user = UserId::new();
        let login = event(EventKind::LoginSuccess, &format!("user:{user}"), user);
        assert_eq!(login_of(&login).map(|(u, _)| u), Some(user));
        let change = event(EventKind::PasswordChange, &format!("user:{user}"), user);
        assert_eq!(
            login_of(&change),
            None,
            "only a login has a computer to note"
        );
        assert_eq!(
            notice_for(&login, Some(DeviceSeen::New)).map(|h| h.kind),
            Some(NoticeKind::NewComputer)
        );
        assert_eq!(notice_for(&login, Some(DeviceSeen::Known)), None);
        assert_eq!(notice_for(&login, Some(DeviceSeen::First)), None);
    }

    #[test]
    fn each_change_to_a_way_in_is_told_and_says_who_made_it() {
        let user = UserId::new();
        let own = format!("user:{user}");
        for (kind, told) in [
            (EventKind::PasswordChange, NoticeKind::PasswordChanged),
            (EventKind::PasswordReset, NoticeKind::PasswordChanged),
            (EventKind::TwoFactorEnable, NoticeKind::MethodAdded),
            (EventKind::TwoFactorDisable, NoticeKind::MethodRemoved),
            (EventKind::RecoveryCodeUse, NoticeKind::RecoveryCodeUsed),
            (
                EventKind::RecoveryCodesRegenerate,
                NoticeKind::RecoveryCodesRenewed,
            ),
            (EventKind::TwoFactorReset, NoticeKind::TwoFactorReset),
            (EventKind::AccessCodeUse, NoticeKind::AccessCodeUsed),
        ] {
            let happened = notice_for(&event(kind, &own, user), None).expect("told");
            assert_eq!((happened.kind, happened.user), (told, user));
            assert!(!happened.by_someone_else);
            let by_admin = notice_for(&event(kind, "api-key:ak_1", user), None).unwrap();
            assert!(by_admin.by_someone_else);
        }
    }

    #[test]
    fn the_method_is_read_from_the_event() {
        let user = UserId::new();
        let mut added = event(EventKind::TwoFactorEnable, "cli", user);
        added.details = serde_json::json!({"method": "authenticator"});
        assert_eq!(
            notice_for(&added, None).unwrap().method.as_deref(),
            Some("authenticator")
        );
    }

    #[test]
    fn an_invitation_accepted_and_events_of_no_one_are_not_told() {
        let user = UserId::new();
        let mut accepted = event(EventKind::PasswordReset, &format!("user:{user}"), user);
        accepted.details = serde_json::json!({"purpose": "invitation"});
        assert_eq!(notice_for(&accepted, None), None);
        let mut failure = event(EventKind::LoginFailure, "anonymous", user);
        assert_eq!(notice_for(&failure, None), None);
        failure.kind = EventKind::PasswordChange.as_str().to_owned();
        failure.target = None;
        assert_eq!(
            notice_for(&failure, None),
            None,
            "no target, no one to tell"
        );
    }

    #[test]
    fn a_computer_is_its_browser_id_or_else_its_address_and_agent() {
        let browser = Origin {
            ip: Some("192.0.2.1".into()),
            user_agent: Some("Firefox".into()),
            device: Some("abc".into()),
        };
        assert_eq!(device_of(&browser), "abc");
        let api = Origin {
            device: None,
            ..browser.clone()
        };
        let elsewhere = Origin {
            ip: Some("192.0.2.2".into()),
            ..api.clone()
        };
        assert_eq!(device_of(&api).len(), 32);
        assert_ne!(device_of(&api), device_of(&elsewhere));
        assert_eq!(device_of(&api), device_of(&api.clone()));
    }
}
