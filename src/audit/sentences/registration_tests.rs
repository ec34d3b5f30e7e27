//! The sentences of self-registration: an account made, and a sign-up with an address that
//! already has an account.

use serde_json::json;

use super::tests::{said, user};
use super::*;

#[test]
fn a_sign_up_says_who_made_an_account_and_who_was_told_of_one_refused() {
    let bob = user("bob");
    assert_eq!(
        said(
            EventKind::UserRegister,
            &bob,
            Some(&bob),
            json!({"outcome": "created", "username": "bob", "to": "b•••@example.com"})
        ),
        "bob signed up with the email address b•••@example.com: the account logs in once the \
         address is verified"
    );
    assert_eq!(
        said(
            EventKind::UserRegister,
            &Party::named("anonymous"),
            Some(&bob),
            json!({"outcome": "email_in_use", "to": "b•••@example.com"})
        ),
        "Someone tried to sign up with bob's email address b•••@example.com: no account was \
         made, and the address was told"
    );
}
