//! `/oauth2/authorize`: the authorization request checked (the client and its redirect URI
//! first: a request that fails them is shown as an error page, never redirected), then either a
//! code for the browser's session when it satisfies the request, or the request kept while the
//! person logs in on Tessera's pages (`Pending`), taken up again once they are signed in
//! (`continue_request`).

use serde::{Deserialize, Serialize};

use super::claims::second_factor_given;
use super::{Oidc, OidcError};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::random;
use crate::domain::UserId;
use crate::store::{ClientRecord, NewCode, SessionRecord};

/// How long a code lives: a client trades it at once.
const CODE_SECONDS: i64 = 60;
/// How long a request waits for its person to log in (and set up a second factor if due).
pub const PENDING_SECONDS: i64 = 30 * 60;

/// The query of an authorization request, as it arrived.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    pub acr_values: Option<String>,
}

/// A request whose client and redirect URI stand, and whose other parameters were checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Checked {
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    pub(super) scope: String,
    pub(super) state: Option<String>,
    pub(super) nonce: Option<String>,
    pub(super) code_challenge: Option<String>,
    /// `prompt=login`, or a `max_age`: how recent the login must be, in seconds.
    pub(super) max_age: Option<i64>,
    /// When the client asked (milliseconds): a login or re-authentication after it meets any
    /// `max_age`, however long the person then took.
    #[serde(default)]
    pub(super) asked_at: i64,
    pub(super) prompt_none: bool,
    /// `prompt=consent`: ask the person again, whatever they allowed before.
    #[serde(default)]
    pub(super) prompt_consent: bool,
    /// The client or `acr_values=mfa` asks for a second factor.
    pub(super) second_factor: bool,
}

impl Checked {
    /// Whether a session authenticated at `authenticated_at` is recent enough for the request.
    pub(super) fn recent_enough(&self, authenticated_at: Instant, now: Instant) -> bool {
        match self.max_age {
            None => true,
            Some(max_age) => {
                authenticated_at.millis() > self.asked_at
                    || now.millis() - authenticated_at.millis() <= max_age * 1000
            }
        }
    }
}

impl Checked {
    /// A request as `keep_pending` kept it.
    pub(super) fn from_kept(stored: &str) -> Result<Self, OidcError> {
        Ok(serde_json::from_str(stored).map_err(|e| anyhow::anyhow!("a kept request: {e}"))?)
    }
}

/// What the browser is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeOutcome {
    /// Back to the client: with a code, or with an error it can show.
    Redirect(String),
    /// The person logs in first; the request waits under this id (the browser keeps it).
    Login(Pending),
    /// The person is signed in, but proves again what the request asks (the password when the
    /// login is too old, a second factor the login did not give); the request waits.
    StepUp(Pending),
    /// The client or redirect URI cannot be trusted with a redirect: a page says what is wrong.
    ErrorPage(String),
    /// The person is asked what the client may have; the request waits under this id.
    Consent(Pending),
}

/// A request waiting for its person, under the id the browser keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: String,
}

/// What a signed-in person proves before a waiting request goes on (`StepUp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The login is older than the request allows (`max_age`, `prompt=login`): the password
    /// again, with a code when the account has a method.
    Reauthenticate,
    /// The request asks for a second factor the login did not give: a code.
    SecondFactor,
}

/// The step a signed-in person still owes a request, if any.
pub(super) fn step_owed(checked: &Checked, session: &SessionRecord, now: Instant) -> Option<Step> {
    if !checked.recent_enough(session.authenticated_at, now) {
        Some(Step::Reauthenticate)
    } else if checked.second_factor && !second_factor_given(&session.amr) {
        Some(Step::SecondFactor)
    } else {
        None
    }
}

/// The outcome of taking up a waiting request.
pub type Continued = AuthorizeOutcome;

impl Oidc {
    /// Answers an authorization request for a browser with `session` (a web session, if any).
    pub async fn authorize(
        &self,
        params: &AuthorizeParams,
        session: Option<&SessionRecord>,
        origin: &Origin,
        now: Instant,
    ) -> Result<AuthorizeOutcome, OidcError> {
        let client = match self.requesting_client(params).await? {
            Ok(client) => client,
            Err(page) => return Ok(AuthorizeOutcome::ErrorPage(page)),
        };
        let redirect_uri = match registered_redirect(&client, params.redirect_uri.as_deref()) {
            Ok(uri) => uri,
            Err(page) => return Ok(AuthorizeOutcome::ErrorPage(page)),
        };
        let mut checked = match check(params, &client, redirect_uri) {
            Ok(checked) => checked,
            Err(redirect) => return Ok(AuthorizeOutcome::Redirect(redirect)),
        };
        checked.asked_at = now.millis();
        self.decide(&client, checked, session, origin, now).await
    }

