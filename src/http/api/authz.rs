//! The forward-auth endpoints reverse proxies ask about every request: `/api/authz/forward-auth`
//! in Traefik's and Caddy's convention (`X-Forwarded-Method`, `-Proto`, `-Host`, `-Uri`) and
//! `/api/authz/auth-request` in nginx's (`X-Original-URL`, `X-Original-Method`). Both answer
//! from the same decision; only what a proxy can pass on differs: nginx turns any status but
//! 2xx, 401 and 403 into a 500, so its "log in first" is a 401 with the portal in `Location`.
//! A client without a browser may send `Authorization: Basic` on a rule that takes it; the
//! header is read here and judged by the same decision.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::clock::Instant;
use crate::forward_auth::basic::read_authorization;
use crate::forward_auth::{Decision, ProxiedRequest};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::RequestOrigin;
use crate::http::web::{SESSION_COOKIE, cookie};

/// The longest header value read from a proxy.
const MAX_HEADER_CHARS: usize = 8192;

/// Which proxy's way of telling the original request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Convention {
    /// Traefik's ForwardAuth, Caddy's `forward_auth`.
    Forwarded,
    /// nginx's `auth_request`.
    Original,
}

/// `/api/authz/forward-auth`, any method: Traefik and Caddy.
#[utoipa::path(
    get, path = "/api/authz/forward-auth", tag = "forward-auth",
    params(
        ("X-Forwarded-Method" = String, Header, description = "The original request's method"),
        ("X-Forwarded-Proto" = String, Header, description = "http or https"),
        ("X-Forwarded-Host" = String, Header, description = "The original request's host"),
        ("X-Forwarded-Uri" = String, Header, description = "The original request's path and query"),
        ("Authorization" = Option<String>, Header, description = "The client's own, passed on: `Basic` credentials (username and password or app password) count on a rule with `basicAuth`"),
    ),
    responses(
        (status = 200, description = "Let it through; the Remote-* headers say who is signed in (empty on a bypass)"),
        (status = 302, description = "A page load without a session (or with one factor where two are asked): to the login portal"),
        (status = 400, description = "A header the proxy must send is missing or does not read"),
        (status = 401, description = "No session, for a request that is not a page load (with `WWW-Authenticate: Basic` where the rule takes Basic credentials); or Basic credentials that do not read or are refused"),
        (status = 429, description = "Basic credentials, after too many wrong passwords from this address: Retry-After says when to try again"),
        (status = 403, description = "The rules deny it, or the peer is not a trusted proxy"),
    )
)]
pub async fn forward_auth(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RequestOrigin(origin): RequestOrigin,
    headers: HeaderMap,
) -> Response {
    decide(&state, peer, &origin, &headers, Convention::Forwarded).await
}

/// `/api/authz/auth-request`, any method: nginx.
#[utoipa::path(
    get, path = "/api/authz/auth-request", tag = "forward-auth",
    params(
        ("X-Original-URL" = String, Header, description = "The original request's absolute URL"),
        ("X-Original-Method" = String, Header, description = "The original request's method"),
        ("Authorization" = Option<String>, Header, description = "The client's own, passed on: `Basic` credentials (username and password or app password) count on a rule with `basicAuth`"),
    ),
    responses(
        (status = 200, description = "Let it through; the Remote-* headers say who is signed in (empty on a bypass)"),
        (status = 400, description = "A header the proxy must send is missing or does not read"),
        (status = 401, description = "Log in first (for a page load, the portal in Location; otherwise with `WWW-Authenticate: Basic` where the rule takes Basic credentials); or Basic credentials that do not read, are refused, or come after too many wrong passwords (with Retry-After)"),
        (status = 403, description = "The rules deny it, or the peer is not a trusted proxy"),
    )
)]
pub async fn auth_request(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RequestOrigin(origin): RequestOrigin,
    headers: HeaderMap,
) -> Response {
    decide(&state, peer, &origin, &headers, Convention::Original).await
}

