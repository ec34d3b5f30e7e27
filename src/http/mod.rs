//! The HTTP edge: thin adapters that extract a request, call one service, and render.

pub mod api;
mod api_docs;
pub mod cookies;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod serve;
pub mod verify_api;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::core::Core;

#[derive(Clone)]
pub struct AppState {
    /// Shared: axum clones the state for every request.
    pub core: Arc<Core>,
    pub web: web::WebSettings,
    pub edge: Arc<EdgeSettings>,
    /// Where clients reach this server: the `iss` of tokens, and the base of the Verify API's
    /// paging links.
    pub public_url: String,
}

/// Who the server believes, what it shows to whom, and how it reads the numbers people type,
/// from the configuration.
#[derive(Debug, Clone, Default)]
pub struct EdgeSettings {
    /// Peers whose forwarded header names the client (`extract::client_ip`).
    pub trusted_proxies: crate::proxies::TrustedProxies,
    pub forwarded_header: crate::proxies::ForwardedHeader,
    /// `/metrics` without an API key.
    pub metrics_public: bool,
    /// `/dev/outbox` without an administrator.
    pub outbox_public: bool,
    /// Where phone numbers typed without a country code are read (`default_region`).
    pub home_region: Option<crate::domain::Region>,
    /// The names of the headers forward-auth tells an application who is signed in by.
    pub forward_auth_headers: crate::config::ForwardAuthHeaders,
}

/// What the metrics-only listener (`metrics.listen`, loopback) serves: `/metrics` without a
/// key, and nothing else.
pub fn metrics_router() -> Router {
    crate::telemetry::metrics_handle();
    Router::new()
        .route("/metrics", get(api::system::render_metrics))
        .fallback(|| async { StatusCode::NOT_FOUND })
}

pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    // Install the recorder before the first request, or its counts would be dropped.
    crate::telemetry::metrics_handle();
    let request_id = HeaderName::from_static("x-request-id");
    api::routes()
        // The API's own description, made from `api::Paths`.
        .route("/api/openapi.json", get(openapi::json))
        .route("/api/docs", get(api_docs::docs))
        .merge(api::oauth::routes())
        .merge(web::routes())
        .merge(verify_api::routes())
        .merge(verify_api::totp_routes())
        .merge(verify_api::rate_limit_routes())
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(middleware::from_fn(record_metrics))
        .layer(middleware::from_fn(security_headers))
        .layer(CatchPanicLayer::new())
        .layer(middleware::from_fn(error::fill_internal_error))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                // The route template, never the path or the query: they can carry a twoFactorId,
                // a trust id or a code.
                let route = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_else(|| "unmatched".to_owned());
                tracing::info_span!("request", method = %request.method(), route = %route, request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Headers every response carries: no framing, no sniffing, no referrer, a strict
/// Content-Security-Policy (pages load only their own stylesheet and script, which may call
/// only this site: the security keys' ceremony), and no caching.
async fn security_headers(request: Request, next: Next) -> Response {
    use axum::http::HeaderValue;
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = [
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        (
            "content-security-policy",
            "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; \
             img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
        .entry(axum::http::header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Requests by route and status, with a latency histogram.
async fn record_metrics(request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("tessera_http_requests_total", &labels).increment(1);
    metrics::histogram!("tessera_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}
