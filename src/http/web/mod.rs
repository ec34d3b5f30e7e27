//! The web pages: server-rendered HTML (askama templates in `templates/`), one stylesheet, no
//! external resources, every page usable without JavaScript. The pages call the same domain
//! flows as the JSON API; this module only reads forms, keeps cookies and renders.

mod admin;
mod enroll;
mod enroll_email;
mod enroll_key;
mod forgot;
mod forms;
mod forward_auth;
mod login;
mod login_key;
mod not_me;
pub mod oauth;
mod pages;
mod register;
mod return_to;
mod security;
mod step_up;
mod verify_email;
mod welcome;

use askama::Template;
use axum::Router;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use super::AppState;
use super::cookies::{self, BROWSER_COOKIE, BROWSER_COOKIE_SECONDS, TRUST_COOKIE};
use crate::clock::Instant;
use crate::crypto::{FormBinding, random};
use crate::domain::{Channel, User};
use crate::store::SessionRecord;
use crate::two_factor::IssuedTrust;

pub use forms::WebForm;

// The cookies' names; behind https each carries the `__Host-` prefix (`cookies::name`), but the
// session cookie `__Secure-` when it is on a parent domain (`cookies::SessionCookie`).
pub const SESSION_COOKIE: &str = "tessera_session";
pub const PENDING_COOKIE: &str = "tessera_login";
pub const SETUP_COOKIE: &str = "tessera_setup";
/// A random id held by a browser without a session, which its forms' CSRF tokens are bound to.
pub const PRESESSION_COOKIE: &str = "tessera_presession";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/login", get(login::page).post(login::submit))
        .route(
            "/login/code",
            get(login::code_page).post(login::code_submit),
        )
        .route("/login/send", post(login::send))
        .route("/login/key/start", post(login_key::key_start))
        .route("/login/key/finish", post(login_key::key_finish))
        .route("/login/passkey/start", post(login_key::passkey_start))
        .route("/login/passkey/finish", post(login_key::passkey_finish))
        .route("/login/enroll", get(enroll::page))
        .route("/login/enroll/phone", post(enroll::phone))
        .route("/login/enroll/phone/confirm", post(enroll::phone_confirm))
        .route("/login/enroll/email", post(enroll_email::email))
        .route(
            "/login/enroll/email/confirm",
            post(enroll_email::email_confirm),
        )
        .route(
            "/login/enroll/authenticator",
            get(enroll::authenticator_page).post(enroll::authenticator_submit),
        )
        .route("/login/enroll/key/start", post(enroll_key::start))
        .route("/login/enroll/key/finish", post(enroll_key::finish))
        .route("/login/enroll/finish", post(enroll::finish))
        .route(
            "/forgot-password",
            get(forgot::forgot_page_get).post(forgot::forgot_submit),
        )
        .route("/forgot-password/code", post(forgot::code_submit))
        .route("/register", get(register::page).post(register::submit))
        .route(
            "/reset-password/{link}",
            get(forgot::reset_page).post(forgot::reset_submit),
        )
        .route("/not-me/{id}", get(not_me::page).post(not_me::confirm))
        .route("/oauth2/authorize", get(oauth::authorize))
        .route("/oauth2/continue", get(oauth::resume))
        .route("/oauth2/step-up", get(step_up::page).post(step_up::submit))
        .route("/oauth2/step-up/send", post(step_up::send))
        .route(
            "/oauth2/step-up/key/start",
            post(security::reauth_key::start),
        )
        .route("/oauth2/step-up/key/finish", post(step_up::key_finish))
        .route(
            "/oauth2/consent",
            get(oauth::consent).post(oauth::answer_consent),
        )
        .route(
            "/oauth2/logout",
            get(oauth::logout).post(oauth::confirm_logout),
        )
        .route("/forward-auth/continue", get(forward_auth::resume))
        .route(
            "/forward-auth/step-up",
            get(forward_auth::step_up_page).post(forward_auth::step_up_submit),
        )
        .route(
            "/forward-auth/step-up/send",
            post(forward_auth::step_up_send),
        )
        .route(
            "/forward-auth/step-up/key/start",
            post(security::reauth_key::start),
        )
        .route(
            "/forward-auth/step-up/key/finish",
            post(forward_auth::step_up_key_finish),
        )
        .route("/logout", post(pages::logout))
        .route("/welcome", get(welcome::page).post(welcome::submit))
        .route(
            "/verify-email/{verification_id}",
            get(verify_email::page).post(verify_email::confirm),
        )
        .route("/security", get(security::page))
        .route(
            "/security/reauth",
            get(security::reauth::reauth_page).post(security::reauth::reauth_submit),
        )
        .route("/security/reauth/send", post(security::reauth::reauth_send))
        .route(
            "/security/reauth/key/start",
            post(security::reauth_key::start),
        )
        .route(
            "/security/reauth/key/finish",
            post(security::reauth_key::finish),
        )
        .route(
            "/security/address",
            get(security::address::address_page).post(security::address::address_submit),
        )
        .route("/security/address/resend", post(security::address::resend))
        .route(
            "/security/password",
            get(security::password::password_page).post(security::password::password_submit),
        )
        .route(
            "/security/methods/remove",
            post(security::methods::remove_method),
        )
        .route("/security/keys/start", post(security::keys::start))
        .route("/security/keys/finish", post(security::keys::finish))
        .route("/security/keys/remove", post(security::keys::remove))
        .route(
            "/security/authenticator",
            get(security::methods::authenticator_page)
                .post(security::methods::authenticator_submit),
        )
        .route(
            "/security/phone",
            get(security::phone::phone_page).post(security::phone::phone_submit),
        )
        .route(
            "/security/phone/confirm",
            post(security::phone::phone_confirm),
        )
        .route(
            "/security/email",
            get(security::email::email_page).post(security::email::email_submit),
        )
        .route(
            "/security/email/confirm",
            post(security::email::email_confirm),
        )
        .route("/security/trust-level", post(security::trust_level))
        .route(
            "/security/recovery-codes",
            post(security::recovery::recovery_codes),
        )
        .route("/security/done", post(security::recovery::done))
        .route(
            "/security/trusted/forget",
            post(security::devices::forget_computer),
        )
        .route(
            "/security/applications/revoke",
            post(security::applications::revoke_application),
        )
        .route(
            "/security/app-passwords",
            post(security::app_passwords::create),
        )
        .route(
            "/security/app-passwords/revoke",
            post(security::app_passwords::revoke),
        )
        .route(
            "/security/sessions/end",
            post(security::devices::end_session),
        )
        .route(
            "/admin",
            get(|| async { axum::response::Redirect::to("/admin/users") }),
        )
        .route(
            "/admin/users",
            get(admin::users::users).post(admin::users::create_user),
        )
        .route(
            "/admin/users/invitations",
            post(admin::users::invite_never_logged_in),
        )
        .route(
            "/admin/users/{user_id}",
            get(admin::user::user).post(admin::user::save_profile),
        )
        .route("/admin/users/{user_id}/phone", post(admin::user::set_phone))
        .route(
            "/admin/users/{user_id}/verify-email",
            post(admin::user::resend_link),
        )
        .route(
            "/admin/users/{user_id}/reset-2fa",
            get(admin::confirm::reset_two_factor).post(admin::user::reset_two_factor),
        )
        .route("/admin/users/{user_id}/unlock", post(admin::user::unlock))
        .route(
            "/admin/users/{user_id}/temporary-password",
            get(admin::confirm::temporary_password).post(admin::password::temporary_password),
        )
        .route(
            "/admin/users/{user_id}/access-code",
            get(admin::confirm::issue_access_code).post(admin::user::issue_access_code),
        )
        .route(
            "/admin/users/{user_id}/access-code/revoke",
            post(admin::user::revoke_access_code),
        )
        .route(
            "/admin/users/{user_id}/revoke-sessions",
            get(admin::confirm::revoke_sessions).post(admin::user::revoke_sessions),
        )
        .route(
            "/admin/users/{user_id}/keys/{key_id}/remove",
            get(admin::keys::confirm_removal).post(admin::keys::remove),
        )
        .route(
            "/admin/users/{user_id}/groups",
            post(admin::groups::add_user_to_group),
        )
        .route(
            "/admin/users/{user_id}/groups/remove",
            post(admin::groups::remove_user_from_group),
        )
        .route(
            "/admin/groups",
            get(admin::groups::groups).post(admin::groups::create_group),
        )
        .route(
            "/admin/groups/{group_id}",
            get(admin::groups::group).post(admin::groups::save_group),
        )
        .route(
            "/admin/groups/{group_id}/members",
            post(admin::groups::add_member),
        )
        .route(
            "/admin/groups/{group_id}/members/remove",
            post(admin::groups::remove_member),
        )
        .route(
            "/admin/groups/{group_id}/delete",
            get(admin::groups::confirm_deletion).post(admin::groups::delete_group),
        )
        .route(
            "/admin/clients",
            get(admin::clients::clients).post(admin::clients::create_client),
        )
        .route(
            "/admin/clients/{client_id}",
            get(admin::clients::client).post(admin::clients::save_client),
        )
        .route(
            "/admin/clients/{client_id}/secret",
            post(admin::clients::rotate_secret),
        )
        .route(
            "/admin/clients/{client_id}/delete",
            get(admin::clients::confirm_deletion).post(admin::clients::delete_client),
        )
        .route(
            "/admin/users/{user_id}/grants/revoke",
            post(admin::user::revoke_grant),
        )
        .route(
            "/admin/settings",
            get(admin::settings::settings).post(admin::settings::save_settings),
        )
        .route(
            "/admin/delivery",
            get(admin::delivery::delivery).post(admin::delivery::save_delivery),
        )
        .route("/admin/delivery/test", post(admin::delivery::test_message))
        .route("/admin/delivery/smtp", post(admin::senders::save_smtp))
        .route("/admin/delivery/smtp/test", post(admin::senders::test_smtp))
        .route(
            "/admin/delivery/webhook",
            post(admin::senders::save_webhook),
        )
        .route(
            "/admin/delivery/webhook/test",
            post(admin::senders::test_webhook),
        )
        .route(
            "/admin/welcome",
            get(admin::welcome::welcome).post(admin::welcome::save_welcome),
        )
        .route(
            "/admin/accounts",
            get(admin::accounts::accounts).post(admin::accounts::save_accounts),
        )
        .route(
            "/admin/notices",
            get(admin::notices::notices).post(admin::notices::save_notices),
        )
        .route(
            "/admin/access-rules",
            get(admin::access_rules::access_rules).post(admin::access_rules::save_access_rules),
        )
        .route(
            "/admin/verify-accounts",
            get(admin::verify_accounts::verify_accounts)
                .post(admin::verify_accounts::create_verify_account),
        )
        .route("/admin/audit", get(admin::audit::audit))
        .route("/admin/audit.csv", get(admin::audit::audit_csv))
        .route("/dev/outbox", get(admin::outbox::page))
        .route("/static/style.css", get(pages::stylesheet))
        .route("/static/app.js", get(pages::script))
}

