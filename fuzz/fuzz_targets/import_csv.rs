//! The CSV of `tessera import`: reading the rows and checking each never panics, and every row
//! error names a line of the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::import::{Format, check, read};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // csv counts a lone \r as a line end too.
    let lines = text.bytes().filter(|b| matches!(b, b'\n' | b'\r')).count() as u64 + 1;
    match read(Format::Csv, text) {
        Ok(rows) => {
            for (line, _) in &rows {
                assert!(*line <= lines, "line {line} of {lines}");
            }
            let _ = check(&rows, None);
        }
        Err(errors) => assert!(!errors.is_empty()),
    }
});
