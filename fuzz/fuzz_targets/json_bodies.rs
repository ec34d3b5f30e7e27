//! The JSON API's request bodies, read by the function the extractors use (`parse_json`) into
//! the handlers' own request types. The first byte picks the type, the rest is the body. Never
//! a panic; a refused body is a 400 (or 415) that names what is wrong.
#![no_main]

use http::{HeaderMap, HeaderValue, StatusCode, header};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use tessera::http::api::{admin, login, tokens, two_factor, users};
use tessera::http::error::ApiError;
use tessera::http::extract::parse_json;

fn read<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) {
    match parse_json::<T>(headers, body) {
        Ok(_) => {}
        Err(ApiError::Fields(fields)) => {
            assert_eq!(fields.len(), 1);
            assert!(fields[0].code.starts_with('['), "{}", fields[0].code);
            assert!(!fields[0].message.is_empty());
        }
        Err(ApiError::General { status, code, .. }) => {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{code}");
            assert_eq!(code, "[invalidJSON]");
        }
        Err(other) => panic!("a body is refused with a 400 only, not {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    match which % 17 {
        0 => read::<users::UserRequest>(&headers, body),
        1 => read::<two_factor::TwoFactorLoginBody>(&headers, body),
        2 => read::<two_factor::EnableBody>(&headers, body),
        3 => read::<two_factor::DisableParams>(&headers, body),
        4 => read::<two_factor::StatusBody>(&headers, body),
        5 => read::<two_factor::SettingsBody>(&headers, body),
        6 => read::<two_factor::SendForLoginBody>(&headers, body),
        7 => read::<two_factor::SendBody>(&headers, body),
        8 => read::<two_factor::WelcomeBody>(&headers, body),
        9 => read::<two_factor::DeliveryBody>(&headers, body),
        10 => read::<two_factor::PhoneChangeBody>(&headers, body),
        11 => read::<tokens::RefreshBody>(&headers, body),
        12 => read::<tokens::LogoutBody>(&headers, body),
        13 => read::<login::LoginBody>(&headers, body),
        14 => read::<admin::ReasonBody>(&headers, body),
        15 => read::<admin::PhoneBody>(&headers, body),
        _ => read::<admin::OptionalReason>(&headers, body),
    }
});
