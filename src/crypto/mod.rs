//! Passwords, keys and tokens.

pub mod cipher;
mod keys;
mod password;
pub mod random;
mod token;

pub use keys::{KeyError, Keys};
pub use password::{PasswordHash, PasswordHasher, Verification, check_imported_hash};
pub use token::{Claims, TokenError, TokenSigner};
