//! Administration through the API (with an API key): user search, a reset of the second factor,
//! the phone number set on a user's behalf, unlock, sessions ended, the audit log as CSV.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::audit_log::{AuditQuery, filter_of};
use super::ids::parse_user_id;
use super::views::{UserResponse, UserView};
use crate::audit::Actor;
use crate::clock::Instant;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiKeyAuth, ApiQuery, OptionalApiJson, RequestOrigin};

const MAX_PAGE: i64 = 500;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// A prefix of the username or email; empty lists everyone.
    query_string: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchResponse {
    users: Vec<UserView>,
    total: i64,
}

/// `GET /api/user/search?queryString=&limit=&offset=`: users by username or email prefix.
#[utoipa::path(
    get, path = "/api/user/search", tag = "users",
    security(("apiKey" = [])),
    params(SearchQuery),
    responses((status = 200, description = "One page of users and the total", body = SearchResponse))
)]
pub async fn search(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Json<SearchResponse>, ApiError> {
    let limit = query.limit.unwrap_or(25);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::field(
            "limit",
            "[invalid]",
            format!("limit must be between 1 and {MAX_PAGE}"),
        ));
    }
    let offset = query.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::field(
            "offset",
            "[invalid]",
            "offset cannot be negative",
        ));
    }
    let prefix = query.query_string.unwrap_or_default();
    if prefix.chars().count() > 254 {
        return Err(ApiError::field(
            "queryString",
            "[tooLong]",
            "at most 254 characters",
        ));
    }
    let (users, total) = state
        .core
        .admin
        .search_users(&prefix, limit, offset)
        .await?;
    Ok(Json(SearchResponse {
        users: users
            .iter()
            .map(|u| UserView::with_methods(u, &[]))
            .collect(),
        total,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReasonBody {
    reason: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CountResponse {
    pub(crate) count: u64,
}

/// `POST /api/system/users/{userId}/reset-two-factor` `{reason}`.
#[utoipa::path(
    post, path = "/api/system/users/{userId}/reset-two-factor", tag = "administration",
    security(("apiKey" = [])),
    params(("userId" = String, Path, pattern = "^[0-9a-f-]{36}$", description = "The user's id (a UUID)")),
    request_body = ReasonBody,
    responses(
        (status = 200, description = "Every method, security key, passkey, recovery code and trusted computer of the user is removed; `count` methods and `keys` keys", body = ResetResponse),
        (status = 404, description = "No such user (no body)"),
    )
)]
pub async fn reset_two_factor(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> Result<Json<ResetResponse>, ApiError> {
    let user = parse_user_id(&user_id)?;
    let removed = state
        .core
        .admin
        .reset_two_factor(
            user,
            &body.reason,
            Actor::ApiKey(key.id),
            &origin,
            Instant::now(),
        )
        .await?;
    Ok(Json(ResetResponse {
        count: removed.methods,
        keys: removed.keys,
    }))
}

/// What a two-factor reset removed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResetResponse {
    /// Methods (authenticators, phones, email addresses).
    count: u64,
    /// Security keys and passkeys.
    keys: u64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PhoneBody {
    mobile_phone: Option<String>,
    reason: String,
}

/// `PUT /api/system/users/{userId}/phone` `{mobilePhone, reason}`: the phone number, set on
/// the user's behalf in the profile and in every phone method (null removes it and the phone
/// methods). It is verified where a phone method holds it; a user without one keeps it in the
/// profile alone (`mobilePhone`), not verified, as the console's user page says.
#[utoipa::path(
    put, path = "/api/system/users/{userId}/phone", tag = "administration",
    security(("apiKey" = [])),
    params(("userId" = String, Path, pattern = "^[0-9a-f-]{36}$", description = "The user's id (a UUID)")),
    request_body = PhoneBody,
    responses(
        (status = 200, description = "The user with the new number, in `mobilePhone` and in the phone methods' `mobilePhone`", body = UserResponse),
        (status = 404, description = "No such user (no body)"),
    )
)]
pub async fn set_phone(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<PhoneBody>,
) -> Result<Json<UserResponse>, ApiError> {
    let user = parse_user_id(&user_id)?;
    let updated = state
        .core
        .admin
        .set_verified_phone(
            user,
            body.mobile_phone.as_deref(),
            &body.reason,
            Actor::ApiKey(key.id),
            &origin,
            Instant::now(),
        )
        .await?;
    UserResponse::of(&state, &updated).await
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OptionalReason {
    #[allow(dead_code)]
    reason: Option<String>,
}

/// `POST /api/system/users/{userId}/unlock`: new challenges open at once again.
#[utoipa::path(
    post, path = "/api/system/users/{userId}/unlock", tag = "administration",
    security(("apiKey" = [])),
    params(("userId" = String, Path, pattern = "^[0-9a-f-]{36}$", description = "The user's id (a UUID)")),
    request_body(content = Option<OptionalReason>, description = "Optional: why"),
    responses(
        (status = 200, description = "The user's recent second-factor failures are forgotten; `count` of them", body = CountResponse),
        (status = 404, description = "No such user (no body)"),
    )
)]
pub async fn unlock(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(user_id): Path<String>,
    OptionalApiJson(_body): OptionalApiJson<OptionalReason>,
) -> Result<Json<CountResponse>, ApiError> {
    let user = parse_user_id(&user_id)?;
    let count = state
        .core
        .admin
        .unlock(user, Actor::ApiKey(key.id), &origin, Instant::now())
        .await?;
    Ok(Json(CountResponse { count }))
}

