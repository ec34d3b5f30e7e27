use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use crate::http::AppState;
use crate::http::extract::MetricsReader;
use crate::telemetry;

/// 200 when the database answers, 503 when it does not.
#[utoipa::path(
    get, path = "/health", tag = "system",
    responses(
        (status = 200, description = "The server and its database answer", body = Object),
        (status = 503, description = "The database does not answer", body = Object),
    )
)]
pub async fn health(State(state): State<AppState>) -> impl IntoResponse {
    match state.core.health().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({"status": "ok", "database": "ok"})),
        ),
        Err(error) => {
            tracing::warn!(%error, "health check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "database": "unavailable"})),
            )
        }
    }
}

/// The Prometheus text, to the holder of an API key unless `metrics.public` is on; a
/// loopback listener of its own (`metrics.listen`) serves it without a key.
#[utoipa::path(
    get, path = "/metrics", tag = "system",
    security((), ("apiKey" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus metrics", content_type = "text/plain", body = String),
        (status = 401, description = "No live API key (as `Authorization: <key>` or `Authorization: Bearer <key>`), and metrics.public is off (no body)"),
    )
)]
pub async fn metrics(_reader: MetricsReader) -> impl IntoResponse {
    render_metrics().await
}

/// The metrics, to whoever reached the handler.
pub async fn render_metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        telemetry::metrics_handle().render(),
    )
}
