//! Prometheus counters per OpenID Connect client, counted from the events the audit log
//! records: every code, token, refusal and revocation of a client is audited, so the counters
//! and the log agree, and no flow counts on its own. `client_id` is always a registered
//! client's (an event names a client only once it was found), so the labels stay few.

use serde_json::Value;

use super::{AuditEvent, EventKind};

pub const CODES_ISSUED: &str = "tessera_oidc_codes_issued_total";
pub const TOKENS_ISSUED: &str = "tessera_oidc_tokens_issued_total";
pub const REFRESHES: &str = "tessera_oidc_refreshes_total";
pub const REFUSALS: &str = "tessera_oidc_refusals_total";
pub const REVOCATIONS: &str = "tessera_oidc_revocations_total";

/// The counter an event moves, with its labels besides `client_id`.
fn counters(event: &AuditEvent) -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    let detail = |key: &str| {
        event
            .details
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("other")
            .to_owned()
    };
    let one = |name, labels| vec![(name, labels)];
    match event.kind {
        EventKind::OidcCodeIssue => one(CODES_ISSUED, vec![]),
        EventKind::OidcTokenIssue => one(
            TOKENS_ISSUED,
            vec![("grant_type", "authorization_code".into())],
        ),
        EventKind::OidcTokenRefresh => vec![
            (TOKENS_ISSUED, vec![("grant_type", "refresh_token".into())]),
            (REFRESHES, vec![]),
        ],
        EventKind::OidcAccessRefused => one(REFUSALS, vec![("reason", detail("reason"))]),
        EventKind::OidcCodeReuse => vec![
            (REFUSALS, vec![("reason", "code_reused".into())]),
            (REVOCATIONS, vec![("by", "reuse".into())]),
        ],
        EventKind::OidcRefreshReuse => vec![
            (REFUSALS, vec![("reason", "refresh_token_reused".into())]),
            (REVOCATIONS, vec![("by", "reuse".into())]),
        ],
        EventKind::OidcGrantRevoke => one(REVOCATIONS, vec![("by", detail("by"))]),
        EventKind::OidcApplicationRevoke => one(REVOCATIONS, vec![("by", "user".into())]),
        _ => vec![],
    }
}

/// Moves the counters of an event about a client (nothing for any other event).
pub fn count(event: &AuditEvent) {
    let Some(client) = event.details.get("clientId").and_then(Value::as_str) else {
        return;
    };
    for (name, labels) in counters(event) {
        let mut all = vec![("client_id", client.to_owned())];
        all.extend(labels);
        let labels: Vec<metrics::Label> = all
            .into_iter()
            .map(|(key, value)| metrics::Label::new(key, value))
            .collect();
        metrics::counter!(name, labels).increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Actor, Origin};
    use crate::clock::Instant;

    fn event(kind: EventKind) -> AuditEvent {
        AuditEvent::new(
            kind,
            Actor::Anonymous,
            &Origin::default(),
            Instant::from_millis(0),
        )
        .detail("clientId", "grafana")
    }

    #[test]
    fn a_refresh_is_a_token_issued_by_its_grant_type_and_a_refresh() {
        let moved = counters(&event(EventKind::OidcTokenRefresh));
        assert_eq!(
            moved,
            [
                (
                    TOKENS_ISSUED,
                    vec![("grant_type", "refresh_token".to_owned())]
                ),
                (REFRESHES, vec![])
            ]
        );
    }

    #[test]
    fn a_refusal_is_counted_by_its_reason_and_a_revocation_by_who_revoked() {
        let refused = event(EventKind::OidcAccessRefused).detail("reason", "consent_refused");
        assert_eq!(
            counters(&refused),
            [(REFUSALS, vec![("reason", "consent_refused".to_owned())])]
        );
        let revoked = event(EventKind::OidcGrantRevoke).detail("by", "administrator");
        assert_eq!(
            counters(&revoked),
            [(REVOCATIONS, vec![("by", "administrator".to_owned())])]
        );
        assert!(counters(&event(EventKind::LoginSuccess)).is_empty());
    }
}
