//! The JSON API, in FusionAuth's shapes where FusionAuth has the call.

pub use admin::audit_csv;
pub use login::{TRUST_COOKIE, cookie};

pub mod admin;
mod audit_log;
pub mod login;
mod outbox;
mod system;
pub mod tokens;
pub mod two_factor;
pub mod users;

use axum::Router;
use axum::routing::{get, post};

use super::AppState;

/// The operations of this API, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    login::login,
    tokens::validate,
    tokens::refresh,
    tokens::logout,
    users::create,
    users::lookup,
    users::create_with_id,
    users::read,
    users::replace,
    users::patch,
    users::delete,
    audit_log::search,
    admin::export_audit_log,
    admin::search,
    admin::import,
    admin::export,
    admin::reset_two_factor,
    admin::set_phone,
    admin::unlock,
    admin::revoke_sessions,
    two_factor::settings,
    two_factor::update_settings,
    two_factor::delivery_settings,
    two_factor::update_delivery_settings,
    two_factor::welcome_settings,
    two_factor::update_welcome_settings,
    two_factor::secret,
    two_factor::login,
    two_factor::send,
    two_factor::send_for_login,
    two_factor::status_post,
    two_factor::status_get,
    two_factor::enable_self,
    two_factor::disable_self,
    two_factor::enable_for_user,
    two_factor::disable_for_user,
    two_factor::regenerate_self,
    two_factor::regenerate_for_user,
    two_factor::change_phone_self,
    two_factor::change_phone_for_user,
    two_factor::trusts_self,
    two_factor::revoke_trusts_self,
    two_factor::trusts_for_user,
    two_factor::revoke_trusts_for_user,
    outbox::json,
    system::health,
    system::metrics,
))]
pub struct Paths;

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
        .route("/api/system/audit-log/export", get(admin::export_audit_log))
        .route("/api/user/search", get(admin::search))
        .route(
            "/api/user/import",
            post(admin::import).layer(axum::extract::DefaultBodyLimit::max(
                admin::IMPORT_BODY_LIMIT,
            )),
        )
        .route("/api/user/export", get(admin::export))
        .route(
            "/api/system/users/{user_id}/reset-two-factor",
            post(admin::reset_two_factor),
        )
        .route(
            "/api/system/users/{user_id}/phone",
            axum::routing::put(admin::set_phone),
        )
        .route("/api/system/users/{user_id}/unlock", post(admin::unlock))
        .route(
            "/api/system/users/{user_id}/revoke-sessions",
            post(admin::revoke_sessions),
        )
        .route(
            "/api/system/two-factor",
            get(two_factor::settings).put(two_factor::update_settings),
        )
        .route(
            "/api/system/delivery",
            get(two_factor::delivery_settings).put(two_factor::update_delivery_settings),
        )
        .route(
            "/api/system/welcome",
            get(two_factor::welcome_settings).put(two_factor::update_welcome_settings),
        )
        .route("/api/two-factor/secret", get(two_factor::secret))
        .route("/api/two-factor/login", post(two_factor::login))
        .route("/api/two-factor/send", post(two_factor::send))
        .route(
            "/api/two-factor/send/{two_factor_id}",
            post(two_factor::send_for_login),
        )
        .route("/dev/outbox", get(outbox::page))
        .route("/dev/outbox.json", get(outbox::json))
        .route("/api/two-factor/status", post(two_factor::status_post))
        .route(
            "/api/two-factor/status/{trust_id}",
            get(two_factor::status_get),
        )
        .route(
            "/api/user/two-factor",
            post(two_factor::enable_self).delete(two_factor::disable_self),
        )
        .route(
            "/api/user/two-factor/{user_id}",
            post(two_factor::enable_for_user).delete(two_factor::disable_for_user),
        )
        .route(
            "/api/user/two-factor/recovery-code",
            post(two_factor::regenerate_self),
        )
        .route(
            "/api/user/two-factor/recovery-code/{user_id}",
            post(two_factor::regenerate_for_user),
        )
        .route(
            "/api/user/two-factor/phone",
            post(two_factor::change_phone_self),
        )
        .route(
            "/api/user/two-factor/phone/{user_id}",
            post(two_factor::change_phone_for_user),
        )
        .route(
            "/api/user/two-factor/trust",
            get(two_factor::trusts_self).delete(two_factor::revoke_trusts_self),
        )
        .route(
            "/api/user/two-factor/trust/{user_id}",
            get(two_factor::trusts_for_user).delete(two_factor::revoke_trusts_for_user),
        )
        .route("/api/openapi.json", get(super::openapi::json))
        .route("/api/docs", get(super::openapi::docs))
        .route("/health", get(system::health))
        .route("/metrics", get(system::metrics))
}