    /// Takes up the request a browser kept while its person logged in.
    pub async fn continue_request(
        &self,
        pending_id: &str,
        session: &SessionRecord,
        origin: &Origin,
        now: Instant,
    ) -> Result<Continued, OidcError> {
        let (checked, client) = match self.take_pending(pending_id, now).await? {
            Ok(taken) => taken,
            Err(page) => return Ok(page),
        };
        self.decide(&client, checked, Some(session), origin, now)
            .await
    }

    /// Takes a waiting request and its client; the page that says why, when either is gone.
    pub(super) async fn take_pending(
        &self,
        pending_id: &str,
        now: Instant,
    ) -> Result<Result<(Checked, ClientRecord), AuthorizeOutcome>, OidcError> {
        let Some(stored) = self
            .oidc_store
            .take_request(&random::lookup_digest(pending_id), now)
            .await?
        else {
            return Ok(Err(AuthorizeOutcome::ErrorPage(
                "This sign-in took too long or was finished already. Go back to the application \
                 and sign in again."
                    .into(),
            )));
        };
        let checked = Checked::from_kept(&stored)?;
        match self.oidc_store.client(&checked.client_id).await? {
            Some(client) => Ok(Ok((checked, client))),
            None => Ok(Err(AuthorizeOutcome::ErrorPage(
                "The application was removed while you signed in.".into(),
            ))),
        }
    }

    async fn requesting_client(
        &self,
        params: &AuthorizeParams,
    ) -> Result<Result<ClientRecord, String>, OidcError> {
        let Some(client_id) = params.client_id.as_deref().filter(|c| !c.is_empty()) else {
            return Ok(Err("The application sent no client_id.".into()));
        };
        if client_id.len() > 64 {
            return Ok(Err(
                "The application's client_id is not one registered here.".into(),
            ));
        }
        Ok(self
            .oidc_store
            .client(client_id)
            .await?
            .ok_or_else(|| "The application's client_id is not one registered here.".into()))
    }

    /// A code for the session when it satisfies the request; else a login, or (with
    /// `prompt=none`) the error that says which.
    pub(super) async fn decide(
        &self,
        client: &ClientRecord,
        checked: Checked,
        session: Option<&SessionRecord>,
        origin: &Origin,
        now: Instant,
    ) -> Result<AuthorizeOutcome, OidcError> {
        let Some(session) = session else {
            if checked.prompt_none {
                return Ok(AuthorizeOutcome::Redirect(error_redirect(
                    &checked,
                    "login_required",
                    "the person is not signed in",
                    &self.issuer,
                )));
            }
            let id = self.keep_pending(client, &checked, now).await?;
            return Ok(AuthorizeOutcome::Login(Pending { id }));
        };
        if let Some(step) = step_owed(&checked, session, now) {
            if checked.prompt_none {
                let (error, why) = match step {
                    Step::Reauthenticate => ("login_required", "the login is older than max_age"),
                    Step::SecondFactor => (
                        "interaction_required",
                        "the login gave no second factor, and one is required",
                    ),
                };
                return Ok(AuthorizeOutcome::Redirect(error_redirect(
                    &checked,
                    error,
                    why,
                    &self.issuer,
                )));
            }
            let id = self.keep_pending(client, &checked, now).await?;
            return Ok(AuthorizeOutcome::StepUp(Pending { id }));
        }
        if let Some(why) = self.refusal(client, session.user_id).await? {
            let event = AuditEvent::new(
                EventKind::OidcAccessRefused,
                Actor::User(session.user_id),
                origin,
                now,
            )
            .target(session.user_id)
            .detail("clientId", client.client_id.clone())
            .detail("reason", why.reason);
            self.audit_store.record_event(&event).await?;
            return Ok(AuthorizeOutcome::Redirect(error_redirect(
                &checked,
                "access_denied",
                why.description,
                &self.issuer,
            )));
        }
        if !client.first_party {
            let allowed = self
                .oidc_store
                .consent(session.user_id, &client.client_id)
                .await?;
            if consent_needed(allowed.as_deref(), &checked.scope, checked.prompt_consent) {
                if checked.prompt_none {
                    return Ok(AuthorizeOutcome::Redirect(error_redirect(
                        &checked,
                        "consent_required",
                        "the person has not allowed this application yet",
                        &self.issuer,
                    )));
                }
                let id = self.keep_pending(client, &checked, now).await?;
                return Ok(AuthorizeOutcome::Consent(Pending { id }));
            }
        }
        let code = random::token(32);
        let event = AuditEvent::new(
            EventKind::OidcCodeIssue,
            Actor::User(session.user_id),
            origin,
            now,
        )
        .target(session.user_id)
        .detail("clientId", client.client_id.clone())
        .detail("scope", checked.scope.clone());
        let new = NewCode {
            code_hash: random::lookup_digest(&code),
            client_id: client.client_id.clone(),
            user: session.user_id,
            session_id: session.id.clone(),
            redirect_uri: checked.redirect_uri.clone(),
            code_challenge: checked.code_challenge.clone(),
            nonce: checked.nonce.clone(),
            scope: checked.scope.clone(),
            auth_time: session.authenticated_at,
            amr: session.amr.clone(),
            expires_at: now.plus_seconds(CODE_SECONDS),
        };
        self.oidc_store.insert_code(&new, &event).await?;
        Ok(AuthorizeOutcome::Redirect(redirect_with(
            &checked.redirect_uri,
            &[
                ("code", Some(code.as_str())),
                ("state", checked.state.as_deref()),
                ("iss", Some(self.issuer.as_str())),
            ],
        )))
    }
}

