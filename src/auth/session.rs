//! Re-authentication: a session proves its factors again before a sensitive change.

use super::Logins;
use crate::audit::Origin;
use crate::clock::Instant;
use crate::domain::{Invalid, MethodKind, Password};
use crate::store::{MethodRecord, SessionRecord};
use crate::two_factor::{CodeFailure, PresentedCode, TwoFactorError, codes};

impl Logins {
    /// Asks a session for its factors again before sensitive changes: the password, and a code
    /// of one of the user's methods (or a recovery code) when they have one. The attempt is
    /// counted as one of the account's failures before either is compared, like a login's code.
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
            .user_store
            .user(user)
            .await?
            .ok_or(TwoFactorError::UserNotFound)?;
        let with_hash = self
            .user_store
            .user_by_login_id(&crate::domain::LoginId::Username(stored.username.clone()))
            .await?
            .ok_or(TwoFactorError::UserNotFound)?;
        let password =
            Password::attempt(password).map_err(|e| TwoFactorError::field("password", e))?;
        let policy = self.two_factor.two_factor_policy().await?;
        let methods: Vec<MethodRecord> = self
            .two_factor_store
            .methods(user)
            .await?
            .into_iter()
            .filter(|m| policy.methods.allows(m.kind))
            .collect();
        // Asked for before anything is compared, so that the question is no hint about the
        // password.
        let presented = match code.map(str::trim).filter(|c| !c.is_empty()) {
            _ if methods.is_empty() => None,
            Some(code) => Some(PresentedCode::parse(code)?),
            None => {
                return Err(TwoFactorError::field(
                    "code",
                    Invalid::new("[blank]", "give a code of your second factor"),
                ));
            }
        };
        let guess = self
            .two_factor
            .count_guess(user, "reauthentication", origin, now)
            .await?;
        let right = self
            .hasher
            .verify(&password, &with_hash.password_hash)
            .await
            .map_err(anyhow::Error::from)?
            .is_right();
        if !right {
            return Err(self.two_factor.wrong_guess(guess, origin, now).await);
        }
        let mut amr = vec!["pwd".to_owned()];
        if let Some(presented) = presented {
            let accepted = match presented {
                PresentedCode::Recovery(recovery) => self
                    .two_factor
                    .accept_recovery_code(user, &recovery, origin, now)
                    .await?
                    .then_some("rec")
                    .ok_or(CodeFailure::Wrong),
                PresentedCode::Numeric(code) => {
                    let sent = self
                        .verify
                        .check_context(
                            &codes::reauth_context(&session.id),
                            None,
                            code.as_str(),
                            now,
                        )
                        .await?;
                    match sent {
                        Some(outcome) => Ok(outcome.verification.channel.amr()),
                        None => {
                            let authenticators: Vec<&MethodRecord> = methods
                                .iter()
                                .filter(|m| m.kind == MethodKind::Authenticator)
                                .collect();
                            self.two_factor
                                .accept_authenticator_code(&code, &authenticators, &policy, now)
                                .await?
                                .map(MethodKind::amr)
                        }
                    }
                }
            };
            // The password was right: a code already used may be told as such.
            let factor = match accepted {
                Ok(factor) => factor,
                Err(failure) => {
                    return Err(self
                        .two_factor
                        .failed_guess(guess, failure, origin, now)
                        .await);
                }
            };
            amr.push(factor.to_owned());
            amr.push("mfa".to_owned());
        }
        self.two_factor.right_guess(guess).await?;
        self.session_store
            .reauthenticate_session(&session.id, &amr, now)
            .await?;
        Ok(())
    }
}
