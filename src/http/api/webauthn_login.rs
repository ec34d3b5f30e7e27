//! `POST /api/webauthn/login`: a login finished by a key. With a `twoFactorId`, a security key
//! (or passkey) as the second factor of the login `POST /api/login` began, answered as
//! `POST /api/two-factor/login` answers; without one, a passkey sign-in (FusionAuth's
//! `bootstrap`), which needs no password.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Deserialize;

use super::ids::parse_application_id;
use super::views::{TokenResponse, UserView};
use crate::clock::Instant;
use crate::domain::LoginType;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, RequestOrigin, apply_claimed_ip};
use crate::two_factor::KeyLogin;
use crate::webauthn::{AssertionAnswer, Claimed, PasskeySignIn};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebauthnLoginBody {
    /// The login waiting for its second factor (`POST /api/login`'s 242), whose ceremony
    /// `POST /api/webauthn/start` began; left out: a passkey sign-in (`bootstrap`).
    #[serde(default)]
    two_factor_id: Option<String>,
    /// The browser's `PublicKeyCredential`, binary fields in base64url.
    credential: AssertionAnswer,
    /// Where the browser made it: this server's origin (its public URL).
    origin: String,
    /// This server's relying-party id.
    rp_id: String,
    /// With a `twoFactorId`: trust this computer, as `POST /api/two-factor/login` does (the
    /// answer's `twoFactorTrustId`). A passkey sign-in trusts no computer: it needs no trust.
    #[serde(default)]
    trust_computer: bool,
    /// FusionAuth's clients send the trust they hold; a key gives the second factor itself,
    /// so it is neither needed nor spent here.
    #[serde(default)]
    two_factor_trust_id: Option<String>,
    #[serde(default)]
    application_id: Option<String>,
    /// The end user's address when an application logs in on their behalf.
    #[serde(default)]
    ip_address: Option<String>,
    #[serde(rename = "noJWT", default)]
    #[allow(dead_code)]
    no_jwt: Option<bool>,
    #[serde(default)]
    #[allow(dead_code)]
    #[schema(value_type = Option<Object>)]
    meta_data: Option<serde_json::Value>,
}

/// `POST /api/webauthn/login`: 200 with tokens, as a login's other ways answer.
#[utoipa::path(
    post, path = "/api/webauthn/login", tag = "webauthn",
    request_body = WebauthnLoginBody,
    responses(
        (status = 200, description = "Logged in. With a `twoFactorId`: the session's `amr` is `pwd`, `hwk`, `mfa`, with `twoFactorTrustId` when `trustComputer` was asked for and the settings trust computers. Without (a passkey): `hwk`, `user`, `mfa`", body = TokenResponse),
        (status = 400, description = "A field refused, nothing written and nothing counted: `[invalid]origin`, `[invalid]rpId` (not this server's), an answer that does not read (`credential.response.*`: not base64url, not client data JSON with a challenge, not authenticator data), `loginId`… For a passkey, the checks' refusals too, each audited as a `login.failure` once the user is known: `[invalid]credential.response.clientDataJSON` (another origin, a challenge unknown, used or expired), `[invalid]credential.response.userHandle` (missing: a passkey names its user), `[invalid]credential.id` (not a passkey of that user: a security key is a second factor only), `[invalid]credential.response.authenticatorData` (another relying party, the person not verified), `[invalid]credential.response.signature`, `[cloned]credential.response.authenticatorData` (a counter that did not move forward: audited as `webauthn.clone_refused`); or `[WebAuthnDisabled]`"),
        (status = 404, description = "The `twoFactorId` is unknown, finished, expired or out of attempts (no body)"),
        (status = 421, description = "With a `twoFactorId`: the key's answer was refused, counted as a wrong code; `fieldErrors` says why, as for a passkey's 400 (`[cloned]…` audited as `webauthn.clone_refused`), and `[invalid]credential.response.clientDataJSON` for a challenge of another login", body = crate::http::error::Errors),
        (status = 423, description = "A right passkey of a disabled account (no body)"),
        (status = 429, description = "Too many wrong second-factor codes for this account", body = crate::http::error::Errors),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(mut origin): RequestOrigin,
    ApiJson(body): ApiJson<WebauthnLoginBody>,
) -> Result<Json<TokenResponse>, ApiError> {
    let application_id = parse_application_id(body.application_id.as_deref())?;
    apply_claimed_ip(&state, &headers, body.ip_address.as_deref(), &mut origin).await?;
    let _ = body.two_factor_trust_id;
    let claimed = Claimed {
        origin: &body.origin,
        rp_id: &body.rp_id,
    };
    let now = Instant::now();
    let webauthn = &state.core.webauthn;
    let Some(two_factor_id) = body.two_factor_id else {
        let request = PasskeySignIn {
            login_type: LoginType::Api,
            application_id,
            // An application's tokens are renewed by their refresh token, never idle.
            remember_me: false,
        };
        let done = webauthn
            .finish_passkey_login(&request, &body.credential, claimed, &origin, now)
            .await?;
        return Ok(Json(TokenResponse::new(
            done.tokens,
            Some(UserView::with_methods(&done.user, &done.methods)),
        )));
    };
    let request = KeyLogin {
        two_factor_id,
        trust_computer: body.trust_computer,
        application_id,
        browser_id: None,
    };
    let done = webauthn
        .finish_second_factor(&request, &body.credential, claimed, &origin, now)
        .await?;
    Ok(Json(
        TokenResponse::new(
            done.tokens,
            Some(UserView::with_methods(&done.user, &done.methods)),
        )
        .with_trust(done.trust_token.map(|trust| trust.token)),
    ))
}
