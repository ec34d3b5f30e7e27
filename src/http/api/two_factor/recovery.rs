//! New recovery codes for a user: the old set stops working.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;

use crate::audit::Actor;
use crate::clock::Instant;
use crate::http::AppState;
use crate::http::api::ids::parse_user_id;
use crate::http::error::ApiError;
use crate::http::extract::{ApiKeyAuth, RequestOrigin, SessionUser};

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryCodesResponse {
    recovery_codes: Vec<String>,
}

/// `POST /api/user/two-factor/recovery-code/{userId}` with an API key: a new set replaces the old.
#[utoipa::path(
    post, path = "/api/user/two-factor/recovery-code/{userId}", tag = "two-factor",
    security(("apiKey" = [])),
    params(("userId" = String, Path, pattern = "^[0-9a-f-]{36}$", description = "The user's id (a UUID)")),
    responses(
        (status = 200, description = "New recovery codes (shown once); the old ones are void", body = RecoveryCodesResponse),
        (status = 403, description = "Refused (no recent login, or no method to recover)", body = crate::http::error::Errors),
        (status = 404, description = "No such user (no body)"),
    )
)]
pub async fn regenerate_for_user(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(user_id): Path<String>,
) -> Result<Json<RecoveryCodesResponse>, ApiError> {
    let user = parse_user_id(&user_id)?;
    let recovery_codes = state
        .core
        .two_factor
        .regenerate_recovery_codes(user, Actor::ApiKey(key.id), &origin, Instant::now())
        .await?;
    Ok(Json(RecoveryCodesResponse { recovery_codes }))
}

/// `POST /api/user/two-factor/recovery-code` as the user, after a recent login.
#[utoipa::path(
    post, path = "/api/user/two-factor/recovery-code", tag = "two-factor",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "New recovery codes (shown once); the old ones are void", body = RecoveryCodesResponse),
        (status = 403, description = "Refused (no recent login, or no method to recover)", body = crate::http::error::Errors),
        (status = 404, description = "No such user (no body)"),
    )
)]
pub async fn regenerate_self(
    State(state): State<AppState>,
    session: SessionUser,
    RequestOrigin(origin): RequestOrigin,
) -> Result<Json<RecoveryCodesResponse>, ApiError> {
    let now = Instant::now();
    session.require_recent_login(&state, now).await?;
    let recovery_codes = state
        .core
        .two_factor
        .regenerate_recovery_codes(session.user.id, Actor::User(session.user.id), &origin, now)
        .await?;
    Ok(Json(RecoveryCodesResponse { recovery_codes }))
}
