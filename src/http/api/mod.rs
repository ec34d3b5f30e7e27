//! The JSON API, in FusionAuth's shapes where FusionAuth has the call.

pub mod admin;
mod audit_log;
mod authz;
mod forgot_password;
pub mod groups;
mod ids;
mod invitations;
pub mod login;
pub mod oauth;
pub mod oidc_clients;
mod outbox;
mod password;
mod registration;
pub mod system;
pub mod tokens;
pub mod two_factor;
pub mod users;
mod verify_email;
pub mod views;
pub mod webauthn;
pub mod webauthn_login;

use axum::Router;
use axum::routing::{any, get, post, put};

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
    groups::create,
    groups::create_with_id,
    groups::list,
    groups::read,
    groups::update,
    groups::delete,
    groups::add_members,
    groups::remove_members,
    groups::search_members,
    oidc_clients::create,
    oidc_clients::list,
    oidc_clients::read,
    oidc_clients::update,
    oidc_clients::rotate_secret,
    oidc_clients::delete,
    password::change_password,
    password::change_password_post,
    forgot_password::forgot_password,
    registration::register,
    invitations::invite,
    forgot_password::forgot_password_code,
    forgot_password::reset_password,
    verify_email::resend,
    verify_email::verify,
    verify_email::verify_by_body,
    audit_log::search,
    admin::export_audit_log,
    admin::search,
    admin::import,
    admin::export,
    admin::reset_two_factor,
    admin::set_phone,
    admin::unlock,
    admin::revoke_sessions,
    two_factor::settings::settings,
    two_factor::settings::update_settings,
    two_factor::settings::delivery_settings,
    two_factor::settings::update_delivery_settings,
    two_factor::settings::test_delivery,
    two_factor::settings::welcome_settings,
    two_factor::settings::update_welcome_settings,
    two_factor::settings::account_settings,
    two_factor::settings::update_account_settings,
    two_factor::settings::notice_settings,
    two_factor::settings::update_notice_settings,
    two_factor::settings::access_rules,
    authz::forward_auth,
    authz::auth_request,
    two_factor::settings::update_access_rules,
    two_factor::methods::secret,
    two_factor::login::login,
    two_factor::send::send,
    two_factor::send::send_for_login,
    two_factor::status::status_post,
    two_factor::status::status_get,
    two_factor::methods::enable_self,
    two_factor::methods::disable_self,
    two_factor::methods::enable_for_user,
    two_factor::methods::disable_for_user,
    two_factor::recovery::regenerate_self,
    two_factor::recovery::regenerate_for_user,
    two_factor::access_code::issue,
    two_factor::access_code::revoke,
    two_factor::phone::change_phone_self,
    two_factor::phone::change_phone_for_user,
    two_factor::trust::trusts_self,
    two_factor::trust::revoke_trusts_self,
    two_factor::trust::trusts_for_user,
    two_factor::trust::revoke_trusts_for_user,
    outbox::json,
    system::health,
    system::metrics,
    webauthn::register_start,
    webauthn::register_complete,
    webauthn::list,
    webauthn::delete,
    webauthn::start,
    webauthn::assert,
    webauthn_login::login,
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
            "/api/user/change-password",
            put(password::change_password).post(password::change_password_post),
        )
        .route(
            "/api/user/change-password/{change_password_id}",
            post(forgot_password::reset_password),
        )
        .route("/api/user/registration", post(registration::register))
        .route(
            "/api/user/forgot-password",
            post(forgot_password::forgot_password),
        )
        .route(
            "/api/user/forgot-password/code",
            post(forgot_password::forgot_password_code),
        )
        .route(
            "/api/user/verify-email",
            put(verify_email::resend).post(verify_email::verify_by_body),
        )
        .route(
            "/api/user/verify-email/{verification_id}",
            post(verify_email::verify),
        )
        .route(
            "/api/user/{user_id}",
            post(users::create_with_id)
                .get(users::read)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route("/api/group", post(groups::create).get(groups::list))
        .route(
            "/api/group/member",
            post(groups::add_members).delete(groups::remove_members),
        )
        .route("/api/group/member/search", get(groups::search_members))
        .route(
            "/api/group/{group_id}",
            post(groups::create_with_id)
                .get(groups::read)
                .put(groups::update)
                .delete(groups::delete),
        )
        .route(
            "/api/oidc/client",
            post(oidc_clients::create).get(oidc_clients::list),
        )
        .route(
            "/api/oidc/client/{client_id}",
            get(oidc_clients::read)
                .put(oidc_clients::update)
                .delete(oidc_clients::delete),
        )
        .route(
            "/api/oidc/client/{client_id}/secret",
            post(oidc_clients::rotate_secret),
        )
        .route("/api/system/audit-log", get(audit_log::search))
        .route("/api/system/invitations", post(invitations::invite))
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
            get(two_factor::settings::settings).put(two_factor::settings::update_settings),
        )
        .route(
            "/api/system/delivery",
            get(two_factor::settings::delivery_settings)
                .put(two_factor::settings::update_delivery_settings),
        )
        .route(
            "/api/system/delivery/test",
            post(two_factor::settings::test_delivery),
        )
        .route(
            "/api/system/welcome",
            get(two_factor::settings::welcome_settings)
                .put(two_factor::settings::update_welcome_settings),
        )
        .route(
            "/api/system/accounts",
            get(two_factor::settings::account_settings)
                .put(two_factor::settings::update_account_settings),
        )
        .route(
            "/api/system/notices",
            get(two_factor::settings::notice_settings)
                .put(two_factor::settings::update_notice_settings),
        )
        .route("/api/two-factor/secret", get(two_factor::methods::secret))
        .route("/api/two-factor/login", post(two_factor::login::login))
        .route("/api/two-factor/send", post(two_factor::send::send))
        .route(
            "/api/two-factor/send/{two_factor_id}",
            post(two_factor::send::send_for_login),
        )
        .route("/dev/outbox.json", get(outbox::json))
        .route(
            "/api/two-factor/status",
            post(two_factor::status::status_post),
        )
        .route(
            "/api/two-factor/status/{trust_id}",
            get(two_factor::status::status_get),
        )
        .route(
            "/api/user/two-factor",
            post(two_factor::methods::enable_self).delete(two_factor::methods::disable_self),
        )
        .route(
            "/api/user/two-factor/{user_id}",
            post(two_factor::methods::enable_for_user)
                .delete(two_factor::methods::disable_for_user),
        )
        .route(
            "/api/user/two-factor/recovery-code",
            post(two_factor::recovery::regenerate_self),
        )
        .route(
            "/api/user/two-factor/recovery-code/{user_id}",
            post(two_factor::recovery::regenerate_for_user),
        )
        .route(
            "/api/user/two-factor/access-code/{user_id}",
            post(two_factor::access_code::issue).delete(two_factor::access_code::revoke),
        )
        .route(
            "/api/user/two-factor/phone",
            post(two_factor::phone::change_phone_self),
        )
        .route(
            "/api/user/two-factor/phone/{user_id}",
            post(two_factor::phone::change_phone_for_user),
        )
        .route(
            "/api/user/two-factor/trust",
            get(two_factor::trust::trusts_self).delete(two_factor::trust::revoke_trusts_self),
        )
        .route(
            "/api/user/two-factor/trust/{user_id}",
            get(two_factor::trust::trusts_for_user)
                .delete(two_factor::trust::revoke_trusts_for_user),
        )
        .route("/api/authz/forward-auth", any(authz::forward_auth))
        .route("/api/authz/auth-request", any(authz::auth_request))
        .route(
            "/api/system/access-rules",
            get(two_factor::settings::access_rules).put(two_factor::settings::update_access_rules),
        )
        .route(
            "/api/webauthn/register/start",
            post(webauthn::register_start),
        )
        .route(
            "/api/webauthn/register/complete",
            post(webauthn::register_complete),
        )
        .route("/api/webauthn/start", post(webauthn::start))
        .route("/api/webauthn/assert", post(webauthn::assert))
        .route("/api/webauthn/login", post(webauthn_login::login))
        .route("/api/webauthn", get(webauthn::list))
        .route(
            "/api/webauthn/{id}",
            axum::routing::delete(webauthn::delete),
        )
        .route("/health", get(system::health))
        .route("/metrics", get(system::metrics))
}
