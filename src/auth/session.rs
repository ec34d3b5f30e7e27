//! Re-authentication: a session proves its factors again before a sensitive change, or proves a
//! second factor it did not give at login when an application asks for one (step-up). The
//! second factor is a code, or a security key's answer (`*_with_key`): the same count, the same
//! password, the same `amr` and event, the key's ceremony checked and spent by `WebAuthn` in
//! the transaction that writes them.

use super::Logins;
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::domain::{Invalid, MethodKind, Password};
use crate::sessions::with_second_factor;
use crate::store::{MethodRecord, SessionRecord};
use crate::two_factor::{CodeFailure, PresentedCode, TwoFactorError, codes};
use crate::webauthn::{KeyAnswer, WebauthnError};

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
        factors.methods = self.two_factor.code_methods(&stored).await?;
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
            // A key is proved by its own ceremony (`reauthenticate_with_key`), not here: the
            // password alone would prove no second factor and leave the session without one.
            None if methods.is_empty() => {
                return Err(TwoFactorError::field(
                    "code",
                    Invalid::new("[key]", "your second factor is a security key: use it"),
                ));
            }
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
        if let Some(password) = &password
            && !self
                .password_is_right(password, &with_hash.password_hash)
                .await?
        {
            return Err(self.two_factor.wrong_guess(guess, origin, now).await);
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
        let (amr, event) = proved_session(session, &proof, proved, origin, now);
        self.session_store
            .reauthenticate_session(&session.id, &amr, now, Some(&event))
            .await?;
        Ok(())
    }

    /// `reauthenticate` with a security key's answer in place of a code: the password (the
    /// page's field, posted with the answer), then the key, for `amr` `pwd hwk mfa`.
    pub async fn reauthenticate_with_key(
        &self,
        session: &SessionRecord,
        password: &str,
        key: KeyAnswer<'_>,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), WebauthnError> {
        self.prove_with_key(session, Proof::Again { password }, key, origin, now)
            .await
    }

    /// `step_up` with a security key's answer in place of a code, without the password again.
    pub async fn step_up_with_key(
        &self,
        session: &SessionRecord,
        asker: SteppedUpFor<'_>,
        key: KeyAnswer<'_>,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), WebauthnError> {
        self.prove_with_key(session, Proof::StepUp { asker }, key, origin, now)
            .await
    }

    /// A key's proof, counted like a code's: an answer that does not read is refused uncounted
    /// (as at a login); then the guess is counted, the password compared, and the key's answer
    /// checked by `WebAuthn::prove_session`, which writes the session's `amr` and the event with
    /// the ceremony it spends. A refused key stays a failure, as a wrong code does.
    async fn prove_with_key(
        &self,
        session: &SessionRecord,
        proof: Proof<'_>,
        key: KeyAnswer<'_>,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), WebauthnError> {
        let user = session.user_id;
        self.webauthn.check_answer(key)?;
        let password =
            match proof {
                Proof::Again { password } => Some(Password::attempt(password).map_err(|e| {
                    WebauthnError::from(crate::domain::FieldError::new("password", e))
                })?),
                Proof::StepUp { .. } => None,
            };
        let stored = self
            .user_store
            .user(user)
            .await?
            .ok_or(TwoFactorError::UserNotFound)?;
        if !self.two_factor.second_factors(user).await?.keys {
            return Err(WebauthnError::from(crate::domain::FieldError::new(
                "credential",
                Invalid::new("[noKeys]", "this user has no security key"),
            )));
        }
        let guess = self
            .two_factor
            .count_guess(user, "reauthentication", origin, now)
            .await?;
        if let Some(password) = &password {
            let with_hash = self
                .user_store
                .user_by_login_id(&crate::domain::LoginId::Username(stored.username))
                .await?
                .ok_or(TwoFactorError::UserNotFound)?;
            if !self
                .password_is_right(password, &with_hash.password_hash)
                .await?
            {
                return Err(self.two_factor.wrong_guess(guess, origin, now).await.into());
            }
        }
        let (amr, event) = proved_session(session, &proof, vec!["hwk".to_owned()], origin, now);
        match self
            .webauthn
            .prove_session(key, session, amr, event, origin, now)
            .await
        {
            Ok(_) => Ok(self.two_factor.right_guess(guess).await?),
            Err(refused @ (WebauthnError::Invalid(_) | WebauthnError::Refused(_))) => {
                match self.two_factor.wrong_guess(guess, origin, now).await {
                    TwoFactorError::Internal(error) => Err(WebauthnError::Internal(error)),
                    _ => Err(refused),
                }
            }
            // The session ended meanwhile, or the store failed: the guess stays counted.
            Err(other) => Err(other),
        }
    }

    async fn password_is_right(
        &self,
        password: &Password,
        hash: &crate::crypto::PasswordHash,
    ) -> Result<bool, TwoFactorError> {
        Ok(self
            .hasher
            .verify(password, hash)
            .await
            .map_err(anyhow::Error::from)?
            .is_right())
    }
}

/// The session's `amr` and the event once `proved` (the second factors just given) stands for
/// `proof`: a re-authentication's replaces the login's factors with the password and them; a
/// step-up's adds them to the session's, and names what asked.
fn proved_session(
    session: &SessionRecord,
    proof: &Proof<'_>,
    mut proved: Vec<String>,
    origin: &Origin,
    now: Instant,
) -> (Vec<String>, AuditEvent) {
    let user = session.user_id;
    match proof {
        Proof::Again { .. } => {
            proved.insert(0, "pwd".to_owned());
            let event = AuditEvent::new(EventKind::Reauthenticate, Actor::User(user), origin, now)
                .target(user)
                .detail("amr", proved.clone());
            (with_second_factor(vec![], &proved), event)
        }
        Proof::StepUp { asker } => {
            let (key, name) = match asker {
                SteppedUpFor::Client(client_id) => ("clientId", *client_id),
                SteppedUpFor::Site(host) => ("site", *host),
            };
            let event = AuditEvent::new(EventKind::StepUp, Actor::User(user), origin, now)
                .target(user)
                .detail(key, name)
                .detail("amr", proved.clone());
            (with_second_factor(session.amr.clone(), &proved), event)
        }
    }
}
