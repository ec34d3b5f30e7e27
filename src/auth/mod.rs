//! Authentication flows: the password login and the sessions and tokens it opens.

mod login;
mod session;
mod tokens;

pub use login::{LoginError, LoginOutcome, LoginRequest};
pub use session::PendingLogin;
pub use tokens::{IssuedTokens, TokenAuthError};
