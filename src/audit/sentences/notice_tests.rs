//! The sentences of security notices.

use serde_json::json;

use super::tests::{said, user};
use super::*;

#[test]
fn a_notice_says_what_it_told_and_how_it_went_or_why_not() {
    let (system, alice) = (
        Party {
            user: None,
            name: "Tessera".into(),
        },
        user("alice"),
    );
    assert_eq!(
        said(
            EventKind::NoticeSent,
            &system,
            Some(&alice),
            json!({"notice": "newComputer", "email": {"to": "a•••@example.com"}})
        ),
        "alice was told of a login from a computer new to the account by email to a•••@example.com"
    );
    assert_eq!(
        said(
            EventKind::NoticeSent,
            &system,
            Some(&alice),
            json!({
                "notice": "methodRemoved",
                "email": {"to": "a•••@example.com"},
                "sms": {"to": "+1 •••• 0142", "refused": "too many messages"}
            })
        ),
        "alice was told of a second factor removed by email to a•••@example.com and by text \
         to +1 •••• 0142, which was refused (too many messages)"
    );
}

#[test]
fn a_disowned_notice_says_what_it_ended() {
    let alice = user("alice");
    assert_eq!(
        said(
            EventKind::NoticeDisowned,
            &alice,
            Some(&alice),
            json!({"notice": "passwordChanged", "sessionsEnded": 3, "trustsRevoked": 1})
        ),
        "alice said that a change of password was not them: 3 sessions ended and every \
         trusted computer forgotten"
    );
}
