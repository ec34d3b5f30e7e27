//! A forgotten password by a code texted to the account's phone, where the two-factor settings
//! allow it (`passwordResetBySms`): the code, once proven, makes the same one-time link an email
//! would have carried.

use super::forgot::parse_login_id;
use super::{LinkIssued, Recovery, RecoveryError};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::domain::{Channel, Destination, FieldError, Invalid};
use crate::store::UserWithHash;
use crate::verify::StartRequest;

/// The budgets a reset code takes are those of Tessera's own codes.
const SERVICE: &str = "tessera";

/// The field a texted code arrives in, as the API names it.
pub const CODE_FIELD: &str = "code";

/// A code typed to prove the phone, with the account it was asked for.
#[derive(Debug, Clone, Copy)]
pub struct ForgotCode<'a> {
    pub login_id: &'a str,
    pub code: &'a str,
    pub origin: &'a Origin,
}

impl Recovery {
    /// Whether the page offers a code by text message.
    pub async fn reset_by_sms_offered(&self) -> Result<bool, RecoveryError> {
        Ok(self
            .two_factor
            .two_factor_policy()
            .await
            .map_err(anyhow::Error::from)?
            .password_reset_by_sms)
    }

    /// Texts a reset code to the account's phone, if the settings allow it and it has one.
    pub(super) async fn send_reset_code(
        &self,
        found: &UserWithHash,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), RecoveryError> {
        let user = &found.user;
        let phone = if self.reset_by_sms_offered().await? {
            self.two_factor
                .phone_of(user.id)
                .await
                .map_err(anyhow::Error::from)?
        } else {
            None
        };
        let Some(phone) = phone else {
            let event = AuditEvent::new(
                EventKind::PasswordResetRequest,
                Actor::Anonymous,
                origin,
                now,
            )
            .target(user.id)
            .detail("by", "none");
            self.audit_store.record_event(&event).await?;
            return Ok(());
        };
        let destination = Destination::Phone(phone);
        let event = AuditEvent::new(
            EventKind::PasswordResetRequest,
            Actor::Anonymous,
            origin,
            now,
        )
        .target(user.id)
        .detail("by", "sms")
        .detail("to", destination.masked());
        self.audit_store.record_event(&event).await?;
        self.verify
            .start_verification(
                &StartRequest {
                    service_id: SERVICE,
                    destination,
                    channel: Channel::Sms,
                    locale: None,
                    context: Some(reset_context(user.id)),
                    user: Some(user.id),
                    own_method: true,
                    origin,
                    service: None,
                },
                now,
            )
            .await?;
        Ok(())
    }

    /// Trades a texted code for a one-time link. A wrong code, an unknown account and an
    /// account that was sent no code get the same refusal; each code survives the delivery
    /// settings' `maxCheckAttempts`, and requests count against their address as requests for
    /// a code do.
    pub async fn link_by_code(
        &self,
        proof: &ForgotCode<'_>,
        now: Instant,
    ) -> Result<LinkIssued, RecoveryError> {
        let login_id = parse_login_id(proof.login_id);
        let code = parse_code(proof.code);
        let (login_id, code) = match (login_id, code) {
            (Ok(login_id), Ok(code)) => (login_id, code),
            (login_id, code) => {
                let mut fields = match login_id {
                    Err(RecoveryError::Invalid(fields)) => fields,
                    _ => Vec::new(),
                };
                fields.extend(code.err());
                return Err(RecoveryError::Invalid(fields));
            }
        };
        self.take_request_budget("forgot-password-code", proof.origin, now)
            .await?;
        let found = match self.user_store.user_by_login_id(&login_id).await? {
            Some(found) if found.user.active => found,
            _ => return Err(RecoveryError::WrongCode),
        };
        let approved = self
            .verify
            .check_context(&reset_context(found.user.id), None, &code, now)
            .await?
            .is_some_and(|outcome| outcome.approved);
        if !approved {
            tracing::info!(target: "security", user = %found.user.id, "a wrong password reset code");
            return Err(RecoveryError::WrongCode);
        }
        let event = AuditEvent::new(
            EventKind::PasswordResetRequest,
            Actor::Anonymous,
            proof.origin,
            now,
        )
        .target(found.user.id)
        .detail("by", "sms_code");
        self.make_link(&found, &event, now).await
    }
}

fn reset_context(user: crate::domain::UserId) -> String {
    format!("password-reset:{user}")
}

/// Digits as typed, spaces and dashes allowed between them.
fn parse_code(raw: &str) -> Result<String, FieldError> {
    let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if digits.is_empty() {
        return Err(FieldError::new(
            CODE_FIELD,
            Invalid::new("[blank]", "type the code we texted you"),
        ));
    }
    if !(4..=10).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(FieldError::new(
            CODE_FIELD,
            Invalid::new("[invalid]", "a code has 4 to 10 digits"),
        ));
    }
    Ok(digits)
}
