//! Consent: a client that is not the site's own (`first_party`) gets a person's claims only once
//! they allowed it, on a page that names the client and what it asks for. The answer is kept
//! per person and client; a request for a scope not allowed yet, or `prompt=consent`, asks
//! again.

use super::authorize::{AuthorizeOutcome, error_redirect};
use super::{Oidc, OidcError};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::store::SessionRecord;

/// What the consent page asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentQuestion {
    pub client_name: String,
    pub scopes: Vec<String>,
}

impl Oidc {
    /// The question of a request waiting for the person's answer; `None` when it is gone.
    pub async fn consent_question(
        &self,
        pending_id: &str,
        now: Instant,
    ) -> Result<Option<ConsentQuestion>, OidcError> {
        let Some((checked, client)) = self.waiting_request(pending_id, now).await? else {
            return Ok(None);
        };
        Ok(Some(ConsentQuestion {
            client_name: client.name,
            scopes: checked
                .scope
                .split_ascii_whitespace()
                .map(str::to_owned)
                .collect(),
        }))
    }

    /// The person's answer: allowed, it is kept and the request goes on to its code; refused,
    /// the client hears `access_denied`.
    pub async fn answer_consent(
        &self,
        pending_id: &str,
        session: &SessionRecord,
        allow: bool,
        origin: &Origin,
        now: Instant,
    ) -> Result<AuthorizeOutcome, OidcError> {
        let (mut checked, client) = match self.take_pending(pending_id, now).await? {
            Ok(taken) => taken,
            Err(page) => return Ok(page),
        };
        let user = session.user_id;
        if !allow {
            let event =
                AuditEvent::new(EventKind::OidcAccessRefused, Actor::User(user), origin, now)
                    .target(user)
                    .detail("clientId", client.client_id.clone())
                    .detail("reason", "consent_refused");
            self.audit_store.record_event(&event).await?;
            return Ok(AuthorizeOutcome::Redirect(error_redirect(
                &checked,
                "access_denied",
                "the person did not allow this application",
                &self.issuer,
            )));
        }
        let event = AuditEvent::new(EventKind::OidcConsentGrant, Actor::User(user), origin, now)
            .target(user)
            .detail("clientId", client.client_id.clone())
            .detail("scope", checked.scope.clone());
        self.oidc_store
            .keep_consent(user, &client.client_id, &checked.scope, &event)
            .await?;
        // Answered now: neither the question nor the login's age stands in the way again.
        checked.prompt_consent = false;
        checked.max_age = None;
        self.decide(&client, checked, Some(session), origin, now)
            .await
    }
}