/// What every page shows around its content.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub product: String,
    pub organization: String,
    pub csrf: String,
    pub user: Option<String>,
    pub admin: bool,
}

/// The cookies of a response being built, and the CSRF token of the page.
pub struct Cookies {
    set: Vec<HeaderValue>,
    csrf: String,
    secure: bool,
    session: cookies::SessionCookie,
}

impl Cookies {
    /// The page's CSRF token, bound to the browser's session cookie or pre-session cookie; a
    /// browser with neither gets a new pre-session cookie with the response.
    pub fn new(state: &AppState, headers: &HeaderMap) -> Self {
        let mut cookies = Self {
            set: Vec::new(),
            csrf: String::new(),
            secure: state.web.secure_cookies,
            session: state.web.session_cookie.clone(),
        };
        cookies.csrf = match BoundTo::of(state, headers) {
            Some(bound) => state.core.sessions.form_token(bound.binding()),
            None => {
                let id = random::token(32);
                cookies.set(PRESESSION_COOKIE, &id, None, "Strict");
                state.core.sessions.form_token(FormBinding::PreSession(&id))
            }
        };
        cookies
    }

    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    /// An HttpOnly cookie for the whole site (Path=/, never a Domain); `None` keeps it for the
    /// browser session. The session cookie goes to `set_session`, which keeps it where the
    /// configuration puts it.
    pub fn set(&mut self, name: &str, value: &str, max_age: Option<i64>, same_site: &str) {
        if name == SESSION_COOKIE {
            return self.set_session(value, max_age);
        }
        if let Some(line) = cookies::line(self.secure, name, value, max_age, same_site) {
            self.set.push(line);
        }
    }

