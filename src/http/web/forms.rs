//! Form bodies with their CSRF check: a form struct has a `csrf` field, and [`WebForm`] only
//! yields it when that field was made for the browser's session or pre-session cookie (signed
//! double submit, `crypto::FormTokens`, compared in constant time).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::Response;
use serde::de::DeserializeOwned;

use super::{error_page, form_token_fits};
use crate::http::AppState;

pub trait HasCsrf {
    fn csrf(&self) -> &str;
}

pub struct WebForm<T>(pub T);

impl<T: DeserializeOwned + HasCsrf> FromRequest<AppState> for WebForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let headers = request.headers().clone();
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                error_page(
                    state,
                    &headers,
                    rejection.status(),
                    "The form could not be read; it may be too large.",
                )
            })?;
        let form: T = serde_urlencoded::from_bytes(&bytes).map_err(|_| {
            error_page(
                state,
                &headers,
                StatusCode::BAD_REQUEST,
                "The form was not filled in as expected. Go back and try again.",
            )
        })?;
        if !form_token_fits(state, &headers, form.csrf()) {
            return Err(error_page(
                state,
                &headers,
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from this site. Go back, reload the page and try again.",
            ));
        }
        Ok(WebForm(form))
    }
}

macro_rules! forms {
    ($($name:ident { $($field:ident : $ty:ty),* $(,)? })*) => {
        $(
            #[derive(Debug, serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            pub struct $name {
                pub csrf: String,
                $(#[serde(default)] pub $field: $ty,)*
            }

            impl HasCsrf for $name {
                fn csrf(&self) -> &str {
                    &self.csrf
                }
            }
        )*
    };
}

forms! {
    LoginForm { username: String, password: String, resume: Option<String>, remember: Option<String> }
    CodeForm { method: String, channel: Option<String>, code: String, trust: Option<String>, migrated: Option<String>, access: Option<String> }
    MethodForm { method: String, channel: Option<String> }
    PhoneForm { mobile_phone: String, channel: Option<String> }
    PhoneConfirmForm { mobile_phone: String, channel: Option<String>, code: String, method: Option<String> }
    AuthenticatorForm { name: String, code: String }
    EmailForm { email: String }
    EmailConfirmForm { email: String, code: String }
    FinishForm { completion: String, saved: Option<String>, trust: Option<String> }
    EmptyForm {}
    ReauthForm { password: String, code: String }
    PasswordForm { current_password: String, new_password: String, confirm_password: String, keep_session: Option<String> }
    ForgotForm { login_id: String, by: Option<String> }
    ForgotCodeForm { login_id: String, code: String }
    ResetForm { username: String, new_password: String, confirm_password: String }
    TrustLevelForm { level: String }
    IdForm { id: String }
    NewUserForm { username: String, email: String, email_verified: Option<String>, password: String, invite: Option<String> }
    AdminProfileForm { full_name: String, email: String, email_verified: Option<String>, admin: Option<String>, active: Option<String>, two_factor_required: Option<String> }
    AccountSettingsForm { unverified_email_login: Option<String>, self_registration: Option<String>, registration_domains: String }
    RegisterForm { username: String, email: String, password: String, confirm_password: String }
    AdminPhoneForm { mobile_phone: String, reason: String }
    ReasonForm { reason: String, confirm: Option<String> }
    ConfirmForm { confirm: Option<String> }
    AdminSettingsForm {
        web_login_policy: String,
        api_login_policy: String,
        authenticator: Option<String>,
        sms: Option<String>,
        voice: Option<String>,
        whatsapp: Option<String>,
        email: Option<String>,
        trust: Option<String>,
        trust_days: String,
        users_choose: Option<String>,
        reset_by_sms: Option<String>,
        max_code_attempts: String,
        challenge_ttl_seconds: String,
        send_code_on_login: Option<String>,
        required_for_groups: String,
        security_keys: Option<String>,
        passkeys: Option<String>,
        key_verification: Option<String>,
        keys_for_admins: Option<String>,
        keys_for_groups: Option<String>,
        allowed_aaguids: Option<String>,
    }
    AdminDeliveryForm {
        provider: String,
        sender: String,
        verify_service_sid: String,
        account_sid: String,
        auth_token: String,
        from_number: String,
        sms: Option<String>,
        call: Option<String>,
        email: Option<String>,
        whatsapp: Option<String>,
        friendly_name: String,
        code_length: String,
        code_ttl_seconds: String,
        max_check_attempts: String,
        fraud_guard: Option<String>,
        allowed_countries: String,
        blocked_prefixes: String,
        per_destination: String,
    }
    TestMessageForm { to: String, channel: String }
    SmtpForm { host: String, port: String, tls: String, username: String, password: String, from: String }
    WebhookForm { url: String, secret: String }
    SenderTestForm { to: String, channel: String }
    NameForm { name: String }
    KeyAnswerForm { credential: String }
    PasskeyLoginForm { credential: String, remember: Option<String> }
    EnrolKeyForm { name: String, kind: Option<String> }
    KeyLoginForm { credential: String, trust: Option<String> }
    ReauthKeyForm { credential: String, password: String }
    KeyRemovalForm { id: String, confirm: Option<String> }
    GroupForm { name: String, description: String }
    MemberForm { username: String }
    ClientForm {
        client_id: String,
        name: String,
        public: Option<String>,
        redirect_uris: String,
        post_logout_redirect_uris: String,
        scopes: String,
        allowed_groups: String,
        requires_second_factor: Option<String>,
        first_party: Option<String>,
        access_token_seconds: String,
        id_token_seconds: String,
        refresh_token_seconds: String,
        id_token_alg: String,
    }
    AdminWelcomeForm { terms_text: String, new_version: Option<String>, full_name: Option<String>, email: Option<String>, mobile_phone: Option<String> }
    WelcomeForm { full_name: Option<String>, email: Option<String>, mobile_phone: Option<String>, terms_version: String, accept: Option<String>, invited: Option<String> }
}

/// The channel a form names for a phone's code (`sms`, `call`, `whatsapp`), if it names one.
pub fn phone_channel(raw: Option<&str>) -> Option<crate::domain::Channel> {
    raw.and_then(|raw| raw.parse::<crate::domain::Channel>().ok())
        .filter(|c| c.is_phone())
}
