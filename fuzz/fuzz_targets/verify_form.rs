//! Form bodies of the Twilio-compatible Verify API: the parameters, and the values the handlers
//! read from them (`To`, `Channel`, `Code`, flags, numbers, the `RateLimits` JSON). Never a
//! panic.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use tessera::http::verify_api::Params;
use tessera::otp::OtpCode;
use tessera::verify::{Channel, Destination};

fuzz_target!(|data: &[u8]| {
    let params = Params::parse(data);
    if let Some(to) = params.get("To") {
        let _ = Destination::parse(to);
    }
    if let Some(channel) = params.get("Channel") {
        if let Ok(parsed) = channel.parse::<Channel>() {
            assert_eq!(parsed.as_str().parse::<Channel>(), Ok(parsed));
        }
    }
    for name in ["Code", "CustomCode"] {
        if let Some(code) = params.get(name) {
            let _ = OtpCode::parse(code);
        }
    }
    for name in ["DoNotShareWarningEnabled", "CustomCodeEnabled", "Enabled"] {
        let _ = params.flag(name);
    }
    for (name, range) in [
        ("CodeLength", 4..=10),
        ("Totp.TimeStep", 20..=60),
        ("Max", 1..=i64::from(u32::MAX)),
        ("Interval", 1..=86_400),
    ] {
        if let Ok(Some(number)) = params.number(name, range.clone()) {
            assert!(range.contains(&number));
        }
    }
    if let Some(raw) = params.get("RateLimits") {
        let _ = serde_json::from_str::<BTreeMap<String, serde_json::Value>>(raw);
    }
});
