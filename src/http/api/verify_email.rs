//! Email verification, in FusionAuth's shapes: `PUT /api/user/verify-email` sends a new link
//! (or makes one for an application that sends its own email), and
//! `POST /api/user/verify-email/{verificationId}` (or the newer `POST /api/user/verify-email`
//! with `{verificationId}`) verifies the address the link was sent to.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use crate::addresses::EMAIL_FIELD;
use crate::audit::Actor;
use crate::clock::Instant;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiKeyAuth, ApiQuery, OptionalApiJson, RequestOrigin};

/// The resend's parameters, in the query (FusionAuth's `?email=`) or the body.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResendRequest {
    /// The user's email address in force.
    email: Option<String>,
    /// `false`: send nothing, answer with the `verificationId` for the application to send.
    send_verify_email: Option<bool>,
    /// Accepted for FusionAuth's clients; one server has one set of emails.
    #[allow(dead_code)]
    application_id: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResendResponse {
    /// Only to `sendVerifyEmail: false`: the secret of the new link, valid 24 hours.
    #[serde(skip_serializing_if = "Option::is_none")]
    verification_id: Option<String>,
}

/// `PUT /api/user/verify-email?email=…`: a new link to the address awaiting verification of the
/// user whose address in force is `email` (their new address, when they asked to change it).
#[utoipa::path(
    put, path = "/api/user/verify-email", tag = "users",
    security(("apiKey" = [])),
    params(ResendRequest),
    request_body(content = ResendRequest, description = "Optional: the same fields as the query, when they are not in it"),
    responses(
        (status = 200, description = "A link valid for 24 hours is on its way; with `sendVerifyEmail: false`, its `verificationId` instead", body = ResendResponse),
        (status = 400, description = "`email` is missing, malformed or given twice differently; or the address is verified already (`[verified]email`)", body = crate::http::error::Errors),
        (status = 404, description = "No user has this address in force (no body)"),
        (status = 429, description = "A send budget is full: the link was made but not sent", body = crate::http::error::Errors),
    )
)]
pub async fn resend(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    ApiQuery(query): ApiQuery<ResendRequest>,
    OptionalApiJson(body): OptionalApiJson<ResendRequest>,
) -> Result<Json<ResendResponse>, ApiError> {
    let email = one_of(EMAIL_FIELD, query.email, body.email)?.ok_or_else(|| {
        ApiError::field(
            EMAIL_FIELD,
            "[blank]",
            "give the user's email address, as ?email= or in the body",
        )
    })?;
    let send = one_of(
        "sendVerifyEmail",
        query.send_verify_email,
        body.send_verify_email,
    )?
    .unwrap_or(true);
    let issued = state
        .core
        .addresses
        .resend_by_address(&email, send, Actor::ApiKey(key.id), &origin, Instant::now())
        .await?;
    Ok(Json(ResendResponse {
        verification_id: issued.map(|issued| issued.id.expose().to_owned()),
    }))
}

/// A parameter the query or the body may carry: either, or both when they agree.
fn one_of<T: PartialEq>(
    field: &str,
    query: Option<T>,
    body: Option<T>,
) -> Result<Option<T>, ApiError> {
    match (query, body) {
        (Some(query), Some(body)) if query != body => Err(ApiError::field(
            field,
            "[invalid]",
            "given in the query and the body with different values: give it once",
        )),
        (query, body) => Ok(query.or(body)),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyRequest {
    /// The secret of the link.
    verification_id: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VerifyResponse {}

/// `POST /api/user/verify-email/{verificationId}`: verifies the address the link was sent to.
/// A person's new address replaces the old one now.
#[utoipa::path(
    post, path = "/api/user/verify-email/{verificationId}", tag = "users",
    params(("verificationId" = String, Path, description = "The secret of the link")),
    responses(
        (status = 200, description = "The address is verified: a login id, and where reset links go", body = VerifyResponse),
        (status = 400, description = "`verificationId` malformed", body = crate::http::error::Errors),
        (status = 404, description = "The link is unknown, used, expired, its address verified already, or no longer the one awaiting verification", body = crate::http::error::Errors),
        (status = 409, description = "Another account uses the address now: nothing was changed", body = crate::http::error::Errors),
    )
)]
pub async fn verify(
    State(state): State<AppState>,
    Path(verification_id): Path<String>,
    RequestOrigin(origin): RequestOrigin,
) -> Result<Json<VerifyResponse>, ApiError> {
    state
        .core
        .addresses
        .verify_email(&verification_id, &origin, Instant::now())
        .await?;
    Ok(Json(VerifyResponse {}))
}

/// `POST /api/user/verify-email` with `{verificationId}`: FusionAuth's newer shape of the same.
#[utoipa::path(
    post, path = "/api/user/verify-email", tag = "users",
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "The address is verified: a login id, and where reset links go", body = VerifyResponse),
        (status = 400, description = "`verificationId` missing or malformed", body = crate::http::error::Errors),
        (status = 404, description = "The link is unknown, used, expired, its address verified already, or no longer the one awaiting verification", body = crate::http::error::Errors),
        (status = 409, description = "Another account uses the address now: nothing was changed", body = crate::http::error::Errors),
    )
)]
pub async fn verify_by_body(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<VerifyRequest>,
) -> Result<Json<VerifyResponse>, ApiError> {
    state
        .core
        .addresses
        .verify_email(&body.verification_id, &origin, Instant::now())
        .await?;
    Ok(Json(VerifyResponse {}))
}
