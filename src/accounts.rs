//! Managing users and API keys: the flows behind `/api/user`, `/api/system` and `tessera user`.

use serde::Deserialize;

use crate::access_rules::{RulesCache, Subject};
use crate::account_policy;
pub use crate::account_policy::NewEmail;
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::PasswordHasher;
use crate::crypto::random;
pub use crate::domain::FieldError;
use crate::domain::{
    Email, FullName, Invalid, LoginId, Password, PhoneNumber, Region, Roles, User, UserId, Username,
};
use crate::store::{
    ApiKeyRecord, ApiKeyStore, AppPasswords, EndSessions, Keep, NewUser, PasswordChange,
    PasswordSet, Store, StoreError, Trusts, UserChanges, UserStore,
};

/// A server keeps at least one active administrator: a change or a deletion that would leave
/// none is refused.
const KEEP: Keep = Keep::AnActiveAdministrator;

/// Users and API keys: created, changed, found, removed.
#[derive(Clone)]
pub struct Accounts {
    api_key_store: ApiKeyStore,
    user_store: UserStore,
    hasher: PasswordHasher,
    /// Where phone numbers typed without a country code are read (`default_region`).
    home_region: Option<Region>,
    /// Forward-auth's access rules, which name users by username: a rename must not leave a
    /// rule naming nobody (a deny rule would then let the person through) or somebody else.
    access_rules: RulesCache,
}

impl Accounts {
    pub fn new(
        store: Store,
        hasher: PasswordHasher,
        home_region: Option<Region>,
        access_rules: RulesCache,
    ) -> Self {
        Self {
            api_key_store: store.api_keys(),
            user_store: store.users(),
            hasher,
            home_region,
            access_rules,
        }
    }

    /// Refused when the username changes and an access rule names the old or the new one.
    async fn rename_allowed(
        &self,
        from: &Username,
        to: &Username,
        now: Instant,
    ) -> Result<(), AccountError> {
        if from.key() == to.key() {
            return Ok(());
        }
        for (name, why) in [
            (from, "renaming would stop it applying to this person"),
            (to, "this person would take the rule meant for that name"),
        ] {
            let subject = Subject::User(name.clone());
            if let Some(place) = self.access_rules.naming(&subject, now).await? {
                return Err(AccountError::Invalid(vec![FieldError::new(
                    "user.username",
                    Invalid::new(
                        "[inUse]",
                        format!(
                            "the access rules name user:{} ({place}): change that rule first, \
                             or {why}",
                            name.as_str()
                        ),
                    ),
                )]));
            }
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("no such user")]
    UserNotFound,
    #[error("no such API key")]
    ApiKeyNotFound,
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<StoreError> for AccountError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Duplicate { field } => AccountError::Invalid(vec![FieldError {
                field: format!("user.{field}"),
                code: format!("[duplicate]user.{field}"),
                message: format!("another user already has this {field}"),
            }]),
            StoreError::NotKept(Keep::AnActiveAdministrator) => AccountError::Invalid(vec![FieldError {
                field: "user.roles".into(),
                code: "[lastAdmin]user.roles".into(),
                message: "at least one active administrator must remain: make another administrator first".into(),
            }]),
            other => AccountError::Store(other),
        }
    }
}

/// A value that may be absent (leave as is), null (clear it) or given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Field<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            Some(v) => Field::Value(v),
            None => Field::Null,
        })
    }
}

/// User fields as a client sends them, before any check. Absent fields keep their value on an
/// update; on a creation they take their defaults.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserFields {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub username: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub email: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub password: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub full_name: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub mobile_phone: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub roles: Field<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub active: Field<bool>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub two_factor_required: Field<bool>,
    /// Moved from Authy with a known phone: the first login sends an SMS code at once.
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub authy_migrated: Field<bool>,
    /// The password is temporary: the next login with it answers 203 with a `changePasswordId`
    /// to choose one's own.
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub password_change_required: Field<bool>,
}

struct Checked {
    changes: UserChanges,
    password: Option<Password>,
    changed: Vec<&'static str>,
}

impl UserFields {
    /// Applies the fields over `base` (a user's current profile, or nothing for a new user) and
    /// checks every one, collecting all the errors rather than stopping at the first.
    fn check(&self, base: Option<&User>, home: Option<Region>) -> Result<Checked, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut changed = Vec::new();

