//! The configuration: a TOML file, then `TESSERA_*` environment variables (`NAME=value`
//! lines after the first NUL byte). Reading and checking it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (file, env) = text.split_once('\0').unwrap_or((text, ""));
    let env = env.lines().filter_map(|line| {
        line.split_once('=')
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
    });
    let _ = Config::from_toml(file, env);
});
