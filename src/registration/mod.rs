//! Self-registration: a person makes their own account at `/register` (or
//! `POST /api/user/registration`), when the account settings allow it (`selfRegistration`, off
//! by default) and with an address at a domain they allow (`registrationDomains`).
//!
//! The fields follow the rules of every account (`Username`, `Email`, `Password::new_choice`).
//! The account is made with its address unverified and logs in only once the link emailed to it
//! is opened (`account_policy::awaits_first_verification`); then the welcome step and the
//! two-factor policy apply as for any new account. An address that already has an account gets
//! the same answer, no account, and an email telling its owner (`texts.rs`): the answer never
//! says which addresses have accounts. A username taken is said, as on every login server.

mod rules;
mod texts;

pub use rules::{CONFIRM_PASSWORD_FIELD, EMAIL_FIELD, PASSWORD_FIELD, USERNAME_FIELD};

use crate::access_rules::{RulesCache, Subject};
use crate::account_policy::AccountSettings;
use crate::addresses::{AddressError, Addresses};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::PasswordHasher;
use crate::domain::{Destination, Email, FieldError, Invalid, LoginId, Roles, UserId};
use crate::limits::retry_after_seconds;
use crate::store::{AuditStore, NewUser, Store, StoreError, UserChanges, UserStore};
use crate::verify::{AccountEmail, Admitted, Verify, VerifyError};
use rules::SignUpFields;
use texts::AccountExists;

/// The purpose sign-ups are counted under, per client address, apart from other requests.
const REQUEST_PURPOSE: &str = "register";

/// Self-registration: sign-ups checked, counted, made into accounts waiting for their address.
#[derive(Clone)]
pub struct Registration {
    audit_store: AuditStore,
    user_store: UserStore,
    hasher: PasswordHasher,
    /// The account settings, and the link that verifies a new account's address.
    addresses: Addresses,
    /// The budget of requests per client address, and the email to an address in use.
    verify: Verify,
    /// What the emails call the server, and where their links lead.
    product_name: String,
    public_url: String,
    /// Forward-auth's access rules, which name users by username: a stranger must not sign up
    /// as a name a rule lets through (one whose account was deleted or renamed, or not made yet).
    access_rules: RulesCache,
}

/// A sign-up as a person sent it, before any check. No `Debug`: it holds a password.
#[derive(Clone, Copy)]
pub struct SignUp<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    /// The password typed again, where the form asks for it (the page; not the API).
    pub confirmation: Option<&'a str>,
    pub origin: &'a Origin,
}

/// A sign-up accepted: the answer is the same whether an account was made or the address had
/// one already.
#[derive(Debug, Clone)]
pub struct SignedUp {
    /// Where to look for the email, as the person typed it.
    pub email: Email,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// Self-registration is off: every path answers as if it did not exist.
    #[error("self-registration is off")]
    Closed,
    /// A field is blank, malformed, too long, breaks a rule, or the username is taken: nothing
    /// was written.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// Too many sign-ups came from this address lately: nothing was looked at.
    #[error("too many sign-ups from this address; try again in {retry_after_seconds} seconds")]
    Throttled { retry_after_seconds: i64 },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for RegistrationError {
    fn from(error: StoreError) -> Self {
        RegistrationError::Internal(error.into())
    }
}

impl From<AddressError> for RegistrationError {
    fn from(error: AddressError) -> Self {
        RegistrationError::Internal(anyhow::anyhow!("{error}"))
    }
}

impl From<VerifyError> for RegistrationError {
    fn from(error: VerifyError) -> Self {
        RegistrationError::Internal(anyhow::anyhow!("{error}"))
    }
}

impl Registration {
    pub fn new(
        store: Store,
        hasher: PasswordHasher,
        addresses: Addresses,
        verify: Verify,
        product_name: String,
        public_url: String,
        access_rules: RulesCache,
    ) -> Self {
        Self {
            access_rules,
            audit_store: store.audit(),
            user_store: store.users(),
            hasher,
            addresses,
            verify,
            product_name,
            public_url,
        }
    }

    /// Whether self-registration is on (the login page's offer).
    pub async fn is_open(&self) -> Result<bool, RegistrationError> {
        Ok(self.addresses.account_settings().await?.self_registration)
    }

    /// The settings a sign-up follows, or `Closed`: the one guard of every path (the page, its
    /// form, the API).
    pub async fn open_settings(&self) -> Result<AccountSettings, RegistrationError> {
        let settings = self.addresses.account_settings().await?;
        if settings.self_registration {
            Ok(settings)
        } else {
            Err(RegistrationError::Closed)
        }
    }

