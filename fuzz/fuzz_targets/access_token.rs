//! Access tokens from `Authorization: Bearer …`: checking one never panics, and whatever is
//! accepted was signed with the key (a forged or altered token is refused).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::clock::Instant;
use tessera::crypto::{Claims, TokenSigner};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let signer = TokenSigner::new(&[7; 32]);
    let now = Instant::from_millis(1_700_000_000_000);
    // Random bytes do not carry a valid HMAC; only a token this key signed may be accepted.
    let _ = signer.verify(text, now);
    // A well-signed token with fuzzed claims: it reads back as it was written.
    let claims = Claims {
        iss: "http://localhost".into(),
        sub: text.into(),
        aud: None,
        exp: 1_800_000_000,
        iat: 1_700_000_000,
        auth_time: 1_700_000_000,
        jti: "j".into(),
        sid: "s".into(),
        roles: vec![text.into()],
        amr: vec![],
        preferred_username: Some(text.into()),
    };
    let token = signer.sign(&claims);
    if token.len() <= 8 * 1024 {
        let read = signer.verify(&token, now).expect("a signed token verifies");
        assert_eq!(read.sub, claims.sub);
    }
});
