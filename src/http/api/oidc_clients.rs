//! `/api/oidc/client`: the OpenID Connect clients, in the API's shapes (`{"client": …}`), by the
//! same service methods as the console and `tessera oidc client`. A secret is answered once,
//! when it is made.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::FieldError;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiKeyAuth, RequestOrigin};
use crate::oidc::{ClientSettings, ClientUpdate, ClientView, OidcError};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientRequest {
    client: ClientSettings,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientUpdateRequest {
    client: ClientUpdate,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientResponse {
    client: ClientView,
    /// A confidential client's secret, answered only when it is made: it is kept as a digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClientsResponse {
    clients: Vec<ClientView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientSecretResponse {
    client_id: String,
    /// The new secret, answered once; the old one no longer works.
    client_secret: String,
}

/// A refusal of the service in the API's terms: a body's fields under `client.`.
fn refusal(error: OidcError) -> ApiError {
    match error {
        OidcError::Invalid(fields) => ApiError::Fields(
            fields
                .into_iter()
                .map(|f| {
                    let field = format!("client.{}", f.field);
                    FieldError {
                        code: f.code.replacen(&f.field, &field, 1),
                        field,
                        message: f.message,
                    }
                })
                .collect(),
        ),
        OidcError::UnknownClient | OidcError::UnknownGrant => {
            ApiError::Empty(StatusCode::NOT_FOUND)
        }
        OidcError::PublicClient => ApiError::General {
            status: StatusCode::BAD_REQUEST,
            code: "[public]clientId".into(),
            message: error.to_string(),
        },
        OidcError::Internal(error) => ApiError::Internal(error),
    }
}

#[utoipa::path(
    post, path = "/api/oidc/client", tag = "oidc",
    security(("apiKey" = [])),
    request_body = ClientRequest,
    responses(
        (status = 200, description = "The client, registered; a confidential one's `clientSecret`, shown only now", body = ClientResponse),
        (status = 400, description = "A field refused: `[invalid]client.name`, `[invalid]client.redirectUris`, `[invalid]client.scopes`, `[duplicate]client.clientId`…"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<ClientRequest>,
) -> Result<Json<ClientResponse>, ApiError> {
    let (client, secret) = state
        .core
        .oidc
        .create_client(&body.client, Actor::ApiKey(key.id), &origin, Instant::now())
        .await
        .map_err(refusal)?;
    Ok(Json(ClientResponse {
        client,
        client_secret: secret.map(|s| s.0),
    }))
}

#[utoipa::path(
    get, path = "/api/oidc/client", tag = "oidc",
    security(("apiKey" = [])),
    responses((status = 200, description = "Every client, by name (never a secret)", body = ClientsResponse))
)]
pub async fn list(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
) -> Result<Json<ClientsResponse>, ApiError> {
    let clients = state.core.oidc.clients().await.map_err(refusal)?;
    Ok(Json(ClientsResponse { clients }))
}

#[utoipa::path(
    get, path = "/api/oidc/client/{clientId}", tag = "oidc",
    security(("apiKey" = [])),
    params(("clientId" = String, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The client (never its secret)", body = ClientResponse),
        (status = 404, description = "No such client (no body)"),
    )
)]
pub async fn read(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
    Path(client_id): Path<String>,
) -> Result<Json<ClientResponse>, ApiError> {
    let client = state.core.oidc.client(&client_id).await.map_err(refusal)?;
    Ok(Json(ClientResponse {
        client,
        client_secret: None,
    }))
}

#[utoipa::path(
    put, path = "/api/oidc/client/{clientId}", tag = "oidc",
    security(("apiKey" = [])),
    params(("clientId" = String, Path, description = "The client's id")),
    request_body(content = ClientUpdateRequest, description = "Its settings, whole: a list or lifetime left out takes its default. `clientId` and `confidential` may be sent as read, never changed"),
    responses(
        (status = 200, description = "The client with its new settings", body = ClientResponse),
        (status = 400, description = "A field refused, as at its registration, or `[unchangeable]client.confidential`"),
        (status = 404, description = "No such client (no body)"),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(client_id): Path<String>,
    ApiJson(body): ApiJson<ClientUpdateRequest>,
) -> Result<Json<ClientResponse>, ApiError> {
    let client = state
        .core
        .oidc
        .update_client(
            &client_id,
            &body.client,
            Actor::ApiKey(key.id),
            &origin,
            Instant::now(),
        )
        .await
        .map_err(refusal)?;
    Ok(Json(ClientResponse {
        client,
        client_secret: None,
    }))
}

#[utoipa::path(
    post, path = "/api/oidc/client/{clientId}/secret", tag = "oidc",
    security(("apiKey" = [])),
    params(("clientId" = String, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The new secret, shown only now; the old one stops working", body = ClientSecretResponse),
        (status = 400, description = "`[public]clientId`: a public client has no secret"),
        (status = 404, description = "No such client (no body)"),
    )
)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(client_id): Path<String>,
) -> Result<Json<ClientSecretResponse>, ApiError> {
    let secret = state
        .core
        .oidc
        .rotate_client_secret(&client_id, Actor::ApiKey(key.id), &origin, Instant::now())
        .await
        .map_err(refusal)?;
    Ok(Json(ClientSecretResponse {
        client_id,
        client_secret: secret.0,
    }))
}

#[utoipa::path(
    delete, path = "/api/oidc/client/{clientId}", tag = "oidc",
    security(("apiKey" = [])),
    params(("clientId" = String, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The client is removed, with its codes, grants and consents (no body)"),
        (status = 404, description = "No such client (no body)"),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(client_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .core
        .oidc
        .delete_client(&client_id, Actor::ApiKey(key.id), &origin, Instant::now())
        .await
        .map_err(refusal)?;
    Ok(StatusCode::OK)
}
