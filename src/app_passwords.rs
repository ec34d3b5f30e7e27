//! App passwords: secrets a person makes in their security settings for clients without a
//! browser (a mail app, a sync client), which send them by Basic authentication through
//! forward-auth. Each is shown once and kept as a keyed digest, never in clear: it has 82 bits
//! of entropy, so the digest is as safe as a password's Argon2id and costs nothing to check.

use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::cipher::SecretBox;
use crate::crypto::random;
use crate::domain::{
    APP_PASSWORD_ALPHABET, APP_PASSWORD_CHARS, AppPassword, AppPasswordName, Invalid, UserId,
};
use crate::store::{
    AppPasswordRecord, AppPasswordStore, NewAppPassword, SessionRecord, Store, StoreError,
    StoredAppPassword,
};

/// Most app passwords one person may hold.
pub const MAX_APP_PASSWORDS: i64 = 20;
/// How stale a "last used" may get before a use writes it again: one write a minute per app
/// password, not one per request.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;
/// The keyed digest's purpose label, so that no other keyed digest stands for one.
const DIGEST_PURPOSE: &str = "app-password";

#[derive(Debug, thiserror::Error)]
pub enum AppPasswordError {
    /// The name does not read.
    #[error("{0}")]
    Invalid(Invalid),
    #[error(
        "you have {MAX_APP_PASSWORDS} app passwords already: revoke one you no longer use first"
    )]
    TooMany,
    #[error("the account is not active")]
    Inactive,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for AppPasswordError {
    fn from(error: StoreError) -> Self {
        Self::Internal(error.into())
    }
}

/// A new app password: what is kept, and the secret, to be shown once.
#[derive(Debug)]
pub struct MadeAppPassword {
    pub id: String,
    pub name: AppPasswordName,
    pub secret: AppPassword,
    pub two_factor: bool,
}

#[derive(Clone)]
pub struct AppPasswords {
    store: AppPasswordStore,
    /// The keyed digest of a secret (the data directory's hashing key).
    secrets: SecretBox,
}

impl AppPasswords {
    pub fn new(store: Store, secrets: SecretBox) -> Self {
        Self {
            store: store.app_passwords(),
            secrets,
        }
    }

    /// Makes an app password named `name` for the person of `session`, which the caller has
    /// re-authenticated recently. It stands for two factors only if the session gave a second
    /// factor (as `oidc::second_factor_given` reads an amr).
    pub async fn create(
        &self,
        session: &SessionRecord,
        name: &str,
        origin: &Origin,
        now: Instant,
    ) -> Result<MadeAppPassword, AppPasswordError> {
        let name = AppPasswordName::parse(name).map_err(AppPasswordError::Invalid)?;
        let user = session.user_id;
        let two_factor = session.amr.iter().any(|m| m == "mfa");
        let secret = AppPassword::parse(&random::from_alphabet(
            APP_PASSWORD_ALPHABET,
            APP_PASSWORD_CHARS,
        ))
        .expect("drawn from the app password alphabet");
        let id = random::public_id("ap_");
        let event = AuditEvent::new(EventKind::AppPasswordCreate, Actor::User(user), origin, now)
            .target(user)
            .detail("appPasswordId", id.clone())
            .detail("name", name.as_str())
            .detail("twoFactor", two_factor);
        let new = NewAppPassword {
            id: id.clone(),
            user,
            name: name.as_str().to_owned(),
            secret_hash: self.digest(&secret),
            two_factor,
        };
        match self
            .store
            .insert_app_password(&new, MAX_APP_PASSWORDS, &event)
            .await?
        {
            StoredAppPassword::Stored => Ok(MadeAppPassword {
                id,
                name,
                secret,
                two_factor,
            }),
            StoredAppPassword::Full => Err(AppPasswordError::TooMany),
            StoredAppPassword::NoActiveUser => Err(AppPasswordError::Inactive),
        }
    }

    /// A person's app passwords, oldest first (never their secrets, which are not kept).
    pub async fn of(&self, user: UserId) -> Result<Vec<AppPasswordRecord>, AppPasswordError> {
        Ok(self.store.app_passwords_of(user).await?)
    }

    /// Revokes `user`'s app password `id`: whether there was one. It stops working on every
    /// node within a second (forward-auth remembers a verification no longer).
    pub async fn revoke(
        &self,
        user: UserId,
        id: &str,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<bool, AppPasswordError> {
        let event = AuditEvent::new(EventKind::AppPasswordRevoke, actor, origin, now)
            .target(user)
            .detail("appPasswordId", id);
        Ok(self
            .store
            .revoke_app_password(user, id, &event)
            .await?
            .is_some())
    }

    /// The app password `secret` is, whoever's it is: one keyed digest and one indexed read.
    pub async fn find(&self, secret: &AppPassword) -> anyhow::Result<Option<AppPasswordRecord>> {
        Ok(self
            .store
            .app_password_by_hash(&self.digest(secret))
            .await?)
    }

    /// Notes that `used` was used at `now`, unless a use within the last minute was noted.
    pub async fn note_use(&self, used: &AppPasswordRecord, now: Instant) -> anyhow::Result<()> {
        if used
            .last_used_at
            .is_some_and(|at| now.millis() - at.millis() < LAST_USED_RESOLUTION_MS)
        {
            return Ok(());
        }
        Ok(self.store.note_app_password_use(&used.id, now).await?)
    }

    fn digest(&self, secret: &AppPassword) -> String {
        self.secrets.keyed_hash(DIGEST_PURPOSE, secret.normal())
    }
}
