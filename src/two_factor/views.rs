//! What the pages and the API show of a user's second factors, each read in one call: the
//! overview of the security page, and whether the user's next login would be asked for a
//! second factor (`/api/two-factor/status`).

use super::TwoFactor;
use crate::clock::Instant;
use crate::domain::{MethodKind, UserId};
use crate::policy::{Decision, LoginFacts, LoginType, TwoFactorPolicy, decide};
use crate::store::{MethodRecord, SessionRecord, TrustRecord};
use crate::two_factor::TwoFactorError;

/// A live session with the address and the `User-Agent` it was opened from.
pub type LiveSession = (SessionRecord, Option<String>, Option<String>);

/// Everything the security page lists for its user.
#[derive(Debug, Clone)]
pub struct SecurityOverview {
    pub policy: TwoFactorPolicy,
    /// What the user may add and use now.
    pub offered: super::channels::Offered,
    pub methods: Vec<MethodRecord>,
    pub recovery_codes_left: i64,
    pub trusted_computers: Vec<TrustRecord>,
    /// Newest first.
    pub sessions: Vec<LiveSession>,
}

/// Whether a login of the user would be asked for a second factor now.
#[derive(Debug, Clone)]
pub struct TwoFactorStatus {
    /// A second factor (or an enrolment) would be asked for.
    pub second_factor_due: bool,
    /// The trusted computer the given id names, when it is live.
    pub trusted_computer: Option<TrustRecord>,
}

impl TwoFactor {
    pub async fn security_overview(
        &self,
        user: UserId,
        now: Instant,
    ) -> Result<SecurityOverview, TwoFactorError> {
        let policy = self.two_factor_policy().await?;
        Ok(SecurityOverview {
            offered: self.offered(&policy).await?,
            policy,
            methods: self.user_methods(user).await?,
            recovery_codes_left: self.two_factor_store.unused_recovery_codes(user).await?,
            trusted_computers: self.trusted_computers(user, now).await?,
            sessions: self.sessions.live_sessions(user, now).await?,
        })
    }

    /// The decision an API login of the user would meet now, with this trusted-computer id
    /// (one bound to a browser's cookie is not trusted here, where no browser is). Looking
    /// spends nothing.
    pub async fn two_factor_status(
        &self,
        user: UserId,
        trust_token: Option<&str>,
        now: Instant,
    ) -> Result<TwoFactorStatus, TwoFactorError> {
        let account = self
            .user_store
            .user(user)
            .await?
            .ok_or(TwoFactorError::UserNotFound)?;
        let policy = self.two_factor_policy().await?;
        let methods = self.user_methods(user).await?;
        let trust = match trust_token {
            Some(token) => self.trusted_computer(user, token, None, now).await?,
            None => None,
        };
        let recent_failures = self
            .two_factor_store
            .recent_failures(user, policy.failure_window_start(now))
            .await?;
        let enrolled: Vec<MethodKind> = methods.iter().map(|m| m.kind).collect();
        let groups = if policy.names_groups() {
            self.group_store.group_ids_of(user).await?
        } else {
            Vec::new()
        };
        let standing = self.key_standing(&account, &policy).await?;
        let decision = decide(
            &policy,
            &LoginFacts {
                login_type: LoginType::Api,
                is_admin: account.is_admin(),
                user_requires_two_factor: account.two_factor_required,
                groups: &groups,
                enrolled: &enrolled,
                security_keys: !standing.usable.is_empty(),
                forbidden_keys: standing.forbidden,
                must_use_key: standing.must_use_key,
                trusted_computer: trust.is_some(),
                two_factor_blocked: policy.challenges_blocked(recent_failures),
                user_wants_every_login: account.every_login,
            },
        );
        Ok(TwoFactorStatus {
            second_factor_due: decision != Decision::Grant,
            trusted_computer: trust,
        })
    }
}
