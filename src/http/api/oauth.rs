//! OpenID Connect's machine endpoints: discovery, the key set, the token endpoint (a form in,
//! JSON out, errors as RFC 6749 §5.2 names them) and userinfo (a bearer access token).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::clock::Instant;
use crate::http::AppState;
use crate::http::extract::{RequestOrigin, bearer};
use crate::oidc::{ClientAuth, TokenError, TokenRequest, UserInfo, discovery};

/// OpenID Connect's endpoints for machines; discovery documents them (not the OpenAPI document,
/// which is the JSON API's).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(configuration))
        .route("/oauth2/jwks", get(jwks))
        .route("/oauth2/token", post(token))
        .route("/oauth2/userinfo", get(userinfo).post(userinfo))
        .route("/oauth2/revoke", post(revoke))
        .route("/oauth2/introspect", post(introspect))
}

/// The token a revocation or an introspection is about.
#[derive(serde::Deserialize)]
struct AboutToken {
    token: Option<String>,
}

/// The client's credentials and the token of a revocation or introspection form; refused when
/// the form does not read or names no token.
fn token_form(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(TokenRequest, ClientAuth, String), TokenError> {
    let (Ok(request), Ok(about)) = (
        serde_urlencoded::from_bytes::<TokenRequest>(body),
        serde_urlencoded::from_bytes::<AboutToken>(body),
    ) else {
        return Err(TokenError::InvalidRequest(
            "the body is not a form (application/x-www-form-urlencoded)".into(),
        ));
    };
    let Some(token) = about
        .token
        .filter(|t| !t.is_empty() && t.len() <= 16 * 1024)
    else {
        return Err(TokenError::InvalidRequest("token is required".into()));
    };
    match basic_credentials(headers) {
        Ok(basic) => Ok((request, ClientAuth { basic }, token)),
        Err(()) => Err(TokenError::InvalidClient { basic: true }),
    }
}

/// `POST /oauth2/revoke` (RFC 7009): 200 whether or not the token was known.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    body: Bytes,
) -> Response {
    let (request, auth, token) = match token_form(&headers, &body) {
        Ok(form) => form,
        Err(error) => return token_error(&error),
    };
    match state
        .core
        .oidc
        .revoke(&request, &auth, &token, &origin, Instant::now())
        .await
    {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(error) => token_error(&error),
    }
}

/// `POST /oauth2/introspect` (RFC 7662).
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (request, auth, token) = match token_form(&headers, &body) {
        Ok(form) => form,
        Err(error) => return token_error(&error),
    };
    match state
        .core
        .oidc
        .introspect(&request, &auth, &token, Instant::now())
        .await
    {
        Ok(answer) => no_store(Json(answer).into_response()),
        Err(error) => token_error(&error),
    }
}

/// `GET /.well-known/openid-configuration`.
pub async fn configuration(State(state): State<AppState>) -> Response {
    Json(discovery(state.core.oidc.issuer())).into_response()
}

/// `GET /oauth2/jwks`: the public keys tokens are signed with.
pub async fn jwks(State(state): State<AppState>) -> Response {
    match state.core.oidc.jwks().await {
        Ok(keys) => Json(keys).into_response(),
        Err(error) => server_error(&error),
    }
}

/// `POST /oauth2/token`.
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    body: Bytes,
) -> Response {
    let Ok(request) = serde_urlencoded::from_bytes::<TokenRequest>(&body) else {
        return token_error(&TokenError::InvalidRequest(
            "the body is not a form (application/x-www-form-urlencoded)".into(),
        ));
    };
    let auth = match basic_credentials(&headers) {
        Ok(basic) => ClientAuth { basic },
        Err(()) => return token_error(&TokenError::InvalidClient { basic: true }),
    };
    match state
        .core
        .oidc
        .token(&request, &auth, &origin, Instant::now())
        .await
    {
        Ok(tokens) => no_store((StatusCode::OK, Json(tokens)).into_response()),
        Err(error) => token_error(&error),
    }
}

/// `GET|POST /oauth2/userinfo` with `Authorization: Bearer <access token>`.
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else {
        return invalid_token();
    };
    match state.core.oidc.userinfo(&token, Instant::now()).await {
        Ok(claims) => no_store(Json(claims).into_response()),
        Err(UserInfo::InvalidToken) => invalid_token(),
        Err(UserInfo::Internal(error)) => server_error(&error),
    }
}

/// The id and secret of `Authorization: Basic`, each form-decoded (RFC 6749 §2.3.1); `Err` for
/// a Basic header that does not read.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, ()> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| ())?;
    let text = String::from_utf8(decoded).map_err(|_| ())?;
    let (id, secret) = text.split_once(':').ok_or(())?;
    let form_decode = |part: &str| {
        form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((form_decode(id), form_decode(secret))))
}

fn token_error(error: &TokenError) -> Response {
    let status = match error {
        TokenError::InvalidClient { .. } => StatusCode::UNAUTHORIZED,
        TokenError::Internal(inner) => return server_error(inner),
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response = (
        status,
        Json(json!({"error": error.code(), "error_description": error.to_string()})),
    )
        .into_response();
    if let TokenError::InvalidClient { basic: true } = error {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"tessera\""),
        );
    }
    no_store(response)
}

fn invalid_token() -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": "invalid_token"})),
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    response
}

fn server_error(error: &dyn std::fmt::Display) -> Response {
    tracing::error!(%error, "OpenID Connect endpoint failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"error": "server_error"})),
    )
        .into_response()
}

/// Tokens are never cached (RFC 6749 §5.1).
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded_and_a_broken_header_is_refused() {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode("my%20app:s3cr%3Aet");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).unwrap(),
        );
        assert_eq!(
            basic_credentials(&headers),
            Ok(Some(("my app".into(), "s3cr:et".into())))
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(basic_credentials(&headers), Err(()));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert_eq!(basic_credentials(&headers), Ok(None));
    }
}
