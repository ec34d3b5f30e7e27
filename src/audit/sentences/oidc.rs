//! The sentences of OpenID Connect's events: clients registered and changed, codes given and
//! traded for tokens, a code that came back, signing keys rotated and retired.

use serde_json::Value;

use super::{EventKind, text};

/// `a`: the actor's name; `t`: the target's (the person signed in).
pub(super) fn say(kind: EventKind, a: &str, t: &str, details: &Value) -> String {
    let client = text(details, "clientId").unwrap_or("an application");
    match kind {
        EventKind::OidcClientCreate => {
            let name = text(details, "name").unwrap_or(client);
            let kind = if details.get("confidential").and_then(Value::as_bool) == Some(false) {
                "public"
            } else {
                "confidential"
            };
            format!("{a} registered the {kind} OpenID Connect client “{name}” ({client})")
        }
        EventKind::OidcClientSecretRotate => {
            format!("{a} gave the OpenID Connect client {client} a new secret")
        }
        EventKind::OidcClientDelete => format!("{a} removed the OpenID Connect client {client}"),
        EventKind::OidcClientUpdate => {
            let name = text(details, "name").unwrap_or(client);
            format!("{a} changed the settings of the OpenID Connect client “{name}” ({client})")
        }
        EventKind::OidcApplicationRevoke => match details.get("grants").and_then(Value::as_i64) {
            Some(grants) if grants > 0 => format!(
                "{a} took back {client}'s access to {t}'s account ({grants} sign-in{} ended)",
                if grants == 1 { "" } else { "s" }
            ),
            _ => format!("{a} took back {client}'s access to {t}'s account"),
        },
        EventKind::OidcCodeIssue => match text(details, "scope") {
            Some(scope) => format!("{t} signed in to {client} (scope: {scope})"),
            None => format!("{t} signed in to {client}"),
        },
        EventKind::OidcTokenIssue => format!("{client} received {t}'s tokens for its sign-in"),
        EventKind::OidcCodeReuse => format!(
            "A code of {t}'s sign-in to {client} came back after it was used: what it gave was \
             revoked"
        ),
        EventKind::OidcTokenRefresh => format!("{client} renewed its tokens for {t}"),
        EventKind::OidcRefreshReuse => format!(
            "A refresh token of {client} for {t} came back after it was used: the grant was \
             revoked"
        ),
        EventKind::OidcAccessRefused => match text(details, "reason") {
            Some("second_factor_missing") => {
                format!("{t} was refused at {client}: it requires a second factor")
            }
            Some("not_in_allowed_groups") => {
                format!("{t} was refused at {client}: not in a group it admits")
            }
            Some("consent_refused") => format!("{t} did not allow {client} their account"),
            _ => format!("{t} was refused at {client}"),
        },
        EventKind::OidcConsentGrant => match text(details, "scope") {
            Some(scope) => format!("{t} allowed {client}: {scope}"),
            None => format!("{t} allowed {client}"),
        },
        EventKind::OidcGrantRevoke => match text(details, "by") {
            Some("client") => format!("{client} gave up its access to {t}'s account"),
            Some("administrator") => {
                format!("{a} ended {t}'s sign-in to {client} (its tokens stop working)")
            }
            _ => format!("{a} revoked {client}'s access to {t}'s account"),
        },
        EventKind::OidcKeyRotate => {
            let algorithm = text(details, "algorithm").map_or(String::new(), |a| format!("{a} "));
            let kid = text(details, "kid").unwrap_or("a new key");
            format!(
                "{a} rotated the OpenID Connect {algorithm}signing key: {kid} signs from now on"
            )
        }
        EventKind::OidcKeyRetire => {
            let algorithm = text(details, "algorithm").map_or(String::new(), |a| format!("{a} "));
            let kid = text(details, "kid").unwrap_or("an old key");
            if details.get("forced").and_then(Value::as_bool) == Some(true) {
                format!(
                    "{a} retired the OpenID Connect {algorithm}key {kid} before every token it \
                     signed had expired (forced)"
                )
            } else {
                format!("{a} retired the OpenID Connect {algorithm}key {kid}")
            }
        }
        _ => format!("{a}: {}", kind.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_events_of_openid_connect_name_the_client_and_the_person() {
        assert_eq!(
            say(
                EventKind::OidcClientCreate,
                "admin",
                "admin",
                &json!({"clientId": "grafana", "name": "Grafana", "confidential": true})
            ),
            "admin registered the confidential OpenID Connect client “Grafana” (grafana)"
        );
        assert_eq!(
            say(
                EventKind::OidcCodeIssue,
                "ann",
                "ann",
                &json!({"clientId": "grafana", "scope": "openid profile"})
            ),
            "ann signed in to grafana (scope: openid profile)"
        );
        assert_eq!(
            say(
                EventKind::OidcCodeReuse,
                "anonymous",
                "ann",
                &json!({"clientId": "grafana"})
            ),
            "A code of ann's sign-in to grafana came back after it was used: what it gave was \
             revoked"
        );
        assert_eq!(
            say(
                EventKind::OidcApplicationRevoke,
                "ann",
                "ann",
                &json!({"clientId": "grafana", "grants": 2})
            ),
            "ann took back grafana's access to ann's account (2 sign-ins ended)"
        );
        assert_eq!(
            say(
                EventKind::OidcGrantRevoke,
                "admin",
                "ann",
                &json!({"clientId": "grafana", "grantId": "gr_1", "by": "administrator"})
            ),
            "admin ended ann's sign-in to grafana (its tokens stop working)"
        );
        assert_eq!(
            say(
                EventKind::OidcClientUpdate,
                "admin",
                "admin",
                &json!({"clientId": "grafana", "name": "Grafana"})
            ),
            "admin changed the settings of the OpenID Connect client “Grafana” (grafana)"
        );
        assert_eq!(
            say(
                EventKind::OidcKeyRotate,
                "the command line",
                "",
                &json!({"algorithm": "ES256", "kid": "abc", "replaces": "xyz"})
            ),
            "the command line rotated the OpenID Connect ES256 signing key: abc signs from now on"
        );
        assert_eq!(
            say(
                EventKind::OidcKeyRetire,
                "the command line",
                "",
                &json!({"algorithm": "RS256", "kid": "xyz", "forced": true})
            ),
            "the command line retired the OpenID Connect RS256 key xyz before every token it \
             signed had expired (forced)"
        );
    }
}
