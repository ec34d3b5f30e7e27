//! Imported password hashes (Argon2 PHC strings, bcrypt, Django's pbkdf2_sha256): the check
//! never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::crypto::check_imported_hash;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = check_imported_hash(text);
    }
});
