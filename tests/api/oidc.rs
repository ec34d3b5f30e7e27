//! OpenID Connect: an application sends a person to `/oauth2/authorize`, the person logs in on
//! Tessera's pages, and the application trades the one-time code at `/oauth2/token` for an ID
//! token and an access token signed by the keys published at `/oauth2/jwks`, then reads
//! `/oauth2/userinfo`. Bad requests get the error the RFCs name and change nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tessera::audit::{Actor, Origin};
use tessera::clock::Instant;
use tessera::oidc::ClientSettings;

use crate::helpers::{PASSWORD, TestApp, all_at_once, spawn_app, tally};
use crate::web::{Browser, location};

pub(crate) const REDIRECT: &str = "http://127.0.0.1:9/callback";
pub(crate) const BYE: &str = "http://127.0.0.1:9/bye";
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

pub(crate) fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Registers a client (as the CLI does); answers its secret, if confidential.
pub(crate) async fn client(app: &TestApp, id: &str, public: bool) -> Option<String> {
    let settings = ClientSettings {
        client_id: Some(id.into()),
        name: format!("The {id} app"),
        confidential: !public,
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: vec![BYE.into()],
        scopes: None,
        allowed_groups: vec![],
        requires_second_factor: false,
        first_party: true,
        access_token_seconds: None,
        id_token_seconds: None,
        refresh_token_seconds: None,
        id_token_signed_response_alg: None,
    };
    let (_, secret) = app
        .core
        .oidc
        .create_client(&settings, Actor::Cli, &Origin::default(), Instant::now())
        .await
        .unwrap();
    secret.map(|s| s.0)
}

pub(crate) fn authorize_path(client_id: &str, extra: &str) -> String {
    format!(
        "/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={}\
         &scope=openid%20profile%20email&state=st4te&nonce=n0nce&code_challenge={}\
         &code_challenge_method=S256{extra}",
        urlencode(REDIRECT),
        challenge(VERIFIER)
    )
}

