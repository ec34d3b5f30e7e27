//! `POST /api/system/invitations`: links to choose a password, sent to the users named or to
//! every one who never logged in (the accounts made in the console or by an import).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::ids::parse_user_id;
use crate::audit::Actor;
use crate::clock::Instant;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiKeyAuth, RequestOrigin};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InvitationsRequest {
    /// The users to invite (at most 500).
    #[serde(default)]
    user_ids: Option<Vec<String>>,
    /// `true`: every active user with an email address who never logged in (500 at most at
    /// once; send again for the next ones).
    #[serde(default)]
    never_logged_in: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationsResponse {
    /// The usernames invited.
    sent: Vec<String>,
    skipped: Vec<Skipped>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Skipped {
    username: String,
    reason: String,
}

/// `POST /api/system/invitations`.
#[utoipa::path(
    post, path = "/api/system/invitations", tag = "users",
    security(("apiKey" = [])),
    request_body = InvitationsRequest,
    responses(
        (status = 200, description = "The invitations sent (each a link valid once, for 7 days, to the user's email address), and those skipped with why: no address, deactivated, a send limit", body = InvitationsResponse),
        (status = 400, description = "Neither or both of `userIds` and `neverLoggedIn`, more than 500 ids, or a malformed id", body = crate::http::error::Errors),
        (status = 401, description = "No live API key (no body)"),
    )
)]
pub async fn invite(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<InvitationsRequest>,
) -> Result<Json<InvitationsResponse>, ApiError> {
    let actor = Actor::ApiKey(key.id);
    let now = Instant::now();
    let recovery = &state.core.recovery;
    let invited = match (body.user_ids, body.never_logged_in) {
        (Some(ids), false) => {
            if ids.is_empty() || ids.len() > 500 {
                return Err(ApiError::field(
                    "userIds",
                    "[invalid]",
                    "name 1 to 500 users",
                ));
            }
            let ids = ids
                .iter()
                .map(|id| parse_user_id(id))
                .collect::<Result<Vec<_>, _>>()?;
            recovery.invite(&ids, actor, &origin, now).await?
        }
        (None, true) => recovery.invite_never_logged_in(actor, &origin, now).await?,
        _ => {
            return Err(ApiError::field(
                "userIds",
                "[invalid]",
                "give either userIds or neverLoggedIn: true",
            ));
        }
    };
    Ok(Json(InvitationsResponse {
        sent: invited.sent.iter().map(|u| u.to_string()).collect(),
        skipped: invited
            .skipped
            .into_iter()
            .map(|(username, reason)| Skipped {
                username: username.to_string(),
                reason,
            })
            .collect(),
    }))
}
