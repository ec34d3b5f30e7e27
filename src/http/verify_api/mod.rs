//! A Twilio-Verify-compatible API under `/v2/`: form-encoded PascalCase parameters in,
//! snake_case JSON out, 34-character SIDs, Twilio's error body `{code, message, more_info,
//! status}`, HTTP Basic auth with an Account SID and Auth Token that Tessera issued. A thin layer
//! over the verify engine: the same codes, limits, fraud guard and delivery.

use axum::Router;
use axum::routing::{get, post};

use super::AppState;

mod auth;
mod error;
pub mod forms;
mod params;
mod rate_limits;
mod resources;
mod services;
mod totp;
mod verifications;

pub use auth::Account;
pub use error::TwilioError;
pub use params::Params;

/// The operations of the Verify API, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    services::create_service,
    services::list_services,
    services::fetch_service,
    services::update_service,
    services::delete_service,
    verifications::create_verification,
    verifications::fetch_verification,
    verifications::update_verification,
    verifications::check,
    totp::create_entity,
    totp::fetch_entity,
    totp::delete_entity,
    totp::create_factor,
    totp::fetch_factor,
    totp::verify_factor,
    totp::create_challenge,
    totp::fetch_challenge,
    totp::answer_challenge,
    rate_limits::create_rate_limit,
    rate_limits::list_rate_limits,
    rate_limits::fetch_rate_limit,
    rate_limits::update_rate_limit,
    rate_limits::delete_rate_limit,
    rate_limits::create_bucket,
    rate_limits::list_buckets,
    rate_limits::fetch_bucket,
    rate_limits::update_bucket,
    rate_limits::delete_bucket,
))]
pub struct Paths;

/// The host the resources name in their `url` and `links`, as Twilio's own resources do.
const BASE: &str = "https://verify.twilio.com";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v2/Services",
            post(services::create_service).get(services::list_services),
        )
        .route(
            "/v2/Services/{service}",
            get(services::fetch_service)
                .post(services::update_service)
                .delete(services::delete_service),
        )
        .route(
            "/v2/Services/{service}/Verifications",
            post(verifications::create_verification),
        )
        .route(
            "/v2/Services/{service}/Verifications/{verification}",
            get(verifications::fetch_verification).post(verifications::update_verification),
        )
        .route(
            "/v2/Services/{service}/VerificationCheck",
            post(verifications::check),
        )
}

pub fn totp_routes() -> Router<AppState> {
    Router::new()
        .route("/v2/Services/{service}/Entities", post(totp::create_entity))
        .route(
            "/v2/Services/{service}/Entities/{identity}",
            get(totp::fetch_entity).delete(totp::delete_entity),
        )
        .route(
            "/v2/Services/{service}/Entities/{identity}/Factors",
            post(totp::create_factor),
        )
        .route(
            "/v2/Services/{service}/Entities/{identity}/Factors/{factor}",
            get(totp::fetch_factor).post(totp::verify_factor),
        )
        .route(
            "/v2/Services/{service}/Entities/{identity}/Challenges",
            post(totp::create_challenge),
        )
        .route(
            "/v2/Services/{service}/Entities/{identity}/Challenges/{challenge}",
            get(totp::fetch_challenge).post(totp::answer_challenge),
        )
}

pub fn rate_limit_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v2/Services/{service}/RateLimits",
            post(rate_limits::create_rate_limit).get(rate_limits::list_rate_limits),
        )
        .route(
            "/v2/Services/{service}/RateLimits/{limit}",
            get(rate_limits::fetch_rate_limit)
                .post(rate_limits::update_rate_limit)
                .delete(rate_limits::delete_rate_limit),
        )
        .route(
            "/v2/Services/{service}/RateLimits/{limit}/Buckets",
            post(rate_limits::create_bucket).get(rate_limits::list_buckets),
        )
        .route(
            "/v2/Services/{service}/RateLimits/{limit}/Buckets/{bucket}",
            get(rate_limits::fetch_bucket)
                .post(rate_limits::update_bucket)
                .delete(rate_limits::delete_bucket),
        )
}
