//! Twilio's answers (Messages, Calls, Verify and VerificationCheck), read from their status and
//! body: never a panic, and only a 2xx answer is taken as a success.
#![no_main]

use http::StatusCode;
use libfuzzer_sys::fuzz_target;
use tessera::delivery::twilio::{RemoteCheck, read_check, read_created};
use tessera::verify::Status;

fuzz_target!(|data: &[u8]| {
    let [high, low, body @ ..] = data else {
        return;
    };
    // Any status from 100 to 599, so that every class is reached.
    let status = StatusCode::from_u16(100 + u16::from_be_bytes([*high, *low]) % 500)
        .expect("100 to 599 are statuses");
    let created = read_created(status, body);
    if created.is_ok() {
        assert!(status.is_success());
    }
    let check = read_check(status, body);
    if matches!(check, RemoteCheck::Approved | RemoteCheck::Pending) {
        assert!(status.is_success());
    }
    if let Ok(text) = std::str::from_utf8(body) {
        if let Some(parsed) = Status::parse(text) {
            assert_eq!(parsed.as_str(), text);
        }
    }
});
