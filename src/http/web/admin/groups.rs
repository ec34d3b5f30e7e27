//! Groups: the list with member counts and a form for a new one; a group's page (its name and
//! description, its members, added by username and removed); its deletion behind the console's
//! question; and, from a user's page, that user added to or removed from a group.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::confirm::{self, Confirmation, confirmed};
use super::{Administrator, NoticeQuery, user_id, when};
use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::{GroupId, User};
use crate::groups::{GroupError, GroupFields};
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::http::web::forms::{ConfirmForm, GroupForm, IdForm, MemberForm};
use crate::http::web::{Chrome, Cookies, WebForm, error_page, internal};

/// A group as a row of the list.
struct GroupRow {
    id: String,
    name: String,
    members: i64,
    description: String,
}

#[derive(Template)]
#[template(path = "admin_groups.html")]
struct GroupsPage {
    chrome: Chrome,
    tab: &'static str,
    notice: Option<String>,
    error: Option<String>,
    groups: Vec<GroupRow>,
    /// What the form held when it was refused.
    name: String,
    description: String,
}

#[derive(Template)]
#[template(path = "admin_group.html")]
struct GroupPage {
    chrome: Chrome,
    tab: &'static str,
    notice: Option<String>,
    error: Option<String>,
    id: String,
    name: String,
    description: String,
    /// (user id, username, since when).
    members: Vec<(String, String, String)>,
}

/// What a refusal says to the administrator.
fn explain(error: &GroupError) -> String {
    match error {
        GroupError::Invalid(fields) => fields
            .iter()
            .map(|f| format!("{}: {}", f.field.trim_start_matches("group."), f.message))
            .collect::<Vec<_>>()
            .join("; "),
        GroupError::GroupNotFound => "No such group.".into(),
        GroupError::UserNotFound(who) => format!("There is no user {who}."),
        other => other.to_string(),
    }
}

fn status_of(error: &Option<String>) -> StatusCode {
    if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }
}

// The early answer of a page handler is a whole page; it is built once per request.
#[allow(clippy::result_large_err)]
fn group_id(state: &AppState, headers: &HeaderMap, raw: &str) -> Result<GroupId, Response> {
    GroupId::parse(raw)
        .map_err(|_| error_page(state, headers, StatusCode::NOT_FOUND, "No such group."))
}

async fn render_groups(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    notice: Option<String>,
    error: Option<String>,
    form: Option<&GroupForm>,
) -> Response {
    let groups = match state.core.groups.groups().await {
        Ok(groups) => groups,
        Err(error) => return internal(state, headers, error),
    };
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(admin));
    cookies.page(
        status_of(&error),
        &GroupsPage {
            chrome,
            tab: "groups",
            notice,
            error,
            groups: groups
                .into_iter()
                .map(|(group, members)| GroupRow {
                    id: group.id.to_string(),
                    name: group.name.to_string(),
                    members,
                    description: group.description.unwrap_or_default(),
                })
                .collect(),
            name: form.map(|f| f.name.clone()).unwrap_or_default(),
            description: form.map(|f| f.description.clone()).unwrap_or_default(),
        },
    )
}

pub async fn groups(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    Query(query): Query<NoticeQuery>,
) -> Response {
    let notice = query.notice.map(|_| "The group is deleted.".to_owned());
    render_groups(&state, &headers, &admin, notice, None, None).await
}

fn fields_of(form: &GroupForm) -> GroupFields {
    GroupFields {
        name: Some(form.name.clone()),
        description: Some(form.description.clone()),
    }
}

pub async fn create_group(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<GroupForm>,
) -> Response {
    let created = state
        .core
        .groups
        .create(
            None,
            &fields_of(&form),
            Actor::User(admin.id),
            &origin,
            Instant::now(),
        )
        .await;
    match created {
        Ok(group) => Cookies::new(&state, &headers)
            .redirect(&format!("/admin/groups/{}?notice=created", group.id)),
        Err(GroupError::Internal(error)) => internal(&state, &headers, error),
        Err(error) => {
            let error = Some(explain(&error));
            render_groups(&state, &headers, &admin, None, error, Some(&form)).await
        }
    }
}

async fn render_group(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    id: GroupId,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let (group, members) = match state.core.groups.group_with_members(id).await {
        Ok(found) => found,
        Err(GroupError::GroupNotFound) => {
            return error_page(state, headers, StatusCode::NOT_FOUND, "No such group.");
        }
        Err(error) => return internal(state, headers, error),
    };
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(admin));
    cookies.page(
        status_of(&error),
        &GroupPage {
            chrome,
            tab: "groups",
            notice,
            error,
            id: group.id.to_string(),
            name: group.name.to_string(),
            description: group.description.unwrap_or_default(),
            members: members
                .into_iter()
                .map(|m| (m.user.to_string(), m.username, when(m.added_at.millis())))
                .collect(),
        },
    )
}