impl Oidc {
    /// Keeps a checked request while its person logs in or answers the consent question;
    /// answers the id the browser holds.
    async fn keep_pending(
        &self,
        client: &ClientRecord,
        checked: &Checked,
        now: Instant,
    ) -> Result<String, OidcError> {
        let id = random::token(32);
        let json = serde_json::to_string(checked).map_err(anyhow::Error::from)?;
        self.oidc_store
            .insert_request(
                &random::lookup_digest(&id),
                &client.client_id,
                &json,
                now,
                now.plus_seconds(PENDING_SECONDS),
            )
            .await?;
        Ok(id)
    }
}

/// Whether the person is asked what a client may have: when asked to (`prompt=consent`), when
/// they never allowed it, or when it asks for a scope they did not allow.
fn consent_needed(allowed: Option<&str>, asked: &str, prompt_consent: bool) -> bool {
    let Some(allowed) = allowed.filter(|_| !prompt_consent) else {
        return true;
    };
    let allowed: Vec<&str> = allowed.split_ascii_whitespace().collect();
    asked
        .split_ascii_whitespace()
        .any(|s| !allowed.contains(&s))
}

/// Why a person may not use a client.
pub(super) struct Refusal {
    /// As the audit log records it.
    pub(super) reason: &'static str,
    /// As the client is told.
    pub(super) description: &'static str,
}

impl Oidc {
    /// Whether the person may use the client: membership of one of the client's groups where it
    /// names any. Asked at each sign-in and each refresh, so that a person taken out of the
    /// groups loses the application's access at its next refresh.
    pub(super) async fn refusal(
        &self,
        client: &ClientRecord,
        user: UserId,
    ) -> Result<Option<Refusal>, OidcError> {
        if client.allowed_groups.is_empty() {
            return Ok(None);
        }
        let member = self
            .groups
            .groups_of(user)
            .await
            .map_err(anyhow::Error::from)?
            .iter()
            .any(|g| client.allowed_groups.contains(&g.id.to_string()));
        Ok((!member).then_some(Refusal {
            reason: "not_in_allowed_groups",
            description: "this account is not in a group that may use this application",
        }))
    }
}

/// The redirect URI a request may be answered at: the one it names, when registered exactly;
/// the client's only one, when it names none.
fn registered_redirect(client: &ClientRecord, asked: Option<&str>) -> Result<String, String> {
    match asked {
        Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => Ok(uri.to_owned()),
        Some(_) => Err(
            "The application asked to be answered at a redirect_uri that is not registered for \
             it. Nothing was sent to it."
                .into(),
        ),
        None if client.redirect_uris.len() == 1 => Ok(client.redirect_uris[0].clone()),
        None => Err("The application sent no redirect_uri.".into()),
    }
}

