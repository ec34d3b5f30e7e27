//! Codes as people type them: numeric one-time codes (TOTP, SMS, Verify), recovery codes, and
//! the algorithm names of authenticators. Never a panic; a parsed code is in its normal form
//! and parses again to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::otp::{Algorithm, OtpCode, RecoveryCode};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(code) = OtpCode::parse(text) {
        assert!((4..=10).contains(&code.len()));
        assert!(code.as_str().bytes().all(|b| b.is_ascii_digit()));
        let again = OtpCode::parse(code.as_str()).expect("a parsed code parses again");
        assert!(again.matches(&code));
    }
    if let Ok(code) = RecoveryCode::parse(text) {
        assert_eq!(code.normalised().len(), 10);
        assert_eq!(RecoveryCode::parse(&code.display()).as_ref(), Ok(&code));
        assert_eq!(RecoveryCode::parse(code.normalised()).as_ref(), Ok(&code));
    }
    let _ = RecoveryCode::looks_like(text);
    if let Ok(algorithm) = Algorithm::parse(text) {
        assert_eq!(Algorithm::parse(algorithm.uri_name()), Ok(algorithm));
        assert_eq!(Algorithm::parse(algorithm.api_name()), Ok(algorithm));
    }
});
