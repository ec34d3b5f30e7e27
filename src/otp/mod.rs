//! One-time-password math, free of I/O: HOTP (RFC 4226), TOTP (RFC 6238), base32 secrets,
//! `otpauth://` URIs, recovery codes and administrators' one-time access codes. Time is always
//! an argument.

mod access_code;
mod code;
mod recovery;
mod secret;
mod totp;

pub use access_code::AccessCode;
pub use code::OtpCode;
pub use recovery::RecoveryCode;
pub use secret::TotpSecret;
pub use totp::{Algorithm, StepMatch, TotpParams, hotp, otpauth_uri};