pub(crate) fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The query parameters of a redirect to the client.
pub(crate) fn query_of(redirect: &str) -> Vec<(String, String)> {
    let url = reqwest::Url::parse(redirect).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(crate) fn param(redirect: &str, name: &str) -> Option<String> {
    query_of(redirect)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// A browser that is sent to authorize, logs in as `name`, and comes back to the client:
/// answers the redirect to the client.
pub(crate) async fn sign_in(
    app: &TestApp,
    browser: &mut Browser,
    client_id: &str,
    name: &str,
) -> String {
    let asked = browser.get(app, &authorize_path(client_id, "")).await;
    assert_eq!(location(&asked), "/login", "{}", asked.status());
    let logged_in = browser.log_in(app, name, PASSWORD).await;
    assert_eq!(location(&logged_in), "/");
    let home = browser.get(app, "/").await;
    assert_eq!(location(&home), "/oauth2/continue");
    let back = browser.get(app, "/oauth2/continue").await;
    let to = way_back(back).await;
    assert!(to.starts_with(REDIRECT), "{to}");
    to
}

/// The URL the page of `/oauth2/continue` sends the browser on to (a refresh, not a redirect).
pub(crate) async fn way_back(page: reqwest::Response) -> String {
    assert_eq!(page.status(), 200, "a page, not a redirect");
    assert!(location(&page).is_empty());
    let html = page.text().await.unwrap();
    let refresh = html
        .split("<meta http-equiv=\"refresh\" content=\"0;url=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no refresh in {html}"));
    let link = html
        .split("id=\"return\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default();
    assert_eq!(
        refresh, link,
        "the link a person can follow goes to the same place"
    );
    unescape(refresh)
}

/// An attribute's value as the browser reads it: character references decoded.
fn unescape(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let Some(end) = after.find(';') else {
            out.push_str(&rest[at..]);
            return out;
        };
        let name = &after[..end];
        let decoded = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            _ => name
                .strip_prefix("#x")
                .or_else(|| name.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| name.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `POST /oauth2/token` with HTTP Basic (when a secret is given) and the form.
pub(crate) async fn trade(
    app: &TestApp,
    client_id: &str,
    secret: Option<&str>,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = app.client.post(app.url("/oauth2/token")).form(form);
    if let Some(secret) = secret {
        request = request.basic_auth(client_id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("no-store")
    );
    (status, response.json().await.unwrap())
}

pub(crate) fn code_form(code: &str) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ]
}

pub(crate) async fn userinfo(app: &TestApp, token: &str) -> (u16, Value) {
    let response = app
        .client
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn discovery_names_the_issuer_and_the_keys_are_published() {
    let app = spawn_app().await;
    let document: Value = app
        .client
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = app.config.public_url();
    assert_eq!(document["issuer"], issuer.as_str());
    assert_eq!(document["jwks_uri"], format!("{issuer}/oauth2/jwks"));
    let jwks: Value = app
        .client
        .get(app.url("/oauth2/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let algorithms: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert_eq!(algorithms, ["RS256", "ES256"]);
}

#[tokio::test]
async fn a_person_signs_in_to_an_application_which_reads_who_they_are() {
    let app = spawn_app().await;
    let secret = client(&app, "wiki", false).await.unwrap();
    let ann = app
        .create_user(
            "ann",
            json!({"email": "ann@example.com", "fullName": "Ann Example"}),
        )
        .await;
    let mut browser = Browser::new();
    let back = sign_in(&app, &mut browser, "wiki", "ann").await;
    assert_eq!(param(&back, "state").as_deref(), Some("st4te"));
    assert_eq!(param(&back, "iss"), Some(app.config.public_url()));
    let code = param(&back, "code").unwrap();

    let (status, tokens) = trade(&app, "wiki", Some(&secret), &code_form(&code)).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let keys = app.core.oidc.keys().await.unwrap();
    let id_token = keys.verify(tokens["id_token"].as_str().unwrap()).unwrap();
    assert_eq!(id_token["sub"], ann["id"]);
    assert_eq!(id_token["aud"], "wiki");
    assert_eq!(id_token["nonce"], "n0nce");
    assert_eq!(id_token["iss"], app.config.public_url().as_str());
    assert_eq!(id_token["preferred_username"], "ann");
    assert_eq!(id_token["amr"], json!(["pwd"]));

    let (status, claims) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(claims["email"], "ann@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "Ann Example");

    // The ID token is not an access token.
    let (status, _) = userinfo(&app, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(status, 401);
    // A browser already signed in comes straight back with a new code.
    let again = browser.get(&app, &authorize_path("wiki", "")).await;
    assert!(location(&again).starts_with(REDIRECT));
}

#[tokio::test]
async fn a_code_works_once_and_its_second_use_revokes_what_the_first_gave() {
    let app = spawn_app().await;
    let secret = client(&app, "wiki", false).await.unwrap();
    app.create_user("ben", json!({})).await;
    let back = sign_in(&app, &mut Browser::new(), "wiki", "ben").await;
    let code = param(&back, "code").unwrap();
    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let (client, url) = (app.client.clone(), app.url("/oauth2/token"));
            let (secret, code) = (secret.clone(), code.clone());
            async move {
                let response = client
                    .post(url)
                    .basic_auth("wiki", Some(secret))
                    .form(&code_form(&code))
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                (status, response.json::<Value>().await.unwrap())
            }
        })
        .collect();
    let answers = all_at_once(attempts).await;
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(tally(&statuses), "1×200, 19×400");
    let tokens = &answers.iter().find(|(s, _)| *s == 200).unwrap().1;
    for (_, refused) in answers.iter().filter(|(s, _)| *s == 400) {
        assert_eq!(refused["error"], "invalid_grant");
    }
    let (status, _) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 401, "the reuse revoked what the first trade gave");
    assert!(!app.audit("event=oidc.code_reuse").await.is_empty());
}

#[tokio::test]
async fn a_wrong_verifier_redirect_uri_or_secret_is_refused_and_leaves_the_code_usable() {
    let app = spawn_app().await;
    let secret = client(&app, "wiki", false).await.unwrap();
    app.create_user("cat", json!({})).await;
    let back = sign_in(&app, &mut Browser::new(), "wiki", "cat").await;
    let code = param(&back, "code").unwrap();

    let other_verifier = "eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let wrong = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", other_verifier),
    ];
    let (status, body) = trade(&app, "wiki", Some(&secret), &wrong).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let moved = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1:9/elsewhere"),
        ("code_verifier", VERIFIER),
    ];
    let (status, body) = trade(&app, "wiki", Some(&secret), &moved).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let response = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth("wiki", Some("not the secret"))
        .form(&code_form(&code))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().get("www-authenticate").is_some());
    let (status, body) = trade(&app, "nobody", Some("x"), &code_form(&code)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = trade(
        &app,
        "wiki",
        Some(&secret),
        &[("grant_type", "password"), ("username", "cat")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );

    let (status, _) = trade(&app, "wiki", Some(&secret), &code_form(&code)).await;
    assert_eq!(status, 200, "the refusals spent nothing");
}

#[tokio::test]
async fn an_unknown_client_or_unregistered_redirect_uri_is_never_redirected_to() {
    let app = spawn_app().await;
    client(&app, "wiki", false).await;
    let mut browser = Browser::new();
    let unknown = browser.get(&app, &authorize_path("nobody", "")).await;
    assert_eq!(unknown.status(), 400);
    assert!(
        unknown
            .text()
            .await
            .unwrap()
            .contains("not one registered here")
    );
    let elsewhere = browser
        .get(
            &app,
            "/oauth2/authorize?response_type=code&client_id=wiki\
             &redirect_uri=https%3A%2F%2Fevil.example%2Fcb&scope=openid",
        )
        .await;
    assert_eq!(elsewhere.status(), 400);
    assert!(location(&elsewhere).is_empty());
}

#[tokio::test]
async fn other_refusals_go_back_to_the_client_with_the_error_the_rfcs_name() {
    let app = spawn_app().await;
    client(&app, "spa", true).await;
    let mut browser = Browser::new();
    let base = format!(
        "/oauth2/authorize?response_type=code&client_id=spa&redirect_uri={}&state=s",
        urlencode(REDIRECT)
    );
    let no_pkce = browser.get(&app, &format!("{base}&scope=openid")).await;
    assert_eq!(
        param(&location(&no_pkce), "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(param(&location(&no_pkce), "state").as_deref(), Some("s"));
    let no_openid = browser.get(&app, &format!("{base}&scope=profile")).await;
    assert_eq!(
        param(&location(&no_openid), "error").as_deref(),
        Some("invalid_scope")
    );
    let silent = browser
        .get(&app, &authorize_path("spa", "&prompt=none"))
        .await;
    assert_eq!(
        param(&location(&silent), "error").as_deref(),
        Some("login_required")
    );
}

#[tokio::test]
async fn a_public_client_proves_itself_by_pkce_alone() {
    let app = spawn_app().await;
    client(&app, "spa", true).await;
    app.create_user("dan", json!({})).await;
    let back = sign_in(&app, &mut Browser::new(), "spa", "dan").await;
    let code = param(&back, "code").unwrap();
    let mut form = code_form(&code);
    form.push(("client_id", "spa"));
    let (status, tokens) = trade(&app, "spa", None, &form).await;
    assert_eq!(status, 200, "{tokens}");
    let (status, _) = trade(&app, "spa", Some("a made-up secret"), &form).await;
    assert_eq!(status, 401, "a public client has no secret to send");
}

/// A confidential client's first tokens, for `name`, through a browser that stays signed in.
pub(crate) async fn first_tokens(
    app: &TestApp,
    browser: &mut Browser,
    name: &str,
    secret: &str,
) -> Value {
    let back = sign_in(app, browser, "wiki", name).await;
    let code = param(&back, "code").unwrap();
    let (status, tokens) = trade(app, "wiki", Some(secret), &code_form(&code)).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

pub(crate) async fn refresh(app: &TestApp, secret: &str, token: &str) -> (u16, Value) {
    trade(
        app,
        "wiki",
        Some(secret),
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

#[tokio::test]
async fn a_refresh_token_renews_once_and_a_spent_one_coming_back_revokes_the_grant() {
    let app = spawn_app().await;
    let secret = client(&app, "wiki", false).await.unwrap();
    app.create_user("eve", json!({})).await;
    let first = first_tokens(&app, &mut Browser::new(), "eve", &secret).await;
    let old = first["refresh_token"].as_str().unwrap();

    let (status, renewed) = refresh(&app, &secret, old).await;
    assert_eq!(status, 200, "{renewed}");
    let next = renewed["refresh_token"].as_str().unwrap();
    assert_ne!(next, old, "each refresh makes the next token");
    let (status, _) = userinfo(&app, renewed["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    let (status, narrowed) = trade(
        &app,
        "wiki",
        Some(&secret),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", next),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!((status, narrowed["scope"].as_str()), (200, Some("openid")));

    // The first token, spent, comes back: someone copied it. Everything of the grant stops.
    let (status, body) = refresh(&app, &secret, old).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let latest = narrowed["refresh_token"].as_str().unwrap();
    let (status, _) = refresh(&app, &secret, latest).await;
    assert_eq!(status, 400, "the grant is revoked");
    let (status, _) = userinfo(&app, narrowed["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 401);
    assert!(!app.audit("event=oidc.refresh_reuse").await.is_empty());
}

#[tokio::test]
async fn a_grant_without_offline_access_ends_with_the_sign_in() {
    let app = spawn_app().await;
    let secret = client(&app, "wiki", false).await.unwrap();
    app.create_user("fay", json!({})).await;
    let mut browser = Browser::new();
    let tokens = first_tokens(&app, &mut browser, "fay", &secret).await;
    let csrf = browser.csrf(&app).await;
    browser.post(&app, "/logout", &[("csrf", &csrf)]).await;
    let (status, _) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(
        status, 401,
        "logging out of Tessera ends the application's access too"
    );
    let (status, _) = refresh(&app, &secret, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 400);
}

async fn post_token_form(app: &TestApp, path: &str, secret: &str, token: &str) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(path))
        .basic_auth("wiki", Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_client_introspects_its_tokens_and_revokes_them() {
    let app = spawn_app().await;
    let secret = client(&app, "wiki", false).await.unwrap();
    app.create_user("gus", json!({})).await;
    let tokens = first_tokens(&app, &mut Browser::new(), "gus", &secret).await;
    let access = tokens["access_token"].as_str().unwrap();
    let (status, about) = post_token_form(&app, "/oauth2/introspect", &secret, access).await;
    assert_eq!(status, 200);
    assert_eq!(about["active"], true);
    assert_eq!(about["client_id"], "wiki");
    assert_eq!(about["scope"], "openid profile email");
    let (_, nonsense) = post_token_form(&app, "/oauth2/introspect", &secret, "not-a-token").await;
    assert_eq!(nonsense, json!({"active": false}));

    let (status, _) = post_token_form(&app, "/oauth2/revoke", &secret, "not-a-token").await;
    assert_eq!(status, 200, "an unknown token is answered alike");
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let (status, _) = post_token_form(&app, "/oauth2/revoke", &secret, refresh_token).await;
    assert_eq!(status, 200);
    let (_, about) = post_token_form(&app, "/oauth2/introspect", &secret, access).await;
    assert_eq!(
        about["active"], false,
        "revoking the refresh token revokes the grant"
    );
    let (status, _) = userinfo(&app, access).await;
    assert_eq!(status, 401);
    let response = app
        .client
        .post(app.url("/oauth2/introspect"))
        .basic_auth("wiki", Some("wrong"))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn an_application_logs_the_person_out_with_the_id_token_it_holds() {
    let app = spawn_app().await;
    let secret = client(&app, "wiki", false).await.unwrap();
    app.create_user("hal", json!({})).await;
    let mut browser = Browser::new();
    let tokens = first_tokens(&app, &mut browser, "hal", &secret).await;
    let hint = tokens["id_token"].as_str().unwrap();

    // A hint this server did not sign, or a return address not registered: nothing happens.
    let forged = format!("{}x", &hint[..hint.len() - 1]);
    let refused = browser
        .get(&app, &format!("/oauth2/logout?id_token_hint={forged}"))
        .await;
    assert_eq!(refused.status(), 400);
    let elsewhere = browser
        .get(
            &app,
            &format!(
                "/oauth2/logout?id_token_hint={hint}&post_logout_redirect_uri={}",
                urlencode("https://evil.example/")
            ),
        )
        .await;
    assert_eq!(elsewhere.status(), 400);
    assert!(location(&elsewhere).is_empty());
    let (status, _) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "still signed in");

    let out = browser
        .get(
            &app,
            &format!(
                "/oauth2/logout?id_token_hint={hint}&post_logout_redirect_uri={}&state=bye1",
                urlencode(BYE)
            ),
        )
        .await;
    assert_eq!(location(&out), format!("{BYE}?state=bye1"));
    let (status, _) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 401, "the sign-in ended, and the grant with it");
    assert_eq!(location(&browser.get(&app, "/").await), "/login");
}

#[tokio::test]
async fn a_logout_without_the_id_token_asks_the_person_first() {
    let app = spawn_app().await;
    let secret = client(&app, "wiki", false).await.unwrap();
    app.create_user("ida", json!({})).await;
    let mut browser = Browser::new();
    let tokens = first_tokens(&app, &mut browser, "ida", &secret).await;
    let asked = browser
        .get(
            &app,
            &format!(
                "/oauth2/logout?client_id=wiki&post_logout_redirect_uri={}",
                urlencode(BYE)
            ),
        )
        .await;
    assert_eq!(asked.status(), 200);
    let page = asked.text().await.unwrap();
    assert!(page.contains("Log out?"), "{page}");
    let (status, _) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "asking changes nothing");
    let csrf = crate::web::csrf_in(&page);
    let done = browser
        .post(
            &app,
            "/oauth2/logout",
            &[
                ("csrf", &csrf),
                ("client_id", "wiki"),
                ("post_logout_redirect_uri", BYE),
            ],
        )
        .await;
    assert_eq!(
        way_back(done).await,
        BYE,
        "after a form, the way back is a page"
    );
    let (status, _) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 401);
}