async fn decide(
    state: &AppState,
    peer: SocketAddr,
    origin: &crate::audit::Origin,
    headers: &HeaderMap,
    convention: Convention,
) -> Response {
    // Whoever else asks could name any request and any client: only a trusted proxy's word
    // counts. A misconfiguration, not an attack, most of the time: a warning, no audit.
    if !state.edge.trusted_proxies.contains(peer.ip()) {
        tracing::warn!(peer = %peer.ip(), "forward-auth asked by a peer that is not a trusted proxy");
        return plain(
            StatusCode::FORBIDDEN,
            &format!(
                "forward-auth answers only a trusted proxy: add this proxy's address ({}) to \
                 trusted_proxies in Tessera's configuration",
                peer.ip().to_canonical()
            ),
        );
    }
    let client = origin.ip.as_deref().and_then(|ip| ip.parse().ok());
    let request = match read_request(headers, convention)
        .and_then(|(method, url)| ProxiedRequest::parse(&method, &url, client))
    {
        Ok(request) => request,
        Err(message) => return plain(StatusCode::BAD_REQUEST, &message),
    };
    let token = cookie(state, headers, SESSION_COOKIE);
    // The client's own header, passed on by the proxy: Traefik, Caddy and nginx all do.
    let authorization: Vec<&[u8]> = headers
        .get_all(AUTHORIZATION)
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    let presented = read_authorization(&authorization);
    let decision = match state
        .core
        .forward_auth
        .decide(
            &request,
            token.as_deref(),
            &presented,
            origin,
            Instant::now(),
        )
        .await
    {
        Ok(decision) => decision,
        Err(error) => return ApiError::Internal(error).into_response(),
    };
    let names = &state.edge.forward_auth_headers;
    match decision {
        Decision::Allow {
            user,
            groups,
            name,
            email,
        } => who(
            names,
            [&user, &groups.join(","), &name, &email].map(String::as_str),
        ),
        // Every header, empty: a proxy that copies them overwrites whatever the client sent.
        Decision::Bypass => who(names, ["", "", "", ""]),
        Decision::LogIn { portal_url, basic } => {
            let realm = basic.then_some(state.web.product_name.as_str());
            to_portal(
                headers,
                convention,
                request.method().as_str(),
                &portal_url,
                realm,
            )
        }
        Decision::StepUp { portal_url } => to_portal(
            headers,
            convention,
            request.method().as_str(),
            &portal_url,
            None,
        ),
        Decision::Deny => plain(StatusCode::FORBIDDEN, "access denied"),
        Decision::Challenge { why } => challenge(
            plain(StatusCode::UNAUTHORIZED, why),
            &state.web.product_name,
        ),
        Decision::Throttled {
            retry_after_seconds,
        } => {
            // nginx turns a 429 into a 500: it hears a 401 that says to wait.
            let status = match convention {
                Convention::Forwarded => StatusCode::TOO_MANY_REQUESTS,
                Convention::Original => StatusCode::UNAUTHORIZED,
            };
            let mut response = plain(
                status,
                &format!(
                    "too many wrong passwords from this address; try again in \
                     {retry_after_seconds} seconds"
                ),
            );
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after_seconds));
            response
        }
    }
}