/// The other parameters, checked; a refusal is the redirect that tells the client (RFC 6749
/// §4.1.2.1).
fn check(
    params: &AuthorizeParams,
    client: &ClientRecord,
    redirect_uri: String,
) -> Result<Checked, String> {
    let mut checked = Checked {
        client_id: client.client_id.clone(),
        redirect_uri,
        scope: String::new(),
        state: params.state.clone().filter(|s| !s.is_empty()),
        nonce: params.nonce.clone().filter(|s| !s.is_empty()),
        code_challenge: None,
        max_age: None,
        asked_at: 0,
        prompt_none: false,
        prompt_consent: false,
        second_factor: client.requires_second_factor,
    };
    let refuse = |checked: &Checked, error: &str, why: &str| {
        Err(redirect_with(
            &checked.redirect_uri,
            &[
                ("error", Some(error)),
                ("error_description", Some(why)),
                ("state", checked.state.as_deref()),
            ],
        ))
    };
    if params.response_type.as_deref() != Some("code") {
        return refuse(
            &checked,
            "unsupported_response_type",
            "response_type must be code",
        );
    }
    let scopes: Vec<&str> = params
        .scope
        .as_deref()
        .unwrap_or_default()
        .split_ascii_whitespace()
        .collect();
    if !scopes.contains(&"openid") {
        return refuse(&checked, "invalid_scope", "the scope must include openid");
    }
    if let Some(unknown) = scopes
        .iter()
        .find(|s| !client.scopes.iter().any(|c| c == *s))
    {
        return refuse(
            &checked,
            "invalid_scope",
            &format!("the scope {unknown} is not allowed for this client"),
        );
    }
    let mut kept: Vec<&str> = Vec::new();
    for scope in scopes {
        if !kept.contains(&scope) {
            kept.push(scope);
        }
    }
    checked.scope = kept.join(" ");
    match (
        params.code_challenge.as_deref(),
        params.code_challenge_method.as_deref(),
    ) {
        (Some(challenge), Some("S256")) if is_challenge(challenge) => {
            checked.code_challenge = Some(challenge.to_owned());
        }
        (Some(_), Some("S256")) => {
            return refuse(
                &checked,
                "invalid_request",
                "code_challenge is 43 to 128 characters of base64url",
            );
        }
        (Some(_), _) => {
            return refuse(
                &checked,
                "invalid_request",
                "code_challenge_method must be S256",
            );
        }
        (None, _) if client.secret_hash.is_none() => {
            return refuse(
                &checked,
                "invalid_request",
                "a public client must send a PKCE code_challenge (S256)",
            );
        }
        (None, _) => {}
    }
    match params.prompt.as_deref().unwrap_or_default() {
        "" | "select_account" => {}
        "consent" => checked.prompt_consent = true,
        "login" => checked.max_age = Some(0),
        "none" => checked.prompt_none = true,
        _ => {
            return refuse(
                &checked,
                "invalid_request",
                "prompt is none, login or consent",
            );
        }
    }
    if let Some(raw) = params.max_age.as_deref().filter(|m| !m.is_empty()) {
        match raw.parse::<i64>() {
            Ok(seconds) if seconds >= 0 => {
                checked.max_age = Some(checked.max_age.map_or(seconds, |m| m.min(seconds)));
            }
            _ => {
                return refuse(
                    &checked,
                    "invalid_request",
                    "max_age is a number of seconds",
                );
            }
        }
    }
    if params
        .acr_values
        .as_deref()
        .unwrap_or_default()
        .split_ascii_whitespace()
        .any(|acr| acr == "mfa")
    {
        checked.second_factor = true;
    }
    Ok(checked)
}

