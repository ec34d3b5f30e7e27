use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::audit::{AuditFilter, EventKind, StoredEvent};
use crate::clock::Instant;
use crate::domain::UserId;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiKeyAuth, ApiQuery};

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    user_id: Option<String>,
    event: Option<String>,
    /// Epoch milliseconds, inclusive.
    start: Option<i64>,
    /// Epoch milliseconds, exclusive.
    end: Option<i64>,
    limit: Option<i64>,
    offset: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditResponse {
    audit_logs: Vec<StoredEvent>,
}

/// `GET /api/system/audit-log`: newest first, filtered by user, event and time.
#[utoipa::path(
    get, path = "/api/system/audit-log", tag = "administration",
    security(("apiKey" = [])),
    params(AuditQuery),
    responses((status = 200, description = "Events, newest first", body = AuditResponse))
)]
pub async fn search(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditResponse>, ApiError> {
    let filter = filter_of(query, MAX_LIMIT)?;
    let audit_logs = state.core.admin.audit_log(&filter).await?;
    Ok(Json(AuditResponse { audit_logs }))
}

/// The query's filter, checked; `max_limit` bounds one answer.
pub fn filter_of(query: AuditQuery, max_limit: i64) -> Result<AuditFilter, ApiError> {
    let target = query
        .user_id
        .map(|raw| {
            UserId::parse(&raw)
                .map(|id| id.to_string())
                .map_err(|e| ApiError::field("userId", e.code, e.message))
        })
        .transpose()?;
    let kind = query
        .event
        .map(|name| {
            EventKind::parse(&name).ok_or_else(|| {
                let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
                ApiError::field(
                    "event",
                    "[invalid]",
                    format!("unknown event {name:?}; events are {}", known.join(", ")),
                )
            })
        })
        .transpose()?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT.min(max_limit));
    if !(1..=max_limit).contains(&limit) {
        return Err(ApiError::field(
            "limit",
            "[invalid]",
            format!("limit must be between 1 and {max_limit}"),
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
    Ok(AuditFilter {
        target,
        kind,
        since: query.start.map(Instant::from_millis),
        until: query.end.map(Instant::from_millis),
        limit,
        offset,
    })
}
