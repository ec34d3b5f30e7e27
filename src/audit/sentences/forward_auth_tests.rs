//! The sentences of forward-auth: a signed-in person refused a site by the access rules, and a
//! second factor proved for a site.

use serde_json::json;

use super::tests::{said, user};
use super::*;

#[test]
fn a_refusal_names_the_site_the_path_and_the_rule_that_refused() {
    let bob = user("bob");
    assert_eq!(
        said(
            EventKind::ForwardAuthDeny,
            &bob,
            Some(&bob),
            json!({"host": "app.example.com", "path": "/admin", "rule": 2})
        ),
        "bob was refused app.example.com/admin by access rule 2"
    );
    assert_eq!(
        said(
            EventKind::ForwardAuthDeny,
            &bob,
            Some(&bob),
            json!({"host": "app.example.com", "path": "/", "rule": null})
        ),
        "bob was refused app.example.com/ by the default policy"
    );
}

#[test]
fn a_step_up_for_a_site_names_the_site() {
    let bob = user("bob");
    assert_eq!(
        said(
            EventKind::StepUp,
            &bob,
            Some(&bob),
            json!({"amr": ["otp"], "site": "app.example.com"})
        ),
        "bob proved an authenticator app for the site app.example.com"
    );
}
