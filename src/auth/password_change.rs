//! A person's change of their own password: the current one compared under the password guard,
//! the new one held to the rules of a new account's password, the other sessions ended and the
//! trusted computers kept.

use super::Logins;
use super::login::Guarded;
use super::password_guard;
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::domain::{FieldError, Invalid, LoginId, Password, UserId};
use crate::store::{AppPasswords, EndSessions, PasswordChange, PasswordSet, Trusts};

/// What shows the change is the account owner's; a forgotten-password link's `changePasswordId`
/// (not taken yet) would be another. No `Debug`: it holds a password as typed.
#[derive(Clone, Copy)]
pub enum PasswordProof<'a> {
    /// A signed-in person types their current password.
    CurrentPassword { user: UserId, current: &'a str },
}

/// A change of one's own password, as the page or the API received it (no `Debug`, as above).
#[derive(Clone, Copy)]
pub struct ChangeOwnPassword<'a> {
    pub proof: PasswordProof<'a>,
    /// The new password as typed.
    pub new_password: &'a str,
    /// The session the change comes from, when it stays open; every other one ends.
    pub keep_session: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordChanged {
    pub sessions_ended: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    /// A field is blank or too long, or the new password breaks a rule or is the current one:
    /// nothing was written.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    /// Too many wrong passwords came from this address: the current one was not compared.
    #[error("too many wrong passwords; try again in {retry_after_seconds} seconds")]
    Throttled { retry_after_seconds: i64 },
    /// The password changed between the check and the write (another change came first).
    #[error("the password changed meanwhile")]
    ChangedMeanwhile,
    #[error("no such user")]
    UserNotFound,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The fields of a change, named as the API names them.
pub const CURRENT_PASSWORD_FIELD: &str = "currentPassword";
pub const NEW_PASSWORD_FIELD: &str = "password";

impl Logins {
    /// Changes a person's own password. The new one follows the rules of a new account's
    /// (`Password::new_choice`) and may not be the current one; the current one is compared
    /// under the password guard, as a login's is. Other sessions end; trusted computers stay,
    /// since the second factor did not change.
    pub async fn change_own_password(
        &self,
        change: &ChangeOwnPassword<'_>,
        origin: &Origin,
        now: Instant,
    ) -> Result<PasswordChanged, PasswordChangeError> {
        let PasswordProof::CurrentPassword { user, current } = change.proof;
        let (current, new) = parse(current, change.new_password)?;
        let found = self
            .user_store
            .user_with_hash(user)
            .await
            .map_err(anyhow::Error::from)?
            .ok_or(PasswordChangeError::UserNotFound)?;
        let account = password_guard::account_key(
            Some(user),
            &LoginId::Username(found.user.username.clone()),
        );
        let refused = match self
            .compare_guarded(&account, &current, Some(&found.password_hash), origin, now)
            .await?
        {
            Guarded::Compared(verdict) if verdict.is_right() => None,
            Guarded::Compared(_) => Some((
                "wrong_current_password",
                PasswordChangeError::WrongCurrentPassword,
            )),
            Guarded::Throttled {
                retry_after_seconds,
            } => Some((
                "throttled",
                PasswordChangeError::Throttled {
                    retry_after_seconds,
                },
            )),
        };
        if let Some((reason, error)) = refused {
            let event = AuditEvent::new(
                EventKind::PasswordChangeFailure,
                Actor::User(user),
                origin,
                now,
            )
            .target(user)
            .detail("reason", reason);
            self.audit_store
                .record_event(&event)
                .await
                .map_err(anyhow::Error::from)?;
            tracing::info!(target: "security", %user, reason, "password change refused");
            return Err(error);
        }
        // Compared with the stored hash, so that a password stored before passwords were
        // normalised counts as the current one too.
        let reused = self
            .hasher
            .verify(&new, &found.password_hash)
            .await
            .map_err(anyhow::Error::from)?
            .is_right();
        if reused {
            return Err(PasswordChangeError::Invalid(vec![FieldError::new(
                NEW_PASSWORD_FIELD,
                Invalid::new(
                    "[reused]",
                    "choose a password you have not used here: this is your current password",
                ),
            )]));
        }
        let hash = self.hasher.hash(&new).await.map_err(anyhow::Error::from)?;
        let sessions = match change.keep_session {
            Some(kept) => EndSessions::AllBut(kept.to_owned()),
            None => EndSessions::All,
        };
        let event = AuditEvent::new(EventKind::PasswordChange, Actor::User(user), origin, now)
            .target(user)
            .detail("keptThisSession", change.keep_session.is_some());
        let written = PasswordChange {
            hash: &hash,
            replacing: Some(&found.password_hash),
            spends: None,
            change_required: false,
            verifies_email: None,
            sessions,
            // The second factor did not change, so the computers it was given on stay trusted.
            trusts: Trusts::Kept,
            // An app password was made under the old password's authority, perhaps by whoever
            // the change shuts out: like every other session, it ends.
            app_passwords: AppPasswords::Revoked,
        };
        match self
            .user_store
            .set_password(user, &written, &event)
            .await
            .map_err(anyhow::Error::from)?
        {
            PasswordSet::Set { sessions_ended } => {
                tracing::info!(target: "security", %user, sessions_ended, "password changed");
                Ok(PasswordChanged { sessions_ended })
            }
            PasswordSet::ChangedMeanwhile => Err(PasswordChangeError::ChangedMeanwhile),
            PasswordSet::NoSuchUser => Err(PasswordChangeError::UserNotFound),
            PasswordSet::LinkSpent => Err(PasswordChangeError::Internal(anyhow::anyhow!(
                "a change by the current password spent a link"
            ))),
        }
    }
}

/// The current password as an attempt, the new one as a choice: every refusal at once, before
/// anything is compared.
fn parse(current: &str, new: &str) -> Result<(Password, Password), PasswordChangeError> {
    let current =
        Password::attempt(current).map_err(|e| FieldError::new(CURRENT_PASSWORD_FIELD, e));
    let new = Password::new_choice(new).map_err(|e| FieldError::new(NEW_PASSWORD_FIELD, e));
    match (current, new) {
        (Ok(current), Ok(new)) => Ok((current, new)),
        (current, new) => Err(PasswordChangeError::Invalid(
            [current.err(), new.err()].into_iter().flatten().collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_fields(current: &str, new: &str) -> Vec<String> {
        match parse(current, new) {
            Err(PasswordChangeError::Invalid(fields)) => {
                fields.into_iter().map(|f| f.code).collect()
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_new_password_is_held_to_the_rules_of_a_new_accounts() {
        assert_eq!(
            refused_fields("whatever it was", "password1"),
            ["[breached]password"]
        );
        assert_eq!(
            refused_fields("whatever it was", "short"),
            ["[tooShort]password"]
        );
    }

    #[test]
    fn every_blank_field_is_named_at_once() {
        assert_eq!(
            refused_fields("", ""),
            ["[blank]currentPassword", "[blank]password"]
        );
    }

    #[test]
    fn an_old_password_is_taken_as_typed_whatever_todays_rules() {
        assert!(parse("short", "a long and fine passphrase").is_ok());
    }
}
