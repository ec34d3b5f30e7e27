//! The password login, the step between password and code, and re-authentication.

mod login;
mod session;

pub use login::{LoginError, LoginOutcome, LoginRequest};

use crate::crypto::PasswordHasher;
use crate::sessions::Sessions;
use crate::store::{AuditStore, SessionStore, Store, TwoFactorStore, UserStore};
use crate::two_factor::TwoFactor;
use crate::verify::Verify;

/// Logins: the password, the step after it, and re-authentication before sensitive changes.
#[derive(Clone)]
pub struct Logins {
    audit_store: AuditStore,
    session_store: SessionStore,
    two_factor_store: TwoFactorStore,
    user_store: UserStore,
    hasher: PasswordHasher,
    two_factor: TwoFactor,
    sessions: Sessions,
    verify: Verify,
}

impl Logins {
    pub fn new(
        store: Store,
        hasher: PasswordHasher,
        two_factor: TwoFactor,
        sessions: Sessions,
        verify: Verify,
    ) -> Self {
        Self {
            audit_store: store.audit(),
            session_store: store.sessions(),
            two_factor_store: store.two_factor(),
            user_store: store.users(),
            hasher,
            two_factor,
            sessions,
            verify,
        }
    }
}
