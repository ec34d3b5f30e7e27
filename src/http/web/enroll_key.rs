//! A security key or a passkey enrolled during a login that must enrol a second factor (the
//! enrolment page's "Add a security key"). The page's script (`static/app.js`) asks `start`
//! for the options of `navigator.credentials.create` and posts the browser's answer to
//! `finish`, each a form body with the page's CSRF token, under the pending login's cookie (no
//! session yet). Both answer JSON: `{options}`; `{recoveryCodes, completion}`, which the page
//! shows once before its form finishes the login at `/login/enroll/finish` as any enrolment's
//! does; `{redirect}` for a login gone or one that must finish another way; or a refusal's
//! `{message}`, shown beside the buttons.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::forms::{EnrolKeyForm, KeyAnswerForm};
use super::login::explain;
use super::{Cookies, PENDING_COOKIE, WebForm, cookie, internal};
use crate::clock::Instant;
use crate::domain::FieldError;
use crate::http::AppState;
use crate::http::error::throttled;
use crate::http::extract::RequestOrigin;
use crate::two_factor::TwoFactorError;
use crate::webauthn::{Claimed, RegistrationAnswer, WebauthnError};

/// Where a login that expired while enrolling sends the page: back to this choice after the
/// password.
const EXPIRED: &str = "/login?expired=enroll";
const NOT_ADDED: &str = "No key was added";
const KEYS_OFF: &str =
    "Security keys are off on this server. Choose another way to set up your second factor.";
/// The name a key gets when the person gives none.
const DEFAULT_NAME: &str = "Security key";
const PASSKEY_NAME: &str = "Passkey";

/// A refusal for the page's script: the sentence to show beside the buttons.
fn refused(cookies: Cookies, message: String) -> Response {
    cookies.json(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({ "message": message }),
    )
}

/// A field the service refused, as a sentence: "No key was added: the key's answer says the
/// person was not present (touch the key). Try again."
fn said(error: &FieldError) -> String {
    let what = match error.field.as_str() {
        "name" => {
            let mut message = error.message.clone();
            if let Some(first) = message.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            return format!("{message}.");
        }
        "credential" if error.code.starts_with("[duplicate]") => {
            return format!("{NOT_ADDED}: this key is registered already.");
        }
        "workflow" => return format!("{NOT_ADDED}: this kind of key cannot be added here."),
        "credential.response.attestationObject" => "the key's answer",
        "credential.response.clientDataJSON" => "the browser's answer",
        _ => "the answer from your browser",
    };
    let mut message = format!("{NOT_ADDED}: {what} {}.", error.message);
    if !error.message.contains("again") {
        message.push_str(" Try again.");
    }
    message
}

/// The options for `navigator.credentials.create`: a security key's, or a passkey's when the
/// form's `kind` says `passkey`, for the user of the pending login.
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<EnrolKeyForm>,
) -> Response {
    let cookies = Cookies::new(&state, &headers);
    let Some(id) = cookie(&state, &headers, PENDING_COOKIE) else {
        return cookies.json(StatusCode::OK, json!({ "redirect": EXPIRED }));
    };
    let passkey = form.kind.as_deref() == Some("passkey");
    let name = match form.name.trim() {
        "" if passkey => PASSKEY_NAME,
        "" => DEFAULT_NAME,
        given => given,
    };
    match state
        .core
        .webauthn
        .start_registration_at_login(&id, (name, None), passkey, &origin, Instant::now())
        .await
    {
        Ok(started) => cookies.json(StatusCode::OK, json!({ "options": started.options })),
        Err(error) => refusal(&state, &headers, cookies, error),
    }
}

/// The browser's answer to `start`'s options: the key kept for the pending login's user, and
/// the recovery codes and completion code the page shows before the login finishes.
pub async fn finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<KeyAnswerForm>,
) -> Response {
    let cookies = Cookies::new(&state, &headers);
    let Some(id) = cookie(&state, &headers, PENDING_COOKIE) else {
        return cookies.json(StatusCode::OK, json!({ "redirect": EXPIRED }));
    };
    let Ok(answer) = serde_json::from_str::<RegistrationAnswer>(&form.credential) else {
        return refused(
            cookies,
            format!(
                "{NOT_ADDED}: the answer from your browser is not a WebAuthn credential. Try again."
            ),
        );
    };
    // The page is this server's own, so its answer was made at this server's origin.
    let Some(party) = state.core.webauthn.relying_party() else {
        return refused(cookies, KEYS_OFF.into());
    };
    let claimed = Claimed {
        origin: party.origin.as_str(),
        rp_id: &party.id,
    };
    match state
        .core
        .webauthn
        .finish_registration_at_login(&id, &answer, claimed, &origin, Instant::now())
        .await
    {
        Ok(enrolled) => cookies.json(
            StatusCode::OK,
            json!({
                "recoveryCodes": enrolled.registered.recovery_codes.unwrap_or_default(),
                "completion": enrolled.completion_code,
            }),
        ),
        Err(error) => refusal(&state, &headers, cookies, error),
    }
}

/// Why no key was added, for the page: a login gone goes back to the password, and one whose
/// user has a second factor now (added meanwhile) to the prompt for it.
fn refusal(
    state: &AppState,
    headers: &HeaderMap,
    cookies: Cookies,
    error: WebauthnError,
) -> Response {
    match error {
        WebauthnError::Invalid(fields) => match fields.first() {
            Some(first) => refused(cookies, said(first)),
            None => refused(cookies, format!("{NOT_ADDED}. Try again.")),
        },
        WebauthnError::Refused(field) => refused(cookies, said(&field)),
        WebauthnError::Unavailable => refused(cookies, KEYS_OFF.into()),
        WebauthnError::Throttled {
            retry_after_seconds,
            ..
        } => throttled(
            refused(
                cookies,
                format!(
                    "{NOT_ADDED}: too many keys were begun for your account lately. Try again in \
                     {}.",
                    crate::http::web::login_key::minutes(retry_after_seconds)
                ),
            ),
            retry_after_seconds,
        ),
        WebauthnError::NoSuchUser | WebauthnError::Inactive => {
            refused(cookies, explain(&TwoFactorError::UserNotFound))
        }
        WebauthnError::TwoFactor(TwoFactorError::UnknownChallenge) => {
            cookies.json(StatusCode::OK, json!({ "redirect": EXPIRED }))
        }
        WebauthnError::TwoFactor(TwoFactorError::Forbidden(_)) => {
            cookies.json(StatusCode::OK, json!({ "redirect": "/login/code" }))
        }
        WebauthnError::TwoFactor(TwoFactorError::Internal(error))
        | WebauthnError::Internal(error) => internal(state, headers, format!("{error:#}")),
        WebauthnError::TwoFactor(other) => refused(cookies, explain(&other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Invalid;

    #[test]
    fn a_refused_field_is_said_as_a_sentence_for_the_page() {
        let absent = FieldError::new(
            "credential.response.attestationObject",
            Invalid::new(
                "[invalid]",
                "says the person was not present (touch the key)",
            ),
        );
        assert_eq!(
            said(&absent),
            "No key was added: the key's answer says the person was not present (touch the \
             key). Try again."
        );
        let spent = FieldError::new(
            "credential.response.clientDataJSON",
            Invalid::new("[invalid]", "answers a challenge already used: start again"),
        );
        assert_eq!(
            said(&spent),
            "No key was added: the browser's answer answers a challenge already used: start \
             again."
        );
        let long = FieldError::new(
            "name",
            Invalid::new("[tooLong]", "a key's name has at most 64 characters"),
        );
        assert_eq!(said(&long), "A key's name has at most 64 characters.");
    }
}