/// `POST /api/system/users/{userId}/revoke-sessions`.
#[utoipa::path(
    post, path = "/api/system/users/{userId}/revoke-sessions", tag = "administration",
    security(("apiKey" = [])),
    params(("userId" = String, Path, pattern = "^[0-9a-f-]{36}$", description = "The user's id (a UUID)")),
    request_body(content = Option<OptionalReason>, description = "Optional: why"),
    responses(
        (status = 200, description = "Every session of the user is ended; `count` of them", body = CountResponse),
        (status = 404, description = "No such user (no body)"),
    )
)]
pub async fn revoke_sessions(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(user_id): Path<String>,
    OptionalApiJson(_body): OptionalApiJson<OptionalReason>,
) -> Result<Json<CountResponse>, ApiError> {
    let user = parse_user_id(&user_id)?;
    let count = state
        .core
        .admin
        .revoke_sessions(user, Actor::ApiKey(key.id), &origin, Instant::now())
        .await?;
    Ok(Json(CountResponse { count }))
}

/// `GET /api/system/audit-log/export`: the same filters as the search, as CSV.
#[utoipa::path(
    get, path = "/api/system/audit-log/export", tag = "administration",
    security(("apiKey" = [])),
    params(AuditQuery),
    responses((status = 200, description = "The events as CSV", content_type = "text/csv", body = String))
)]
pub async fn export_audit_log(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let filter = filter_of(query, 100_000)?;
    let csv = state.core.admin.audit_log_csv(None, &filter).await?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit-log.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}

/// The largest import body: about 200,000 users of CSV.
pub const IMPORT_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// `POST /api/user/import`: JSON (`{"users": [...]}`) or CSV (`Content-Type: text/csv`). All
/// rows or none; 400 lists each refused row with its line.
#[utoipa::path(
    post, path = "/api/user/import", tag = "users",
    security(("apiKey" = [])),
    request_body(content(
        (Object = "application/json"),
        (String = "text/csv"),
    ), description = "Users as JSON (`{\"users\": [...]}`) or CSV with a header row; all rows or none"),
    responses(
        (status = 200, description = "How many users were created and how many were already there", body = crate::import::ImportReport),
    )
)]
pub async fn import(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<crate::import::ImportReport>, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let format = match content_type.as_str() {
        "application/json" => crate::import::Format::Json,
        "text/csv" => crate::import::Format::Csv,
        _ => {
            return Err(ApiError::general(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "[invalidContentType]",
                "send the users as application/json or text/csv",
            ));
        }
    };
    let text = std::str::from_utf8(&body).map_err(|_| {
        ApiError::general(
            StatusCode::BAD_REQUEST,
            "[invalidBody]",
            "the body is not UTF-8 text",
        )
    })?;
    match state
        .core
        .import
        .import_users(format, text, Actor::ApiKey(key.id), &origin, Instant::now())
        .await
    {
        Ok(report) => Ok(Json(report)),
        Err(crate::import::ImportError::Rows(rows)) => {
            let errors = crate::http::error::Errors {
                general_errors: rows
                    .iter()
                    .take(1000)
                    .map(|r| crate::http::error::ErrorMessage {
                        code: format!("[invalidRow]{}", r.line),
                        message: format!("line {}: {}", r.line, r.message),
                    })
                    .collect(),
                ..Default::default()
            };
            Err(ApiError::Rows(errors))
        }
        Err(crate::import::ImportError::Internal(e)) => Err(ApiError::Internal(e)),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    format: Option<String>,
}

/// `GET /api/user/export?format=json|csv`: every user, no secrets, in the import's shape.
#[utoipa::path(
    get, path = "/api/user/export", tag = "users",
    security(("apiKey" = [])),
    params(ExportQuery),
    responses((status = 200, description = "Every user (no secret), in the import's shape", content(
        (Object = "application/json"),
        (String = "text/csv"),
    )))
)]
pub async fn export(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let (format, content_type) = match query.format.as_deref().unwrap_or("json") {
        "json" => (crate::import::Format::Json, "application/json"),
        "csv" => (crate::import::Format::Csv, "text/csv; charset=utf-8"),
        _ => {
            return Err(ApiError::field(
                "format",
                "[invalid]",
                "format is json or csv",
            ));
        }
    };
    let body = state
        .core
        .import
        .export_users(format)
        .await
        .map_err(ApiError::Internal)?;
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}
