//! Extractors with uniform rejections: a body or query that does not fit answers 400 in the
//! FusionAuth Errors shape naming the field; a missing credential answers 401 with no body.

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;
use crate::accounts::FieldError;
use crate::audit::Origin;
use crate::clock::Instant;
use crate::store::ApiKeyRecord;

const MAX_USER_AGENT_CHARS: usize = 256;

/// A JSON body: `Content-Type: application/json`, within the size limit, of the right shape,
/// with no unknown fields (the request types say `deny_unknown_fields`).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let headers = request.headers().clone();
        let bytes = read_body(request, state).await?;
        parse_json(&headers, &bytes).map(ApiJson)
    }
}

/// A JSON body that may be left out altogether (an empty body reads as `T::default()`).
pub struct OptionalApiJson<T>(pub T);

impl<T: DeserializeOwned + Default> FromRequest<AppState> for OptionalApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let headers = request.headers().clone();
        let bytes = read_body(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalApiJson(T::default()));
        }
        parse_json(&headers, &bytes).map(OptionalApiJson)
    }
}

async fn read_body(request: Request, state: &AppState) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::general(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "[tooLarge]",
                    "the request body is larger than the server accepts",
                )
            } else {
                ApiError::general(
                    StatusCode::BAD_REQUEST,
                    "[invalidBody]",
                    format!("the request body could not be read: {rejection}"),
                )
            }
        })
}

pub fn parse_json<T: DeserializeOwned>(headers: &HeaderMap, bytes: &[u8]) -> Result<T, ApiError> {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let mime = v.split(';').next().unwrap_or_default().trim();
            mime.eq_ignore_ascii_case("application/json")
        });
    if !json_type {
        return Err(ApiError::general(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "[invalidContentType]",
            "send the body as JSON with Content-Type: application/json",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(json_error)?;
    // Trailing garbage after the value is an error too.
    deserializer.end().map_err(|e| {
        ApiError::general(
            StatusCode::BAD_REQUEST,
            "[invalidJSON]",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    Ok(value)
}

fn json_error(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = error.inner();
    if inner.is_syntax() || inner.is_eof() || inner.is_io() {
        return ApiError::general(
            StatusCode::BAD_REQUEST,
            "[invalidJSON]",
            format!("the body is not valid JSON: {inner}"),
        );
    }
    let path = error.path().to_string();
    let message = inner.to_string();
    // The path of an unknown field ends with that field; a missing field is named (in
    // backquotes) in the message, and its path is the parent's path plus that name.
    let named = message.split('`').nth(1).unwrap_or_default();
    let (field, code) = if message.starts_with("unknown field") {
        (path, "[unknown]")
    } else if message.starts_with("missing field") {
        (join_path(&path, named), "[blank]")
    } else {
        (path, "[invalid]")
    };
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or_default()
        .to_owned();
    ApiError::Fields(vec![FieldError {
        code: format!("{code}{field}"),
        field,
        message,
    }])
}

fn join_path(parent: &str, name: &str) -> String {
    if parent.is_empty() || parent == "." {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

/// Query parameters, with the same kind of 400 as a body.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(ApiQuery)
            .map_err(|error| {
                let message = error.inner().to_string();
                let named = message.split('`').nth(1).unwrap_or_default().to_owned();
                let field = if named.is_empty() {
                    error.path().to_string()
                } else {
                    named
                };
                ApiError::Fields(vec![FieldError {
                    code: format!("[invalid]{field}"),
                    field,
                    message,
                }])
            })
    }
}

/// The API key in `Authorization: <key>`, live. Anything else is a 401 with no body.
pub struct ApiKeyAuth(pub ApiKeyRecord);

impl FromRequestParts<AppState> for ApiKeyAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let presented =
            presented_api_key(&parts.headers).ok_or(ApiError::Empty(StatusCode::UNAUTHORIZED))?;
        state
            .core
            .accounts
            .authenticate_api_key(presented, Instant::now())
            .await?
            .map(ApiKeyAuth)
            .ok_or(ApiError::Empty(StatusCode::UNAUTHORIZED))
    }
}

/// The API key of a call open to anyone, of which a key's holder may ask more: `None` without
/// `Authorization`, a 401 with no body for a key that is not live.
pub struct MaybeApiKey(pub Option<ApiKeyRecord>);

impl FromRequestParts<AppState> for MaybeApiKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if presented_api_key(&parts.headers).is_none() {
            return Ok(Self(None));
        }
        ApiKeyAuth::from_request_parts(parts, state)
            .await
            .map(|ApiKeyAuth(key)| Self(Some(key)))
    }
}

/// A caller who may be anonymous: an API key, a user's access token (`Bearer`), or neither.
/// Either credential, once presented, must be live (a 401 otherwise).
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if bearer(&parts.headers).is_none() && presented_api_key(&parts.headers).is_none() {
            return Ok(Self(None));
        }
        Caller::from_request_parts(parts, state)
            .await
            .map(|caller| Self(Some(caller)))
    }
}

/// Whoever may read `/metrics`: anyone with `metrics.public`; else the holder of a live API key,
/// as `Authorization: <key>` or, as Prometheus sends a credential, `Authorization: Bearer <key>`.
/// A loopback peer is no exception: behind a proxy on the same machine every peer is one.
pub struct MetricsReader;

