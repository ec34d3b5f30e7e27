//! Values that exist only when valid, and the entities built from them.
//!
//! Each newtype has a private field and a fallible constructor: a `Username` in hand is a
//! username that passed every rule, so no code further in re-checks it.

mod app_password;
pub mod canonical_names;
mod destination;
mod group;
mod key_name;
mod link;
mod login;
mod names;
mod password;
mod phone;
mod reason;
mod short_text;
mod site;
mod two_factor;
mod user;

pub use app_password::{APP_PASSWORD_ALPHABET, APP_PASSWORD_CHARS, AppPassword, AppPasswordName};
pub use destination::{Channel, Destination};
pub use group::{Group, GroupId, GroupName, parse_description};
pub use key_name::KeyName;
pub use link::{ChangePasswordId, NoticeId, VerificationId};
pub use login::LoginType;
pub use names::{Email, FullName, LoginId, Username};
pub use password::Password;
pub use phone::{PhoneNumber, Region};
pub use reason::Reason;
pub use site::{CookieDomain, DomainPattern, Host};
pub use two_factor::{MethodId, MethodKind, MethodName, RequestedMethod};
pub use user::{Role, Roles, User, UserId};

/// Why a value was refused: a stable machine code (FusionAuth style, `[blank]`, `[invalid]`,
/// `[tooLong]`...) and a sentence a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub code: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// One refused field: its name as the client sent it, a machine code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, invalid: Invalid) -> Self {
        Self {
            code: format!("{}{field}", invalid.code),
            field: field.to_owned(),
            message: invalid.message,
        }
    }
}