    /// The session cookie, on the configured parent domain if there is one; `max_age` is the
    /// session's (`IssuedTokens::cookie_max_age`), none for the browser's session.
    pub fn set_session(&mut self, token: &str, max_age: Option<i64>) {
        self.set.extend(self.session.setting(token, max_age));
    }

    /// Ends the session cookie under the name and domain it was set with.
    pub fn clear_session(&mut self) {
        self.set.extend(self.session.clearing());
    }

    /// Keeps a trusted computer's token, and the browser id it is bound to, as long as the
    /// trust lives (the id longer).
    pub fn keep_trust(&mut self, trust: &IssuedTrust, browser_id: Option<&str>, now: Instant) {
        let seconds = (trust.expires_at.millis() - now.millis()).max(0) / 1000;
        self.set(TRUST_COOKIE, &trust.token, Some(seconds), "Lax");
        if let Some(id) = browser_id {
            self.set(BROWSER_COOKIE, id, Some(BROWSER_COOKIE_SECONDS), "Lax");
        }
    }

    /// Gives a browser that has no long-lived id one, so that its logins can be told from a
    /// new computer's (the security notices').
    pub fn give_browser_id(&mut self, state: &AppState, headers: &HeaderMap) {
        if cookie(state, headers, BROWSER_COOKIE)
            .filter(|id| id.len() >= 32)
            .is_none()
        {
            let id = random::token(32);
            self.set(BROWSER_COOKIE, &id, Some(BROWSER_COOKIE_SECONDS), "Lax");
        }
    }

