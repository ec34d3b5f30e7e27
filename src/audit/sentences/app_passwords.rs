//! The sentences of app passwords: made, revoked, and Basic credentials refused at a site.

use serde_json::Value;

use super::text;
use crate::audit::EventKind;

/// `kind`, one of the app password events, said with `a` acting on `target`'s account.
pub(super) fn say(
    kind: EventKind,
    a: &str,
    target: Option<&str>,
    own: bool,
    details: &Value,
) -> String {
    let t = target.unwrap_or(a);
    let called = match text(details, "name") {
        Some(name) => format!("app password “{name}”"),
        None => "app password".to_owned(),
    };
    let named = format!("the {called}");
    match kind {
        EventKind::AppPasswordCreate if own => format!("{t} made {named}"),
        EventKind::AppPasswordCreate => format!("{a} made {named} for {t}"),
        EventKind::AppPasswordRevoke if own => format!("{t} revoked {named}"),
        EventKind::AppPasswordRevoke => format!("{a} revoked {t}'s {called}"),
        _ => {
            let who = match (target, text(details, "loginId")) {
                (Some(user), _) => user.to_owned(),
                (None, Some(login_id)) => format!("“{login_id}”"),
                (None, None) => "someone".into(),
            };
            let site = text(details, "host").unwrap_or("a site");
            format!(
                "Basic credentials as {who} were refused at {site}: {}",
                refusal(text(details, "reason"))
            )
        }
    }
}

fn refusal(reason: Option<&str>) -> &'static str {
    match reason {
        Some("wrong_credentials") => "wrong password or app password",
        Some("unknown_user") => "no such user",
        Some("inactive") => "the account is deactivated",
        Some("throttled") => "too many wrong passwords, the check waits",
        Some("password_not_enough") => {
            "the site asks for two factors: only an app password made with a second factor will do"
        }
        Some("one_factor_app_password") => {
            "the site asks for two factors, and this app password was made without a second factor"
        }
        Some("password_change_required") => "the password is a temporary one, to be changed first",
        Some("email_not_verified") => "the account's email address is not verified yet",
        _ => "no reason recorded",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{said, user};
    use super::*;

    #[test]
    fn app_passwords_are_named_and_refusals_say_where_and_why() {
        let (ann, admin) = (user("ann"), user("admin"));
        assert_eq!(
            said(
                EventKind::AppPasswordCreate,
                &ann,
                Some(&ann),
                json!({"name": "Phone mail app", "appPasswordId": "ap_1"})
            ),
            "ann made the app password “Phone mail app”"
        );
        assert_eq!(
            said(
                EventKind::AppPasswordRevoke,
                &admin,
                Some(&ann),
                json!({"name": "Phone mail app"})
            ),
            "admin revoked ann's app password “Phone mail app”"
        );
        assert_eq!(
            said(
                EventKind::BasicAuthRefused,
                &super::super::Party::named("someone"),
                Some(&ann),
                json!({"reason": "password_not_enough", "host": "dav.example.com"})
            ),
            "Basic credentials as ann were refused at dav.example.com: the site asks for two \
             factors: only an app password made with a second factor will do"
        );
        assert_eq!(
            said(
                EventKind::BasicAuthRefused,
                &super::super::Party::named("someone"),
                None,
                json!({"reason": "unknown_user", "loginId": "mallory", "host": "dav.example.com"})
            ),
            "Basic credentials as “mallory” were refused at dav.example.com: no such user"
        );
    }
}
