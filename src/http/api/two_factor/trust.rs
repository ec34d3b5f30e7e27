//! Trusted computers: the ones a user's logins skip the second factor on, listed and forgotten.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::audit::{Actor, Origin};
use crate::clock::Instant;
use crate::domain::UserId;
use crate::http::AppState;
use crate::http::api::ids::parse_user_id;
use crate::http::error::ApiError;
use crate::http::extract::{ApiKeyAuth, ApiQuery, RequestOrigin, SessionUser};
use crate::store::TrustRecord;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TrustsResponse {
    trusts: Vec<TrustRecord>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrustQuery {
    trust_id: Option<String>,
}

/// `GET /api/user/two-factor/trust`: the caller's trusted computers.
#[utoipa::path(
    get, path = "/api/user/two-factor/trust", tag = "two-factor",
    security(("bearer" = [])),
    responses((status = 200, description = "The computers the user trusts", body = TrustsResponse))
)]
pub async fn trusts_self(
    State(state): State<AppState>,
    session: SessionUser,
) -> Result<Json<TrustsResponse>, ApiError> {
    let trusts = state
        .core
        .two_factor
        .trusted_computers(session.user.id, Instant::now())
        .await?;
    Ok(Json(TrustsResponse { trusts }))
}

/// `DELETE /api/user/two-factor/trust[?trustId=]`: forget one or all of the caller's computers.
#[utoipa::path(
    delete, path = "/api/user/two-factor/trust", tag = "two-factor",
    security(("bearer" = [])),
    params(TrustQuery),
    responses(
        (status = 200, description = "Trust is revoked (no body)"),
        (status = 404, description = "No such trusted computer (no body)"),
    )
)]
pub async fn revoke_trusts_self(
    State(state): State<AppState>,
    session: SessionUser,
    RequestOrigin(origin): RequestOrigin,
    ApiQuery(query): ApiQuery<TrustQuery>,
) -> Result<StatusCode, ApiError> {
    revoke(
        &state,
        session.user.id,
        query.trust_id,
        Actor::User(session.user.id),
        &origin,
    )
    .await
}

/// `GET /api/user/two-factor/trust/{userId}` with an API key.
#[utoipa::path(
    get, path = "/api/user/two-factor/trust/{userId}", tag = "two-factor",
    security(("apiKey" = [])),
    params(("userId" = String, Path, pattern = "^[0-9a-f-]{36}$", description = "The user's id (a UUID)")),
    responses(
        (status = 200, description = "The computers the user trusts", body = TrustsResponse),
        (status = 404, description = "No such user (no body)"),
    )
)]
pub async fn trusts_for_user(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
    Path(user_id): Path<String>,
) -> Result<Json<TrustsResponse>, ApiError> {
    let user = parse_user_id(&user_id)?;
    let trusts = state
        .core
        .two_factor
        .trusted_computers(user, Instant::now())
        .await?;
    Ok(Json(TrustsResponse { trusts }))
}

/// `DELETE /api/user/two-factor/trust/{userId}[?trustId=]` with an API key.
#[utoipa::path(
    delete, path = "/api/user/two-factor/trust/{userId}", tag = "two-factor",
    security(("apiKey" = [])),
    params(("userId" = String, Path, pattern = "^[0-9a-f-]{36}$", description = "The user's id (a UUID)"), TrustQuery),
    responses(
        (status = 200, description = "Trust is revoked (no body)"),
        (status = 404, description = "No such trusted computer (no body)"),
    )
)]
pub async fn revoke_trusts_for_user(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(user_id): Path<String>,
    ApiQuery(query): ApiQuery<TrustQuery>,
) -> Result<StatusCode, ApiError> {
    let user = parse_user_id(&user_id)?;
    revoke(&state, user, query.trust_id, Actor::ApiKey(key.id), &origin).await
}

async fn revoke(
    state: &AppState,
    user: UserId,
    trust_id: Option<String>,
    actor: Actor,
    origin: &Origin,
) -> Result<StatusCode, ApiError> {
    if let Some(id) = &trust_id
        && (id.is_empty() || id.len() > 64)
    {
        return Err(ApiError::field("trustId", "[invalid]", "not a trust id"));
    }
    let revoked = state
        .core
        .two_factor
        .revoke_trusted_computers(user, trust_id.as_deref(), actor, origin, Instant::now())
        .await?;
    if trust_id.is_some() && revoked == 0 {
        return Err(ApiError::Empty(StatusCode::NOT_FOUND));
    }
    Ok(StatusCode::OK)
}
