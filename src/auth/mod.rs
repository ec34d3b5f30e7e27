//! The password login, the step between password and code, and re-authentication.

mod login;
mod session;

pub use login::{LoginError, LoginOutcome, LoginRequest};

