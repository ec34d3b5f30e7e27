//! Imported TOTP secrets: an `otpauth://totp/…` URI (Google Authenticator, FreeOTP, Aegis
//! exports) or bare base32. Never a panic; what parses, written back as Tessera's own URI,
//! parses again to the same secret and parameters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::import::parse_secret;
use tessera::otp::otpauth_uri;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((secret, params, name)) = parse_secret(text) {
        let account = name.as_ref().map(|n| n.as_str()).unwrap_or("someone");
        let uri = otpauth_uri("Tessera", account, &secret, &params);
        let (secret_again, params_again, _) =
            parse_secret(&uri).unwrap_or_else(|e| panic!("{uri} does not parse again: {e}"));
        assert_eq!(secret_again, secret);
        assert_eq!(params_again, params);
    }
});
