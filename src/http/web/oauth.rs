//! The browser's side of OpenID Connect: `/oauth2/authorize` answers a client's request with a
//! code when the browser is signed in enough, or keeps the request (its id in a cookie) and
//! sends the person through the login pages; the home page they land on sends them on to
//! `/oauth2/continue`, which takes the request up again.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{Chrome, Cookies, SESSION_COOKIE, cookie, error_page, internal, signed_in};
use crate::clock::Instant;
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::oidc::{
    AuthorizeOutcome, AuthorizeParams, LogoutOutcome, LogoutParams, PENDING_SECONDS,
};

/// The cookie that holds the id of the authorization request waiting for a login.
pub const AUTHORIZE_COOKIE: &str = "tessera_authorize";

pub async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    Query(params): Query<AuthorizeParams>,
) -> Response {
    let now = Instant::now();
    let session = signed_in(&state, &headers)
        .await
        .map(|(session, _)| session);
    match state
        .core
        .oidc
        .authorize(&params, session.as_ref(), &origin, now)
        .await
    {
        Ok(AuthorizeOutcome::Login(pending)) => {
            let mut cookies = Cookies::new(&state, &headers);
            // The browser forgets the request when the server does: a login long after an
            // abandoned sign-in is not sent on to the application.
            cookies.set(AUTHORIZE_COOKIE, &pending.id, Some(PENDING_SECONDS), "Lax");
            cookies.redirect("/login")
        }
        Ok(outcome) => answer(&state, &headers, outcome),
        Err(error) => internal(&state, &headers, error),
    }
}

/// Where the home page sends a signed-in person whose browser keeps a waiting request.
pub async fn resume(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
) -> Response {
    let Some((session, _)) = signed_in(&state, &headers).await else {
        return Cookies::new(&state, &headers).redirect("/login");
    };
    let Some(pending) = cookie(&state, &headers, AUTHORIZE_COOKIE) else {
        return Cookies::new(&state, &headers).redirect("/");
    };
    match state
        .core
        .oidc
        .continue_request(&pending, &session, &origin, Instant::now())
        .await
    {
        Ok(outcome) => finish(&state, &headers, outcome),
        Err(error) => internal(&state, &headers, error),
    }
}

#[derive(Template)]
#[template(path = "oauth_logout.html")]
struct LogoutPage {
    chrome: super::Chrome,
    heading: &'static str,
    /// The question is asked; else the person is logged out.
    ask: bool,
    params: LogoutParams,
}

/// The logout form: the request's parameters, carried by the question page.
#[derive(Debug, serde::Deserialize)]
pub struct LogoutForm {
    csrf: String,
    #[serde(flatten)]
    params: LogoutParams,
}

impl super::forms::HasCsrf for LogoutForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `GET /oauth2/logout`: RP-Initiated Logout; asks first unless the ID token names this
/// browser's session.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    Query(params): Query<LogoutParams>,
) -> Response {
    end_session(&state, &headers, &origin, params, false).await
}

/// `POST /oauth2/logout`: the question page's button.
pub async fn confirm_logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    super::WebForm(form): super::WebForm<LogoutForm>,
) -> Response {
    end_session(&state, &headers, &origin, form.params, true).await
}

async fn end_session(
    state: &AppState,
    headers: &HeaderMap,
    origin: &crate::audit::Origin,
    params: LogoutParams,
    confirmed: bool,
) -> Response {
    let session = signed_in(state, headers).await.map(|(session, _)| session);
    let outcome = state
        .core
        .oidc
        .logout(&params, session.as_ref(), confirmed, origin, Instant::now())
        .await;
    let mut cookies = Cookies::new(state, headers);
    match outcome {
        Ok(LogoutOutcome::Confirm) => {
            let chrome = cookies.chrome(state, None);
            cookies.page(
                StatusCode::OK,
                &LogoutPage {
                    chrome,
                    heading: "Log out?",
                    ask: true,
                    params,
                },
            )
        }
        Ok(LogoutOutcome::Done { redirect }) => {
            cookies.clear_session();
            match redirect {
                // After the question page's form, a redirect elsewhere is held to the form's
                // `form-action 'self'`: the way back is a page (`back_to_client`).
                Some(to) if confirmed => {
                    forgetting(state, back_to_client(state, headers, &to), SESSION_COOKIE)
                }
                Some(to) => cookies.redirect(&to),
                None => {
                    let chrome = cookies.chrome(state, None);
                    cookies.page(
                        StatusCode::OK,
                        &LogoutPage {
                            chrome,
                            heading: "Logged out",
                            ask: false,
                            params,
                        },
                    )
                }
            }
        }
        Ok(LogoutOutcome::ErrorPage(message)) => {
            error_page(state, headers, StatusCode::BAD_REQUEST, &message)
        }
        Err(error) => internal(state, headers, error),
    }
}

#[derive(Template)]
#[template(path = "oauth_return.html")]
struct ReturnPage {
    chrome: Chrome,
    /// The client's redirect URI with the code (or the error), as a redirect would name it.
    to: String,
    /// Where that is (host and port), for the person.
    client: String,
}

/// The way back to the client after a login, as a page that moves on by itself (a refresh)
/// rather than a redirect: this answer ends a chain of redirects that began with the login
/// form's POST, and browsers hold such a chain to the form's `form-action 'self'`
/// (Content-Security-Policy), so a redirect to the client's origin would be blocked.
pub(super) fn back_to_client(state: &AppState, headers: &HeaderMap, to: &str) -> Response {
    let client = url::Url::parse(to)
        .ok()
        .and_then(|url| {
            let host = url.host_str()?.to_owned();
            Some(match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        })
        .unwrap_or_else(|| "the application".to_owned());
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, None);
    cookies.page(
        StatusCode::OK,
        &ReturnPage {
            chrome,
            to: to.to_owned(),
            client,
        },
    )
}

