//! Passwords, keys and tokens.

pub mod cipher;
mod form_tokens;
mod keys;
pub mod oidc_keys;
mod password;
pub mod random;
mod token;

pub use form_tokens::{FormBinding, FormTokens};
pub use keys::{KeyError, Keys};
pub use password::{PasswordHash, PasswordHasher, Verification, check_imported_hash};
pub use token::{ACCESS_TOKEN_TYPE, AccessTokenSigner, Claims, TokenError, TokenSigner};
