//! Phone numbers as people type them (sign-up, enrolment, the Verify API's `To`): parsing never
//! panics, and a number that parses is E.164 and parses again to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::domain::PhoneNumber;
use tessera::verify::Destination;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(phone) = PhoneNumber::parse(text) {
        let e164 = phone.e164();
        assert!(e164.starts_with('+'), "{e164}");
        assert!(e164[1..].bytes().all(|b| b.is_ascii_digit()), "{e164}");
        assert!(e164.len() <= 16, "{e164}");
        assert_eq!(PhoneNumber::parse(e164).as_ref(), Ok(&phone));
        let _ = phone.masked();
    }
    // The Verify API's `To`: a phone number or an email address.
    if let Ok(destination) = Destination::parse(text) {
        let again = Destination::parse(destination.as_str());
        assert_eq!(again.as_ref(), Ok(&destination));
        let _ = destination.masked();
    }
});
