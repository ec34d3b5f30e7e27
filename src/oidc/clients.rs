//! Clients, registered by an administrator (API, console, CLI): their redirect URIs (compared
//! exactly), their scopes, whether they are confidential (a secret, shown once and kept as its
//! SHA-256) or public (PKCE only), whether they require a second factor, whether they are the
//! site's own (no consent asked), and their token lifetimes.

use serde::Deserialize;

use super::{Oidc, OidcError};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::oidc_keys::Algorithm;
use crate::crypto::random;
use crate::domain::{FieldError, Invalid};
use crate::groups::GroupError;
use crate::store::{ClientRecord, StoreError};

/// The scopes a client may be allowed, and a token asked for.
pub const SUPPORTED_SCOPES: [&str; 5] = ["openid", "profile", "email", "groups", "offline_access"];
const DEFAULT_ACCESS_TOKEN_SECONDS: i64 = 3600;
const DEFAULT_ID_TOKEN_SECONDS: i64 = 3600;
const DEFAULT_REFRESH_TOKEN_SECONDS: i64 = 30 * 86_400;

/// A client as an administrator describes it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientSettings {
    /// Chosen by the administrator (`grafana`), or made.
    #[serde(default)]
    pub client_id: Option<String>,
    pub name: String,
    /// Confidential (a secret) unless `false`: a public client proves itself by PKCE alone.
    #[serde(default = "yes")]
    pub confidential: bool,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// The scopes it may ask for; all of `openid profile email groups offline_access` unless
    /// said.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Groups (names or ids) whose members alone may sign in; anyone when empty.
    #[serde(default)]
    pub allowed_groups: Vec<String>,
    #[serde(default)]
    pub requires_second_factor: bool,
    /// The site's own application: no consent is asked.
    #[serde(default)]
    pub first_party: bool,
    #[serde(default)]
    pub access_token_seconds: Option<i64>,
    #[serde(default)]
    pub id_token_seconds: Option<i64>,
    #[serde(default)]
    pub refresh_token_seconds: Option<i64>,
    /// `RS256` (unless said) or `ES256`: signs its ID tokens and access tokens.
    #[serde(default)]
    pub id_token_signed_response_alg: Option<String>,
}

fn yes() -> bool {
    true
}

/// A client's settings as an administrator changes them. Its id and whether it is confidential
/// may be sent back as read, but never changed: a secret's holder would lose it or gain one.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientUpdate {
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub confidential: Option<bool>,
    pub name: String,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// All of `openid profile email groups offline_access` unless said.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub allowed_groups: Vec<String>,
    #[serde(default)]
    pub requires_second_factor: bool,
    #[serde(default)]
    pub first_party: bool,
    #[serde(default)]
    pub access_token_seconds: Option<i64>,
    #[serde(default)]
    pub id_token_seconds: Option<i64>,
    #[serde(default)]
    pub refresh_token_seconds: Option<i64>,
    /// `RS256` or `ES256`; the client's own when not said.
    #[serde(default)]
    pub id_token_signed_response_alg: Option<String>,
}

impl ClientUpdate {
    /// The settings the update describes for the client kept, checked by the rules of a new
    /// client's.
    fn settings(&self, client_id: &str, confidential: bool) -> ClientSettings {
        ClientSettings {
            client_id: Some(client_id.to_owned()),
            name: self.name.clone(),
            confidential,
            redirect_uris: self.redirect_uris.clone(),
            post_logout_redirect_uris: self.post_logout_redirect_uris.clone(),
            scopes: self.scopes.clone(),
            allowed_groups: self.allowed_groups.clone(),
            requires_second_factor: self.requires_second_factor,
            first_party: self.first_party,
            access_token_seconds: self.access_token_seconds,
            id_token_seconds: self.id_token_seconds,
            refresh_token_seconds: self.refresh_token_seconds,
            id_token_signed_response_alg: self.id_token_signed_response_alg.clone(),
        }
    }
}

