//! The JSON of `tessera import` (a bare list or `{"users": [...]}`): reading and checking the
//! rows never panics, and a list of N users gives N rows or names the refused ones.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::import::{Format, check, read};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match read(Format::Json, text) {
        Ok(rows) => {
            for (index, (position, _)) in rows.iter().enumerate() {
                assert_eq!(*position, index as u64 + 1);
            }
            if let Ok(users) = check(&rows, None) {
                assert_eq!(users.len(), rows.len());
            }
        }
        Err(errors) => assert!(!errors.is_empty()),
    }
});
