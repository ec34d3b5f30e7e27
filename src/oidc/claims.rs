//! What Tessera says about itself and about a person, as pure functions: the discovery document
//! (OpenID Connect Discovery 1.0) and the claims of ID tokens and of userinfo, by scope.

use serde_json::{Map, Value, json};

use super::clients::SUPPORTED_SCOPES;
use crate::clock::Instant;
use crate::domain::User;

/// Whether a login's methods (`amr`) include a second factor.
pub fn second_factor_given(amr: &[String]) -> bool {
    amr.iter().any(|m| m == "mfa")
}

/// The `acr` of a login: `mfa` with a second factor, else `pwd`.
pub fn acr(amr: &[String]) -> &'static str {
    if second_factor_given(amr) {
        "mfa"
    } else {
        "pwd"
    }
}

/// `/.well-known/openid-configuration` for the provider at `issuer`.
pub fn discovery(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "userinfo_endpoint": format!("{issuer}/oauth2/userinfo"),
        "jwks_uri": format!("{issuer}/oauth2/jwks"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "end_session_endpoint": format!("{issuer}/oauth2/logout"),
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "scopes_supported": SUPPORTED_SCOPES,
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "acr", "sid",
            "name", "preferred_username", "email", "email_verified", "groups"
        ],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "acr_values_supported": ["pwd", "mfa"],
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": true,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
    })
}

/// What an ID token says of a login.
pub struct Login<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub user: &'a User,
    pub session_id: &'a str,
    pub auth_time: Instant,
    pub amr: &'a [String],
    pub nonce: Option<&'a str>,
    pub scope: &'a str,
    /// The names of the person's groups (asked by the `groups` scope).
    pub groups: &'a [String],
    pub now: Instant,
    pub lifetime_seconds: i64,
}

/// The claims of an ID token: who, for whom, when and how, and the person's claims the scope
/// asks for.
pub fn id_token_claims(login: &Login<'_>) -> Value {
    let now = login.now.millis() / 1000;
    let mut claims = json!({
        "iss": login.issuer,
        "sub": login.user.id.to_string(),
        "aud": login.client_id,
        "iat": now,
        "exp": now + login.lifetime_seconds,
        "auth_time": login.auth_time.millis() / 1000,
        "amr": login.amr,
        "acr": acr(login.amr),
        "sid": login.session_id,
    });
    if let Some(nonce) = login.nonce {
        claims["nonce"] = json!(nonce);
    }
    if let (Value::Object(map), Value::Object(person)) = (
        &mut claims,
        person_claims(login.user, login.scope, login.groups),
    ) {
        map.extend(person);
    }
    claims
}

/// The person's claims a scope asks for (`profile`: names; `email`: the address, and whether it
/// is verified; `groups`: the names of their groups), with `sub` (userinfo's answer).
pub fn person_claims(user: &User, scope: &str, groups: &[String]) -> Value {
    let scopes: Vec<&str> = scope.split_ascii_whitespace().collect();
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.id.to_string()));
    if scopes.contains(&"profile") {
        claims.insert("preferred_username".into(), json!(user.username.as_str()));
        if let Some(name) = &user.full_name {
            claims.insert("name".into(), json!(name.as_str()));
        }
    }
    if scopes.contains(&"email")
        && let Some(email) = &user.email
    {
        claims.insert("email".into(), json!(email.as_str()));
        claims.insert(
            "email_verified".into(),
            json!(user.email_verified_at.is_some()),
        );
    }
    if scopes.contains(&"groups") {
        claims.insert("groups".into(), json!(groups));
    }
    Value::Object(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Email, Roles, UserId, Username};

    fn user() -> User {
        User {
            id: UserId::new(),
            username: Username::parse("ann").unwrap(),
            email: Some(Email::parse("ann@example.com").unwrap()),
            email_verified_at: Some(Instant::from_millis(1)),
            pending_email: None,
            full_name: Some(crate::domain::FullName::parse("Ann Example").unwrap()),
            mobile_phone: None,
            roles: Roles::user(),
            active: true,
            two_factor_required: false,
            every_login: false,
            authy_migrated: false,
            password_change_required: false,
            terms_version_accepted: None,
            created_at: Instant::from_millis(0),
            updated_at: Instant::from_millis(0),
            password_changed_at: Instant::from_millis(0),
            last_login_at: None,
        }
    }

    #[test]
    fn the_discovery_document_names_the_issuer_and_every_endpoint_under_it() {
        let document = discovery("https://login.example");
        assert_eq!(document["issuer"], "https://login.example");
        for endpoint in [
            "authorization_endpoint",
            "token_endpoint",
            "userinfo_endpoint",
            "jwks_uri",
        ] {
            assert!(
                document[endpoint]
                    .as_str()
                    .unwrap()
                    .starts_with("https://login.example/oauth2/"),
                "{endpoint}"
            );
        }
        assert_eq!(
            document["code_challenge_methods_supported"],
            json!(["S256"])
        );
    }

    #[test]
    fn an_id_token_says_who_how_and_only_what_the_scope_asks() {
        let user = user();
        let amr = vec!["pwd".to_owned(), "otp".to_owned(), "mfa".to_owned()];
        let login = Login {
            issuer: "https://login.example",
            client_id: "grafana",
            user: &user,
            session_id: "s1",
            auth_time: Instant::from_millis(5_000),
            amr: &amr,
            nonce: Some("n-0S6"),
            scope: "openid profile",
            groups: &[],
            now: Instant::from_millis(10_000),
            lifetime_seconds: 3600,
        };
        let claims = id_token_claims(&login);
        assert_eq!(claims["sub"], user.id.to_string());
        assert_eq!(claims["aud"], "grafana");
        assert_eq!(
            (claims["iat"].as_i64(), claims["exp"].as_i64()),
            (Some(10), Some(3610))
        );
        assert_eq!(claims["auth_time"], 5);
        assert_eq!(claims["nonce"], "n-0S6");
        assert_eq!(claims["acr"], "mfa");
        assert_eq!(claims["preferred_username"], "ann");
        assert_eq!(claims["name"], "Ann Example");
        assert!(claims.get("email").is_none(), "no email scope, no email");
    }

    #[test]
    fn the_email_scope_says_the_address_and_whether_it_is_verified() {
        let claims = person_claims(&user(), "openid email groups", &["staff".to_owned()]);
        assert_eq!(claims["groups"], json!(["staff"]));
        assert_eq!(claims["email"], "ann@example.com");
        assert_eq!(claims["email_verified"], true);
        assert!(claims.get("preferred_username").is_none());
        assert_eq!(acr(&["pwd".to_owned()]), "pwd");
    }
}
