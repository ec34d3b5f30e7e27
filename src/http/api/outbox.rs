//! `/dev/outbox`: the messages the development outbox "sent", so that someone trying Tessera
//! can log in with an SMS code without any account anywhere. Shown only to clients on this
//! machine (loopback), since the messages hold live codes.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::Html;
use serde::Serialize;

use crate::http::AppState;
use crate::http::error::ApiError;
use crate::verify::Destination;

const SHOWN: i64 = 50;

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutboxMessage {
    id: String,
    channel: String,
    to: String,
    body: String,
    status: String,
    insert_instant: i64,
}

async fn messages(state: &AppState, peer: SocketAddr) -> Result<Vec<OutboxMessage>, ApiError> {
    if !peer.ip().is_loopback() {
        return Err(ApiError::Empty(StatusCode::NOT_FOUND));
    }
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
            body: m.body,
            status: m.status,
            insert_instant: m.created_at.millis(),
        })
        .collect())
}

/// `GET /dev/outbox.json`: newest first.
#[utoipa::path(
    get, path = "/dev/outbox.json", tag = "system",
    responses(
        (status = 200, description = "The development outbox's latest messages, newest first (loopback clients only)", body = Vec<OutboxMessage>),
        (status = 404, description = "Not a loopback client (no body)"),
    )
)]
pub async fn json(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Result<Json<Vec<OutboxMessage>>, ApiError> {
    Ok(Json(messages(&state, peer).await?))
}

/// `GET /dev/outbox`: the same as a page.
pub async fn page(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Result<Html<String>, ApiError> {
    let messages = messages(&state, peer).await?;
    let mut rows = String::new();
    for m in &messages {
        let to = Destination::parse(&m.to)
            .map(|d| d.as_str().to_owned())
            .unwrap_or_default();
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&m.channel),
            escape(&to),
            escape(&m.body),
            escape(&m.status)
        ));
    }
    if messages.is_empty() {
        rows.push_str("<tr><td colspan=\"4\">No message yet.</td></tr>");
    }
    Ok(Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Development outbox</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\
         <body style=\"font-family: system-ui, sans-serif; margin: 2rem\"><h1>Development outbox</h1>\
         <p>Codes Tessera would have sent by SMS, call or email, newest first. Configure a real \
         sender (Twilio, SMTP, webhook) to deliver them.</p>\
         <table cellpadding=\"6\"><thead><tr><th>Channel</th><th>To</th><th>Message</th><th>Status</th></tr></thead>\
         <tbody>{rows}</tbody></table></body></html>"
    )))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
