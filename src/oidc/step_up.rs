//! Step-up: a signed-in person whose login does not do for a request (older than its `max_age`
//! or `prompt=login`, or without the second factor the client or `acr_values=mfa` asks for)
//! proves what is missing in the same session, rather than logging in afresh; the request then
//! goes on.

use super::authorize::{Checked, Step, step_owed};
use super::{Oidc, OidcError};
use crate::audit::Origin;
use crate::auth::SteppedUpFor;
use crate::clock::Instant;
use crate::crypto::random;
use crate::store::{ClientRecord, SessionRecord};
use crate::two_factor::TwoFactorError;
use crate::webauthn::{KeyAnswer, WebauthnError};

/// What the step-up page asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepUpQuestion {
    pub client_name: String,
    pub step: Step,
}

impl Oidc {
    /// The step a waiting request still asks of the session; `None` when it asks nothing more,
    /// or is gone (the continuation then says which).
    pub async fn step_up_question(
        &self,
        pending_id: &str,
        session: &SessionRecord,
        now: Instant,
    ) -> Result<Option<StepUpQuestion>, OidcError> {
        let Some((checked, client)) = self.waiting_request(pending_id, now).await? else {
            return Ok(None);
        };
        Ok(
            step_owed(&checked, session, now).map(|step| StepUpQuestion {
                client_name: client.name,
                step,
            }),
        )
    }

    /// The person's proof of the step the request asks: the password (and a code when the
    /// account has a method) for a login too old, a code for a missing second factor. Nothing
    /// is proved when nothing is owed.
    pub async fn step_up(
        &self,
        pending_id: &str,
        session: &SessionRecord,
        password: &str,
        code: &str,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), TwoFactorError> {
        let Some((checked, client)) = self
            .waiting_request(pending_id, now)
            .await
            .map_err(|e| TwoFactorError::Internal(anyhow::anyhow!("{e:#}")))?
        else {
            return Ok(());
        };
        match step_owed(&checked, session, now) {
            None => Ok(()),
            Some(Step::Reauthenticate) => {
                self.logins
                    .reauthenticate(session, password, Some(code), origin, now)
                    .await
            }
            Some(Step::SecondFactor) => {
                self.logins
                    .step_up(
                        session,
                        SteppedUpFor::Client(&client.client_id),
                        code,
                        origin,
                        now,
                    )
                    .await
            }
        }
    }

    /// `step_up` with a security key's answer in place of the code: with the password for a
    /// login too old, alone for a missing second factor.
    pub async fn step_up_with_key(
        &self,
        pending_id: &str,
        session: &SessionRecord,
        password: &str,
        key: KeyAnswer<'_>,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), WebauthnError> {
        let Some((checked, client)) = self
            .waiting_request(pending_id, now)
            .await
            .map_err(|e| WebauthnError::Internal(anyhow::anyhow!("{e:#}")))?
        else {
            return Ok(());
        };
        match step_owed(&checked, session, now) {
            None => Ok(()),
            Some(Step::Reauthenticate) => {
                self.logins
                    .reauthenticate_with_key(session, password, key, origin, now)
                    .await
            }
            Some(Step::SecondFactor) => {
                let asker = SteppedUpFor::Client(&client.client_id);
                self.logins
                    .step_up_with_key(session, asker, key, origin, now)
                    .await
            }
        }
    }

    /// A waiting request and its client, left waiting; `None` when either is gone.
    pub(super) async fn waiting_request(
        &self,
        pending_id: &str,
        now: Instant,
    ) -> Result<Option<(Checked, ClientRecord)>, OidcError> {
        let Some(stored) = self
            .oidc_store
            .request(&random::lookup_digest(pending_id), now)
            .await?
        else {
            return Ok(None);
        };
        let checked = Checked::from_kept(&stored)?;
        Ok(self
            .oidc_store
            .client(&checked.client_id)
            .await?
            .map(|client| (checked, client)))
    }
}