    pub fn clear(&mut self, name: &str) {
        if name == SESSION_COOKIE {
            // Never a host-only line for a cookie that may live on a domain.
            return self.clear_session();
        }
        self.set(name, "", Some(0), "Lax");
    }

    pub fn chrome(&self, state: &AppState, user: Option<&User>) -> Chrome {
        Chrome {
            product: state.web.product_name.clone(),
            organization: state.web.organization.clone(),
            csrf: self.csrf.clone(),
            user: user.map(|u| u.username.to_string()),
            admin: user.is_some_and(User::is_admin),
        }
    }

    /// A rendered page with these cookies.
    pub fn page(self, status: StatusCode, template: &impl Template) -> Response {
        match template.render() {
            Ok(html) => self.with((status, Html(html)).into_response()),
            Err(error) => {
                tracing::error!(%error, "a page failed to render");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }

    /// A redirect (303: the browser follows with GET) with these cookies.
    pub fn redirect(self, to: &str) -> Response {
        let mut response = StatusCode::SEE_OTHER.into_response();
        if let Ok(location) = HeaderValue::from_str(to) {
            response.headers_mut().insert(LOCATION, location);
        }
        self.with(response)
    }

    /// A JSON answer to a page's script, with these cookies.
    pub fn json(self, status: StatusCode, body: serde_json::Value) -> Response {
        self.with((status, axum::Json(body)).into_response())
    }

    fn with(self, mut response: Response) -> Response {
        for cookie in self.set {
            response.headers_mut().append(SET_COOKIE, cookie);
        }
        response
    }
}

/// One of the server's cookies from the request, under the name the server gives it.
pub fn cookie(state: &AppState, headers: &HeaderMap, name: &str) -> Option<String> {
    cookies::read(headers, &state.web.cookie_name(name)).filter(|v| !v.is_empty())
}

/// The browser's long-lived id: the one it holds, or a new one to bind a trust to.
pub fn browser_id(state: &AppState, headers: &HeaderMap) -> String {
    cookie(state, headers, BROWSER_COOKIE)
        .filter(|id| id.len() >= 32)
        .unwrap_or_else(|| random::token(32))
}

/// The cookie a page's CSRF tokens are bound to: the session cookie when the browser has one
/// (then only that), else the pre-session cookie.
enum BoundTo {
    Session(String),
    PreSession(String),
}

impl BoundTo {
    fn of(state: &AppState, headers: &HeaderMap) -> Option<Self> {
        if let Some(session) = cookie(state, headers, SESSION_COOKIE) {
            return Some(BoundTo::Session(session));
        }
        cookie(state, headers, PRESESSION_COOKIE)
            .filter(|id| id.len() >= 32)
            .map(BoundTo::PreSession)
    }

    fn binding(&self) -> FormBinding<'_> {
        match self {
            BoundTo::Session(value) => FormBinding::Session(value),
            BoundTo::PreSession(value) => FormBinding::PreSession(value),
        }
    }
}

/// Whether a form's CSRF token was made for the cookies this request carries.
fn form_token_fits(state: &AppState, headers: &HeaderMap, token: &str) -> bool {
    BoundTo::of(state, headers)
        .is_some_and(|bound| state.core.sessions.form_token_fits(bound.binding(), token))
}

/// The signed-in user and their session, from the session cookie.
pub async fn signed_in(state: &AppState, headers: &HeaderMap) -> Option<(SessionRecord, User)> {
    let token = cookie(state, headers, SESSION_COOKIE)?;
    match state
        .core
        .sessions
        .web_session(&token, Instant::now())
        .await
    {
        Ok(found) => found,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "cannot read a web session");
            None
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    chrome: Chrome,
    heading: &'a str,
    message: &'a str,
    link: &'a str,
    link_text: &'a str,
}

/// A page that says what went wrong and where to go next.
pub fn error_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    message: &str,
) -> Response {
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, None);
    let heading = if status.is_server_error() {
        "Something went wrong"
    } else {
        "This request cannot be done"
    };
    cookies.page(
        status,
        &ErrorPage {
            chrome,
            heading,
            message,
            link: "/",
            link_text: "Go to the start page",
        },
    )
}

