//! `/api/two-factor/status`: whether a user's next login would be asked for a second factor,
//! given a trusted-computer id.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::clock::Instant;
use crate::domain::UserId;
use crate::http::AppState;
use crate::http::api::ids::parse_user_id;
use crate::http::api::views::TWO_FACTOR_REQUIRED;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiKeyAuth, ApiQuery};
use crate::store::TrustRecord;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    user_id: Option<String>,
    #[allow(dead_code)]
    application_id: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusBody {
    user_id: String,
    two_factor_trust_id: Option<String>,
    #[allow(dead_code)]
    application_id: Option<String>,
    action: Option<String>,
    #[allow(dead_code)]
    access_token: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusResponse {
    trusts: Vec<TrustRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    two_factor_trust_id: Option<String>,
}

/// Would this user be challenged now, given this trust id? 200 no, 242 yes.
async fn status(
    state: &AppState,
    user: UserId,
    trust_token: Option<String>,
) -> Result<Response, ApiError> {
    let status = state
        .core
        .two_factor
        .two_factor_status(user, trust_token.as_deref(), Instant::now())
        .await?;
    let body = Json(StatusResponse {
        trusts: status.trusted_computer.into_iter().collect(),
        two_factor_trust_id: trust_token,
    });
    Ok(if status.second_factor_due {
        (
            StatusCode::from_u16(TWO_FACTOR_REQUIRED).unwrap_or(StatusCode::ACCEPTED),
            body,
        )
            .into_response()
    } else {
        (StatusCode::OK, body).into_response()
    })
}

/// `GET /api/two-factor/status/{twoFactorTrustId}?userId=` with an API key.
#[utoipa::path(
    get, path = "/api/two-factor/status/{twoFactorTrustId}", tag = "two-factor",
    security(("apiKey" = [])),
    params(("twoFactorTrustId" = String, Path, description = "From an earlier two-factor login"), StatusQuery),
    responses(
        (status = 200, description = "No second factor is due for this user and trust id", body = StatusResponse),
        (status = 242, description = "A second factor is due", body = StatusResponse),
        (status = 404, description = "No such user (no body)"),
    )
)]
pub async fn status_get(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
    Path(trust_id): Path<String>,
    ApiQuery(query): ApiQuery<StatusQuery>,
) -> Result<Response, ApiError> {
    let user = query
        .user_id
        .as_deref()
        .ok_or_else(|| {
            ApiError::field(
                "userId",
                "[blank]",
                "give the userId the trust id belongs to",
            )
        })
        .and_then(parse_user_id)?;
    status(&state, user, Some(trust_id)).await
}

/// `POST /api/two-factor/status` with an API key.
#[utoipa::path(
    post, path = "/api/two-factor/status", tag = "two-factor",
    security(("apiKey" = [])),
    request_body = StatusBody,
    responses(
        (status = 200, description = "No second factor is due for this user and trust id", body = StatusResponse),
        (status = 242, description = "A second factor is due", body = StatusResponse),
        (status = 404, description = "No such user (no body)"),
    )
)]
pub async fn status_post(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
    ApiJson(body): ApiJson<StatusBody>,
) -> Result<Response, ApiError> {
    let user = parse_user_id(&body.user_id)?;
    if let Some(action) = &body.action
        && !matches!(action.as_str(), "login" | "changePassword" | "stepUp")
    {
        return Err(ApiError::field(
            "action",
            "[invalid]",
            "action is login, changePassword or stepUp",
        ));
    }
    status(&state, user, body.two_factor_trust_id).await
}
