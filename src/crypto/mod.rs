//! Passwords, keys and tokens.

mod keys;
mod password;
pub mod random;
mod token;

pub use keys::{KeyError, Keys};
pub use password::{PasswordHasher, PasswordHash, Verification};
pub use token::{Claims, TokenError, TokenSigner};
