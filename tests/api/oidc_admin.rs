//! OpenID Connect's clients managed over the JSON API (`/api/oidc/client`), a person taking
//! back an application from their security settings, an administrator revoking one sign-in of a
//! user, and the per-client counters at `/metrics`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, spawn_app};
use crate::oidc::{
    REDIRECT, authorize_path, code_form, param, sign_in, trade, urlencode, userinfo, way_back,
};
use crate::web::{Browser, csrf_in, location};

const OTHER_REDIRECT: &str = "http://localhost:9/other";

async fn api(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = app.with_key(method, path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn settings(id: &str, first_party: bool) -> Value {
    json!({"client": {
        "clientId": id,
        "name": format!("The {id} app"),
        "redirectUris": [REDIRECT],
        "firstParty": first_party,
    }})
}

/// Registers a client over the API; answers its secret.
async fn register(app: &TestApp, id: &str, first_party: bool) -> String {
    let (status, body) = api(
        app,
        Method::POST,
        "/api/oidc/client",
        Some(settings(id, first_party)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["clientSecret"].as_str().unwrap().to_owned()
}

/// The codes of the fields a 400 names.
fn refused_fields(body: &Value) -> Vec<String> {
    body["fieldErrors"]
        .as_object()
        .map(|fields| fields.keys().cloned().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_client_is_registered_read_changed_and_removed_over_the_api() {
    let app = spawn_app().await;
    let secret = register(&app, "wiki", true).await;
    assert_eq!(secret.len(), 43, "a secret of 32 random bytes");

    let (status, list) = api(&app, Method::GET, "/api/oidc/client", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["clients"][0]["clientId"], "wiki");
    let (status, read) = api(&app, Method::GET, "/api/oidc/client/wiki", None).await;
    assert_eq!(status, 200);
    assert_eq!(read["client"]["confidential"], true);
    assert!(
        !read.to_string().contains(&secret) && read.get("clientSecret").is_none(),
        "a secret is answered once, when it is made: {read}"
    );

    // What was read goes back with changes: the id and kind as they were are accepted.
    let mut changed = read["client"].clone();
    changed["name"] = json!("Team wiki");
    changed["redirectUris"] = json!([OTHER_REDIRECT]);
    changed["scopes"] = json!(["openid", "email"]);
    let (status, updated) = api(
        &app,
        Method::PUT,
        "/api/oidc/client/wiki",
        Some(json!({ "client": changed })),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["client"]["name"], "Team wiki");
    assert_eq!(updated["client"]["scopes"], json!(["openid", "email"]));
    assert!(!app.audit("event=oidc.client_update").await.is_empty());

    // The authorization endpoint sees the change at once.
    let mut browser = Browser::new();
    let old = browser.get(&app, &authorize_path("wiki", "")).await;
    assert_eq!(old.status(), 400, "the old redirect URI is no longer one");
    assert!(location(&old).is_empty());
    let new = browser
        .get(
            &app,
            &format!(
                "/oauth2/authorize?response_type=code&client_id=wiki&redirect_uri={}\
                 &scope=openid%20profile",
                urlencode(OTHER_REDIRECT)
            ),
        )
        .await;
    assert_eq!(
        param(&location(&new), "error").as_deref(),
        Some("invalid_scope"),
        "profile is no longer among its scopes: {}",
        location(&new)
    );

    let (status, _) = api(&app, Method::DELETE, "/api/oidc/client/wiki", None).await;
    assert_eq!(status, 200);
    let (status, _) = api(&app, Method::GET, "/api/oidc/client/wiki", None).await;
    assert_eq!(status, 404);
    let (status, _) = api(&app, Method::DELETE, "/api/oidc/client/wiki", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bad_client_input_is_refused_naming_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    register(&app, "wiki", true).await;
    let cases = [
        (
            json!({"name": "  ", "redirectUris": [REDIRECT]}),
            "client.name",
        ),
        (
            json!({"name": "App", "redirectUris": ["http://app.example/cb"]}),
            "client.redirectUris",
        ),
        (
            json!({"name": "App", "redirectUris": [REDIRECT], "scopes": ["openid", "admin"]}),
            "client.scopes",
        ),
        (
            json!({"name": "App", "redirectUris": [REDIRECT], "allowedGroups": ["nobody"]}),
            "allowedGroups",
        ),
        (json!({"name": "App"}), "client.redirectUris"),
        (
            json!({"name": "App", "redirectUris": [REDIRECT], "colour": "red"}),
            "client.colour",
        ),
        (
            json!({"clientId": "wiki", "name": "App", "redirectUris": [REDIRECT]}),
            "client.clientId",
        ),
    ];
    for (client, field) in cases {
        let (status, body) = api(
            &app,
            Method::POST,
            "/api/oidc/client",
            Some(json!({ "client": client })),
        )
        .await;
        assert_eq!(status, 400, "{client}: {body}");
        assert!(
            refused_fields(&body).iter().any(|f| f.ends_with(field)),
            "{client}: {body} names {field}"
        );
    }
    let (_, list) = api(&app, Method::GET, "/api/oidc/client", None).await;
    assert_eq!(list["clients"].as_array().unwrap().len(), 1, "nothing made");

    // An update that would change what the client is, or breaks a rule, changes nothing.
    let (status, body) = api(
        &app,
        Method::PUT,
        "/api/oidc/client/wiki",
        Some(json!({"client": {"name": "", "confidential": false, "redirectUris": [REDIRECT]}})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        refused_fields(&body),
        ["client.confidential", "client.name"]
    );
    let (_, read) = api(&app, Method::GET, "/api/oidc/client/wiki", None).await;
    assert_eq!(read["client"]["name"], "The wiki app");

    let update = Some(json!({"client": {"name": "X", "redirectUris": [REDIRECT]}}));
    let (status, _) = api(&app, Method::PUT, "/api/oidc/client/nobody", update).await;
    assert_eq!(status, 404);
    let (status, _) = api(&app, Method::POST, "/api/oidc/client/nobody/secret", None).await;
    assert_eq!(status, 404);

    // A public client has no secret to rotate.
    let (status, _) = api(
        &app,
        Method::POST,
        "/api/oidc/client",
        Some(
            json!({"client": {"clientId": "spa", "name": "SPA", "confidential": false,
            "redirectUris": [REDIRECT]}}),
        ),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = api(&app, Method::POST, "/api/oidc/client/spa/secret", None).await;
    assert_eq!(status, 400);
    assert_eq!(body["generalErrors"][0]["code"], "[public]clientId");
    assert!(
        body["generalErrors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("public client has no secret")
    );

    let huge = "x".repeat(200 * 1024);
    let (status, _) = api(
        &app,
        Method::POST,
        "/api/oidc/client",
        Some(json!({"client": {"name": huge, "redirectUris": [REDIRECT]}})),
    )
    .await;
    assert_eq!(status, 413);
    let (status, _) = app
        .client
        .get(app.url("/api/oidc/client"))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 401, "an API key is needed");
}

#[tokio::test]
async fn a_secret_is_shown_once_works_at_the_token_endpoint_and_stops_when_rotated() {
    let app = spawn_app().await;
    let secret = register(&app, "wiki", true).await;
    app.create_user("ann", json!({})).await;
    let mut browser = Browser::new();
    let back = sign_in(&app, &mut browser, "wiki", "ann").await;
    let code = param(&back, "code").unwrap();
    let (status, tokens) = trade(&app, "wiki", Some(&secret), &code_form(&code)).await;
    assert_eq!(status, 200, "{tokens}");

    let (status, rotated) = api(&app, Method::POST, "/api/oidc/client/wiki/secret", None).await;
    assert_eq!(status, 200);
    let new_secret = rotated["clientSecret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
    ];
    let (status, body) = trade(&app, "wiki", Some(&secret), &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = trade(&app, "wiki", Some(new_secret), &form).await;
    assert_eq!(status, 200, "{body}");
}

/// A person signed in to a third-party client `partner` through `browser`, having allowed
/// it: the tokens it received.
async fn allowed_and_signed_in(
    app: &TestApp,
    browser: &mut Browser,
    name: &str,
    secret: &str,
) -> Value {
    let asked = browser.get(app, &authorize_path("partner", "")).await;
    assert_eq!(location(&asked), "/login");
    browser.log_in(app, name, PASSWORD).await;
    browser.get(app, "/").await;
    let question = browser.get(app, "/oauth2/continue").await;
    assert_eq!(location(&question), "/oauth2/consent");
    answer_consent(app, browser, secret, "allow").await.unwrap()
}

/// Answers the consent question; allowed, the tokens its code is traded for.
async fn answer_consent(
    app: &TestApp,
    browser: &mut Browser,
    secret: &str,
    answer: &str,
) -> Option<Value> {
    let page = browser
        .get(app, "/oauth2/consent")
        .await
        .text()
        .await
        .unwrap();
    let csrf = csrf_in(&page);
    let answered = browser
        .post(
            app,
            "/oauth2/consent",
            &[("csrf", &csrf), ("answer", answer)],
        )
        .await;
    let code = param(&way_back(answered).await, "code")?;
    let (status, tokens) = trade(app, "partner", Some(secret), &code_form(&code)).await;
    assert_eq!(status, 200, "{tokens}");
    Some(tokens)
}

#[tokio::test]
async fn a_person_revokes_an_application_in_security_settings_and_its_tokens_stop() {
    let app = spawn_app().await;
    let secret = register(&app, "partner", false).await;
    app.create_user("lea", json!({})).await;
    let mut browser = Browser::new();
    let tokens = allowed_and_signed_in(&app, &mut browser, "lea", &secret).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, access).await.0, 200);

    let page = browser.get(&app, "/security").await.text().await.unwrap();
    assert!(page.contains("<h2>Applications</h2>"), "{page}");
    assert!(page.contains("The partner app"), "{page}");
    assert!(page.contains("openid, profile, email"), "{page}");
    assert!(page.contains("Revoke The partner app"), "{page}");

    // A form without the page's token does nothing.
    let forged = browser
        .post(
            &app,
            "/security/applications/revoke",
            &[("csrf", "x"), ("id", "partner")],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(userinfo(&app, access).await.0, 200);

    let csrf = csrf_in(&page);
    let revoked = browser
        .post(
            &app,
            "/security/applications/revoke",
            &[("csrf", &csrf), ("id", "partner")],
        )
        .await;
    assert_eq!(location(&revoked), "/security?done=application");
    assert_eq!(
        userinfo(&app, access).await.0,
        401,
        "the access token stops"
    );
    let (status, body) = trade(
        &app,
        "partner",
        Some(&secret),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let after = browser
        .get(&app, "/security?done=application")
        .await
        .text()
        .await
        .unwrap();
    assert!(after.contains("no longer has access"), "{after}");
    assert!(!after.contains("Revoke The partner app"), "{after}");

    // The next sign-in asks again.
    let again = browser.get(&app, &authorize_path("partner", "")).await;
    assert_eq!(location(&again), "/oauth2/consent");
    let events = app.audit("event=oidc.application_revoke").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["details"]["clientId"], "partner");
}

#[tokio::test]
async fn an_administrator_revokes_one_sign_in_of_a_user_and_leaves_the_others() {
    let app = spawn_app().await;
    app.put_two_factor_settings(json!({"webLoginPolicy": "enabled", "apiLoginPolicy": "enabled"}))
        .await;
    app.create_user("boss", json!({"roles": ["admin"]})).await;
    let secret = register(&app, "wiki", true).await;
    let bob = app.create_user("bob", json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let back = sign_in(&app, &mut Browser::new(), "wiki", "bob").await;
        let code = param(&back, "code").unwrap();
        let (status, got) = trade(&app, "wiki", Some(&secret), &code_form(&code)).await;
        assert_eq!(status, 200);
        tokens.push(got);
    }
    let mut admin = Browser::new();
    admin.log_in(&app, "boss", PASSWORD).await;
    let page = admin
        .get(&app, &format!("/admin/users/{bob}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Applications signed in to"), "{page}");
    assert_eq!(
        page.matches("Revoke the sign-in to The wiki app").count(),
        2
    );
    assert!(page.contains("while the session lasts"));
    let grant = page
        .split("/grants/revoke\" class=\"inline\">")
        .nth(1)
        .and_then(|rest| rest.split("name=\"id\" value=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let csrf = csrf_in(&page);
    let revoked = admin
        .post(
            &app,
            &format!("/admin/users/{bob}/grants/revoke"),
            &[("csrf", &csrf), ("id", &grant)],
        )
        .await;
    assert_eq!(
        location(&revoked),
        format!("/admin/users/{bob}?notice=grant")
    );
    let statuses: Vec<u16> = futures_statuses(&app, &tokens).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        1,
        "one sign-in ended, the other works: {statuses:?}"
    );
    let page = admin
        .get(&app, &format!("/admin/users/{bob}"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        page.matches("Revoke the sign-in to The wiki app").count(),
        1
    );
    let events = app.audit("event=oidc.grant_revoke").await;
    assert_eq!(events[0]["details"]["by"], "administrator");

    // Another user's grant, or one that is not there, is not revoked from bob's page.
    let again = admin
        .post(
            &app,
            &format!("/admin/users/{bob}/grants/revoke"),
            &[("csrf", &csrf), ("id", "gr_nothing")],
        )
        .await;
    assert_eq!(
        location(&again),
        format!("/admin/users/{bob}?notice=no-grant")
    );
}

async fn futures_statuses(app: &TestApp, tokens: &[Value]) -> Vec<u16> {
    let mut statuses = Vec::new();
    for t in tokens {
        statuses.push(userinfo(app, t["access_token"].as_str().unwrap()).await.0);
    }
    statuses
}

/// The value of the counter whose line names all of `labels`, 0 when it has none yet.
fn counter(metrics: &str, name: &str, labels: &[&str]) -> f64 {
    metrics
        .lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn per_client_counters_move_with_codes_tokens_refreshes_refusals_and_revocations() {
    let app = spawn_app().await;
    // The recorder is the process's: this test's client is its own.
    let secret = {
        let (status, body) = api(
            &app,
            Method::POST,
            "/api/oidc/client",
            Some(json!({"client": {"clientId": "metered", "name": "Metered",
                "redirectUris": [REDIRECT]}})),
        )
        .await;
        assert_eq!(status, 200);
        body["clientSecret"].as_str().unwrap().to_owned()
    };
    app.create_user("max", json!({})).await;
    let client = "client_id=\"metered\"";
    let read = || async {
        app.with_key(Method::GET, "/metrics")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };

    let mut browser = Browser::new();
    browser.get(&app, &authorize_path_of("metered")).await;
    browser.log_in(&app, "max", PASSWORD).await;
    browser.get(&app, "/").await;
    browser.get(&app, "/oauth2/continue").await;
    let page = browser
        .get(&app, "/oauth2/consent")
        .await
        .text()
        .await
        .unwrap();
    let csrf = csrf_in(&page);
    browser
        .post(
            &app,
            "/oauth2/consent",
            &[("csrf", &csrf), ("answer", "deny")],
        )
        .await;
    let refused = read().await;
    assert_eq!(
        counter(
            &refused,
            "tessera_oidc_refusals_total",
            &[client, "reason=\"consent_refused\""]
        ),
        1.0,
        "{refused}"
    );
    assert_eq!(
        counter(&refused, "tessera_oidc_codes_issued_total", &[client]),
        0.0
    );

    browser.get(&app, &authorize_path_of("metered")).await;
    let page = browser
        .get(&app, "/oauth2/consent")
        .await
        .text()
        .await
        .unwrap();
    let csrf = csrf_in(&page);
    let allowed = browser
        .post(
            &app,
            "/oauth2/consent",
            &[("csrf", &csrf), ("answer", "allow")],
        )
        .await;
    let code = param(&way_back(allowed).await, "code").unwrap();
    let (_, tokens) = trade(&app, "metered", Some(&secret), &code_form(&code)).await;
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
    ];
    let (status, _) = trade(&app, "metered", Some(&secret), &form).await;
    assert_eq!(status, 200);
    let csrf = browser.csrf(&app).await;
    browser
        .post(
            &app,
            "/security/applications/revoke",
            &[("csrf", &csrf), ("id", "metered")],
        )
        .await;

    let text = read().await;
    let count = |name: &str, labels: &[&str]| counter(&text, name, labels);
    assert_eq!(
        count("tessera_oidc_codes_issued_total", &[client]),
        1.0,
        "{text}"
    );
    assert_eq!(
        count(
            "tessera_oidc_tokens_issued_total",
            &[client, "grant_type=\"authorization_code\""]
        ),
        1.0
    );
    assert_eq!(
        count(
            "tessera_oidc_tokens_issued_total",
            &[client, "grant_type=\"refresh_token\""]
        ),
        1.0
    );
    assert_eq!(count("tessera_oidc_refreshes_total", &[client]), 1.0);
    assert_eq!(
        count("tessera_oidc_revocations_total", &[client, "by=\"user\""]),
        1.0
    );
}

fn authorize_path_of(client_id: &str) -> String {
    authorize_path(client_id, "")
}
