//! The password login, the step between password and code, and re-authentication.

mod login;
mod session;

pub use login::{LoginError, LoginOutcome, LoginRequest};

use crate::crypto::PasswordHasher;
use crate::sessions::Sessions;
use crate::store::Store;
use crate::two_factor::TwoFactor;
use crate::verify::Verify;

/// Logins: the password, the step after it, and re-authentication before sensitive changes.
#[derive(Clone)]
pub struct Logins {
    store: Store,
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
            store,
            hasher,
            two_factor,
            sessions,
            verify,
        }
    }
}