pub async fn group(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    Path(raw): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Response {
    let id = match group_id(&state, &headers, &raw) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let notice = query.notice.map(|n| match n.as_str() {
        "created" => "The group is created: add its members below.".to_owned(),
        "added" => "The member is added.".to_owned(),
        "removed" => "The member is removed.".to_owned(),
        _ => "Saved.".to_owned(),
    });
    render_group(&state, &headers, &admin, id, notice, None).await
}

/// After a change on a group's page: back to it with `notice`, or the page with the refusal.
async fn after_group_change<T>(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    id: GroupId,
    result: Result<T, GroupError>,
    notice: &str,
) -> Response {
    match result {
        Ok(_) => {
            Cookies::new(state, headers).redirect(&format!("/admin/groups/{id}?notice={notice}"))
        }
        Err(GroupError::Internal(error)) => internal(state, headers, error),
        Err(GroupError::GroupNotFound) => {
            error_page(state, headers, StatusCode::NOT_FOUND, "No such group.")
        }
        Err(error) => render_group(state, headers, admin, id, None, Some(explain(&error))).await,
    }
}

pub async fn save_group(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    Path(raw): Path<String>,
    WebForm(form): WebForm<GroupForm>,
) -> Response {
    let id = match group_id(&state, &headers, &raw) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let result = state
        .core
        .groups
        .update(
            id,
            &fields_of(&form),
            Actor::User(admin.id),
            &origin,
            Instant::now(),
        )
        .await;
    after_group_change(&state, &headers, &admin, id, result, "saved").await
}

pub async fn add_member(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    Path(raw): Path<String>,
    WebForm(form): WebForm<MemberForm>,
) -> Response {
    let id = match group_id(&state, &headers, &raw) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let result = state
        .core
        .groups
        .add_member_named(
            id,
            &form.username,
            Actor::User(admin.id),
            &origin,
            Instant::now(),
        )
        .await;
    after_group_change(&state, &headers, &admin, id, result, "added").await
}

pub async fn remove_member(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    Path(raw): Path<String>,
    WebForm(form): WebForm<IdForm>,
) -> Response {
    let (id, user) = match (
        group_id(&state, &headers, &raw),
        user_id(&state, &headers, &form.id),
    ) {
        (Ok(id), Ok(user)) => (id, user),
        (Err(response), _) | (_, Err(response)) => return response,
    };
    let result = state
        .core
        .groups
        .remove_members(
            &[(id, vec![user])],
            Actor::User(admin.id),
            &origin,
            Instant::now(),
        )
        .await;
    after_group_change(&state, &headers, &admin, id, result, "removed").await
}

/// The question before a group is deleted, with `error` where the last answer was refused.
async fn ask_deletion(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    id: GroupId,
    error: Option<String>,
) -> Response {
    let (group, members) = match state.core.groups.group_with_members(id).await {
        Ok(found) => found,
        Err(GroupError::GroupNotFound) => {
            return error_page(state, headers, StatusCode::NOT_FOUND, "No such group.");
        }
        Err(error) => return internal(state, headers, error),
    };
    let name = group.name.to_string();
    let confirmation = Confirmation {
        question: format!("Delete the group {name}?"),
        consequence: format!(
            "The group {name} is deleted, and every membership below ends with it: applications \
             no longer see these users in it. The users themselves stay. It cannot be undone."
        ),
        items: members.into_iter().map(|m| m.username).collect(),
        action: format!("/admin/groups/{id}/delete"),
        confirm: format!("Delete {name}"),
        back: format!("/admin/groups/{id}"),
        back_name: name,
    };
    confirm::render(state, headers, admin, confirmation, error)
}

pub async fn confirm_deletion(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    Path(raw): Path<String>,
) -> Response {
    match group_id(&state, &headers, &raw) {
        Ok(id) => ask_deletion(&state, &headers, &admin, id, None).await,
        Err(response) => response,
    }
}

pub async fn delete_group(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    Path(raw): Path<String>,
    WebForm(form): WebForm<ConfirmForm>,
) -> Response {
    let id = match group_id(&state, &headers, &raw) {
        Ok(id) => id,
        Err(response) => return response,
    };
    if !confirmed(form.confirm.as_deref()) {
        return ask_deletion(&state, &headers, &admin, id, None).await;
    }
    let result = state
        .core
        .groups
        .delete(id, Actor::User(admin.id), &origin, Instant::now())
        .await;
    match result {
        Ok(()) => Cookies::new(&state, &headers).redirect("/admin/groups?notice=deleted"),
        Err(GroupError::Internal(error)) => internal(&state, &headers, error),
        Err(error) => ask_deletion(&state, &headers, &admin, id, Some(explain(&error))).await,
    }
}

/// From a user's page: the user added to (or removed from) the group the form names; back to
/// the user's page, where a refusal shows.
async fn change_user_groups(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    origin: &crate::audit::Origin,
    raw_user: &str,
    raw_group: &str,
    add: bool,
) -> Response {
    let user = match user_id(state, headers, raw_user) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let Ok(group) = GroupId::parse(raw_group) else {
        return Cookies::new(state, headers)
            .redirect(&format!("/admin/users/{user}?notice=no-group"));
    };
    let change = [(group, vec![user])];
    let (actor, now) = (Actor::User(admin.id), Instant::now());
    let groups = &state.core.groups;
    let result = if add {
        groups.add_members(&change, actor, origin, now).await
    } else {
        groups.remove_members(&change, actor, origin, now).await
    };
    match result {
        Ok(_) => {
            Cookies::new(state, headers).redirect(&format!("/admin/users/{user}?notice=groups"))
        }
        Err(GroupError::Internal(error)) => internal(state, headers, error),
        Err(_) => {
            Cookies::new(state, headers).redirect(&format!("/admin/users/{user}?notice=no-group"))
        }
    }
}

pub async fn add_user_to_group(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    Path(raw): Path<String>,
    WebForm(form): WebForm<IdForm>,
) -> Response {
    change_user_groups(&state, &headers, &admin, &origin, &raw, &form.id, true).await
}

pub async fn remove_user_from_group(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    Path(raw): Path<String>,
    WebForm(form): WebForm<IdForm>,
) -> Response {
    change_user_groups(&state, &headers, &admin, &origin, &raw, &form.id, false).await
}
