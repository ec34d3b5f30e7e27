//! Applications (OpenID Connect clients): the list and a form for a new one, whose secret is
//! shown once on the next page; a client's page (its settings, a new secret shown once); its
//! removal behind the console's question. The same service methods as the API and the CLI.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::confirm::{self, Confirmation, confirmed};
use super::{Administrator, NoticeQuery};
use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::User;
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::http::web::forms::{ClientForm, ConfirmForm, EmptyForm};
use crate::http::web::{Chrome, Cookies, WebForm, error_page, internal};
use crate::oidc::{ClientSettings, ClientUpdate, ClientView, OidcError};

/// The scopes a new client's form offers, all of them.
const ALL_SCOPES: &str = "openid profile email groups offline_access";

struct ClientRow {
    client_id: String,
    name: String,
    kind: &'static str,
    redirect_uris: String,
}

/// What a client's form holds: as sent, or as kept.
#[derive(Default)]
struct FormValues {
    client_id: String,
    name: String,
    public: bool,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    scopes: String,
    allowed_groups: String,
    requires_second_factor: bool,
    first_party: bool,
    access_token_seconds: String,
    id_token_seconds: String,
    refresh_token_seconds: String,
    /// `RS256` or `ES256`: how its tokens are signed.
    id_token_alg: String,
}

impl From<&ClientForm> for FormValues {
    fn from(form: &ClientForm) -> Self {
        Self {
            client_id: form.client_id.clone(),
            name: form.name.clone(),
            public: form.public.is_some(),
            redirect_uris: form.redirect_uris.clone(),
            post_logout_redirect_uris: form.post_logout_redirect_uris.clone(),
            scopes: form.scopes.clone(),
            allowed_groups: form.allowed_groups.clone(),
            requires_second_factor: form.requires_second_factor.is_some(),
            first_party: form.first_party.is_some(),
            access_token_seconds: form.access_token_seconds.clone(),
            id_token_seconds: form.id_token_seconds.clone(),
            refresh_token_seconds: form.refresh_token_seconds.clone(),
            id_token_alg: form.id_token_alg.clone(),
        }
    }
}

