//! The password login, the step between password and code, re-authentication, a person's
//! change of their own password, and Basic credentials at forward-auth (`basic.rs`).

mod basic;
mod login;
mod password_change;
mod password_guard;
mod session;

pub use basic::{BasicAccount, BasicAsks, BasicProof, BasicRefusal};
pub use login::{LoginError, LoginOutcome, LoginRequest};
pub use password_change::{
    CURRENT_PASSWORD_FIELD, ChangeOwnPassword, NEW_PASSWORD_FIELD, PasswordChangeError,
    PasswordChanged, PasswordProof,
};
pub use session::SteppedUpFor;

use crate::addresses::Addresses;
use crate::app_passwords::AppPasswords;
use crate::crypto::PasswordHasher;
use crate::limits::PasswordGuardSettings;
use crate::recovery::Recovery;
use crate::sessions::Sessions;
use crate::store::{
    AuditStore, CounterStore, SessionStore, SettingStore, Store, TwoFactorStore, UserStore,
};
use crate::two_factor::TwoFactor;
use crate::verify::Verify;
use crate::webauthn::WebAuthn;

/// Logins: the password, the step after it, re-authentication before sensitive changes, and a
/// person's change of their own password (the same hasher and password guard).
#[derive(Clone)]
pub struct Logins {
    audit_store: AuditStore,
    /// The password guard's counters.
    counter_store: CounterStore,
    session_store: SessionStore,
    /// The account settings: whether an unverified address may log in.
    setting_store: SettingStore,
    two_factor_store: TwoFactorStore,
    user_store: UserStore,
    hasher: PasswordHasher,
    password_guard: PasswordGuardSettings,
    two_factor: TwoFactor,
    sessions: Sessions,
    verify: Verify,
    /// The link a temporary password's login answers with.
    recovery: Recovery,
    /// A new link for a self-registered account that logs in before verifying its address.
    addresses: Addresses,
    /// Basic credentials at forward-auth: an app password in place of the password.
    app_passwords: AppPasswords,
    /// A security key in place of a code at re-authentication and step-up (`session.rs`).
    webauthn: WebAuthn,
}

impl Logins {
    // One parameter per service it holds, as its fields list them.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        hasher: PasswordHasher,
        password_guard: PasswordGuardSettings,
        two_factor: TwoFactor,
        sessions: Sessions,
        verify: Verify,
        recovery: Recovery,
        addresses: Addresses,
        app_passwords: AppPasswords,
        webauthn: WebAuthn,
    ) -> Self {
        Self {
            audit_store: store.audit(),
            counter_store: store.counters(),
            session_store: store.sessions(),
            setting_store: store.settings(),
            two_factor_store: store.two_factor(),
            user_store: store.users(),
            hasher,
            password_guard,
            two_factor,
            sessions,
            verify,
            recovery,
            addresses,
            app_passwords,
            webauthn,
        }
    }

    /// How many passwords were compared with a hash since the server started: a login for an
    /// unknown user is one too (the dummy), so that a miss costs what a wrong password does.
    pub fn password_verifications(&self) -> u64 {
        self.hasher.verifications()
    }
}
