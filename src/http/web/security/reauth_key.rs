//! A security key on the re-authentication page (`reauth.rs`), for each of its purposes: the
//! page's script (`static/app.js`) asks `{action}/key/start` for the options of
//! `navigator.credentials.get` (one route for all three: an assertion by the signed-in person's
//! keys) and posts the key's answer, with the password when the page asks for it, to
//! `{action}/key/finish`; both answer JSON, as the login's key routes do (`login_key.rs`):
//! `{options}`, `{redirect}`, or a refusal's `{message}` shown beside the button. The finish of
//! the security settings is here; the application's is `web::step_up`'s, the site's
//! `web::forward_auth`'s.

use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use crate::clock::Instant;
use crate::http::AppState;
use crate::http::error::throttled;
use crate::http::extract::RequestOrigin;
use crate::http::web::forms::{EmptyForm, ReauthKeyForm};
use crate::http::web::login::explain;
use crate::http::web::login_key::{said, too_many};
use crate::http::web::{Cookies, WebForm, internal, signed_in};
use crate::two_factor::TwoFactorError;
use crate::webauthn::{AssertionAnswer, Claimed, KeyAnswer, WebauthnError};

/// The words before why a key was refused.
const KEY_REFUSED: &str = "Your security key did not confirm it's you";
const KEYS_OFF: &str = "Security keys are off on this server. Use a code instead.";

/// A refusal for the page's script: the sentence beside the button.
fn refused(cookies: Cookies, status: StatusCode, message: String) -> Response {
    cookies.json(status, json!({ "message": message }))
}

/// Where the page goes next, for the script.
pub fn go_to(state: &AppState, headers: &HeaderMap, to: &str) -> Response {
    Cookies::new(state, headers).json(StatusCode::OK, json!({ "redirect": to }))
}

/// A page's redirect (the login, the home page) as the script's `{redirect}`; any other
/// response as it is.
pub fn as_script_answer(state: &AppState, headers: &HeaderMap, response: Response) -> Response {
    match response
        .headers()
        .get(LOCATION)
        .and_then(|to| to.to_str().ok())
    {
        Some(to) if response.status().is_redirection() => go_to(state, headers, to),
        _ => response,
    }
}

/// The browser's answer from the form, with what it claims of where it was made: this
/// server's own origin and rpId (the page is this server's). Or why not, for `refuse`.
pub fn answer_of<'a>(
    state: &'a AppState,
    raw: &str,
) -> Result<(AssertionAnswer, Claimed<'a>), String> {
    let Some(party) = state.core.webauthn.relying_party() else {
        return Err(KEYS_OFF.into());
    };
    let answer = serde_json::from_str(raw).map_err(|_| {
        format!(
            "{KEY_REFUSED}: the answer from your browser is not a WebAuthn credential. Try again."
        )
    })?;
    let claimed = Claimed {
        origin: party.origin.as_str(),
        rp_id: &party.id,
    };
    Ok((answer, claimed))
}

/// A refusal `answer_of` said, for the script.
pub fn refuse(state: &AppState, headers: &HeaderMap, message: String) -> Response {
    refused(
        Cookies::new(state, headers),
        StatusCode::UNPROCESSABLE_ENTITY,
        message,
    )
}

/// `{action}/key/start`: the options for an assertion by one of the signed-in person's keys.
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebForm(_form): WebForm<EmptyForm>,
) -> Response {
    let Some((_, user)) = signed_in(&state, &headers).await else {
        return go_to(&state, &headers, "/login");
    };
    match state
        .core
        .webauthn
        .start_assertion(user.id, Instant::now())
        .await
    {
        Ok(started) => Cookies::new(&state, &headers)
            .json(StatusCode::OK, json!({ "options": started.options })),
        Err(error) => refusal(&state, &headers, error),
    }
}

/// `/security/reauth/key/finish`: the password and the key's answer; the security settings
/// next.
pub async fn finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<ReauthKeyForm>,
) -> Response {
    let Some((session, _)) = signed_in(&state, &headers).await else {
        return go_to(&state, &headers, "/login");
    };
    let (answer, claimed) = match answer_of(&state, &form.credential) {
        Ok(read) => read,
        Err(message) => return refuse(&state, &headers, message),
    };
    let key = KeyAnswer {
        answer: &answer,
        claimed,
    };
    match state
        .core
        .logins
        .reauthenticate_with_key(&session, &form.password, key, &origin, Instant::now())
        .await
    {
        Ok(()) => go_to(&state, &headers, "/security"),
        Err(error) => refusal(&state, &headers, error),
    }
}

/// Why the key did not confirm the person, for the script: a sentence (a 422, or a 429 past a
/// limit), the login page when the session ended.
pub fn refusal(state: &AppState, headers: &HeaderMap, error: WebauthnError) -> Response {
    let cookies = Cookies::new(state, headers);
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let message = match error {
        WebauthnError::Invalid(fields) => match fields.first() {
            Some(f) if f.field == "password" => {
                "Enter your password, then use your security key.".to_owned()
            }
            Some(f) => said(KEY_REFUSED, f),
            None => format!("{KEY_REFUSED}. Try again."),
        },
        WebauthnError::Refused(field) => said(KEY_REFUSED, &field),
        WebauthnError::Unavailable => KEYS_OFF.into(),
        WebauthnError::Throttled {
            retry_after_seconds,
            ..
        } => return too_many(cookies, retry_after_seconds),
        WebauthnError::NoSuchUser | WebauthnError::Inactive => {
            "This account is not active. Ask your administrator.".into()
        }
        // The only wrong guess a key's re-authentication makes is its password.
        WebauthnError::TwoFactor(TwoFactorError::WrongCode) => {
            "The password is not right. Enter it again, then use your security key.".into()
        }
        WebauthnError::TwoFactor(TwoFactorError::Forbidden(_)) => {
            return go_to(state, headers, "/login");
        }
        WebauthnError::TwoFactor(TwoFactorError::Internal(error))
        | WebauthnError::Internal(error) => {
            return internal(state, headers, format!("{error:#}"));
        }
        WebauthnError::TwoFactor(other) => {
            let page = refused(cookies, unprocessable, explain(&other));
            return match other {
                TwoFactorError::TooManyFailures {
                    retry_after_seconds,
                } => throttled(page, retry_after_seconds),
                _ => page,
            };
        }
    };
    refused(cookies, unprocessable, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{FieldError, Invalid};

    #[test]
    fn a_refused_key_is_said_beside_the_button() {
        let expired = FieldError::new(
            "credential.response.clientDataJSON",
            Invalid::new("[invalid]", "answers a challenge that expired: start again"),
        );
        assert_eq!(
            said(KEY_REFUSED, &expired),
            "Your security key did not confirm it's you: the browser's answer answers a \
             challenge that expired: start again."
        );
    }
}