/// The refusals of an update that would change what a client is.
fn unchangeable(update: &ClientUpdate, client_id: &str, confidential: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if update
        .client_id
        .as_deref()
        .is_some_and(|id| id != client_id)
    {
        errors.push(FieldError::new(
            "clientId",
            Invalid::new("[unchangeable]", "a client's id does not change"),
        ));
    }
    if update.confidential.is_some_and(|c| c != confidential) {
        errors.push(FieldError::new(
            "confidential",
            Invalid::new(
                "[unchangeable]",
                "a client stays confidential or public: register a new client to change it",
            ),
        ));
    }
    errors
}

/// A client as it is shown: never its secret.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientView {
    pub client_id: String,
    pub name: String,
    pub confidential: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    /// The ids of the groups whose members alone may sign in.
    pub allowed_groups: Vec<String>,
    pub requires_second_factor: bool,
    pub first_party: bool,
    pub access_token_seconds: i64,
    pub id_token_seconds: i64,
    pub refresh_token_seconds: i64,
    /// `RS256` or `ES256`.
    pub id_token_signed_response_alg: &'static str,
}

impl From<&ClientRecord> for ClientView {
    fn from(client: &ClientRecord) -> Self {
        Self {
            client_id: client.client_id.clone(),
            name: client.name.clone(),
            confidential: client.secret_hash.is_some(),
            redirect_uris: client.redirect_uris.clone(),
            post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
            scopes: client.scopes.clone(),
            allowed_groups: client.allowed_groups.clone(),
            requires_second_factor: client.requires_second_factor,
            first_party: client.first_party,
            access_token_seconds: client.access_token_seconds,
            id_token_seconds: client.id_token_seconds,
            refresh_token_seconds: client.refresh_token_seconds,
            id_token_signed_response_alg: client.id_token_alg.as_str(),
        }
    }
}

/// A secret, shown once when it is made. No `Debug`.
pub struct NewClientSecret(pub String);

