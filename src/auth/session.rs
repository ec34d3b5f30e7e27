//! A browser's session and the steps around it: what the web pages need beyond the login
//! itself (which they share with the API).

use crate::audit::Origin;
use crate::clock::Instant;
use crate::core::Core;
use crate::crypto::random;
use crate::domain::{Password, User};
use crate::policy::TwoFactorPolicy;
use crate::store::{ChallengeRecord, MethodRecord, SessionRecord};
use crate::two_factor::{PresentedCode, TwoFactorError, codes};

/// A login waiting for its second factor, as a page shows it.
#[derive(Debug, Clone)]
pub struct PendingLogin {
    pub user: User,
    /// The methods the user may use now (empty: must enrol first).
    pub methods: Vec<MethodRecord>,
    pub challenge: ChallengeRecord,
    pub policy: TwoFactorPolicy,
}

impl Core {
    pub async fn pending_login(
        &self,
        two_factor_id: &str,
        now: Instant,
    ) -> Result<Option<PendingLogin>, TwoFactorError> {
        if two_factor_id.is_empty() || two_factor_id.len() > 128 {
            return Ok(None);
        }
        let policy = self.two_factor_policy().await?;
        let Some(challenge) = self
            .store
            .live_challenge(
                &random::lookup_digest(two_factor_id),
                policy.max_code_attempts,
                now,
            )
            .await?
        else {
            return Ok(None);
        };
        let Some(user) = self
            .store
            .user(challenge.user_id)
            .await?
            .filter(|u| u.active)
        else {
            return Ok(None);
        };
        let methods = self
            .store
            .methods(user.id)
            .await?
            .into_iter()
            .filter(|m| policy.methods.allows(m.kind))
            .collect();
        Ok(Some(PendingLogin {
            user,
            methods,
            challenge,
            policy,
        }))
    }

    /// Asks a session for its factors again before sensitive changes: the password, and a code
    /// of one of the user's methods (or a recovery code) when they have one.
    pub async fn reauthenticate(
        &self,
        session: &SessionRecord,
        password: &str,
        code: Option<&str>,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), TwoFactorError> {
        let user = session.user_id;
        let stored = self
            .store
            .user(user)
            .await?
            .ok_or(TwoFactorError::UserNotFound)?;
        let with_hash = self
            .store
            .user_by_login_id(&crate::domain::LoginId::Username(stored.username.clone()))
            .await?
            .ok_or(TwoFactorError::UserNotFound)?;
        let password =
            Password::attempt(password).map_err(|e| TwoFactorError::field("password", e))?;
        let right = self
            .hasher
            .verify(&password, &with_hash.password_hash)
            .await
            .map_err(anyhow::Error::from)?
            .is_right();
        if !right {
            self.record_wrong_code(user, "reauthentication_password", origin, now)
                .await?;
            return Err(TwoFactorError::WrongCode);
        }
        let policy = self.two_factor_policy().await?;
        let methods: Vec<MethodRecord> = self
            .store
            .methods(user)
            .await?
            .into_iter()
            .filter(|m| policy.methods.allows(m.kind))
            .collect();
        let mut amr = vec!["pwd".to_owned()];
        if !methods.is_empty() {
            let Some(code) = code.filter(|c| !c.trim().is_empty()) else {
                return Err(TwoFactorError::field(
                    "code",
                    crate::domain::Invalid::new("[blank]", "give a code of your second factor"),
                ));
            };
            let accepted = match PresentedCode::parse(code)? {
                PresentedCode::Recovery(recovery) => self
                    .accept_recovery_code(user, &recovery, origin, now)
                    .await?
                    .then_some("rec"),
                PresentedCode::Numeric(code) => {
                    let sent = self
                        .check_context(
                            &codes::reauth_context(&session.id),
                            None,
                            code.as_str(),
                            now,
                        )
                        .await?;
                    match sent {
                        Some(outcome) => Some(codes::kind_of(outcome.verification.channel).amr()),
                        None => {
                            let authenticators: Vec<&MethodRecord> = methods
                                .iter()
                                .filter(|m| m.kind == crate::domain::MethodKind::Authenticator)
                                .collect();
                            self.accept_authenticator_code(&code, &authenticators, &policy, now)
                                .await?
                                .map(|k| k.amr())
                        }
                    }
                }
            };
            let Some(factor) = accepted else {
                self.record_wrong_code(user, "reauthentication", origin, now)
                    .await?;
                return Err(TwoFactorError::WrongCode);
            };
            amr.push(factor.to_owned());
            amr.push("mfa".to_owned());
        }
        self.store
            .reauthenticate_session(&session.id, &amr, now)
            .await?;
        Ok(())
    }
}
