//! The server's cookies, for the pages and the API alike: their names (behind https with the
//! `__Host-` prefix), one read from a request, and the `Set-Cookie` line of one. The session
//! cookie alone may be shared on a parent domain (`SessionCookie`).

use axum::http::{HeaderMap, HeaderValue};

use crate::domain::CookieDomain;

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
    named_line(
        &name(secure, base_name),
        None,
        secure,
        value,
        max_age,
        same_site,
    )
}

/// Where the browser's session cookie lives: with the host that set it (`__Host-` behind
/// https), or, with `session.cookie_domain`, on that parent domain, where every site under it
/// (those forward-auth protects) sees it. A cookie with a Domain cannot carry `__Host-`: it is
/// `__Secure-` behind https, which still makes the browser refuse it over plain http.
#[derive(Debug, Clone)]
pub struct SessionCookie {
    /// Its name as the browser holds it.
    name: String,
    /// Its host-only name, which a browser may still hold from before a domain was configured.
    host_only: String,
    domain: Option<CookieDomain>,
    secure: bool,
}

impl SessionCookie {
    pub fn new(secure: bool, base_name: &str, domain: Option<CookieDomain>) -> Self {
        let host_only = name(secure, base_name);
        let name = match (&domain, secure) {
            (Some(_), true) => format!("__Secure-{base_name}"),
            (Some(_), false) => base_name.to_owned(),
            (None, _) => host_only.clone(),
        };
        Self {
            name,
            host_only,
            domain,
            secure,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The lines that set the cookie to `value` (`None` as `max_age`: for the browser's
    /// session). On a domain, a host-only cookie of before goes: without `__Host-` it has the
    /// same name, and the browser would send both to the portal, the stale one maybe first.
    pub fn setting(&self, value: &str, max_age: Option<i64>) -> Vec<HeaderValue> {
        let mut lines = self.clearing_host_only();
        lines.extend(named_line(
            &self.name,
            self.domain.as_ref().map(CookieDomain::as_str),
            self.secure,
            value,
            max_age,
            "Lax",
        ));
        lines
    }

    /// The lines that end the cookie: under the name and Domain it was set with, and a
    /// host-only one of before a domain was configured.
    pub fn clearing(&self) -> Vec<HeaderValue> {
        let mut lines = self.clearing_host_only();
        lines.extend(named_line(
            &self.name,
            self.domain.as_ref().map(CookieDomain::as_str),
            self.secure,
            "",
            Some(0),
            "Lax",
        ));
        lines
    }

    fn clearing_host_only(&self) -> Vec<HeaderValue> {
        if self.domain.is_none() {
            return Vec::new();
        }
        named_line(&self.host_only, None, self.secure, "", Some(0), "Lax")
            .into_iter()
            .collect()
    }
}

/// The `Set-Cookie` line of an HttpOnly cookie named `name` for the whole site, on `domain`
/// when there is one.
fn named_line(
    name: &str,
    domain: Option<&str>,
    secure: bool,
    value: &str,
    max_age: Option<i64>,
    same_site: &str,
) -> Option<HeaderValue> {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
    if let Some(domain) = domain {
        cookie.push_str(&format!("; Domain={domain}"));
    }
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    HeaderValue::from_str(&cookie).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(values: Vec<HeaderValue>) -> Vec<String> {
        values
            .into_iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn a_session_cookie_on_a_domain_is_secure_prefixed_and_ends_where_it_was_set() {
        let domain = CookieDomain::parse("example.com").unwrap();
        let cookie = SessionCookie::new(true, "tessera_session", Some(domain));
        assert_eq!(cookie.name(), "__Secure-tessera_session");
        assert_eq!(
            lines(cookie.setting("abc", Some(60))),
            [
                "__Host-tessera_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure",
                "__Secure-tessera_session=abc; Path=/; HttpOnly; SameSite=Lax; \
                 Domain=example.com; Max-Age=60; Secure",
            ]
        );
        assert_eq!(
            lines(cookie.clearing())[1],
            "__Secure-tessera_session=; Path=/; HttpOnly; SameSite=Lax; Domain=example.com; \
             Max-Age=0; Secure"
        );
    }

    #[test]
    fn a_session_cookie_without_a_domain_is_as_before() {
        let cookie = SessionCookie::new(true, "tessera_session", None);
        assert_eq!(cookie.name(), "__Host-tessera_session");
        assert_eq!(
            lines(cookie.setting("abc", None)),
            ["__Host-tessera_session=abc; Path=/; HttpOnly; SameSite=Lax; Secure"]
        );
        assert_eq!(lines(cookie.clearing()).len(), 1);
        let plain = SessionCookie::new(false, "tessera_session", None);
        assert_eq!(plain.name(), "tessera_session");
        assert_eq!(
            lines(plain.clearing()),
            ["tessera_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"]
        );
    }
}
