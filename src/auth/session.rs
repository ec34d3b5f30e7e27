//! Re-authentication: a session proves its factors again before a sensitive change, or proves a
//! second factor it did not give at login when an application asks for one (step-up).

use super::Logins;
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::domain::{Invalid, MethodKind, Password};
use crate::sessions::with_second_factor;
use crate::store::{MethodRecord, SessionRecord};
use crate::two_factor::{CodeFailure, PresentedCode, TwoFactorError, codes};

/// What asked a session for a second factor it did not give at login, as the step-up's audit
/// event names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SteppedUpFor<'a> {
    /// An OpenID Connect client, by its id (`clientId`).
    Client(&'a str),
    /// A site behind a reverse proxy's forward-auth, by its host (`site`).
    Site(&'a str),
}

/// What a session proves, and why.
enum Proof<'a> {
    /// The password, and a code when the user has a method: before security settings change.
    Again { password: &'a str },
    /// A code alone, for what asks for a second factor.
    StepUp { asker: SteppedUpFor<'a> },
}

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
        self.prove(session, Proof::Again { password }, code, origin, now)
            .await
    }

    /// Step-up: a session that logged in with its password alone (on a trusted computer, or
    /// before the account had a method) proves a second factor for `asker`, without the
    /// password again. Counted and limited like every other code.
    pub async fn step_up(
        &self,
        session: &SessionRecord,
        asker: SteppedUpFor<'_>,
        code: &str,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), TwoFactorError> {
        self.prove(session, Proof::StepUp { asker }, Some(code), origin, now)
            .await
    }

    async fn prove(
        &self,
        session: &SessionRecord,
        proof: Proof<'_>,
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
        let password = match proof {
            Proof::Again { password } => Some(
                Password::attempt(password).map_err(|e| TwoFactorError::field("password", e))?,
            ),
            Proof::StepUp { .. } => None,
        };
        let policy = self.two_factor.two_factor_policy().await?;
        let mut factors = self.two_factor.second_factors(user).await?;
        factors.methods.retain(|m| policy.methods.allows(m.kind));
        let methods = &factors.methods;
        // Asked for before anything is compared, so that the question is no hint about the
        // password.
        let presented = match code.map(str::trim).filter(|c| !c.is_empty()) {
            _ if !factors.any() && password.is_none() => {
                return Err(TwoFactorError::field(
                    "code",
                    Invalid::new(
                        "[none]",
                        "this account has no second factor yet: set one up in security settings",
                    ),
                ));
            }
            _ if !factors.any() => None,
            Some(code) => Some(PresentedCode::parse(code)?),
            // A key is proved by its own ceremony (`WebAuthn::assert`), not here: the password
            // alone proves no second factor, so it opens no sensitive change for this user.
            None if methods.is_empty() && password.is_some() => None,
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
        if let Some(password) = &password {
            let right = self
                .hasher
                .verify(password, &with_hash.password_hash)
                .await
                .map_err(anyhow::Error::from)?
                .is_right();
            if !right {
                return Err(self.two_factor.wrong_guess(guess, origin, now).await);
            }
        }
        let mut proved: Vec<String> = Vec::new();
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
            // The password was right (or the session's stands): a code already used may be told
            // as such.
            let factor = match accepted {
                Ok(factor) => factor,
                Err(failure) => {
                    return Err(self
                        .two_factor
                        .failed_guess(guess, failure, origin, now)
                        .await);
                }
            };
            proved.push(factor.to_owned());
        }
        self.two_factor.right_guess(guess).await?;
        let (amr, event) = match proof {
            Proof::Again { .. } => {
                proved.insert(0, "pwd".to_owned());
                let event =
                    AuditEvent::new(EventKind::Reauthenticate, Actor::User(user), origin, now)
                        .target(user)
                        .detail("amr", proved.clone());
                (with_second_factor(vec![], &proved), event)
            }
            Proof::StepUp { asker } => {
                let (key, name) = match asker {
                    SteppedUpFor::Client(client_id) => ("clientId", client_id),
                    SteppedUpFor::Site(host) => ("site", host),
                };
                let event = AuditEvent::new(EventKind::StepUp, Actor::User(user), origin, now)
                    .target(user)
                    .detail(key, name)
                    .detail("amr", proved.clone());
                (with_second_factor(session.amr.clone(), &proved), event)
            }
        };
        self.session_store
            .reauthenticate_session(&session.id, &amr, now, Some(&event))
            .await?;
        Ok(())
    }
}