/// A 500 page that tells nothing but logs the cause; a 503 when the database was too busy.
pub fn internal(
    state: &AppState,
    headers: &HeaderMap,
    error: impl std::fmt::Display + 'static,
) -> Response {
    if crate::http::error::is_busy(&error) {
        tracing::warn!(%error, "a page refused: database busy");
        return crate::http::error::retry_soon(error_page(
            state,
            headers,
            StatusCode::SERVICE_UNAVAILABLE,
            crate::http::error::BUSY,
        ));
    }
    tracing::error!(%error, "a page failed");
    error_page(
        state,
        headers,
        StatusCode::INTERNAL_SERVER_ERROR,
        "The server could not complete this request. Try again in a moment.",
    )
}

/// A method as the security page lists it: what it is, and where its codes go.
pub fn method_label(method: &crate::store::MethodRecord) -> String {
    use crate::domain::MethodKind;
    match method.kind {
        MethodKind::Authenticator => match &method.name {
            Some(name) => format!("Authenticator app ({})", name.as_str()),
            None => "Authenticator app".to_owned(),
        },
        MethodKind::Phone => format!("Phone {}", masked_destination(method)),
        MethodKind::Email => format!("Email to {}", masked_destination(method)),
    }
}

/// A way to be sent a code, in words: "Text message to +1 •••-•••-••55".
pub fn channel_label(method: &crate::store::MethodRecord, channel: Channel) -> String {
    let to = masked_destination(method);
    match channel {
        Channel::Sms => format!("Text message to {to}"),
        Channel::Call => format!("Phone call to {to}"),
        Channel::Whatsapp => format!("WhatsApp message to {to}"),
        Channel::Email => format!("Email to {to}"),
    }
}

