//! The sentences of security keys and passkeys: registered, removed, used, refused as a clone
//! or by the settings.

use serde_json::Value;

use super::text;
use crate::audit::EventKind;

/// `kind`, one of the WebAuthn events, said with `a` acting on `target`'s account.
pub(super) fn say(
    kind: EventKind,
    a: &str,
    target: Option<&str>,
    own: bool,
    details: &Value,
) -> String {
    let t = target.unwrap_or(a);
    let what = match text(details, "kind") {
        Some("passkey") => "passkey",
        _ => "security key",
    };
    let called = match text(details, "name") {
        Some(name) => format!("{what} “{name}”"),
        None => what.to_owned(),
    };
    match kind {
        EventKind::WebauthnRegister if own => format!("{t} registered the {called}"),
        EventKind::WebauthnRegister => format!("{a} registered the {called} for {t}"),
        EventKind::WebauthnAssert => format!("{t} proved their presence with the {called}"),
        EventKind::WebauthnCloneRefused => format!(
            "The {called} of {t} was refused: its signature counter went backwards or stood \
             still, as a cloned key's does"
        ),
        EventKind::WebauthnPolicyRefused => {
            let why = match text(details, "reason") {
                Some("kind_forbidden") => "that kind of key is switched off",
                Some("user_not_verified") => "the key did not verify the person",
                Some("authenticator_not_allowed") => "the authenticator is not a model allowed",
                Some("key_required") => "the account must use a security key or passkey",
                _ => "the security key settings forbid it",
            };
            let what = match text(details, "what") {
                Some("registration") => "registering a key",
                Some("code") => "a code",
                Some("code_sent") => "sending a code",
                Some("enrolment") => "setting up a code method",
                _ => "a key",
            };
            format!("{what} of {t} was refused: {why}")
                .chars()
                .enumerate()
                .map(|(i, c)| if i == 0 { c.to_ascii_uppercase() } else { c })
                .collect()
        }
        _ if own => format!("{t} removed the {called}"),
        _ => format!("{a} removed {t}'s {called}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{said, user};
    use super::*;

    #[test]
    fn keys_are_named_with_who_registered_or_removed_them() {
        let (ann, admin) = (user("ann"), user("admin"));
        assert_eq!(
            said(
                EventKind::WebauthnRegister,
                &ann,
                Some(&ann),
                json!({"name": "YubiKey", "kind": "security_key"})
            ),
            "ann registered the security key “YubiKey”"
        );
        assert_eq!(
            said(
                EventKind::WebauthnRegister,
                &admin,
                Some(&ann),
                json!({"name": "YubiKey"})
            ),
            "admin registered the security key “YubiKey” for ann"
        );
        assert_eq!(
            said(
                EventKind::WebauthnDelete,
                &admin,
                Some(&ann),
                json!({"name": "YubiKey"})
            ),
            "admin removed ann's security key “YubiKey”"
        );
        assert_eq!(
            said(
                EventKind::WebauthnCloneRefused,
                &super::super::Party::named("someone"),
                Some(&ann),
                json!({"name": "YubiKey", "counter": 3, "stored": 7})
            ),
            "The security key “YubiKey” of ann was refused: its signature counter went \
             backwards or stood still, as a cloned key's does"
        );
        assert_eq!(
            said(
                EventKind::WebauthnPolicyRefused,
                &ann,
                Some(&ann),
                json!({"reason": "key_required", "what": "code"})
            ),
            "A code of ann was refused: the account must use a security key or passkey"
        );
    }
}
