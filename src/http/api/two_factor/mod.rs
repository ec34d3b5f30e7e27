//! The two-factor API, in FusionAuth's current shapes (methods, recovery codes, trust) with the
//! older enable shapes (`delivery`, `secret`) accepted too. One file per resource; the
//! request types are named from here as well.

pub mod access_code;
pub mod login;
pub mod methods;
pub mod phone;
pub mod recovery;
pub mod send;
pub mod settings;
pub mod status;
pub mod trust;

pub use access_code::AccessCodeBody;
pub use login::TwoFactorLoginBody;
pub use methods::{DisableParams, EnableBody};
pub use phone::PhoneChangeBody;
pub use send::{SendBody, SendForLoginBody};
pub use settings::{DeliveryBody, SettingsBody, WelcomeBody};
pub use status::StatusBody;
