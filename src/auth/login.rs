use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::auth::IssuedTokens;
use crate::clock::Instant;
use crate::core::Core;
use crate::crypto::Verification;
use crate::domain::{LoginId, Password, User};

#[derive(Debug, Clone)]
pub struct LoginRequest {
    pub login_id: LoginId,
    pub password: Password,
    pub application_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// No such user, or the wrong password: the two are never told apart.
    #[error("unknown user or wrong password")]
    WrongCredentials,
    /// The password was right but the account is disabled.
    #[error("the account is disabled")]
    Inactive,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Core {
    /// Checks a password login. Every path costs one Argon2id verification (a dummy one when the
    /// user does not exist), so the answer's timing does not tell who has an account.
    pub async fn login(
        &self,
        request: &LoginRequest,
        origin: &Origin,
        now: Instant,
    ) -> Result<(User, IssuedTokens), LoginError> {
        let found = self
            .store
            .user_by_login_id(&request.login_id)
            .await
            .map_err(anyhow::Error::from)?;
        let Some(found) = found else {
            self.hasher
                .verify_dummy(&request.password)
                .await
                .map_err(anyhow::Error::from)?;
            self.record_failure(None, "unknown_user", request, origin, now)
                .await;
            return Err(LoginError::WrongCredentials);
        };
        let verdict = self
            .hasher
            .verify(&request.password, &found.password_hash)
            .await
            .map_err(anyhow::Error::from)?;
        let user = found.user;
        if !verdict.is_right() {
            self.record_failure(Some(&user), "wrong_password", request, origin, now)
                .await;
            return Err(LoginError::WrongCredentials);
        }
        if !user.active {
            self.record_failure(Some(&user), "inactive", request, origin, now)
                .await;
            return Err(LoginError::Inactive);
        }
        let rehash = match verdict {
            Verification::RightButOutdated => Some(
                self.hasher
                    .hash(&request.password)
                    .await
                    .map_err(anyhow::Error::from)?,
            ),
            _ => None,
        };
        let event = AuditEvent::new(EventKind::LoginSuccess, Actor::User(user.id), origin, now)
            .target(user.id)
            .detail("amr", vec!["pwd"])
            .detail("rehashed", rehash.is_some());
        let tokens = self
            .open_session(
                &user,
                vec!["pwd".into()],
                request.application_id.clone(),
                origin,
                now,
                rehash.as_ref(),
                &event,
            )
            .await?;
        metrics::counter!("tessera_logins_total", "outcome" => "success").increment(1);
        tracing::info!(target: "security", user = %user.id, "login succeeded");
        Ok((user, tokens))
    }

    async fn record_failure(
        &self,
        user: Option<&User>,
        reason: &'static str,
        request: &LoginRequest,
        origin: &Origin,
        now: Instant,
    ) {
        metrics::counter!("tessera_logins_total", "outcome" => reason).increment(1);
        let login_id = match &request.login_id {
            LoginId::Username(name) => name.to_string(),
            LoginId::Email(email) => email.to_string(),
        };
        let mut event = AuditEvent::new(EventKind::LoginFailure, Actor::Anonymous, origin, now)
            .detail("reason", reason)
            .detail("loginId", login_id);
        if let Some(user) = user {
            event = event.target(user.id);
        }
        tracing::info!(target: "security", reason, user = ?user.map(|u| u.id), "login failed");
        // A failure to audit a failure must not turn a 404 into a 500; it is logged instead.
        if let Err(error) = self.store.record_event(&event).await {
            tracing::error!(%error, "cannot write audit event");
        }
    }
}
