//! An administrator's one-time access code for a user who lost their second factor: issued
//! (shown once) or revoked with an API key. The person uses it at `POST /api/two-factor/login`.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use crate::audit::Actor;
use crate::clock::Instant;
use crate::http::AppState;
use crate::http::api::admin::CountResponse;
use crate::http::api::ids::parse_user_id;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiKeyAuth, RequestOrigin};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessCodeBody {
    /// Why, for the audit log: 3 to 500 characters.
    reason: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessCodeResponse {
    /// The code, shown only now: `7QKD2-M9X4T-R2H8C-W3N6P`.
    access_code: String,
    /// When it stops working (epoch milliseconds): 24 hours from now.
    expiration_instant: i64,
}

/// `POST /api/user/two-factor/access-code/{userId}` `{reason}` with an API key: a one-time
/// access code for the user, in place of any earlier one.
#[utoipa::path(
    post, path = "/api/user/two-factor/access-code/{userId}", tag = "two-factor",
    security(("apiKey" = [])),
    params(("userId" = String, Path, pattern = "^[0-9a-f-]{36}$", description = "The user's id (a UUID)")),
    request_body = AccessCodeBody,
    responses(
        (status = 200, description = "The code, shown once: it lets the user through the second step of one login within 24 hours (`POST /api/two-factor/login` with it as the `code`); an unused earlier one stops working. Audited with the reason", body = AccessCodeResponse),
        (status = 400, description = "No reason, or a reason over 500 characters (`fieldErrors.reason`); a deactivated user (`[inactive]userId`)", body = crate::http::error::Errors),
        (status = 404, description = "No such user (no body)"),
    )
)]
pub async fn issue(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<AccessCodeBody>,
) -> Result<Json<AccessCodeResponse>, ApiError> {
    let user = parse_user_id(&user_id)?;
    let issued = state
        .core
        .admin
        .issue_access_code(
            user,
            &body.reason,
            Actor::ApiKey(key.id),
            &origin,
            Instant::now(),
        )
        .await?;
    Ok(Json(AccessCodeResponse {
        access_code: issued.code.display(),
        expiration_instant: issued.expires_at.millis(),
    }))
}

/// `DELETE /api/user/two-factor/access-code/{userId}` with an API key: the user's unused
/// access code stops working.
#[utoipa::path(
    delete, path = "/api/user/two-factor/access-code/{userId}", tag = "two-factor",
    security(("apiKey" = [])),
    params(("userId" = String, Path, pattern = "^[0-9a-f-]{36}$", description = "The user's id (a UUID)")),
    responses(
        (status = 200, description = "`count`: 1 when an unused code was revoked, 0 when there was none", body = CountResponse),
        (status = 404, description = "No such user (no body)"),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(user_id): Path<String>,
) -> Result<Json<CountResponse>, ApiError> {
    let user = parse_user_id(&user_id)?;
    let count = state
        .core
        .admin
        .revoke_access_code(user, Actor::ApiKey(key.id), &origin, Instant::now())
        .await?;
    Ok(Json(CountResponse { count }))
}
