//! `/dev/outbox.json`: the messages the development outbox "sent", so that someone trying
//! Tessera can log in with an SMS code without any account anywhere. The messages hold live
//! codes: they are shown to an administrator (an API key, or an administrator's access token)
//! unless `delivery.outbox_public` opens them to anyone. The page is `web::admin::outbox`.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::Serialize;

use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::Caller;

const SHOWN: i64 = 50;

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutboxMessage {
    id: String,
    channel: String,
    to: String,
    /// A message that is not a code (a password link) has a subject of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    body: String,
    status: String,
    insert_instant: i64,
}

/// Whoever may read the outbox: anyone with `delivery.outbox_public`, else the holder of an
/// API key or an administrator's access token (401 without either, 403 for anyone else's).
pub struct OutboxReader;

impl FromRequestParts<AppState> for OutboxReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.edge.outbox_public {
            return Ok(Self);
        }
        match Caller::from_request_parts(parts, state).await? {
            Caller::ApiKey(_) => Ok(Self),
            Caller::User(session) if session.user.is_admin() => Ok(Self),
            Caller::User(_) => Err(ApiError::Empty(StatusCode::FORBIDDEN)),
        }
    }
}

async fn messages(state: &AppState) -> Result<Vec<OutboxMessage>, ApiError> {
    let stored = state
        .core
        .delivery
        .outbox_messages(SHOWN)
        .await
        .map_err(ApiError::internal)?;
    Ok(stored
        .into_iter()
        .map(|m| OutboxMessage {
            id: m.id,
            channel: m.channel,
            to: m.destination,
            subject: m.subject,
            body: m.body,
            status: m.status,
            insert_instant: m.created_at.millis(),
        })
        .collect())
}

/// `GET /dev/outbox.json`: newest first.
#[utoipa::path(
    get, path = "/dev/outbox.json", tag = "system",
    security((), ("apiKey" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The development outbox's latest messages, newest first", body = Vec<OutboxMessage>),
        (status = 401, description = "No API key or access token, and delivery.outbox_public is off (no body)"),
        (status = 403, description = "The access token is not an administrator's (no body)"),
    )
)]
pub async fn json(
    State(state): State<AppState>,
    _reader: OutboxReader,
) -> Result<Json<Vec<OutboxMessage>>, ApiError> {
    Ok(Json(messages(&state).await?))
}