impl FormValues {
    fn kept(client: &ClientView, group_names: &BTreeMap<String, String>) -> Self {
        Self {
            client_id: client.client_id.clone(),
            name: client.name.clone(),
            public: !client.confidential,
            redirect_uris: client.redirect_uris.join("\n"),
            post_logout_redirect_uris: client.post_logout_redirect_uris.join("\n"),
            scopes: client.scopes.join(" "),
            allowed_groups: client
                .allowed_groups
                .iter()
                .map(|id| group_names.get(id).unwrap_or(id).clone())
                .collect::<Vec<_>>()
                .join("\n"),
            requires_second_factor: client.requires_second_factor,
            first_party: client.first_party,
            access_token_seconds: client.access_token_seconds.to_string(),
            id_token_seconds: client.id_token_seconds.to_string(),
            refresh_token_seconds: client.refresh_token_seconds.to_string(),
            id_token_alg: client.id_token_signed_response_alg.to_owned(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin_clients.html")]
struct ClientsPage {
    chrome: Chrome,
    tab: &'static str,
    notice: Option<String>,
    error: Option<String>,
    clients: Vec<ClientRow>,
    form: FormValues,
}

#[derive(Template)]
#[template(path = "admin_client.html")]
struct ClientPage {
    chrome: Chrome,
    tab: &'static str,
    notice: Option<String>,
    error: Option<String>,
    confidential: bool,
    form: FormValues,
}

/// The page that shows a secret just made, once.
#[derive(Template)]
#[template(path = "admin_client_secret.html")]
struct SecretPage {
    chrome: Chrome,
    tab: &'static str,
    notice: Option<String>,
    error: Option<String>,
    client_id: String,
    name: String,
    secret: String,
    rotated: bool,
}

/// What a refusal says to the administrator.
fn explain(error: &OidcError) -> String {
    match error {
        OidcError::Invalid(fields) => fields
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => format!("{other}."),
    }
}

fn status_of(error: &Option<String>) -> StatusCode {
    if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }
}

/// A list in a text box: one item a line (or, for URIs and scopes, between spaces).
fn lines(text: &str, split_on_spaces: bool) -> Vec<String> {
    let items: Vec<&str> = if split_on_spaces {
        text.split_whitespace().collect()
    } else {
        text.lines().flat_map(|line| line.split(',')).collect()
    };
    items
        .into_iter()
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A lifetime field: empty for the default; a number otherwise, or its refusal.
fn seconds(field: &str, text: &str) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| format!("{field}: a whole number of seconds"))
}

/// The settings a form describes, or the refusal of a lifetime that is no number.
fn update_of(form: &ClientForm) -> Result<ClientUpdate, String> {
    let scopes = lines(&form.scopes, true);
    Ok(ClientUpdate {
        client_id: None,
        confidential: None,
        name: form.name.clone(),
        redirect_uris: lines(&form.redirect_uris, true),
        post_logout_redirect_uris: lines(&form.post_logout_redirect_uris, true),
        scopes: (!scopes.is_empty()).then_some(scopes),
        allowed_groups: lines(&form.allowed_groups, false),
        requires_second_factor: form.requires_second_factor.is_some(),
        first_party: form.first_party.is_some(),
        access_token_seconds: seconds("accessTokenSeconds", &form.access_token_seconds)?,
        id_token_seconds: seconds("idTokenSeconds", &form.id_token_seconds)?,
        refresh_token_seconds: seconds("refreshTokenSeconds", &form.refresh_token_seconds)?,
        // A form from before the choice was shown sends none: the client keeps its own.
        id_token_signed_response_alg: Some(form.id_token_alg.trim())
            .filter(|alg| !alg.is_empty())
            .map(str::to_owned),
    })
}

fn settings_of(form: &ClientForm) -> Result<ClientSettings, String> {
    let update = update_of(form)?;
    let client_id = form.client_id.trim();
    Ok(ClientSettings {
        client_id: (!client_id.is_empty()).then(|| client_id.to_owned()),
        name: update.name,
        confidential: form.public.is_none(),
        redirect_uris: update.redirect_uris,
        post_logout_redirect_uris: update.post_logout_redirect_uris,
        scopes: update.scopes,
        allowed_groups: update.allowed_groups,
        requires_second_factor: update.requires_second_factor,
        first_party: update.first_party,
        access_token_seconds: update.access_token_seconds,
        id_token_seconds: update.id_token_seconds,
        refresh_token_seconds: update.refresh_token_seconds,
        id_token_signed_response_alg: update.id_token_signed_response_alg,
    })
}

async fn render_clients(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    notice: Option<String>,
    error: Option<String>,
    form: FormValues,
) -> Response {
    let clients = match state.core.oidc.clients().await {
        Ok(clients) => clients,
        Err(error) => return internal(state, headers, error),
    };
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(admin));
    cookies.page(
        status_of(&error),
        &ClientsPage {
            chrome,
            tab: "clients",
            notice,
            error,
            clients: clients
                .into_iter()
                .map(|c| ClientRow {
                    client_id: c.client_id,
                    name: c.name,
                    kind: if c.confidential {
                        "confidential"
                    } else {
                        "public"
                    },
                    redirect_uris: c.redirect_uris.join(" "),
                })
                .collect(),
            form,
        },
    )
}

fn new_form() -> FormValues {
    FormValues {
        scopes: ALL_SCOPES.into(),
        ..FormValues::default()
    }
}

pub async fn clients(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    Query(query): Query<NoticeQuery>,
) -> Response {
    let notice = query
        .notice
        .map(|_| "The application is removed.".to_owned());
    render_clients(&state, &headers, &admin, notice, None, new_form()).await
}

fn secret_page(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    client: (&str, &str),
    secret: String,
    rotated: bool,
) -> Response {
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(admin));
    cookies.page(
        StatusCode::OK,
        &SecretPage {
            chrome,
            tab: "clients",
            notice: None,
            error: None,
            client_id: client.0.to_owned(),
            name: client.1.to_owned(),
            secret,
            rotated,
        },
    )
}

pub async fn create_client(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<ClientForm>,
) -> Response {
    let settings = match settings_of(&form) {
        Ok(settings) => settings,
        Err(error) => {
            let values = FormValues::from(&form);
            return render_clients(&state, &headers, &admin, None, Some(error), values).await;
        }
    };
    let created = state
        .core
        .oidc
        .create_client(&settings, Actor::User(admin.id), &origin, Instant::now())
        .await;
    match created {
        Ok((client, Some(secret))) => secret_page(
            &state,
            &headers,
            &admin,
            (&client.client_id, &client.name),
            secret.0,
            false,
        ),
        Ok((client, None)) => Cookies::new(&state, &headers).redirect(&format!(
            "/admin/clients/{}?notice=created",
            client.client_id
        )),
        Err(OidcError::Internal(error)) => internal(&state, &headers, error),
        Err(error) => {
            let (error, values) = (Some(explain(&error)), FormValues::from(&form));
            render_clients(&state, &headers, &admin, None, error, values).await
        }
    }
}

/// The page that says a client named in the address is not there.
fn no_such_client(state: &AppState, headers: &HeaderMap) -> Response {
    error_page(
        state,
        headers,
        StatusCode::NOT_FOUND,
        "No such application.",
    )
}

/// The client named in the address, or the page to answer instead.
async fn read_client(
    state: &AppState,
    headers: &HeaderMap,
    client_id: &str,
) -> Result<ClientView, Response> {
    match state.core.oidc.client(client_id).await {
        Ok(client) => Ok(client),
        Err(OidcError::UnknownClient) => Err(no_such_client(state, headers)),
        Err(error) => Err(internal(state, headers, error)),
    }
}