/// `response` asking for Basic credentials for `realm` (RFC 7617; UTF-8 is how they are read).
fn challenge(mut response: Response, realm: &str) -> Response {
    let realm: String = realm
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .collect();
    if let Ok(value) = HeaderValue::from_str(&format!("Basic realm=\"{realm}\", charset=\"UTF-8\""))
    {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}

/// The original request's method and absolute URL, from the convention's headers.
fn read_request(headers: &HeaderMap, convention: Convention) -> Result<(String, String), String> {
    match convention {
        Convention::Original => Ok((
            required(headers, "x-original-method")?.to_owned(),
            required(headers, "x-original-url")?.to_owned(),
        )),
        Convention::Forwarded => {
            let method = required(headers, "x-forwarded-method")?;
            let proto = required(headers, "x-forwarded-proto")?.to_ascii_lowercase();
            if proto != "http" && proto != "https" {
                return Err(format!(
                    "X-Forwarded-Proto is {proto:?}: it must be http or https"
                ));
            }
            let host = required(headers, "x-forwarded-host")?;
            if host
                .chars()
                .any(|c| matches!(c, '/' | '\\' | '?' | '#' | '@' | ',' | ' '))
            {
                return Err(format!(
                    "X-Forwarded-Host is {host:?}: it must be one host, with a port or not"
                ));
            }
            let uri = required(headers, "x-forwarded-uri")?;
            if !uri.starts_with('/') || uri.starts_with("//") {
                return Err(format!(
                    "X-Forwarded-Uri is {uri:?}: it must be a path beginning with one /"
                ));
            }
            Ok((method.to_owned(), format!("{proto}://{host}{uri}")))
        }
    }
}

/// One header the proxy must send, once, as visible text.
fn required<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, String> {
    let mut values = headers.get_all(name).iter();
    let shown = shown_name(name);
    let value = values.next().ok_or_else(|| {
        format!("{shown} is missing: the proxy must send it (see docs/ for the proxies' settings)")
    })?;
    if values.next().is_some() {
        return Err(format!("{shown} is sent more than once"));
    }
    let text = value
        .to_str()
        .map_err(|_| format!("{shown} is not visible ASCII text"))?
        .trim();
    if text.is_empty() || text.len() > MAX_HEADER_CHARS {
        return Err(format!(
            "{shown} must hold 1 to {MAX_HEADER_CHARS} characters"
        ));
    }
    Ok(text)
}

/// `x-forwarded-uri` as people write it: `X-Forwarded-Uri`; the two URL headers in capitals.
fn shown_name(name: &str) -> String {
    name.split('-')
        .map(|part| match part {
            "url" => "URL".to_owned(),
            _ => {
                let mut chars = part.chars();
                chars
                    .next()
                    .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// 200 with who is signed in, under the configured names; each value without the control
/// characters (CR, LF…) that could end a header and start another.
fn who(names: &crate::config::ForwardAuthHeaders, values: [&str; 4]) -> Response {
    let mut response = StatusCode::OK.into_response();
    let named = [&names.user, &names.groups, &names.name, &names.email];
    for (name, value) in named.into_iter().zip(values) {
        let clean: String = value.chars().filter(|c| !c.is_control()).collect();
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(clean.as_bytes()),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// "Log in first" or "a second factor first": a page load goes to the portal (for nginx, a 401
/// whose `Location` its `error_page` follows); anything else hears 401, for its own handling,
/// with a Basic challenge for `basic_realm` where the rule takes Basic credentials.
fn to_portal(
    headers: &HeaderMap,
    convention: Convention,
    method: &str,
    portal: &str,
    basic_realm: Option<&str>,
) -> Response {
    let page_load = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|accept| accept.to_ascii_lowercase().contains("text/html"))
        && !headers
            .get("x-requested-with")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("xmlhttprequest"));
    if !page_load {
        let response = plain(StatusCode::UNAUTHORIZED, "log in first");
        return match basic_realm {
            Some(realm) => challenge(response, realm),
            None => response,
        };
    }
    let status = match (convention, method) {
        (Convention::Original, _) => StatusCode::UNAUTHORIZED,
        (Convention::Forwarded, "GET" | "HEAD") => StatusCode::FOUND,
        // A form's POST goes on to the portal with a GET.
        (Convention::Forwarded, _) => StatusCode::SEE_OTHER,
    };
    let mut response = plain(status, "log in first");
    if let Ok(location) = HeaderValue::from_str(portal) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

fn plain(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn traefik_s_headers_make_the_original_url() {
        let read = read_request(
            &headers(&[
                ("x-forwarded-method", "POST"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "app.example.com:8443"),
                ("x-forwarded-uri", "/a?b=c"),
            ]),
            Convention::Forwarded,
        );
        assert_eq!(
            read,
            Ok(("POST".into(), "https://app.example.com:8443/a?b=c".into()))
        );
    }

    #[test]
    fn a_header_missing_doubled_or_odd_is_named() {
        let base = [
            ("x-forwarded-method", "GET"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "app.example.com"),
            ("x-forwarded-uri", "/"),
        ];
        let with = |name: &'static str, value: Option<&'static str>| {
            let mut pairs: Vec<_> = base.iter().copied().filter(|(n, _)| *n != name).collect();
            if let Some(value) = value {
                pairs.push((name, value));
            }
            read_request(&headers(&pairs), Convention::Forwarded).unwrap_err()
        };
        assert!(with("x-forwarded-uri", None).starts_with("X-Forwarded-Uri is missing"));
        assert!(with("x-forwarded-proto", Some("ftp")).starts_with("X-Forwarded-Proto is \"ftp\""));
        assert!(
            with("x-forwarded-host", Some("evil.example/@app.example.com"))
                .starts_with("X-Forwarded-Host")
        );
        assert!(with("x-forwarded-uri", Some("//evil.example/")).starts_with("X-Forwarded-Uri"));
        let mut doubled = headers(&base);
        doubled.append(
            "x-forwarded-host",
            HeaderValue::from_static("b.example.com"),
        );
        assert_eq!(
            read_request(&doubled, Convention::Forwarded).unwrap_err(),
            "X-Forwarded-Host is sent more than once"
        );
        assert!(
            read_request(
                &headers(&[("x-original-method", "GET")]),
                Convention::Original
            )
            .unwrap_err()
            .starts_with("X-Original-URL is missing")
        );
    }
}
