use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use super::views::TokenResponse;
use crate::clock::Instant;
use crate::crypto::Claims;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, BearerToken, OptionalApiJson, RequestOrigin, bearer};
use crate::sessions::TokenAuthError;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ValidateResponse {
    jwt: Claims,
}

/// `GET /api/jwt/validate` with `Authorization: Bearer <token>`: 200 with the claims while the
/// token is signed, unexpired and its session stands; 401 otherwise.
#[utoipa::path(
    get, path = "/api/jwt/validate", tag = "login",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The token is signed, unexpired and its session stands", body = ValidateResponse),
    )
)]
pub async fn validate(
    State(state): State<AppState>,
    BearerToken(token): BearerToken,
) -> Result<Json<ValidateResponse>, ApiError> {
    match state
        .core
        .sessions
        .validate_access_token(&token, Instant::now())
        .await
    {
        Ok((claims, _user)) => Ok(Json(ValidateResponse { jwt: claims })),
        Err(TokenAuthError::Invalid) => Err(ApiError::Empty(StatusCode::UNAUTHORIZED)),
        Err(TokenAuthError::Internal(e)) => Err(ApiError::Internal(e)),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshBody {
    refresh_token: String,
    /// The expired access token; accepted for FusionAuth clients, not needed.
    #[allow(dead_code)]
    token: Option<String>,
}

/// `POST /api/jwt/refresh`: a new access token and a new refresh token; the old refresh token is
/// spent. An unknown, spent or revoked refresh token, or a web session's cookie, answers 404; a
/// spent one also ends its session.
#[utoipa::path(
    post, path = "/api/jwt/refresh", tag = "login",
    request_body = RefreshBody,
    responses(
        (status = 200, description = "A new access token and refresh token; the old refresh token is spent", body = TokenResponse),
        (status = 404, description = "The refresh token is unknown, spent or revoked, or a web session's (no body); a spent one that comes back ends its session and every token of it"),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Json<TokenResponse>, ApiError> {
    match state
        .core
        .sessions
        .refresh(&body.refresh_token, &origin, Instant::now())
        .await
    {
        Ok((_user, tokens)) => Ok(Json(TokenResponse::new(tokens, None))),
        Err(TokenAuthError::Invalid) => Err(ApiError::Empty(StatusCode::NOT_FOUND)),
        Err(TokenAuthError::Internal(e)) => Err(ApiError::Internal(e)),
    }
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogoutBody {
    refresh_token: Option<String>,
    #[serde(default)]
    global: bool,
}

/// `POST /api/logout`: ends the session named by the refresh token in the body or by the access
/// token in `Authorization: Bearer`; `global` ends all of that user's sessions.
#[utoipa::path(
    post, path = "/api/logout", tag = "login",
    security((), ("bearer" = [])),
    request_body(content = Option<LogoutBody>, description = "Optional: the refresh token of the session to end; `global` ends every session of the user"),
    responses(
        (status = 200, description = "The session is ended (no body)"),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    OptionalApiJson(body): OptionalApiJson<LogoutBody>,
) -> Result<StatusCode, ApiError> {
    let now = Instant::now();
    let session_id = match bearer(&headers) {
        Some(token) => match state.core.sessions.session_id_of(&token, now) {
            Some(session_id) => Some(session_id),
            None => return Err(ApiError::Empty(StatusCode::UNAUTHORIZED)),
        },
        None => None,
    };
    if session_id.is_none() && body.refresh_token.is_none() {
        return Err(ApiError::field(
            "refreshToken",
            "[blank]",
            "give the refresh token in the body or the access token as Authorization: Bearer",
        ));
    }
    state
        .core
        .sessions
        .logout(
            body.refresh_token.as_deref(),
            session_id.as_deref(),
            body.global,
            &origin,
            now,
        )
        .await
        .map_err(ApiError::Internal)?;
    Ok(StatusCode::OK)
}
