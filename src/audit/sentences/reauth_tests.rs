//! The sentences of a session proving itself again: before security settings, and for an
//! application that asks for more than the login gave (step-up).

use serde_json::json;

use super::tests::{said, user};
use super::*;

#[test]
fn a_reauthentication_and_a_step_up_name_the_factors_proved() {
    let bob = user("bob");
    assert_eq!(
        said(
            EventKind::Reauthenticate,
            &bob,
            Some(&bob),
            json!({"amr": ["pwd", "otp"]})
        ),
        "bob confirmed it was them with a password and an authenticator app before changing \
         security settings"
    );
    assert_eq!(
        said(
            EventKind::StepUp,
            &bob,
            Some(&bob),
            json!({"amr": ["sms"], "clientId": "grafana"})
        ),
        "bob proved a text message code for grafana"
    );
}
