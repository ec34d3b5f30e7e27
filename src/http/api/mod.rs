//! The JSON API, in FusionAuth's shapes where FusionAuth has the call.

mod audit_log;
mod login;
mod system;
mod tokens;
mod users;

use axum::Router;
use axum::routing::{get, post};

use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/login", post(login::login))
        .route("/api/logout", post(tokens::logout))
        .route("/api/jwt/validate", get(tokens::validate))
        .route("/api/jwt/refresh", post(tokens::refresh))
        .route("/api/user", post(users::create).get(users::lookup))
        .route(
            "/api/user/{user_id}",
            post(users::create_with_id)
                .get(users::read)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route("/api/system/audit-log", get(audit_log::search))
        .route("/health", get(system::health))
        .route("/metrics", get(system::metrics))
}