    /// Makes an account for the person who asks, waiting for its address; or, when the address
    /// has an account already, tells that address and makes none. Either way the answer is the
    /// same, after the same work (the request counted, the password hashed, one email sent).
    pub async fn register(
        &self,
        request: &SignUp<'_>,
        now: Instant,
    ) -> Result<SignedUp, RegistrationError> {
        let settings = self.open_settings().await?;
        let fields = rules::check(request, &settings).map_err(RegistrationError::Invalid)?;
        self.take_request_budget(request.origin, now).await?;
        let named = Subject::User(fields.username.clone());
        if self.access_rules.naming(&named, now).await?.is_some() {
            // Held for whom the rule means, as a taken name is: an administrator makes it.
            return Err(taken_username());
        }
        let id = UserId::new();
        let password_hash = self
            .hasher
            .hash(&fields.password)
            .await
            .map_err(anyhow::Error::from)?;
        let event = AuditEvent::new(
            EventKind::UserRegister,
            Actor::User(id),
            request.origin,
            now,
        )
        .target(id)
        .detail("outcome", "created")
        .detail("username", fields.username.as_str())
        .detail("to", Destination::Email(fields.email.clone()).masked());
        let new = NewUser {
            id,
            profile: new_profile(&fields),
            password_hash,
            email_verification_required: true,
        };
        match self.user_store.insert_user(&new, &event).await {
            Ok(user) => {
                tracing::info!(target: "security", user = %user.id, "account made by self-registration");
                // The account is made; a link that cannot go now goes at its first login.
                if let Err(error) = self
                    .addresses
                    .send_registration_link(&user, request.origin, now)
                    .await
                {
                    tracing::warn!(%error, user = %user.id, "cannot send the link of a registration");
                }
            }
            Err(StoreError::Duplicate { field: "email" }) => {
                // A taken username is said whatever the address: were it said only beside a free
                // address, the answer would tell which addresses have accounts.
                if self.username_taken(&fields).await? {
                    return Err(taken_username());
                }
                self.tell_the_owner(&fields.email, request.origin, now)
                    .await?;
            }
            Err(StoreError::Duplicate { .. }) => return Err(taken_username()),
            Err(other) => return Err(other.into()),
        }
        Ok(SignedUp {
            email: fields.email,
        })
    }

    /// Counts a sign-up against the address it comes from, before anything is looked up or
    /// hashed.
    async fn take_request_budget(
        &self,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), RegistrationError> {
        match self
            .verify
            .take_request_budget(REQUEST_PURPOSE, origin, now)
            .await?
        {
            Admitted::Now => Ok(()),
            Admitted::NotBefore(room_at) => Err(RegistrationError::Throttled {
                retry_after_seconds: retry_after_seconds(now, room_at),
            }),
        }
    }

    async fn username_taken(&self, fields: &SignUpFields) -> Result<bool, RegistrationError> {
        let login_id = LoginId::Username(fields.username.clone());
        Ok(self.user_store.user_by_login_id(&login_id).await?.is_some())
    }

    /// Tells the owner of an address someone signed up with that it has an account already, and
    /// records it. A send refused (a budget) is logged: the answer must not differ.
    async fn tell_the_owner(
        &self,
        email: &Email,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), RegistrationError> {
        let Some(found) = self
            .user_store
            .user_by_login_id(&LoginId::Email(email.clone()))
            .await?
        else {
            // Its owner changed address in between: nobody to tell.
            return Ok(());
        };
        let owner = found.user;
        let to = owner.email.clone().unwrap_or_else(|| email.clone());
        let event = AuditEvent::new(EventKind::UserRegister, Actor::Anonymous, origin, now)
            .target(owner.id)
            .detail("outcome", "email_in_use")
            .detail("to", Destination::Email(to.clone()).masked());
        self.audit_store.record_event(&event).await?;
        tracing::info!(target: "security", user = %owner.id, "a sign-up used the address of an account");
        let words = AccountExists {
            product_name: &self.product_name,
            username: owner.username.as_str(),
            login_link: &format!("{}/login", self.public_url),
            forgot_link: &format!("{}/forgot-password", self.public_url),
            asked_from: origin.ip.as_deref(),
        };
        let note = AccountEmail {
            user: owner.id,
            to: &to,
            subject: words.subject(),
            body: words.body(),
            origin,
        };
        if let Err(error) = self.verify.send_account_email(&note, now).await {
            tracing::warn!(%error, user = %owner.id, "cannot tell an address of a sign-up with it");
        }
        Ok(())
    }
}

/// A new account's profile: its username and address (unverified), an ordinary user's role.
fn new_profile(fields: &SignUpFields) -> UserChanges {
    UserChanges {
        username: fields.username.clone(),
        email: Some(fields.email.clone()),
        email_verified_at: None,
        pending_email: None,
        full_name: None,
        mobile_phone: None,
        roles: Roles::user(),
        active: true,
        two_factor_required: false,
        authy_migrated: false,
        password_change_required: false,
    }
}

fn taken_username() -> RegistrationError {
    RegistrationError::Invalid(vec![FieldError::new(
        USERNAME_FIELD,
        Invalid::new("[duplicate]", "this username is taken: choose another"),
    )])
}