impl Oidc {
    /// Registers a client; answers it and, for a confidential one, its secret (shown once).
    pub async fn create_client(
        &self,
        settings: &ClientSettings,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<(ClientView, Option<NewClientSecret>), OidcError> {
        let secret = settings.confidential.then(|| random::token(32));
        let mut client = checked(settings, secret.as_deref(), now).map_err(OidcError::Invalid)?;
        client.allowed_groups = self.allowed_group_ids(&settings.allowed_groups).await?;
        let event = AuditEvent::new(EventKind::OidcClientCreate, actor, origin, now)
            .detail("clientId", client.client_id.clone())
            .detail("name", client.name.clone())
            .detail("confidential", client.secret_hash.is_some());
        match self.oidc_store.insert_client(&client, &event).await {
            Ok(()) => Ok((ClientView::from(&client), secret.map(NewClientSecret))),
            Err(StoreError::Duplicate { .. }) => Err(OidcError::Invalid(vec![FieldError::new(
                "clientId",
                Invalid::new("[duplicate]", "a client with this id exists"),
            )])),
            Err(other) => Err(other.into()),
        }
    }

    pub async fn clients(&self) -> Result<Vec<ClientView>, OidcError> {
        Ok(self
            .oidc_store
            .clients()
            .await?
            .iter()
            .map(ClientView::from)
            .collect())
    }

    pub async fn client(&self, client_id: &str) -> Result<ClientView, OidcError> {
        self.oidc_store
            .client(client_id)
            .await?
            .map(|c| ClientView::from(&c))
            .ok_or(OidcError::UnknownClient)
    }

    /// A new secret for a confidential client; the old one stops working at once.
    pub async fn rotate_client_secret(
        &self,
        client_id: &str,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<NewClientSecret, OidcError> {
        let client = self
            .oidc_store
            .client(client_id)
            .await?
            .ok_or(OidcError::UnknownClient)?;
        if client.secret_hash.is_none() {
            return Err(OidcError::PublicClient);
        }
        let secret = random::token(32);
        let event = AuditEvent::new(EventKind::OidcClientSecretRotate, actor, origin, now)
            .detail("clientId", client_id.to_owned());
        if !self
            .oidc_store
            .set_client_secret(client_id, &random::lookup_digest(&secret), &event)
            .await?
        {
            return Err(OidcError::UnknownClient);
        }
        Ok(NewClientSecret(secret))
    }

    /// Replaces a client's settings; its id, its secret and whether it is confidential stay.
    pub async fn update_client(
        &self,
        client_id: &str,
        update: &ClientUpdate,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<ClientView, OidcError> {
        let kept = self
            .oidc_store
            .client(client_id)
            .await?
            .ok_or(OidcError::UnknownClient)?;
        let confidential = kept.secret_hash.is_some();
        let mut errors = unchangeable(update, &kept.client_id, confidential);
        let settings = update.settings(&kept.client_id, confidential);
        let client = match checked(&settings, None, now) {
            Ok(client) if errors.is_empty() => client,
            Ok(_) => return Err(OidcError::Invalid(errors)),
            Err(fields) => {
                errors.extend(fields);
                return Err(OidcError::Invalid(errors));
            }
        };
        let client = ClientRecord {
            secret_hash: kept.secret_hash,
            allowed_groups: self.allowed_group_ids(&update.allowed_groups).await?,
            id_token_alg: match update.id_token_signed_response_alg {
                Some(_) => client.id_token_alg,
                None => kept.id_token_alg,
            },
            created_at: kept.created_at,
            ..client
        };
        let event = AuditEvent::new(EventKind::OidcClientUpdate, actor, origin, now)
            .detail("clientId", client.client_id.clone())
            .detail("name", client.name.clone());
        if !self.oidc_store.update_client(&client, &event).await? {
            return Err(OidcError::UnknownClient);
        }
        Ok(ClientView::from(&client))
    }

    /// The ids of the groups named (by name or id), or the field error of one not there.
    async fn allowed_group_ids(&self, named: &[String]) -> Result<Vec<String>, OidcError> {
        Ok(self
            .groups
            .ids_named(named, "allowedGroups")
            .await
            .map_err(|error| match error {
                GroupError::Invalid(fields) => OidcError::Invalid(fields),
                other => OidcError::Internal(other.into()),
            })?
            .iter()
            .map(ToString::to_string)
            .collect())
    }

    pub async fn delete_client(
        &self,
        client_id: &str,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), OidcError> {
        let event = AuditEvent::new(EventKind::OidcClientDelete, actor, origin, now)
            .detail("clientId", client_id.to_owned());
        if self.oidc_store.delete_client(client_id, &event).await? {
            Ok(())
        } else {
            Err(OidcError::UnknownClient)
        }
    }
}

/// The client an administrator's settings describe, with every refusal named.
fn checked(
    settings: &ClientSettings,
    secret: Option<&str>,
    now: Instant,
) -> Result<ClientRecord, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut refuse = |field: &str, code: &'static str, message: String| {
        errors.push(FieldError::new(field, Invalid::new(code, message)))
    };
    let client_id = match settings.client_id.as_deref().map(str::trim) {
        None | Some("") => random::public_id("tc_"),
        Some(id) if is_client_id(id) => id.to_owned(),
        Some(_) => {
            refuse(
                "clientId",
                "[invalid]",
                "a client id is 3 to 64 letters, digits, dots, dashes or underscores".into(),
            );
            String::new()
        }
    };
    let name = settings.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        refuse(
            "name",
            "[invalid]",
            "a name is 1 to 100 characters on one line".into(),
        );
    }
    if settings.redirect_uris.is_empty() {
        refuse(
            "redirectUris",
            "[blank]",
            "a client needs at least one redirect URI".into(),
        );
    }
    for (field, uris) in [
        ("redirectUris", &settings.redirect_uris),
        (
            "postLogoutRedirectUris",
            &settings.post_logout_redirect_uris,
        ),
    ] {
        for uri in uris {
            if let Err(why) = redirect_uri_problem(uri) {
                refuse(field, "[invalid]", format!("{uri:?}: {why}"));
            }
        }
    }
    let scopes = settings
        .scopes
        .clone()
        .unwrap_or_else(|| SUPPORTED_SCOPES.iter().map(|s| (*s).to_owned()).collect());
    for scope in &scopes {
        if !SUPPORTED_SCOPES.contains(&scope.as_str()) {
            refuse(
                "scopes",
                "[invalid]",
                format!(
                    "{scope:?} is not a scope Tessera knows: {}",
                    SUPPORTED_SCOPES.join(" ")
                ),
            );
        }
    }
    if !scopes.iter().any(|s| s == "openid") {
        refuse(
            "scopes",
            "[invalid]",
            "a client's scopes include openid".into(),
        );
    }
    let mut lifetime = |field: &str, value: Option<i64>, default: i64, max: i64| match value {
        None => default,
        Some(seconds) if (60..=max).contains(&seconds) => seconds,
        Some(_) => {
            refuse(field, "[invalid]", format!("between 60 and {max} seconds"));
            default
        }
    };
    let access_token_seconds = lifetime(
        "accessTokenSeconds",
        settings.access_token_seconds,
        DEFAULT_ACCESS_TOKEN_SECONDS,
        86_400,
    );
    let id_token_seconds = lifetime(
        "idTokenSeconds",
        settings.id_token_seconds,
        DEFAULT_ID_TOKEN_SECONDS,
        86_400,
    );
    let refresh_token_seconds = lifetime(
        "refreshTokenSeconds",
        settings.refresh_token_seconds,
        DEFAULT_REFRESH_TOKEN_SECONDS,
        365 * 86_400,
    );
    let id_token_alg = match settings.id_token_signed_response_alg.as_deref() {
        None => Algorithm::Rs256,
        Some(name) => Algorithm::parse(name).unwrap_or_else(|| {
            refuse(
                "idTokenSignedResponseAlg",
                "[invalid]",
                format!("{name:?} is not an algorithm Tessera signs with: RS256 or ES256"),
            );
            Algorithm::Rs256
        }),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ClientRecord {
        client_id,
        name: name.to_owned(),
        secret_hash: secret.map(random::lookup_digest),
        redirect_uris: settings.redirect_uris.clone(),
        post_logout_redirect_uris: settings.post_logout_redirect_uris.clone(),
        scopes,
        allowed_groups: Vec::new(),
        requires_second_factor: settings.requires_second_factor,
        first_party: settings.first_party,
        access_token_seconds,
        id_token_seconds,
        refresh_token_seconds,
        id_token_alg,
        created_at: now,
        updated_at: now,
    })
}