impl FromRequestParts<AppState> for MetricsReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.edge.metrics_public {
            return Ok(Self);
        }
        let presented = bearer(&parts.headers)
            .or_else(|| presented_api_key(&parts.headers).map(str::to_owned))
            .ok_or(ApiError::Empty(StatusCode::UNAUTHORIZED))?;
        state
            .core
            .accounts
            .authenticate_api_key(&presented, Instant::now())
            .await?
            .map(|_| Self)
            .ok_or(ApiError::Empty(StatusCode::UNAUTHORIZED))
    }
}

fn presented_api_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Applies the end user's address that an application passes in a body's `ipAddress`. It must
/// be an IP address (`""` counts as absent), and it stands for the request's origin only when
/// the caller holds a live API key: an application logging its users in on their behalf. Anyone
/// else's claim is checked, then ignored: the connection's address stands.
pub async fn apply_claimed_ip(
    state: &AppState,
    headers: &HeaderMap,
    claimed: Option<&str>,
    origin: &mut Origin,
) -> Result<(), ApiError> {
    let Some(claimed) = claimed.map(str::trim).filter(|ip| !ip.is_empty()) else {
        return Ok(());
    };
    let ip: IpAddr = claimed.parse().map_err(|_| {
        ApiError::field("ipAddress", "[invalid]", "ipAddress must be an IP address")
    })?;
    if let Some(key) = presented_api_key(headers)
        && state
            .core
            .accounts
            .authenticate_api_key(key, Instant::now())
            .await?
            .is_some()
    {
        origin.ip = Some(ip.to_string());
    }
    Ok(())
}

/// An access token from `Authorization: Bearer <jwt>`; whether it is valid is the handler's
/// question.
pub struct BearerToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for BearerToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        bearer(&parts.headers)
            .map(BearerToken)
            .ok_or(ApiError::Empty(StatusCode::UNAUTHORIZED))
    }
}

pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// Where the request came from: the client's address (`client_ip`) and the `User-Agent`.
pub struct RequestOrigin(pub Origin);

impl FromRequestParts<AppState> for RequestOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ip = client_ip(parts, &state.edge).map(|ip| ip.to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect());
        let device = super::cookies::read(
            &parts.headers,
            &state.web.cookie_name(super::cookies::BROWSER_COOKIE),
        )
        .filter(|id| id.len() >= 32)
        .map(|id| device_digest(&id));
        Ok(RequestOrigin(Origin {
            ip,
            user_agent,
            device,
        }))
    }
}

/// What the audit log keeps of a browser's id cookie: enough to tell one computer from another,
/// nothing that could be sent back as the cookie.
fn device_digest(browser_id: &str) -> String {
    let digest = crate::crypto::random::lookup_digest(&format!("device:{browser_id}"));
    digest[..32].to_owned()
}

/// The client's address, the one every per-client limit and the audit log use: the peer's,
/// or, when the peer is a trusted proxy, the right-most untrusted address of the forwarded
/// header the proxies keep (`proxies::client_address`). `None` only off a real connection.
pub fn client_ip(parts: &Parts, edge: &super::EdgeSettings) -> Option<IpAddr> {
    let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
    let values = parts
        .headers
        .get_all(edge.forwarded_header.name())
        .iter()
        .filter_map(|v| v.to_str().ok());
    Some(crate::proxies::client_address(
        peer.ip(),
        &edge.trusted_proxies,
        edge.forwarded_header,
        values,
    ))
}

/// The user behind `Authorization: Bearer <jwt>`: a valid token of a live session and an active
/// user, or a 401.
pub struct SessionUser {
    pub claims: crate::crypto::Claims,
    pub user: crate::domain::User,
    /// The token's session as stored now (a re-authentication may have moved it on).
    pub session: crate::store::SessionRecord,
}

impl SessionUser {
    pub async fn from_headers(state: &AppState, headers: &HeaderMap) -> Result<Self, ApiError> {
        let token = bearer(headers).ok_or(ApiError::Empty(StatusCode::UNAUTHORIZED))?;
        match state
            .core
            .sessions
            .validate_access_token_session(&token, Instant::now())
            .await
        {
            Ok((claims, user, session)) => Ok(Self {
                claims,
                user,
                session,
            }),
            Err(crate::sessions::TokenAuthError::Invalid) => {
                Err(ApiError::Empty(StatusCode::UNAUTHORIZED))
            }
            Err(crate::sessions::TokenAuthError::Internal(e)) => Err(ApiError::Internal(e)),
        }
    }

    /// Two-factor changes need a recent login (with the second factor, when the user has one);
    /// otherwise a 403 that says so. Read from the session as stored, as the pages read it, so
    /// that a re-authentication with a key (`POST /api/webauthn/assert`) counts at once.
    pub async fn require_recent_login(
        &self,
        state: &AppState,
        now: Instant,
    ) -> Result<(), ApiError> {
        state
            .core
            .two_factor
            .check_reauthenticated(
                self.user.id,
                self.session.authenticated_at,
                &self.session.amr,
                now,
            )
            .await
            .map_err(ApiError::from)
    }
}

impl FromRequestParts<AppState> for SessionUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Self::from_headers(state, &parts.headers).await
    }
}

/// Calls that take either an API key (`Authorization: <key>`) or a user's JWT
/// (`Authorization: Bearer <jwt>`).
pub enum Caller {
    ApiKey(ApiKeyRecord),
    User(Box<SessionUser>),
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if bearer(&parts.headers).is_some() {
            return SessionUser::from_headers(state, &parts.headers)
                .await
                .map(|session| Caller::User(Box::new(session)));
        }
        ApiKeyAuth::from_request_parts(parts, state)
            .await
            .map(|ApiKeyAuth(key)| Caller::ApiKey(key))
    }
}
