//! The key policy applied to one user (`key_policy.rs`'s rules fed by their credentials and
//! groups): which of their security keys and passkeys count (the kinds the settings allow:
//! offered, accepted and counted as second factors), and whether they must finish their
//! logins with one rather than a code. Every refusal by that policy is audited here.

use super::{TwoFactor, TwoFactorError};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::domain::{FieldError, Invalid, User, UserId};
use crate::key_policy::{KeyKind, code_refusal};
use crate::policy::TwoFactorPolicy;
use crate::store::{CredentialRecord, MethodRecord};

/// What a code is presented for, at a login whose user may have to use a key instead.
#[derive(Debug, Clone, Copy)]
pub(super) enum CodeUse<'a> {
    /// To finish the login.
    Login(&'a crate::otp::OtpCode),
    /// To be sent by message.
    Sent,
    /// To enrol a code method.
    Enrolment,
}

/// A user's credentials and duties under the key policy in force.
#[derive(Debug, Clone)]
pub struct KeyStanding {
    /// The credentials of kinds the settings allow.
    pub usable: Vec<CredentialRecord>,
    /// The user has credentials of a kind the settings switched off.
    pub forbidden: bool,
    /// The user must use a key rather than a code (an administrator, or a member of a group,
    /// the settings name).
    pub must_use_key: bool,
}

impl TwoFactor {
    /// `user`'s standing under `policy`: their groups are read only when the settings name some.
    pub async fn key_standing(
        &self,
        user: &User,
        policy: &TwoFactorPolicy,
    ) -> Result<KeyStanding, TwoFactorError> {
        let (usable, forbidden): (Vec<_>, Vec<_>) = self
            .webauthn_store
            .credentials_of(user.id)
            .await?
            .into_iter()
            .partition(|c| policy.webauthn.allows(KeyKind::of(&c.kind)));
        let groups = if policy.webauthn.phishing_resistant_for_groups.is_empty() {
            Vec::new()
        } else {
            self.group_store.group_ids_of(user.id).await?
        };
        Ok(KeyStanding {
            usable,
            forbidden: !forbidden.is_empty(),
            must_use_key: policy.webauthn.must_use_key(user.is_admin(), &groups),
        })
    }

    /// The methods whose codes may prove `user`'s second factor outside a login
    /// (re-authentication, step-up): those the settings allow, none for a user who must use a
    /// key (a recovery code still does, the lost key's way).
    pub async fn code_methods(&self, user: &User) -> Result<Vec<MethodRecord>, TwoFactorError> {
        let policy = self.two_factor_policy().await?;
        if self.key_standing(user, &policy).await?.must_use_key {
            return Ok(Vec::new());
        }
        let mut methods = self.two_factor_store.methods(user.id).await?;
        methods.retain(|m| policy.methods.allows(m.kind));
        Ok(methods)
    }

    /// The user's credentials that the settings in force let count, oldest first.
    pub async fn usable_keys(&self, user: UserId) -> Result<Vec<CredentialRecord>, TwoFactorError> {
        let policy = self.two_factor_policy().await?;
        Ok(self
            .webauthn_store
            .credentials_of(user)
            .await?
            .into_iter()
            .filter(|c| policy.webauthn.allows(KeyKind::of(&c.kind)))
            .collect())
    }

    /// Refuses a code (or a code sent, or a method enrolled) at the login `two_factor_id` when its
    /// user must use a key: the refusal is audited, nothing is counted. An unknown login passes
    /// here, to be refused as unknown by the check itself.
    pub(super) async fn refuse_code_if_key_required(
        &self,
        two_factor_id: &str,
        what: CodeUse<'_>,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), TwoFactorError> {
        // One read of the settings when they require keys of nobody, as by default.
        let keys = self.two_factor_policy().await?.webauthn;
        if !keys.phishing_resistant_for_admins && keys.phishing_resistant_for_groups.is_empty() {
            return Ok(());
        }
        let Some(pending) = self.pending_login(two_factor_id, now).await? else {
            return Ok(());
        };
        if !pending.keys_only {
            return Ok(());
        }
        let (what, refusal) = match what {
            CodeUse::Enrolment => ("enrolment", enrolment_refusal()),
            CodeUse::Sent => ("code_sent", code_refusal()),
            CodeUse::Login(code) => {
                // The code that completes this login after a key enrolled in it is the key's.
                let completes_a_key = pending
                    .challenge
                    .enrollment_code_hash
                    .as_deref()
                    .and_then(|hash| self.judge.enrolled_factor(hash, code))
                    == Some(super::Accepted::SecurityKey);
                if completes_a_key {
                    return Ok(());
                }
                ("code", code_refusal())
            }
        };
        Err(self
            .refuse_by_key_policy(pending.user.id, "key_required", what, refusal, origin, now)
            .await)
    }

    /// Audits a refusal by the key policy (`webauthn.policy_refused`) of `user`'s `what`, and
    /// answers it as `refusal`. A failure to audit is logged, never turned into a 500.
    pub async fn refuse_by_key_policy(
        &self,
        user: UserId,
        reason: &'static str,
        what: &'static str,
        refusal: FieldError,
        origin: &Origin,
        now: Instant,
    ) -> TwoFactorError {
        let event = AuditEvent::new(
            EventKind::WebauthnPolicyRefused,
            Actor::User(user),
            origin,
            now,
        )
        .target(user)
        .detail("reason", reason)
        .detail("what", what)
        .detail("field", refusal.field.clone());
        tracing::info!(target: "security", user = %user, reason, what, "refused by the key policy");
        if let Err(error) = self.audit_store.record_event(&event).await {
            tracing::error!(%error, "cannot write audit event");
        }
        TwoFactorError::Invalid(vec![refusal])
    }
}

/// Why a user who must use a key may not enrol a code method at a login.
fn enrolment_refusal() -> FieldError {
    FieldError::new(
        "kind",
        Invalid::new(
            "[keyRequired]",
            "this account must set up a security key or passkey, not a code method",
        ),
    )
}