fn masked_destination(method: &crate::store::MethodRecord) -> String {
    crate::two_factor::codes::destination_of(method)
        .map(|d| d.masked())
        .unwrap_or_default()
}

/// One way to finish a login or prove a session: a method, and for a phone the channel its
/// code comes by.
pub struct Choice {
    pub id: String,
    /// `sms`, `call` or `whatsapp` for a phone; empty otherwise.
    pub channel: &'static str,
    pub label: String,
}

impl Choice {
    /// The ways `methods` can give a code: an app as it is, an address by email, a phone by
    /// each channel in `phone_channels`. `with_apps`: whether authenticators are listed.
    pub fn list(
        methods: &[crate::store::MethodRecord],
        phone_channels: &[Channel],
        with_apps: bool,
    ) -> Vec<Choice> {
        use crate::domain::MethodKind;
        let mut choices = Vec::new();
        for method in methods {
            let id = method.id.to_string();
            match method.kind {
                MethodKind::Authenticator if with_apps => choices.push(Choice {
                    id,
                    channel: "",
                    label: method_label(method),
                }),
                MethodKind::Authenticator => {}
                MethodKind::Email => choices.push(Choice {
                    id,
                    channel: "",
                    label: channel_label(method, Channel::Email),
                }),
                MethodKind::Phone => {
                    choices.extend(phone_channels.iter().map(|c| Choice {
                        id: id.clone(),
                        channel: c.as_str(),
                        label: channel_label(method, *c),
                    }));
                }
            }
        }
        choices
    }
}

/// What a person calls the device behind a user agent: its browser, or the agent's start.
pub fn device(user_agent: Option<&str>) -> String {
    let agent = user_agent.unwrap_or("Unknown device");
    let browser = ["Firefox", "Edg", "Chrome", "Safari", "curl", "python"]
        .into_iter()
        .find(|name| agent.contains(name))
        .map(|name| if name == "Edg" { "Edge" } else { name });
    browser
        .map(str::to_owned)
        .unwrap_or_else(|| agent.chars().take(40).collect())
}

/// Settings of the pages that come from the configuration.
#[derive(Debug, Clone)]
pub struct WebSettings {
    pub organization: String,
    /// The product's name, shown in the pages' header.
    pub product_name: String,
    /// Cookies are `Secure`, and their names begin with `__Host-`, when the public URL is https.
    pub secure_cookies: bool,
    /// Where the session cookie lives (`session.cookie_domain`).
    pub session_cookie: cookies::SessionCookie,
    /// The login page offers "Remember me" (`session.remember_me_seconds` is not 0).
    pub remember_me: bool,
}

impl WebSettings {
    /// The name of one of the server's cookies as the browser holds it: the session cookie's
    /// as it is set, on a parent domain or not.
    pub fn cookie_name(&self, name: &str) -> String {
        if name == SESSION_COOKIE {
            return self.session_cookie.name().to_owned();
        }
        cookies::name(self.secure_cookies, name)
    }
}
