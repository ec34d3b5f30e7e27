//! Re-authentication: a session proves its factors again before a sensitive change.

use super::Logins;
use crate::audit::Origin;
use crate::clock::Instant;
use crate::domain::Password;
use crate::store::{MethodRecord, SessionRecord};
use crate::two_factor::{PresentedCode, TwoFactorError, codes};

impl Logins {
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
        let right = self
            .hasher
            .verify(&password, &with_hash.password_hash)
            .await
            .map_err(anyhow::Error::from)?
            .is_right();
        if !right {
            self.two_factor
                .record_wrong_code(user, "reauthentication_password", origin, now)
                .await?;
            return Err(TwoFactorError::WrongCode);
        }
        let policy = self.two_factor.two_factor_policy().await?;
        let methods: Vec<MethodRecord> = self
            .two_factor_store
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
                    .two_factor
                    .accept_recovery_code(user, &recovery, origin, now)
                    .await?
                    .then_some("rec"),
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
                        Some(outcome) => Some(codes::kind_of(outcome.verification.channel).amr()),
                        None => {
                            let authenticators: Vec<&MethodRecord> = methods
                                .iter()
                                .filter(|m| m.kind == crate::domain::MethodKind::Authenticator)
                                .collect();
                            self.two_factor
                                .accept_authenticator_code(&code, &authenticators, &policy, now)
                                .await?
                                .map(|k| k.amr())
                        }
                    }
                }
            };
            let Some(factor) = accepted else {
                self.two_factor
                    .record_wrong_code(user, "reauthentication", origin, now)
                    .await?;
                return Err(TwoFactorError::WrongCode);
            };
            amr.push(factor.to_owned());
            amr.push("mfa".to_owned());
        }
        self.session_store
            .reauthenticate_session(&session.id, &amr, now)
            .await?;
        Ok(())
    }
}
