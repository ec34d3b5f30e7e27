use super::TwoFactor;
use super::TwoFactorError;
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::random;
use crate::domain::{User, UserId};
use crate::policy::TwoFactorPolicy;
use crate::store::{TrustRecord, Trusts};

impl TwoFactor {
    /// Trusts this computer for the policy's number of days: the token goes to the client, the
    /// store keeps its hash.
    pub(crate) async fn trust_computer(
        &self,
        user: &User,
        application_id: Option<&str>,
        policy: &TwoFactorPolicy,
        origin: &Origin,
        now: Instant,
    ) -> Result<String, TwoFactorError> {
        let token = random::token(32);
        let id = random::public_id("tc_");
        let expires_at = now.plus_seconds(policy.trust_days * 86_400);
        let event = AuditEvent::new(EventKind::TrustGrant, Actor::User(user.id), origin, now)
            .target(user.id)
            .detail("trustId", id.clone())
            .detail("days", policy.trust_days);
        self.two_factor_store
            .insert_trust(
                &id,
                &random::lookup_digest(&token),
                user.id,
                application_id,
                expires_at,
                origin,
                &event,
            )
            .await?;
        Ok(token)
    }

    /// The trusted computer behind this token, when it is live for this user and the policy
    /// trusts computers at all.
    pub async fn trusted_computer(
        &self,
        user: UserId,
        token: &str,
        now: Instant,
    ) -> Result<Option<TrustRecord>, TwoFactorError> {
        if token.is_empty() || token.len() > 256 {
            return Ok(None);
        }
        if !self.two_factor_policy().await?.trusts_computers() {
            return Ok(None);
        }
        Ok(self
            .two_factor_store
            .use_trust(&random::lookup_digest(token), user, now)
            .await?)
    }

    pub async fn trusted_computers(
        &self,
        user: UserId,
        now: Instant,
    ) -> Result<Vec<TrustRecord>, TwoFactorError> {
        Ok(self.two_factor_store.trusts(user, now).await?)
    }

    /// Revokes one trusted computer (by its listed id) or all of the user's.
    pub async fn revoke_trusted_computers(
        &self,
        user: UserId,
        id: Option<&str>,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<u64, TwoFactorError> {
        let mut event = AuditEvent::new(EventKind::TrustRevoke, actor, origin, now).target(user);
        if let Some(id) = id {
            event = event.detail("trustId", id);
        }
        Ok(self
            .two_factor_store
            .revoke_trusts(user, id, &event)
            .await?)
    }

    /// The user's own choice: a second factor at every login, or trust this computer.
    pub async fn set_every_login(
        &self,
        user: UserId,
        every_login: bool,
        origin: &Origin,
        now: Instant,
    ) -> anyhow::Result<()> {
        let event = AuditEvent::new(EventKind::UserUpdate, Actor::User(user), origin, now)
            .target(user)
            .detail("everyLogin", every_login);
        // Asking for a second factor at every login ends the trust given so far.
        let trusts = if every_login {
            Trusts::Revoked
        } else {
            Trusts::Kept
        };
        Ok(self
            .user_store
            .set_every_login(user, every_login, trusts, &event)
            .await?)
    }
}