        fn pick<T: Clone, U>(
            field: &Field<T>,
            name: &'static str,
            current: Option<U>,
            parse: impl Fn(&T) -> Result<U, Invalid>,
            errors: &mut Vec<FieldError>,
            changed: &mut Vec<&'static str>,
        ) -> Option<U> {
            match field {
                Field::Absent => current,
                Field::Null => {
                    changed.push(name);
                    None
                }
                Field::Value(raw) => match parse(raw) {
                    Ok(v) => {
                        changed.push(name);
                        Some(v)
                    }
                    Err(e) => {
                        errors.push(FieldError::new(&format!("user.{name}"), e));
                        current
                    }
                },
            }
        }

        let username = pick(
            &self.username,
            "username",
            base.map(|u| u.username.clone()),
            |s| Username::parse(s),
            &mut errors,
            &mut changed,
        );
        let email = pick(
            &self.email,
            "email",
            base.and_then(|u| u.email.clone()),
            |s| Email::parse(s),
            &mut errors,
            &mut changed,
        );
        let full_name = pick(
            &self.full_name,
            "fullName",
            base.and_then(|u| u.full_name.clone()),
            |s| FullName::parse(s),
            &mut errors,
            &mut changed,
        );
        let mobile_phone = pick(
            &self.mobile_phone,
            "mobilePhone",
            base.and_then(|u| u.mobile_phone.clone()),
            |s| PhoneNumber::parse_in(s, home),
            &mut errors,
            &mut changed,
        );
        let roles = pick(
            &self.roles,
            "roles",
            base.map(|u| u.roles.clone()),
            |r| Roles::parse_list(r),
            &mut errors,
            &mut changed,
        )
        .unwrap_or_else(Roles::user);
        let active = pick(
            &self.active,
            "active",
            base.map(|u| u.active),
            |b| Ok(*b),
            &mut errors,
            &mut changed,
        )
        .unwrap_or(true);
        let two_factor_required = pick(
            &self.two_factor_required,
            "twoFactorRequired",
            base.map(|u| u.two_factor_required),
            |b| Ok(*b),
            &mut errors,
            &mut changed,
        )
        .unwrap_or(false);
        let authy_migrated = pick(
            &self.authy_migrated,
            "authyMigrated",
            base.map(|u| u.authy_migrated),
            |b| Ok(*b),
            &mut errors,
            &mut changed,
        )
        .unwrap_or(false);
        let password_change_required = pick(
            &self.password_change_required,
            "passwordChangeRequired",
            base.map(|u| u.password_change_required),
            |b| Ok(*b),
            &mut errors,
            &mut changed,
        )
        .unwrap_or(false);
        let password = match &self.password {
            Field::Absent => None,
            Field::Null => {
                errors.push(FieldError::new(
                    "user.password",
                    Invalid::new("[blank]", "a password cannot be removed, only changed"),
                ));
                None
            }
            Field::Value(raw) => match Password::new_choice(raw) {
                Ok(p) => Some(p),
                Err(e) => {
                    errors.push(FieldError::new("user.password", e));
                    None
                }
            },
        };
        if base.is_none() && password.is_none() && errors.iter().all(|e| e.field != "user.password")
        {
            errors.push(FieldError::new(
                "user.password",
                Invalid::new("[blank]", "a password is required"),
            ));
        }
        let username = match username {
            Some(u) => Some(u),
            None => {
                if errors.iter().all(|e| e.field != "user.username") {
                    errors.push(FieldError::new(
                        "user.username",
                        Invalid::new("[blank]", "a username is required"),
                    ));
                }
                None
            }
        };
        // A new password is the user's to keep unless it is said to be temporary.
        let password_change_required = match (&password, &self.password_change_required) {
            (Some(_), Field::Absent) => false,
            _ => password_change_required,
        };
        match (username, errors.is_empty()) {
            (Some(username), true) => Ok(Checked {
                changes: UserChanges {
                    username,
                    email,
                    // As they stand; `settle_email` decides what the change makes of them.
                    email_verified_at: base.and_then(|u| u.email_verified_at),
                    pending_email: base.and_then(|u| u.pending_email.clone()),
                    full_name,
                    mobile_phone,
                    roles,
                    active,
                    two_factor_required,
                    authy_migrated,
                    password_change_required,
                },
                password,
                changed,
            }),
            _ => Err(errors),
        }
    }
}

