use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::ids::parse_user_id;
use super::views::UserResponse;
use crate::accounts::{Field, NewEmail, UserFields};
use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::{Email, LoginId, Username};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiKeyAuth, ApiQuery, RequestOrigin};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserRequest {
    user: UserFields,
    /// `true`: the administrator vouches for a new email address, which is verified at once.
    /// Otherwise it awaits the link sent to it, and is no login id until then.
    #[serde(default)]
    skip_verification: bool,
    /// On a creation without a password: send the user a link (valid 7 days) to choose their
    /// own, to the `email` the user must have.
    #[serde(default)]
    send_set_password_email: bool,
}

impl UserRequest {
    fn new_email(&self) -> NewEmail {
        if self.skip_verification {
            NewEmail::Verified
        } else {
            NewEmail::Unverified
        }
    }

    /// Creates the user as asked: with the password given (an address not vouched for is sent
    /// its link), or invited to choose one (the invitation, once used, verifies the address it
    /// went to).
    async fn create(
        &self,
        state: &AppState,
        id: Option<crate::domain::UserId>,
        actor: Actor,
        origin: &crate::audit::Origin,
    ) -> Result<crate::domain::User, ApiError> {
        let now = Instant::now();
        Ok(if self.send_set_password_email {
            state
                .core
                .recovery
                .create_invited_user(id, &self.user, self.new_email(), actor, origin, now)
                .await?
                .0
        } else {
            state
                .core
                .addresses
                .create_user(id, &self.user, self.new_email(), actor, origin, now)
                .await?
        })
    }
}

#[utoipa::path(
    post, path = "/api/user", tag = "users",
    security(("apiKey" = [])),
    request_body = UserRequest,
    responses((status = 200, description = "The user, created", body = UserResponse))
)]
pub async fn create(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<UserRequest>,
) -> Result<Json<UserResponse>, ApiError> {
    let user = body
        .create(&state, None, Actor::ApiKey(key.id), &origin)
        .await?;
    UserResponse::of(&state, &user).await
}

#[utoipa::path(
    post, path = "/api/user/{userId}", tag = "users",
    security(("apiKey" = [])),
    params(("userId" = String, Path, pattern = "^[0-9a-f-]{36}$", description = "The user's id (a UUID)")),
    request_body = UserRequest,
    responses((status = 200, description = "The user, created with this id", body = UserResponse))
)]
pub async fn create_with_id(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<UserRequest>,
) -> Result<Json<UserResponse>, ApiError> {
    let id = parse_user_id(&user_id)?;
    if state.core.accounts.user(id).await?.is_some() {
        return Err(ApiError::field(
            "userId",
            "[duplicate]",
            "a user with this id already exists",
        ));
    }
    let user = body
        .create(&state, Some(id), Actor::ApiKey(key.id), &origin)
        .await?;
    UserResponse::of(&state, &user).await
}

#[utoipa::path(
    get, path = "/api/user/{userId}", tag = "users",
    security(("apiKey" = [])),
    params(("userId" = String, Path, pattern = "^[0-9a-f-]{36}$", description = "The user's id (a UUID)")),
    responses(
        (status = 200, description = "The user", body = UserResponse),
        (status = 404, description = "No such user (no body)"),
    )
)]
pub async fn read(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
    Path(user_id): Path<String>,
) -> Result<Json<UserResponse>, ApiError> {
    let id = parse_user_id(&user_id)?;
    let user = state
        .core
        .accounts
        .user(id)
        .await?
        .ok_or(ApiError::Empty(StatusCode::NOT_FOUND))?;
    UserResponse::of(&state, &user).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LookupQuery {
    login_id: Option<String>,
    username: Option<String>,
    email: Option<String>,
}

/// `GET /api/user?loginId=…` (or `username=`, `email=`).
#[utoipa::path(
    get, path = "/api/user", tag = "users",
    security(("apiKey" = [])),
    params(LookupQuery),
    responses(
        (status = 200, description = "The user", body = UserResponse),
        (status = 404, description = "No such user (no body)"),
    )
)]
pub async fn lookup(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
    ApiQuery(query): ApiQuery<LookupQuery>,
) -> Result<Json<UserResponse>, ApiError> {
    let login_id = match (query.login_id, query.username, query.email) {
        (Some(raw), None, None) => {
            LoginId::parse(&raw).map_err(|e| ApiError::field("loginId", e.code, e.message))?
        }
        (None, Some(raw), None) => Username::parse(&raw)
            .map(LoginId::Username)
            .map_err(|e| ApiError::field("username", e.code, e.message))?,
        (None, None, Some(raw)) => Email::parse(&raw)
            .map(LoginId::Email)
            .map_err(|e| ApiError::field("email", e.code, e.message))?,
        _ => {
            return Err(ApiError::field(
                "loginId",
                "[blank]",
                "give exactly one of loginId, username or email",
            ));
        }
    };
    let user = state
        .core
        .accounts
        .find_user(&login_id)
        .await?
        .ok_or(ApiError::Empty(StatusCode::NOT_FOUND))?;
    UserResponse::of(&state, &user).await
}