async fn render_client(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    client_id: &str,
    notice: Option<String>,
    error: Option<String>,
    form: Option<&ClientForm>,
) -> Response {
    let client = match read_client(state, headers, client_id).await {
        Ok(client) => client,
        Err(page) => return page,
    };
    let group_names = match state.core.groups.groups().await {
        Ok(groups) => groups
            .into_iter()
            .map(|(g, _)| (g.id.to_string(), g.name.to_string()))
            .collect(),
        Err(error) => return internal(state, headers, error),
    };
    let form = match form {
        Some(form) => FormValues::from(form),
        None => FormValues::kept(&client, &group_names),
    };
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(admin));
    cookies.page(
        status_of(&error),
        &ClientPage {
            chrome,
            tab: "clients",
            notice,
            error,
            confidential: client.confidential,
            form: FormValues {
                client_id: client.client_id,
                public: !client.confidential,
                ..form
            },
        },
    )
}

pub async fn client(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    Path(client_id): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Response {
    let notice = query.notice.map(|n| match n.as_str() {
        "created" => "The application is registered. A public client has no secret: it \
                      proves itself by PKCE."
            .to_owned(),
        _ => "Saved.".to_owned(),
    });
    render_client(&state, &headers, &admin, &client_id, notice, None, None).await
}

pub async fn save_client(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    Path(client_id): Path<String>,
    WebForm(form): WebForm<ClientForm>,
) -> Response {
    let update = match update_of(&form) {
        Ok(update) => update,
        Err(error) => {
            let (error, form) = (Some(error), Some(&form));
            return render_client(&state, &headers, &admin, &client_id, None, error, form).await;
        }
    };
    let result = state
        .core
        .oidc
        .update_client(
            &client_id,
            &update,
            Actor::User(admin.id),
            &origin,
            Instant::now(),
        )
        .await;
    match result {
        Ok(client) => Cookies::new(&state, &headers)
            .redirect(&format!("/admin/clients/{}?notice=saved", client.client_id)),
        Err(OidcError::UnknownClient) => no_such_client(&state, &headers),
        Err(OidcError::Internal(error)) => internal(&state, &headers, error),
        Err(error) => {
            let (error, form) = (Some(explain(&error)), Some(&form));
            render_client(&state, &headers, &admin, &client_id, None, error, form).await
        }
    }
}

pub async fn rotate_secret(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    Path(client_id): Path<String>,
    WebForm(_form): WebForm<EmptyForm>,
) -> Response {
    let now = Instant::now();
    let oidc = &state.core.oidc;
    match oidc
        .rotate_client_secret(&client_id, Actor::User(admin.id), &origin, now)
        .await
    {
        Ok(secret) => secret_page(
            &state,
            &headers,
            &admin,
            (&client_id, &client_id),
            secret.0,
            true,
        ),
        Err(OidcError::UnknownClient) => no_such_client(&state, &headers),
        Err(OidcError::Internal(error)) => internal(&state, &headers, error),
        Err(error) => {
            let error = Some(explain(&error));
            render_client(&state, &headers, &admin, &client_id, None, error, None).await
        }
    }
}

/// The question before a client is removed, with `error` where the last answer was refused.
async fn ask_deletion(
    state: &AppState,
    headers: &HeaderMap,
    admin: &User,
    client_id: &str,
    error: Option<String>,
) -> Response {
    let client = match read_client(state, headers, client_id).await {
        Ok(client) => client,
        Err(page) => return page,
    };
    let name = client.name.clone();
    let confirmation = Confirmation {
        question: format!("Remove the application {name}?"),
        consequence: format!(
            "{name} ({}) can no longer sign anyone in: its secret, its codes, every sign-in's \
             tokens and what people allowed it go with it. It cannot be undone.",
            client.client_id
        ),
        items: client.redirect_uris,
        action: format!("/admin/clients/{}/delete", client.client_id),
        confirm: format!("Remove {name}"),
        back: format!("/admin/clients/{}", client.client_id),
        back_name: name,
    };
    confirm::render(state, headers, admin, confirmation, error)
}

pub async fn confirm_deletion(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    Path(client_id): Path<String>,
) -> Response {
    ask_deletion(&state, &headers, &admin, &client_id, None).await
}

pub async fn delete_client(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    RequestOrigin(origin): RequestOrigin,
    Path(client_id): Path<String>,
    WebForm(form): WebForm<ConfirmForm>,
) -> Response {
    if !confirmed(form.confirm.as_deref()) {
        return ask_deletion(&state, &headers, &admin, &client_id, None).await;
    }
    let result = state
        .core
        .oidc
        .delete_client(&client_id, Actor::User(admin.id), &origin, Instant::now())
        .await;
    match result {
        Ok(()) => Cookies::new(&state, &headers).redirect("/admin/clients?notice=deleted"),
        Err(OidcError::Internal(error)) => internal(&state, &headers, error),
        Err(error) => {
            ask_deletion(&state, &headers, &admin, &client_id, Some(explain(&error))).await
        }
    }
}