/// What the change makes of the address's verification and of the person's new address waiting
/// for its link (`account_policy::email_after_change`).
fn settle_email(current: Option<&User>, changes: &mut UserChanges, new: NewEmail, now: Instant) {
    let (verified_at, keeps_pending) =
        account_policy::email_after_change(current, changes.email.as_ref(), new, now);
    changes.email_verified_at = verified_at;
    if !keeps_pending {
        changes.pending_email = None;
    }
}

/// An API key as made: the secret is in `key` and is shown once.
#[derive(Debug)]
pub struct IssuedApiKey {
    pub id: String,
    pub key: String,
}

impl Accounts {
    pub async fn create_user(
        &self,
        id: Option<UserId>,
        fields: &UserFields,
        email: NewEmail,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<User, AccountError> {
        let mut checked = fields
            .check(None, self.home_region)
            .map_err(AccountError::Invalid)?;
        settle_email(None, &mut checked.changes, email, now);
        let Some(password) = checked.password else {
            return Err(AccountError::Invalid(vec![]));
        };
        let id = id.unwrap_or_default();
        let password_hash = self
            .hasher
            .hash(&password)
            .await
            .map_err(anyhow::Error::from)?;
        let mut event = AuditEvent::new(EventKind::UserCreate, actor, origin, now)
            .target(id)
            .detail("username", checked.changes.username.as_str());
        if checked.changes.email.is_some() {
            event = event.detail("emailVerified", checked.changes.email_verified_at.is_some());
        }
        let user = self
            .user_store
            .insert_user(
                &NewUser {
                    id,
                    profile: checked.changes,
                    password_hash,
                    email_verification_required: false,
                },
                &event,
            )
            .await?;
        tracing::info!(target: "security", user = %user.id, "user created");
        Ok(user)
    }

    /// Creates a user who will choose their own password by an invitation: no password is
    /// given, an email address is, and the account gets a random one nobody knows until then.
    pub async fn create_invited_user(
        &self,
        id: Option<UserId>,
        fields: &UserFields,
        email: NewEmail,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<User, AccountError> {
        let mut refused = Vec::new();
        if !matches!(fields.password, Field::Absent) {
            refused.push(FieldError::new(
                "user.password",
                Invalid::new(
                    "[invited]",
                    "an invited user chooses their own password: send none",
                ),
            ));
        }
        if !matches!(&fields.email, Field::Value(address) if !address.trim().is_empty()) {
            refused.push(FieldError::new(
                "user.email",
                Invalid::new("[blank]", "an invitation needs an email address to go to"),
            ));
        }
        if !refused.is_empty() {
            return Err(AccountError::Invalid(refused));
        }
        let unknown = UserFields {
            password: Field::Value(random::token(32)),
            ..fields.clone()
        };
        self.create_user(id, &unknown, email, actor, origin, now)
            .await
    }

    /// Changes the given fields (and the password, when one is given) of an existing user; a
    /// new email address starts as `email` says.
    pub async fn update_user(
        &self,
        id: UserId,
        fields: &UserFields,
        email: NewEmail,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<User, AccountError> {
        let current = self
            .user_store
            .user(id)
            .await?
            .ok_or(AccountError::UserNotFound)?;
        let mut checked = fields
            .check(Some(&current), self.home_region)
            .map_err(AccountError::Invalid)?;
        self.rename_allowed(&current.username, &checked.changes.username, now)
            .await?;
        settle_email(Some(&current), &mut checked.changes, email, now);
        if let Some(password) = &checked.password {
            let temporary = checked.changes.password_change_required;
            self.set_password(id, password, temporary, actor.clone(), origin, now)
                .await?;
        }
        // The flag goes with a new password; set alone, it asks for a change at the next login.
        let profile_changed: Vec<&str> = checked
            .changed
            .iter()
            .copied()
            .filter(|f| *f != "password")
            .filter(|f| *f != "passwordChangeRequired" || checked.password.is_none())
            .collect();
        if profile_changed.is_empty() {
            return self
                .user_store
                .user(id)
                .await?
                .ok_or(AccountError::UserNotFound);
        }
        let kind = match (current.active, checked.changes.active) {
            (true, false) => EventKind::UserDisable,
            (false, true) => EventKind::UserEnable,
            _ if current.mobile_phone != checked.changes.mobile_phone => EventKind::PhoneChange,
            _ => EventKind::UserUpdate,
        };
        let mut event = AuditEvent::new(kind, actor, origin, now)
            .target(id)
            .detail("changed", profile_changed);
        let verification_changed = current.email.as_ref().map(Email::key)
            != checked.changes.email.as_ref().map(Email::key)
            || current.email_verified_at != checked.changes.email_verified_at;
        if checked.changes.email.is_some() && verification_changed {
            event = event.detail("emailVerified", checked.changes.email_verified_at.is_some());
        }
        self.user_store
            .update_user(id, &checked.changes, KEEP, &event)
            .await?
            .ok_or(AccountError::UserNotFound)
    }

    /// Sets a user's password for them; `temporary`: the next login with it asks for one of
    /// their own.
    pub async fn set_password(
        &self,
        id: UserId,
        password: &Password,
        temporary: bool,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), AccountError> {
        let hash = self
            .hasher
            .hash(password)
            .await
            .map_err(anyhow::Error::from)?;
        let event = AuditEvent::new(EventKind::PasswordChange, actor, origin, now)
            .target(id)
            .detail("temporary", temporary);
        // A password set for the user by someone else ends every session and the trust of
        // every computer: whoever knew the old one is logged out and asked for a second factor.
        let change = PasswordChange {
            hash: &hash,
            replacing: None,
            spends: None,
            change_required: temporary,
            verifies_email: None,
            sessions: EndSessions::All,
            trusts: Trusts::Revoked,
            app_passwords: AppPasswords::Revoked,
        };
        match self.user_store.set_password(id, &change, &event).await? {
            PasswordSet::Set { .. } => Ok(()),
            // `ChangedMeanwhile` needs a `replacing` hash and `LinkSpent` a link: none was given.
            PasswordSet::NoSuchUser | PasswordSet::ChangedMeanwhile | PasswordSet::LinkSpent => {
                Err(AccountError::UserNotFound)
            }
        }
    }

    /// Gives a user a password made here, temporary: the first login with it asks for one of
    /// their own. Answers the user and the password, to be shown once.
    pub async fn set_temporary_password(
        &self,
        id: UserId,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<(User, String), AccountError> {
        let user = self
            .user_store
            .user(id)
            .await?
            .ok_or(AccountError::UserNotFound)?;
        let made = random::readable_password();
        let password = Password::new_choice(&made)
            .map_err(|e| anyhow::anyhow!("a made password is refused: {e}"))?;
        self.set_password(id, &password, true, actor, origin, now)
            .await?;
        Ok((user, made))
    }

    pub async fn delete_user(
        &self,
        id: UserId,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), AccountError> {
        let user = self
            .user_store
            .user(id)
            .await?
            .ok_or(AccountError::UserNotFound)?;
        // The name stays in the log after the user is gone.
        let event = AuditEvent::new(EventKind::UserDelete, actor, origin, now)
            .target(id)
            .detail("username", user.username.as_str());
        if !self.user_store.delete_user(id, KEEP, &event).await? {
            return Err(AccountError::UserNotFound);
        }
        Ok(())
    }

    pub async fn user(&self, id: UserId) -> Result<Option<User>, AccountError> {
        Ok(self.user_store.user(id).await?)
    }

    pub async fn find_user(&self, login_id: &LoginId) -> Result<Option<User>, AccountError> {
        Ok(self
            .user_store
            .user_by_login_id(login_id)
            .await?
            .map(|u| u.user))
    }

    /// Makes the first administrator when there is no user at all; returns its password, which
    /// is printed once and kept nowhere.
    pub async fn bootstrap_admin(&self, now: Instant) -> Result<Option<String>, AccountError> {
        if self.user_store.has_users().await? {
            return Ok(None);
        }
        let password = random::readable_password();
        let fields = UserFields {
            username: Field::Value("admin".into()),
            password: Field::Value(password.clone()),
            full_name: Field::Value("Administrator".into()),
            roles: Field::Value(vec!["admin".into()]),
            // Printed once on a console: the first login asks for a password of one's own.
            password_change_required: Field::Value(true),
            ..UserFields::default()
        };
        match self
            .create_user(
                None,
                &fields,
                NewEmail::Unverified,
                Actor::System,
                &Origin::default(),
                now,
            )
            .await
        {
            Ok(_) => Ok(Some(password)),
            // Another node made it first.
            Err(AccountError::Invalid(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn create_api_key(
        &self,
        name: &str,
        actor: Actor,
        now: Instant,
    ) -> Result<IssuedApiKey, AccountError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(AccountError::Invalid(vec![FieldError::new(
                "name",
                Invalid::new(
                    "[invalid]",
                    "an API key needs a name of 1 to 100 characters",
                ),
            )]));
        }
        let id = random::public_id("ak_");
        let key = random::token(32);
        let event = AuditEvent::new(EventKind::ApiKeyCreate, actor, &Origin::default(), now)
            .detail("apiKeyId", id.clone())
            .detail("name", name);
        self.api_key_store
            .insert_api_key(&id, name, &random::lookup_digest(&key), &event)
            .await?;
        tracing::info!(target: "security", api_key = %id, "API key created");
        Ok(IssuedApiKey { id, key })
    }

    pub async fn revoke_api_key(
        &self,
        id: &str,
        actor: Actor,
        now: Instant,
    ) -> Result<(), AccountError> {
        let event = AuditEvent::new(EventKind::ApiKeyRevoke, actor, &Origin::default(), now)
            .detail("apiKeyId", id);
        if !self.api_key_store.revoke_api_key(id, &event).await? {
            return Err(AccountError::ApiKeyNotFound);
        }
        tracing::info!(target: "security", api_key = %id, "API key revoked");
        Ok(())
    }

    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, AccountError> {
        Ok(self.api_key_store.api_keys().await?)
    }

    /// The key a request presents, if it is live.
    pub async fn authenticate_api_key(
        &self,
        presented: &str,
        now: Instant,
    ) -> Result<Option<ApiKeyRecord>, AccountError> {
        if presented.is_empty() || presented.len() > 256 {
            return Ok(None);
        }
        Ok(self
            .api_key_store
            .use_api_key(&random::lookup_digest(presented), now)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(json: serde_json::Value) -> UserFields {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_new_user_needs_a_username_and_a_password_and_gets_every_error_at_once() {
        let errors = fields(serde_json::json!({"email": "bad", "mobilePhone": "12"}))
            .check(None, None)
            .err()
            .unwrap();
        let named: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            named,
            [
                "user.email",
                "user.mobilePhone",
                "user.password",
                "user.username"
            ]
        );
        assert_eq!(errors[0].code, "[invalid]user.email");
    }

    #[test]
    fn an_update_keeps_absent_fields_and_clears_null_ones() {
        let base = fields(serde_json::json!({
            "username": "ann", "password": "long enough", "email": "ann@example.com",
            "mobilePhone": "+1 303 555 1212"
        }))
        .check(None, None)
        .ok()
        .unwrap();
        let user = User {
            id: UserId::new(),
            username: base.changes.username,
            email: base.changes.email,
            email_verified_at: Some(Instant::from_millis(5)),
            pending_email: None,
            full_name: None,
            mobile_phone: base.changes.mobile_phone,
            roles: Roles::user(),
            active: true,
            two_factor_required: false,
            every_login: false,
            authy_migrated: false,
            password_change_required: false,
            terms_version_accepted: None,
            created_at: Instant::from_millis(0),
            updated_at: Instant::from_millis(0),
            password_changed_at: Instant::from_millis(0),
            last_login_at: None,
        };
        let checked = fields(serde_json::json!({"mobilePhone": null, "fullName": "Ann"}))
            .check(Some(&user), None)
            .ok()
            .unwrap();
        assert_eq!(checked.changes.email, user.email);
        assert_eq!(checked.changes.mobile_phone, None);
        assert_eq!(checked.changes.full_name.unwrap().as_str(), "Ann");
        assert_eq!(checked.changed, ["fullName", "mobilePhone"]);
        assert!(checked.password.is_none());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let error =
            serde_json::from_value::<UserFields>(serde_json::json!({"isAdmin": true})).unwrap_err();
        assert!(error.to_string().contains("isAdmin"));
    }
}
