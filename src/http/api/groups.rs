//! `/api/group` and `/api/group/member`: groups and their members in FusionAuth's shapes.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::ids::parse_user_id;
use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::{Group, GroupId, UserId};
use crate::groups::GroupFields;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiKeyAuth, ApiQuery, OptionalApiJson, RequestOrigin};
use crate::store::Membership;

/// A group as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupView {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub insert_instant: i64,
    pub last_update_instant: i64,
}

impl From<&Group> for GroupView {
    fn from(group: &Group) -> Self {
        Self {
            id: group.id.to_string(),
            name: group.name.to_string(),
            description: group.description.clone(),
            insert_instant: group.created_at.millis(),
            last_update_instant: group.updated_at.millis(),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRequest {
    group: GroupFields,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GroupResponse {
    group: GroupView,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GroupsResponse {
    groups: Vec<GroupView>,
}

/// A membership as the API shows it (FusionAuth's `GroupMember`, without an id of its own: a
/// membership is its group and its user).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub group_id: String,
    pub user_id: String,
    pub insert_instant: i64,
}

impl From<&Membership> for MemberView {
    fn from(member: &Membership) -> Self {
        Self {
            group_id: member.group.to_string(),
            user_id: member.user.to_string(),
            insert_instant: member.added_at.millis(),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemberFields {
    user_id: String,
}

/// `{"members": {"<groupId>": [{"userId": "…"}]}}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberRequest {
    members: BTreeMap<String, Vec<MemberFields>>,
}

/// `{"members": {"<groupId>": ["<userId>", …]}}`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberDeleteRequest {
    #[serde(default)]
    members: BTreeMap<String, Vec<String>>,
}

/// The memberships by group.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberResponse {
    members: BTreeMap<String, Vec<MemberView>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberSearchResponse {
    members: Vec<MemberView>,
    total: i64,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemberQuery {
    group_id: Option<String>,
    user_id: Option<String>,
    /// Search only: the first result (from 0).
    start_row: Option<i64>,
    /// Search only: at most this many (25 unless given, at most 500).
    number_of_results: Option<i64>,
}

fn parse_group_id(raw: &str) -> Result<GroupId, ApiError> {
    GroupId::parse(raw).map_err(|e| ApiError::field("groupId", e.code, e.message))
}

/// The ids of a members request, all checked before anything is written.
fn parse_members<'a, T: 'a>(
    members: impl IntoIterator<Item = (&'a String, &'a Vec<T>)>,
    user_of: impl Fn(&T) -> &str,
) -> Result<Vec<(GroupId, Vec<UserId>)>, ApiError> {
    let mut changes = Vec::new();
    for (group, users) in members {
        let group = parse_group_id(group)?;
        let users = users
            .iter()
            .map(|u| parse_user_id(user_of(u)))
            .collect::<Result<Vec<_>, _>>()?;
        changes.push((group, users));
    }
    if changes.is_empty() {
        return Err(ApiError::field(
            "members",
            "[blank]",
            "name at least one group and its users",
        ));
    }
    Ok(changes)
}

fn by_group(memberships: &[Membership]) -> MemberResponse {
    let mut members: BTreeMap<String, Vec<MemberView>> = BTreeMap::new();
    for member in memberships {
        members
            .entry(member.group.to_string())
            .or_default()
            .push(member.into());
    }
    MemberResponse { members }
}

#[utoipa::path(
    post, path = "/api/group", tag = "groups",
    security(("apiKey" = [])),
    request_body = GroupRequest,
    responses(
        (status = 200, description = "The group, created", body = GroupResponse),
        (status = 400, description = "A field refused: `[blank]group.name`, `[duplicate]group.name` (names are unique whatever their case)…"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<GroupRequest>,
) -> Result<Json<GroupResponse>, ApiError> {
    let group = state
        .core
        .groups
        .create(
            None,
            &body.group,
            Actor::ApiKey(key.id),
            &origin,
            Instant::now(),
        )
        .await?;
    Ok(Json(GroupResponse {
        group: (&group).into(),
    }))
}

#[utoipa::path(
    post, path = "/api/group/{groupId}", tag = "groups",
    security(("apiKey" = [])),
    params(("groupId" = String, Path, description = "The new group's id (a UUID)")),
    request_body = GroupRequest,
    responses(
        (status = 200, description = "The group, created with this id", body = GroupResponse),
        (status = 400, description = "A field refused, or `[duplicate]groupId`"),
    )
)]
pub async fn create_with_id(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(group_id): Path<String>,
    ApiJson(body): ApiJson<GroupRequest>,
) -> Result<Json<GroupResponse>, ApiError> {
    let id = parse_group_id(&group_id)?;
    let group = state
        .core
        .groups
        .create(
            Some(id),
            &body.group,
            Actor::ApiKey(key.id),
            &origin,
            Instant::now(),
        )
        .await?;
    Ok(Json(GroupResponse {
        group: (&group).into(),
    }))
}

#[utoipa::path(
    get, path = "/api/group", tag = "groups",
    security(("apiKey" = [])),
    responses((status = 200, description = "Every group, by name", body = GroupsResponse))
)]
pub async fn list(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
) -> Result<Json<GroupsResponse>, ApiError> {
    let groups = state.core.groups.groups().await?;
    Ok(Json(GroupsResponse {
        groups: groups.iter().map(|(group, _)| group.into()).collect(),
    }))
}

#[utoipa::path(
    get, path = "/api/group/{groupId}", tag = "groups",
    security(("apiKey" = [])),
    params(("groupId" = String, Path, description = "The group's id (a UUID)")),
    responses(
        (status = 200, description = "The group", body = GroupResponse),
        (status = 404, description = "No such group (no body)"),
    )
)]
pub async fn read(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
    Path(group_id): Path<String>,
) -> Result<Json<GroupResponse>, ApiError> {
    let group = state.core.groups.group(parse_group_id(&group_id)?).await?;
    Ok(Json(GroupResponse {
        group: (&group).into(),
    }))
}

#[utoipa::path(
    put, path = "/api/group/{groupId}", tag = "groups",
    security(("apiKey" = [])),
    params(("groupId" = String, Path, description = "The group's id (a UUID)")),
    request_body(content = GroupRequest, description = "The name and description; a description left out is cleared"),
    responses(
        (status = 200, description = "The group, renamed or described", body = GroupResponse),
        (status = 400, description = "A field refused, such as `[duplicate]group.name`"),
        (status = 404, description = "No such group (no body)"),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(group_id): Path<String>,
    ApiJson(body): ApiJson<GroupRequest>,
) -> Result<Json<GroupResponse>, ApiError> {
    let id = parse_group_id(&group_id)?;
    let group = state
        .core
        .groups
        .update(
            id,
            &body.group,
            Actor::ApiKey(key.id),
            &origin,
            Instant::now(),
        )
        .await?;
    Ok(Json(GroupResponse {
        group: (&group).into(),
    }))
}

#[utoipa::path(
    delete, path = "/api/group/{groupId}", tag = "groups",
    security(("apiKey" = [])),
    params(("groupId" = String, Path, description = "The group's id (a UUID)")),
    responses(
        (status = 200, description = "The group and its memberships are deleted (no body)"),
        (status = 404, description = "No such group (no body)"),
        (status = 409, description = "The two-factor settings name the group (`requiredForGroups`): nothing is deleted"),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(group_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_group_id(&group_id)?;
    state
        .core
        .groups
        .delete(id, Actor::ApiKey(key.id), &origin, Instant::now())
        .await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(
    post, path = "/api/group/member", tag = "groups",
    security(("apiKey" = [])),
    request_body = MemberRequest,
    responses(
        (status = 200, description = "The memberships asked for, new or already there", body = MemberResponse),
        (status = 404, description = "A group or a user named is not there: nobody is added"),
    )
)]
pub async fn add_members(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<MemberRequest>,
) -> Result<Json<MemberResponse>, ApiError> {
    let changes = parse_members(&body.members, |m| m.user_id.as_str())?;
    let added = state
        .core
        .groups
        .add_members(&changes, Actor::ApiKey(key.id), &origin, Instant::now())
        .await?;
    Ok(Json(by_group(&added)))
}

/// By the body `{"members": {"<groupId>": ["<userId>", …]}}`, or `?groupId=…&userId=…`.
#[utoipa::path(
    delete, path = "/api/group/member", tag = "groups",
    security(("apiKey" = [])),
    params(MemberQuery),
    request_body(content = MemberDeleteRequest, description = "The users to remove by group; or leave the body out and give groupId and userId"),
    responses(
        (status = 200, description = "The memberships that ended (users who were no members are passed over)", body = MemberResponse),
        (status = 404, description = "A group named is not there: nobody is removed"),
    )
)]
pub async fn remove_members(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    ApiQuery(query): ApiQuery<MemberQuery>,
    OptionalApiJson(body): OptionalApiJson<MemberDeleteRequest>,
) -> Result<Json<MemberResponse>, ApiError> {
    let changes = match (query.group_id, query.user_id) {
        (Some(group), Some(user)) if body.members.is_empty() => {
            vec![(parse_group_id(&group)?, vec![parse_user_id(&user)?])]
        }
        (None, None) => parse_members(&body.members, String::as_str)?,
        _ => {
            return Err(ApiError::field(
                "members",
                "[invalid]",
                "give the members in the body, or groupId and userId as parameters",
            ));
        }
    };
    let removed = state
        .core
        .groups
        .remove_members(&changes, Actor::ApiKey(key.id), &origin, Instant::now())
        .await?;
    Ok(Json(by_group(&removed)))
}

#[utoipa::path(
    get, path = "/api/group/member/search", tag = "groups",
    security(("apiKey" = [])),
    params(MemberQuery),
    responses((status = 200, description = "Memberships, oldest first, and how many match in all", body = MemberSearchResponse))
)]
pub async fn search_members(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
    ApiQuery(query): ApiQuery<MemberQuery>,
) -> Result<Json<MemberSearchResponse>, ApiError> {
    let group = query.group_id.as_deref().map(parse_group_id).transpose()?;
    let user = query.user_id.as_deref().map(parse_user_id).transpose()?;
    let (members, total) = state
        .core
        .groups
        .search_members(
            group,
            user,
            query.number_of_results.unwrap_or(25),
            query.start_row.unwrap_or(0),
        )
        .await?;
    Ok(Json(MemberSearchResponse {
        members: members.iter().map(MemberView::from).collect(),
        total,
    }))
}