/// PUT replaces the profile: fields left out are cleared or reset to their defaults (the
/// password is only changed when one is given).
#[utoipa::path(
    put, path = "/api/user/{userId}", tag = "users",
    security(("apiKey" = [])),
    params(("userId" = String, Path, pattern = "^[0-9a-f-]{36}$", description = "The user's id (a UUID)")),
    request_body(content = UserRequest, description = "The whole profile: fields left out are cleared or reset"),
    responses(
        (status = 200, description = "The user, updated", body = UserResponse),
        (status = 404, description = "No such user (no body)"),
    )
)]
pub async fn replace(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<UserRequest>,
) -> Result<Json<UserResponse>, ApiError> {
    let id = parse_user_id(&user_id)?;
    let new_email = body.new_email();
    let fields = as_replacement(body.user);
    let user = state
        .core
        .addresses
        .update_user(
            id,
            &fields,
            new_email,
            Actor::ApiKey(key.id),
            &origin,
            Instant::now(),
        )
        .await?;
    UserResponse::of(&state, &user).await
}

/// PATCH changes only the fields given; `null` clears one.
#[utoipa::path(
    patch, path = "/api/user/{userId}", tag = "users",
    security(("apiKey" = [])),
    params(("userId" = String, Path, pattern = "^[0-9a-f-]{36}$", description = "The user's id (a UUID)")),
    request_body(content = UserRequest, description = "Only the fields to change; `null` clears one"),
    responses(
        (status = 200, description = "The user, updated", body = UserResponse),
        (status = 404, description = "No such user (no body)"),
    )
)]
pub async fn patch(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<UserRequest>,
) -> Result<Json<UserResponse>, ApiError> {
    let id = parse_user_id(&user_id)?;
    let user = state
        .core
        .addresses
        .update_user(
            id,
            &body.user,
            body.new_email(),
            Actor::ApiKey(key.id),
            &origin,
            Instant::now(),
        )
        .await?;
    UserResponse::of(&state, &user).await
}

#[utoipa::path(
    delete, path = "/api/user/{userId}", tag = "users",
    security(("apiKey" = [])),
    params(("userId" = String, Path, pattern = "^[0-9a-f-]{36}$", description = "The user's id (a UUID)")),
    responses(
        (status = 200, description = "The user is deleted (no body)"),
        (status = 404, description = "No such user (no body)"),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(user_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_user_id(&user_id)?;
    state
        .core
        .accounts
        .delete_user(id, Actor::ApiKey(key.id), &origin, Instant::now())
        .await?;
    Ok(StatusCode::OK)
}

fn as_replacement(fields: UserFields) -> UserFields {
    fn absent_is_null<T>(field: Field<T>) -> Field<T> {
        match field {
            Field::Absent => Field::Null,
            other => other,
        }
    }
    UserFields {
        username: absent_is_null(fields.username),
        email: absent_is_null(fields.email),
        password: fields.password,
        full_name: absent_is_null(fields.full_name),
        mobile_phone: absent_is_null(fields.mobile_phone),
        roles: absent_is_null(fields.roles),
        active: absent_is_null(fields.active),
        two_factor_required: absent_is_null(fields.two_factor_required),
        authy_migrated: absent_is_null(fields.authy_migrated),
        password_change_required: absent_is_null(fields.password_change_required),
    }
}
