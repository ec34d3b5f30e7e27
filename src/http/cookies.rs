//! The server's cookies, for the pages and the API alike: their names (behind https with the
//! `__Host-` prefix), one read from a request, and the `Set-Cookie` line of one.

use axum::http::{HeaderMap, HeaderValue};

/// A trusted computer's token (the API also reads it, when the body has no `twoFactorTrustId`).
pub const TRUST_COOKIE: &str = "tessera_trust";
/// The browser's long-lived random id, which a computer trusted on the pages is bound to.
pub const BROWSER_COOKIE: &str = "tessera_browser";
/// How long a browser keeps its id: 400 days, the most a browser keeps any cookie (Chrome's
/// cap), longer than any trust (`trustDays` ≤ 365). It is set anew with every trust.
pub const BROWSER_COOKIE_SECONDS: i64 = 400 * 86_400;

/// The name a cookie has in this server's responses: behind https, `__Host-` in front, so that
/// the browser keeps it only as the server set it (Secure, Path=/, no Domain) and no other
/// host, a sibling subdomain included, can plant or overwrite it.
pub fn name(secure: bool, name: &str) -> String {
    if secure {
        format!("__Host-{name}")
    } else {
        name.to_owned()
    }
}

/// One cookie's value from the `Cookie` header, by its full name.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// The `Set-Cookie` line of an HttpOnly cookie for the whole site (Path=/, never a Domain);
/// `None` as `max_age` keeps it for the browser session.
pub fn line(
    secure: bool,
    base_name: &str,
    value: &str,
    max_age: Option<i64>,
    same_site: &str,
) -> Option<HeaderValue> {
    let name = name(secure, base_name);
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    HeaderValue::from_str(&cookie).ok()
}