fn is_client_id(id: &str) -> bool {
    (3..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// Why a redirect URI cannot be registered: it must be absolute, without a fragment, and https
/// unless it points at this computer (OAuth 2.0 for native apps, RFC 8252 §7.3).
fn redirect_uri_problem(uri: &str) -> Result<(), &'static str> {
    if uri.len() > 2000 {
        return Err("a redirect URI is at most 2000 characters");
    }
    let parsed = url::Url::parse(uri).map_err(|_| "not an absolute URL")?;
    if parsed.fragment().is_some() {
        return Err("a redirect URI has no fragment (#…)");
    }
    let loopback = match parsed.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err("a redirect URI is https (or http to this computer: localhost, 127.0.0.1, [::1])"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(redirect: &str) -> ClientSettings {
        ClientSettings {
            client_id: Some("grafana".into()),
            name: "Grafana".into(),
            confidential: true,
            redirect_uris: vec![redirect.into()],
            post_logout_redirect_uris: vec![],
            scopes: None,
            allowed_groups: vec![],
            requires_second_factor: false,
            first_party: false,
            access_token_seconds: None,
            id_token_seconds: None,
            refresh_token_seconds: None,
            id_token_signed_response_alg: None,
        }
    }

    #[test]
    fn a_client_gets_every_scope_and_default_lifetimes_unless_told() {
        let client = checked(
            &settings("https://grafana.example/login/generic_oauth"),
            Some("s3cret"),
            Instant::from_millis(0),
        )
        .unwrap();
        assert_eq!(client.client_id, "grafana");
        assert_eq!(client.scopes.len(), SUPPORTED_SCOPES.len());
        assert_eq!(client.access_token_seconds, 3600);
        assert_eq!(client.id_token_alg, Algorithm::Rs256);
        assert_eq!(
            client.secret_hash.as_deref(),
            Some(random::lookup_digest("s3cret").as_str())
        );
    }

    #[test]
    fn a_client_may_have_its_tokens_signed_with_es256() {
        let mut es256 = settings("https://app.example/cb");
        es256.id_token_signed_response_alg = Some("ES256".into());
        let client = checked(&es256, None, Instant::from_millis(0)).unwrap();
        assert_eq!(client.id_token_alg, Algorithm::Es256);
        assert_eq!(
            ClientView::from(&client).id_token_signed_response_alg,
            "ES256"
        );
    }

    #[test]
    fn a_redirect_uri_is_https_or_http_to_this_computer_and_has_no_fragment() {
        for good in [
            "https://app.example/cb",
            "http://localhost:8080/cb",
            "http://127.0.0.1:9000/callback?x=1",
            "http://[::1]/cb",
        ] {
            assert_eq!(redirect_uri_problem(good), Ok(()), "{good}");
        }
        for bad in [
            "http://app.example/cb",
            "http://192.0.2.1/cb",
            "https://app.example/cb#frag",
            "/relative",
            "javascript:alert(1)",
        ] {
            assert!(redirect_uri_problem(bad).is_err(), "{bad}");
        }
    }

    fn update() -> ClientUpdate {
        ClientUpdate {
            client_id: None,
            confidential: None,
            name: "Grafana".into(),
            redirect_uris: vec!["https://grafana.example/cb".into()],
            post_logout_redirect_uris: vec![],
            scopes: None,
            allowed_groups: vec![],
            requires_second_factor: false,
            first_party: false,
            access_token_seconds: None,
            id_token_seconds: None,
            refresh_token_seconds: None,
            id_token_signed_response_alg: None,
        }
    }

    #[test]
    fn an_update_may_repeat_the_id_and_kind_but_never_change_them() {
        assert!(unchangeable(&update(), "grafana", true).is_empty());
        let same = ClientUpdate {
            client_id: Some("grafana".into()),
            confidential: Some(true),
            ..update()
        };
        assert!(unchangeable(&same, "grafana", true).is_empty());
        let other = ClientUpdate {
            client_id: Some("kibana".into()),
            confidential: Some(false),
            ..update()
        };
        let fields: Vec<String> = unchangeable(&other, "grafana", true)
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["clientId", "confidential"]);
    }

    #[test]
    fn an_update_is_checked_by_the_rules_of_a_new_client() {
        let bad = ClientUpdate {
            name: " ".into(),
            scopes: Some(vec!["openid".into(), "admin".into()]),
            ..update()
        };
        let settings = bad.settings("grafana", false);
        assert!(!settings.confidential, "a public client stays public");
        let fields: Vec<String> = checked(&settings, None, Instant::from_millis(0))
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["name", "scopes"]);
    }

    #[test]
    fn every_refusal_is_named() {
        let mut bad = settings("http://app.example/cb");
        bad.client_id = Some("a b".into());
        bad.scopes = Some(vec!["profile".into(), "admin".into()]);
        bad.access_token_seconds = Some(5);
        bad.id_token_signed_response_alg = Some("HS256".into());
        let fields: Vec<String> = checked(&bad, None, Instant::from_millis(0))
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        for field in [
            "clientId",
            "redirectUris",
            "scopes",
            "accessTokenSeconds",
            "idTokenSignedResponseAlg",
        ] {
            assert!(fields.iter().any(|f| f == field), "{field} in {fields:?}");
        }
    }
}
