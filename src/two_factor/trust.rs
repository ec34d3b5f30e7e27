use super::TwoFactor;
use super::TwoFactorError;
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::random;
use crate::domain::{User, UserId};
use crate::policy::TwoFactorPolicy;
use crate::store::{NewTrust, TrustRecord, Trusts};

/// A trust token for the client, and when its trust ends.
#[derive(Debug, Clone)]
pub struct IssuedTrust {
    pub token: String,
    pub expires_at: Instant,
}

impl TwoFactor {
    /// Trusts this computer for the policy's number of days: the token goes to the client, the
    /// store keeps its hash. With a `browser` id (the pages' long-lived browser cookie) the
    /// trust holds only beside that cookie.
    pub(crate) async fn trust_computer(
        &self,
        user: &User,
        application_id: Option<&str>,
        browser: Option<&str>,
        policy: &TwoFactorPolicy,
        origin: &Origin,
        now: Instant,
    ) -> Result<IssuedTrust, TwoFactorError> {
        let token = random::token(32);
        let trust = NewTrust {
            id: random::public_id("tc_"),
            token_hash: random::lookup_digest(&token),
            user: user.id,
            application_id: application_id.map(str::to_owned),
            browser_hash: browser.map(random::lookup_digest),
            expires_at: now.plus_seconds(policy.trust_days * 86_400),
        };
        let event = AuditEvent::new(EventKind::TrustGrant, Actor::User(user.id), origin, now)
            .target(user.id)
            .detail("trustId", trust.id.clone())
            .detail("days", policy.trust_days)
            .detail("browserBound", browser.is_some());
        self.two_factor_store
            .insert_trust(&trust, origin, &event)
            .await?;
        Ok(IssuedTrust {
            token,
            expires_at: trust.expires_at,
        })
    }

    /// The user's live trust behind this token (beside this browser's id, when the trust is
    /// bound to one), when the policy trusts computers at all. Nothing is spent: a login that
    /// the trust spares renews it (`renew_trust`).
    pub async fn trusted_computer(
        &self,
        user: UserId,
        token: &str,
        browser: Option<&str>,
        now: Instant,
    ) -> Result<Option<TrustRecord>, TwoFactorError> {
        if token.is_empty() || token.len() > 256 {
            return Ok(None);
        }
        if !self.two_factor_policy().await?.trusts_computers() {
            return Ok(None);
        }
        let browser_hash = browser.map(random::lookup_digest);
        Ok(self
            .two_factor_store
            .live_trust(
                &random::lookup_digest(token),
                user,
                browser_hash.as_deref(),
                now,
            )
            .await?)
    }

    /// `trusted_computer` for a login: a token that its trust already spent was copied (by
    /// whoever used it first, the owner or not), so the trust ends, audited, and the login
    /// gets no trust.
    pub(crate) async fn presented_trust(
        &self,
        user: UserId,
        token: &str,
        browser: Option<&str>,
        origin: &Origin,
        now: Instant,
    ) -> Result<Option<TrustRecord>, TwoFactorError> {
        if let Some(trust) = self.trusted_computer(user, token, browser, now).await? {
            return Ok(Some(trust));
        }
        if token.is_empty() || token.len() > 256 {
            return Ok(None);
        }
        let spent = self
            .two_factor_store
            .spent_trust(&random::lookup_digest(token), now)
            .await?;
        if let Some((trust, spent_at)) = spent {
            let event = AuditEvent::new(EventKind::TrustReuse, Actor::Anonymous, origin, now)
                .target(trust.user_id)
                .detail("trustId", trust.id.clone())
                .detail("spentAt", spent_at.millis());
            self.two_factor_store
                .revoke_trusts(trust.user_id, Some(&trust.id), &event)
                .await?;
            tracing::warn!(target: "security", user = %trust.user_id, "a spent trust token came back: the trust is ended");
        }
        Ok(None)
    }

    /// Spends the token of a trust that spared a login for a new one, which the client keeps
    /// in its place. `None` when another login spent it first.
    pub(crate) async fn renew_trust(
        &self,
        user: UserId,
        token: &str,
        browser: Option<&str>,
        now: Instant,
    ) -> Result<Option<IssuedTrust>, TwoFactorError> {
        let new_token = random::token(32);
        let browser_hash = browser.map(random::lookup_digest);
        let renewed = self
            .two_factor_store
            .renew_trust(
                &random::lookup_digest(token),
                &random::lookup_digest(&new_token),
                user,
                browser_hash.as_deref(),
                now,
            )
            .await?;
        Ok(renewed.map(|trust| IssuedTrust {
            token: new_token,
            expires_at: Instant::from_millis(trust.expiration_instant),
        }))
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
