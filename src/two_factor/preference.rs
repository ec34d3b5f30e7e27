//! Which of a user's methods a login offers first, which one a code goes to when nobody names
//! one, and which one a login sends its code to unasked: pure rules over the methods a login
//! may use.

use crate::domain::MethodKind;
use crate::policy::SendCodeOnLogin;
use crate::store::MethodRecord;

/// The method a login offers first: the one used last, else an authenticator (nothing to wait
/// for), else the first enrolled.
pub fn preferred(methods: &[MethodRecord]) -> Option<&MethodRecord> {
    preferred_of(methods.iter())
}

fn preferred_of<'a>(
    methods: impl Iterator<Item = &'a MethodRecord> + Clone,
) -> Option<&'a MethodRecord> {
    methods
        .clone()
        .filter(|m| m.last_used_at.is_some())
        .max_by_key(|m| m.last_used_at)
        .or_else(|| {
            methods
                .clone()
                .find(|m| m.kind == MethodKind::Authenticator)
        })
        .or_else(|| methods.clone().next())
}

/// The phone a message outside a login goes to (a reset code, a security notice): the
/// account's phone method used last (a phone is proven by a code when it is enrolled).
pub fn phone_used_last(methods: &[MethodRecord]) -> Option<crate::domain::PhoneNumber> {
    methods
        .iter()
        .filter(|m| m.kind == MethodKind::Phone)
        .max_by_key(|m| m.last_used_at.map(|at| at.millis()).unwrap_or(i64::MIN))
        .and_then(|m| m.mobile_phone.clone())
}

/// Whether codes for this method are sent (a text, a call, an email) rather than made by an app.
fn receives_codes(method: &MethodRecord) -> bool {
    matches!(method.kind, MethodKind::Phone | MethodKind::Email)
}

/// Where a code goes when it is asked for without naming a method: the preferred of the
/// methods that receive codes.
pub fn preferred_for_sending(methods: &[MethodRecord]) -> Option<&MethodRecord> {
    preferred_of(methods.iter().filter(|m| receives_codes(m)))
}

/// The method a login sends its code to as soon as it answers 242, if any; one at most, so a
/// login never sends twice by itself. `moved_from_authy`: the user was imported with a known
/// phone and has not logged in since, and is sent a text this once.
pub fn sent_unasked(
    setting: SendCodeOnLogin,
    moved_from_authy: bool,
    usable: &[MethodRecord],
) -> Option<&MethodRecord> {
    if moved_from_authy && let Some(sms) = usable.iter().find(|m| m.kind == MethodKind::Phone) {
        return Some(sms);
    }
    let legacy = || usable.iter().find(|m| m.sends_code_on_login);
    match setting {
        SendCodeOnLogin::Never => None,
        SendCodeOnLogin::Legacy => legacy(),
        SendCodeOnLogin::Preferred => preferred(usable)
            .filter(|m| receives_codes(m))
            .or_else(legacy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Instant;
    use crate::domain::{Email, MethodId, PhoneNumber, UserId};

    fn method(kind: MethodKind, last_used: Option<i64>) -> MethodRecord {
        MethodRecord {
            id: MethodId::generate(),
            user_id: UserId::new(),
            kind,
            name: None,
            secret: None,
            totp: None,
            mobile_phone: matches!(kind, MethodKind::Phone)
                .then(|| PhoneNumber::parse("+13035550123").unwrap()),
            email: (kind == MethodKind::Email).then(|| Email::parse("a@example.com").unwrap()),
            last_used_step: None,
            created_at: Instant::from_millis(0),
            last_used_at: last_used.map(Instant::from_millis),
            sends_code_on_login: false,
            channel: (kind == MethodKind::Phone).then_some(crate::domain::Channel::Sms),
        }
    }

    fn legacy_sms() -> MethodRecord {
        MethodRecord {
            sends_code_on_login: true,
            ..method(MethodKind::Phone, None)
        }
    }

    #[test]
    fn the_method_used_last_is_preferred_else_an_authenticator_else_the_first() {
        let sms = method(MethodKind::Phone, Some(5));
        let email = method(MethodKind::Email, Some(9));
        let app = method(MethodKind::Authenticator, None);
        let methods = [sms.clone(), app.clone(), email.clone()];
        assert_eq!(preferred(&methods).unwrap().id, email.id);
        let unused = [method(MethodKind::Phone, None), app.clone()];
        assert_eq!(preferred(&unused).unwrap().id, app.id);
        let phones = [sms.clone(), method(MethodKind::Phone, None)];
        assert_eq!(preferred(&phones).unwrap().id, sms.id);
        assert!(preferred(&[]).is_none());
    }

    #[test]
    fn a_code_asked_for_without_a_method_goes_to_the_preferred_one_that_receives_codes() {
        let app = method(MethodKind::Authenticator, Some(10));
        let sms = method(MethodKind::Phone, None);
        let email = method(MethodKind::Email, Some(3));
        let methods = [app.clone(), sms, email.clone()];
        assert_eq!(preferred_for_sending(&methods).unwrap().id, email.id);
        assert!(preferred_for_sending(&[app]).is_none());
    }

    #[test]
    fn by_default_only_a_phone_enabled_with_the_older_form_is_sent_its_code_unasked() {
        let app = method(MethodKind::Authenticator, None);
        let sms = method(MethodKind::Phone, None);
        let legacy = legacy_sms();
        let setting = SendCodeOnLogin::default();
        assert!(sent_unasked(setting, false, &[sms.clone(), app.clone()]).is_none());
        let methods = [app.clone(), legacy.clone()];
        assert_eq!(
            sent_unasked(setting, false, &methods).unwrap().id,
            legacy.id
        );
        assert!(
            sent_unasked(SendCodeOnLogin::Never, false, std::slice::from_ref(&legacy)).is_none()
        );
    }

    #[test]
    fn when_the_settings_say_so_a_preferred_text_call_or_email_is_sent_unasked() {
        let app = method(MethodKind::Authenticator, Some(1));
        let phone = method(MethodKind::Phone, Some(7));
        let methods = [app.clone(), phone.clone()];
        let chosen = sent_unasked(SendCodeOnLogin::Preferred, false, &methods);
        assert_eq!(chosen.unwrap().id, phone.id);
        // An authenticator preferred: nothing to send.
        let app_last = method(MethodKind::Authenticator, Some(9));
        assert!(sent_unasked(SendCodeOnLogin::Preferred, false, &[app_last, phone]).is_none());
    }

    #[test]
    fn a_user_moved_from_authy_with_a_phone_is_sent_a_text_whatever_the_setting() {
        let app = method(MethodKind::Authenticator, Some(9));
        let sms = method(MethodKind::Phone, None);
        let methods = [app, sms.clone()];
        let chosen = sent_unasked(SendCodeOnLogin::Never, true, &methods);
        assert_eq!(chosen.unwrap().id, sms.id);
    }
}