/// The answer to a request taken up after a form (the login's, the consent's): back to the
/// client as a page (`back_to_client`), the waiting request forgotten; or on to the consent
/// question, which waits under a new id.
fn finish(state: &AppState, headers: &HeaderMap, outcome: AuthorizeOutcome) -> Response {
    let response = match outcome {
        AuthorizeOutcome::Consent(_) | AuthorizeOutcome::StepUp(_) => {
            return answer(state, headers, outcome);
        }
        AuthorizeOutcome::Redirect(to) => back_to_client(state, headers, &to),
        outcome => answer(state, headers, outcome),
    };
    forgetting(state, response, AUTHORIZE_COOKIE)
}

/// `response`, telling the browser to forget one of the server's cookies (a page made
/// elsewhere, which set its own); the session cookie under the name and domain it was set with.
pub(super) fn forgetting(state: &AppState, mut response: Response, cookie_name: &str) -> Response {
    let lines = if cookie_name == SESSION_COOKIE {
        state.web.session_cookie.clearing()
    } else {
        crate::http::cookies::line(state.web.secure_cookies, cookie_name, "", Some(0), "Lax")
            .into_iter()
            .collect()
    };
    for line in lines {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, line);
    }
    response
}

#[derive(Template)]
#[template(path = "oauth_consent.html")]
struct ConsentPage {
    chrome: Chrome,
    client: String,
    /// What each scope asked gives, in words.
    gives: Vec<&'static str>,
}

/// `GET /oauth2/consent`: what the application asks, and the person's two buttons.
pub async fn consent(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some((_, user)) = signed_in(&state, &headers).await else {
        return Cookies::new(&state, &headers).redirect("/login");
    };
    let Some(pending) = cookie(&state, &headers, AUTHORIZE_COOKIE) else {
        return Cookies::new(&state, &headers).redirect("/");
    };
    match state
        .core
        .oidc
        .consent_question(&pending, Instant::now())
        .await
    {
        Ok(Some(question)) => {
            let cookies = Cookies::new(&state, &headers);
            let chrome = cookies.chrome(&state, Some(&user));
            let gives = question
                .scopes
                .iter()
                .filter_map(|s| scope_words(s))
                .collect();
            cookies.page(
                StatusCode::OK,
                &ConsentPage {
                    chrome,
                    client: question.client_name,
                    gives,
                },
            )
        }
        Ok(None) => error_page(
            &state,
            &headers,
            StatusCode::NOT_FOUND,
            "This sign-in took too long or was finished already. Go back to the application and \
             sign in again.",
        ),
        Err(error) => internal(&state, &headers, error),
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct ConsentForm {
    csrf: String,
    /// `allow` or `deny`, the button pressed.
    answer: String,
}

impl super::forms::HasCsrf for ConsentForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /oauth2/consent`: the person's answer.
pub async fn answer_consent(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    super::WebForm(form): super::WebForm<ConsentForm>,
) -> Response {
    let Some((session, _)) = signed_in(&state, &headers).await else {
        return Cookies::new(&state, &headers).redirect("/login");
    };
    let Some(pending) = cookie(&state, &headers, AUTHORIZE_COOKIE) else {
        return Cookies::new(&state, &headers).redirect("/");
    };
    let allow = match form.answer.as_str() {
        "allow" => true,
        "deny" => false,
        _ => {
            return error_page(
                &state,
                &headers,
                StatusCode::BAD_REQUEST,
                "The answer was neither Allow nor Deny. Go back and press one of the buttons.",
            );
        }
    };
    match state
        .core
        .oidc
        .answer_consent(&pending, &session, allow, &origin, Instant::now())
        .await
    {
        Ok(outcome) => finish(&state, &headers, outcome),
        Err(error) => internal(&state, &headers, error),
    }
}

/// What a scope gives an application, as the consent page says it.
fn scope_words(scope: &str) -> Option<&'static str> {
    match scope {
        "openid" => Some("Who you are: a number that stands for your account here"),
        "profile" => Some("Your username and your name"),
        "email" => Some("Your email address"),
        "groups" => Some("The groups you belong to"),
        "offline_access" => Some("Access that lasts after you log out here, until you revoke it"),
        _ => None,
    }
}

/// Whether the browser keeps a request waiting for its login (the home page then sends it on).
pub fn waiting(state: &AppState, headers: &HeaderMap) -> bool {
    cookie(state, headers, AUTHORIZE_COOKIE).is_some()
}

fn answer(state: &AppState, headers: &HeaderMap, outcome: AuthorizeOutcome) -> Response {
    match outcome {
        AuthorizeOutcome::Redirect(to) => Cookies::new(state, headers).redirect(&to),
        AuthorizeOutcome::ErrorPage(message) => {
            error_page(state, headers, StatusCode::BAD_REQUEST, &message)
        }
        AuthorizeOutcome::Login(_) => Cookies::new(state, headers).redirect("/login"),
        AuthorizeOutcome::Consent(pending) => {
            let mut cookies = Cookies::new(state, headers);
            cookies.set(AUTHORIZE_COOKIE, &pending.id, Some(PENDING_SECONDS), "Lax");
            cookies.redirect("/oauth2/consent")
        }
        AuthorizeOutcome::StepUp(pending) => {
            let mut cookies = Cookies::new(state, headers);
            cookies.set(AUTHORIZE_COOKIE, &pending.id, Some(PENDING_SECONDS), "Lax");
            cookies.redirect("/oauth2/step-up")
        }
    }
}
