//! Who may enrol a second factor during a login, and how that enrolment is stored: the rules
//! a method's enrolment at login (`enroll.rs`) and a security key's (`WebAuthn`'s, which
//! stores the key itself) share.

use super::{Accepted, TwoFactor, TwoFactorError};
use crate::clock::Instant;
use crate::crypto::random;
use crate::domain::{LoginType, MethodKind, UserId};
use crate::key_policy::KeyKind;
use crate::store::NewRecoveryCodes;

/// A login of a user who has a usable method must be finished with it, or a password alone
/// could add a factor and walk in.
pub(super) fn usable_method_enrolled() -> TwoFactorError {
    TwoFactorError::Forbidden(
        "this login must be finished with a code from a method already enrolled".into(),
    )
}

/// A login that may enrol a second factor now, as the enrolment is to be stored.
#[derive(Debug, Clone)]
pub struct LoginEnrolment {
    pub user: UserId,
    /// The digest of the login's `twoFactorId`.
    pub id_hash: String,
    pub login_type: LoginType,
    /// The settings' attempts per login: a login out of them enrols nothing.
    pub max_attempts: i64,
    /// Refused if, when it is stored, the user has a second factor: a method of one of these
    /// kinds, or a key. None: nothing refuses it (an access code let the login through).
    pub refused_beside: Option<Vec<MethodKind>>,
    /// The kinds of key that count as a second factor beside it (those the settings allow):
    /// a key of a kind switched off refuses nothing.
    pub keys_beside: Vec<&'static str>,
    /// A first factor's set, or a new set in place of the old after an access code: whoever
    /// needed that code could not use their recovery codes either.
    pub recovery: NewRecoveryCodes,
}

/// A key's enrolment during a login: the login's, and the one-time code that completes it as
/// a key (`hwk`), which the store keeps with the key.
#[derive(Debug, Clone)]
pub struct KeyEnrolment {
    pub login: LoginEnrolment,
    pub completion_code: String,
    pub completion_hash: String,
}

impl TwoFactor {
    /// The login waiting under `two_factor_id`, if it may enrol a second factor now: it is live
    /// (unexpired, unfinished, attempts left), its user active and without a usable second
    /// factor — or an administrator's access code let it through. Otherwise `UnknownChallenge`,
    /// or `Forbidden` for a user who must finish the login with the factor they have.
    pub async fn enrolment_at_login(
        &self,
        two_factor_id: &str,
        now: Instant,
    ) -> Result<LoginEnrolment, TwoFactorError> {
        if two_factor_id.is_empty() || two_factor_id.len() > 128 {
            return Err(TwoFactorError::UnknownChallenge);
        }
        let policy = self.two_factor_policy().await?;
        let id_hash = random::lookup_digest(two_factor_id);
        let challenge = self
            .two_factor_store
            .live_challenge(&id_hash, policy.max_code_attempts, now)
            .await?
            .ok_or(TwoFactorError::UnknownChallenge)?;
        let user = challenge.user_id;
        // A disabled user's login enrols nothing, as it completes nothing.
        let account = self
            .user_store
            .user(user)
            .await?
            .filter(|u| u.active)
            .ok_or(TwoFactorError::UnknownChallenge)?;
        let standing = self.key_standing(&account, &policy).await?;
        let (refused_beside, recovery) = if challenge.access_code_used {
            (None, NewRecoveryCodes::Always)
        } else {
            let usable_kinds: Vec<MethodKind> = MethodKind::ALL
                .into_iter()
                .filter(|kind| policy.methods.allows(*kind))
                .collect();
            let usable = self
                .two_factor_store
                .methods(user)
                .await?
                .iter()
                .any(|m| usable_kinds.contains(&m.kind));
            // A security key the settings allow is a usable second factor too: the login is
            // finished with it.
            if usable && standing.must_use_key && standing.usable.is_empty() {
                // Their code no longer finishes a login, but the password alone must not add
                // the key that would: an administrator's access code lets them enrol one.
                return Err(TwoFactorError::Forbidden(
                    "this account must now use a security key, and a password alone does not \
                     add one: ask an administrator for an access code to enrol it"
                        .into(),
                ));
            }
            if usable || !standing.usable.is_empty() {
                return Err(usable_method_enrolled());
            }
            // Asked again when the factor is stored: logins of the user enrolling at once
            // would all pass the question above.
            (Some(usable_kinds), NewRecoveryCodes::WithAFirstMethod)
        };
        Ok(LoginEnrolment {
            user,
            id_hash,
            login_type: challenge.login_type,
            max_attempts: policy.max_code_attempts,
            refused_beside,
            keys_beside: [KeyKind::SecurityKey, KeyKind::Passkey]
                .into_iter()
                .filter(|kind| policy.webauthn.allows(*kind))
                .map(KeyKind::as_str)
                .collect(),
            recovery,
        })
    }

    /// A security key's enrolment during the login `two_factor_id`, under the rules of any
    /// enrolment at login (`enrolment_at_login`). WebAuthn stores the key, the login's
    /// completion code with it, in one transaction; the code then completes the login as a key.
    pub async fn key_enrolment(
        &self,
        two_factor_id: &str,
        now: Instant,
    ) -> Result<KeyEnrolment, TwoFactorError> {
        let login = self.enrolment_at_login(two_factor_id, now).await?;
        let (completion_code, completion_hash) = self.completion_code(Accepted::SecurityKey);
        Ok(KeyEnrolment {
            login,
            completion_code,
            completion_hash,
        })
    }
}