fn is_challenge(challenge: &str) -> bool {
    (43..=128).contains(&challenge.len())
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub(super) fn error_redirect(checked: &Checked, error: &str, why: &str, issuer: &str) -> String {
    redirect_with(
        &checked.redirect_uri,
        &[
            ("error", Some(error)),
            ("error_description", Some(why)),
            ("state", checked.state.as_deref()),
            ("iss", Some(issuer)),
        ],
    )
}

/// `uri` with `params` added to its query (those that are `Some`).
fn redirect_with(uri: &str, params: &[(&str, Option<&str>)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (name, value) in params {
                    if let Some(value) = value {
                        query.append_pair(name, value);
                    }
                }
            }
            url.to_string()
        }
        // Registered URIs are parsed when registered; this is not reached.
        Err(_) => uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(public: bool) -> ClientRecord {
        ClientRecord {
            client_id: "app".into(),
            name: "App".into(),
            secret_hash: (!public).then(|| "hash".into()),
            redirect_uris: vec!["https://app.example/cb".into()],
            post_logout_redirect_uris: vec![],
            scopes: vec!["openid".into(), "profile".into()],
            allowed_groups: vec![],
            requires_second_factor: false,
            first_party: true,
            access_token_seconds: 3600,
            id_token_seconds: 3600,
            refresh_token_seconds: 3600,
            id_token_alg: crate::crypto::oidc_keys::Algorithm::Rs256,
            created_at: Instant::from_millis(0),
            updated_at: Instant::from_millis(0),
        }
    }

    fn params(scope: &str) -> AuthorizeParams {
        AuthorizeParams {
            response_type: Some("code".into()),
            client_id: Some("app".into()),
            scope: Some(scope.into()),
            state: Some("xyz".into()),
            ..AuthorizeParams::default()
        }
    }

    fn checked(params: &AuthorizeParams, client: &ClientRecord) -> Result<Checked, String> {
        check(params, client, "https://app.example/cb".into())
    }

    #[test]
    fn only_a_registered_redirect_uri_is_answered_and_exactly() {
        let client = client(false);
        assert_eq!(
            registered_redirect(&client, Some("https://app.example/cb")),
            Ok("https://app.example/cb".into())
        );
        assert!(registered_redirect(&client, Some("https://app.example/cb/")).is_err());
        assert!(registered_redirect(&client, Some("https://evil.example/cb")).is_err());
        assert_eq!(
            registered_redirect(&client, None),
            Ok("https://app.example/cb".into()),
            "the client's only URI when none is named"
        );
    }

    #[test]
    fn a_refusal_goes_back_to_the_client_with_its_error_and_state() {
        let client = client(false);
        let refused = checked(&params("profile"), &client).unwrap_err();
        assert!(
            refused.starts_with("https://app.example/cb?error=invalid_scope&"),
            "{refused}"
        );
        assert!(refused.ends_with("&state=xyz"), "{refused}");
        let mut token = params("openid");
        token.response_type = Some("token".into());
        assert!(
            checked(&token, &client)
                .unwrap_err()
                .contains("error=unsupported_response_type")
        );
        assert!(
            checked(&params("openid admin"), &client)
                .unwrap_err()
                .contains("error=invalid_scope")
        );
    }

    #[test]
    fn pkce_is_s256_only_and_required_of_a_public_client() {
        let verifier_digest = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        let mut with = params("openid");
        with.code_challenge = Some(verifier_digest.into());
        with.code_challenge_method = Some("S256".into());
        assert_eq!(
            checked(&with, &client(true))
                .unwrap()
                .code_challenge
                .as_deref(),
            Some(verifier_digest)
        );
        with.code_challenge_method = Some("plain".into());
        assert!(
            checked(&with, &client(true))
                .unwrap_err()
                .contains("error=invalid_request")
        );
        assert!(
            checked(&params("openid"), &client(true))
                .unwrap_err()
                .contains("error=invalid_request")
        );
        assert!(checked(&params("openid"), &client(false)).is_ok());
    }

    #[test]
    fn consent_is_asked_once_for_the_scopes_allowed_and_again_when_prompted() {
        assert!(consent_needed(None, "openid", false));
        assert!(!consent_needed(
            Some("openid profile"),
            "openid profile",
            false
        ));
        assert!(!consent_needed(Some("openid profile"), "openid", false));
        assert!(consent_needed(Some("openid"), "openid email", false));
        assert!(consent_needed(Some("openid profile"), "openid", true));
    }

    #[test]
    fn a_login_after_the_request_or_within_max_age_is_recent_enough() {
        let mut login = params("openid");
        login.prompt = Some("login".into());
        let mut asked = checked(&login, &client(false)).unwrap();
        asked.asked_at = 10_000;
        let now = Instant::from_millis(20_000);
        assert!(
            !asked.recent_enough(Instant::from_millis(10_000), now),
            "prompt=login: a login from before the request does not do"
        );
        assert!(
            asked.recent_enough(Instant::from_millis(15_000), now),
            "one after it does, however long the person then took"
        );
        asked.max_age = Some(60);
        assert!(asked.recent_enough(Instant::from_millis(0), Instant::from_millis(60_000)));
        assert!(!asked.recent_enough(Instant::from_millis(0), Instant::from_millis(60_001)));
    }

    #[test]
    fn prompt_and_max_age_ask_for_a_recent_login_and_acr_mfa_for_a_second_factor() {
        let client = client(false);
        let mut login = params("openid openid profile");
        login.prompt = Some("login".into());
        let asked = checked(&login, &client).unwrap();
        assert_eq!(asked.max_age, Some(0));
        assert_eq!(asked.scope, "openid profile", "each scope once");
        let mut aged = params("openid");
        aged.max_age = Some("300".into());
        aged.acr_values = Some("mfa".into());
        let asked = checked(&aged, &client).unwrap();
        assert_eq!((asked.max_age, asked.second_factor), (Some(300), true));
        aged.max_age = Some("soon".into());
        assert!(checked(&aged, &client).is_err());
    }
}
