//! One-time-password math, free of I/O: HOTP (RFC 4226), TOTP (RFC 6238), base32 secrets,
//! `otpauth://` URIs, and recovery codes. Time is always an argument.

mod code;
mod recovery;
mod secret;
mod totp;

pub use code::OtpCode;
pub use recovery::RecoveryCode;
pub use secret::TotpSecret;
pub use totp::{Algorithm, StepMatch, TotpParams, hotp, otpauth_uri};
