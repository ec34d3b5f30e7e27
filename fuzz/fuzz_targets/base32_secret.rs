//! TOTP secrets as authenticator apps and the FusionAuth API give them (base32 and base64):
//! never a panic, and a secret that decodes encodes back to a string that decodes to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::otp::TotpSecret;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(secret) = TotpSecret::from_base32(text) {
        assert!((16..=128).contains(&secret.bytes().len()));
        assert_eq!(
            TotpSecret::from_base32(&secret.to_base32()).as_ref(),
            Ok(&secret)
        );
    }
    if let Ok(secret) = TotpSecret::from_base64(text) {
        assert_eq!(
            TotpSecret::from_base64(&secret.to_base64()).as_ref(),
            Ok(&secret)
        );
    }
});
