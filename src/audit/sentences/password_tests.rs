//! The sentences of forgotten and temporary passwords.

use serde_json::json;

use super::tests::{said, user};
use super::*;

#[test]
fn a_forgotten_password_says_how_the_person_was_reached_and_how_it_ended() {
    let (anyone, bob) = (
        Party {
            user: None,
            name: "anonymous".into(),
        },
        user("bob"),
    );
    assert_eq!(
        said(
            EventKind::PasswordResetRequest,
            &anyone,
            Some(&bob),
            json!({"by": "email", "to": "b•••@example.com"})
        ),
        "bob asked to reset a forgotten password: a link was sent to b•••@example.com"
    );
    assert_eq!(
        said(
            EventKind::PasswordResetRequest,
            &anyone,
            Some(&bob),
            json!({"by": "sms", "to": "+1 •••• 0142"})
        ),
        "bob asked to reset a forgotten password: a code was texted to +1 •••• 0142"
    );
    assert_eq!(
        said(
            EventKind::PasswordReset,
            &bob,
            Some(&bob),
            json!({"sessionsEnded": 2})
        ),
        "bob reset their password by a link, ending 2 sessions and forgetting every trusted computer"
    );
    assert_eq!(
        said(
            EventKind::PasswordResetFailure,
            &anyone,
            Some(&bob),
            json!({"reason": "password_changed_since"})
        ),
        "A link to reset bob's password was refused: the password had changed since the link was sent"
    );
}

#[test]
fn a_temporary_password_says_who_gave_it_and_when_it_was_replaced() {
    let (alice, bob) = (user("alice"), user("bob"));
    assert_eq!(
        said(
            EventKind::PasswordChange,
            &alice,
            Some(&bob),
            json!({"temporary": true, "sessionsEnded": 1})
        ),
        "alice gave bob a temporary password, ending 1 session"
    );
    assert_eq!(
        said(
            EventKind::PasswordChangeRequired,
            &bob,
            Some(&bob),
            json!({})
        ),
        "bob logged in with a temporary password and was asked to choose one of their own"
    );
}
