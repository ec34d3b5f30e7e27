//! The sentences of an address's verification: how a link was sent, how the address was
//! verified, and why a link was refused.

use serde_json::json;

use super::tests::{said, user};
use super::*;

#[test]
fn an_address_verification_says_how_and_why_a_link_was_refused() {
    let (alice, bob) = (user("alice"), user("bob"));
    let to = json!({"to": "b•••@example.com"});
    let sent = |actor: &Party, occasion: &str| {
        let mut details = to.clone();
        details["occasion"] = occasion.into();
        said(EventKind::EmailVerificationSent, actor, Some(&bob), details)
    };
    assert_eq!(
        sent(&bob, "change"),
        "bob asked to change their email address to b•••@example.com: a link to verify it was sent there"
    );
    assert_eq!(
        sent(&alice, "new_address"),
        "alice set bob's email address to b•••@example.com: a link to verify it was sent there"
    );
    assert_eq!(
        sent(&alice, "resend"),
        "alice sent bob a new link to verify b•••@example.com"
    );
    assert_eq!(
        said(
            EventKind::EmailVerified,
            &bob,
            Some(&bob),
            json!({"by": "link", "to": "b•••@example.com", "replaced": true})
        ),
        "bob verified the new email address b•••@example.com by its link: it replaces the old one"
    );
    assert_eq!(
        said(
            EventKind::EmailVerificationFailure,
            &Party::named("Someone"),
            Some(&bob),
            json!({"reason": "link_expired"})
        ),
        "A link to verify bob's email address was refused: the link had expired"
    );
}
