//! Step-up: a person signed in on Tessera whose login does not do for an application's request
//! (older than its `max_age` or `prompt=login`, or without the second factor the client or
//! `acr_values=mfa` asks for) proves what is missing in the same session, then goes on to the
//! application. Going round the step gets no code.

use serde_json::json;
use tessera::audit::{Actor, Origin};
use tessera::clock::Instant;
use tessera::oidc::ClientSettings;

use crate::helpers::{PASSWORD, TestApp, oathtool, spawn_app};
use crate::oidc::{REDIRECT, authorize_path, client, code_form, param, trade, way_back};
use crate::web::{Browser, csrf_in, location};

/// A browser signed in as `name` with the password alone (the account had no method then).
async fn signed_in_with_password(app: &TestApp, name: &str) -> (Browser, String) {
    let user = app.create_user(name, json!({})).await;
    let mut browser = Browser::new();
    let logged_in = browser.log_in(app, name, PASSWORD).await;
    assert_eq!(location(&logged_in), "/");
    (browser, user["id"].as_str().unwrap().to_owned())
}

async fn text(response: reqwest::Response) -> String {
    response.text().await.unwrap()
}

/// The ID token's claims for the code in `back`.
async fn id_token_of(app: &TestApp, secret: &str, back: &str) -> serde_json::Value {
    let code = param(back, "code").unwrap_or_else(|| panic!("no code in {back}"));
    let (status, tokens) = trade(app, "wiki", Some(secret), &code_form(&code)).await;
    assert_eq!(status, 200, "{tokens}");
    let keys = app.core.oidc.keys().await.unwrap();
    keys.verify(tokens["id_token"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn a_request_for_a_second_factor_asks_the_signed_in_person_for_a_code_not_a_new_login() {
    let app = spawn_app().await;
    let secret = client(&app, "wiki", false).await.unwrap();
    let (mut browser, user_id) = signed_in_with_password(&app, "ann").await;
    // The account gets its authenticator after this browser logged in: the session has one factor.
    let (totp, _) = app.enroll_authenticator(&user_id).await;
    let session_cookie = browser.cookie("tessera_session").map(str::to_owned);

    let asked = browser
        .get(&app, &authorize_path("wiki", "&acr_values=mfa"))
        .await;
    assert_eq!(location(&asked), "/oauth2/step-up");
    let page = text(browser.get(&app, "/oauth2/step-up").await).await;
    assert!(
        page.contains("The wiki app asks for your second factor"),
        "{page}"
    );
    assert!(!page.contains("name=\"password\""), "no password again");

    // Going round the step gets the step again, not a code.
    let round = browser.get(&app, "/oauth2/continue").await;
    assert_eq!(location(&round), "/oauth2/step-up");

    let wrong = browser
        .post(
            &app,
            "/oauth2/step-up",
            &[("csrf", &csrf_in(&page)), ("code", "000000")],
        )
        .await;
    assert_eq!(wrong.status(), 422);
    assert!(text(wrong).await.contains("The code is not right."));
    assert_eq!(
        location(&browser.get(&app, "/oauth2/continue").await),
        "/oauth2/step-up",
        "a wrong code proves nothing"
    );

    let proved = browser
        .post(
            &app,
            "/oauth2/step-up",
            &[("csrf", &csrf_in(&page)), ("code", &oathtool(&totp, 30))],
        )
        .await;
    assert_eq!(location(&proved), "/oauth2/continue");
    let back = way_back(browser.get(&app, "/oauth2/continue").await).await;
    let claims = id_token_of(&app, &secret, &back).await;
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["acr"], "mfa");
    assert_eq!(
        browser.cookie("tessera_session").map(str::to_owned),
        session_cookie,
        "the same session, stepped up"
    );
    let told = app.audit("event=login.step_up").await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["details"]["clientId"], "wiki", "{:?}", told[0]);
}

#[tokio::test]
async fn a_client_that_requires_a_second_factor_sends_an_account_without_one_to_set_it_up() {
    let app = spawn_app().await;
    let settings = ClientSettings {
        client_id: Some("vault".into()),
        name: "Vault".into(),
        confidential: true,
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: vec![],
        scopes: None,
        allowed_groups: vec![],
        requires_second_factor: true,
        first_party: true,
        access_token_seconds: None,
        id_token_seconds: None,
        refresh_token_seconds: None,
        id_token_signed_response_alg: None,
    };
    app.core
        .oidc
        .create_client(&settings, Actor::Cli, &Origin::default(), Instant::now())
        .await
        .unwrap();
    let (mut browser, user_id) = signed_in_with_password(&app, "ben").await;

    let asked = browser.get(&app, &authorize_path("vault", "")).await;
    assert_eq!(location(&asked), "/oauth2/step-up");
    let page = text(browser.get(&app, "/oauth2/step-up").await).await;
    assert!(
        page.contains("Vault asks for a second factor, and your account has none yet"),
        "{page}"
    );
    assert!(page.contains("href=\"/security\""), "{page}");
    let refused = browser
        .post(
            &app,
            "/oauth2/step-up",
            &[("csrf", &csrf_in(&page)), ("code", "123456")],
        )
        .await;
    assert_eq!(refused.status(), 422, "no method: no code can do");
    assert!(
        text(refused)
            .await
            .contains("This account has no second factor yet")
    );

    // Once the account has one, the step asks for its code.
    let (totp, _) = app.enroll_authenticator(&user_id).await;
    let page = text(browser.get(&app, "/oauth2/step-up").await).await;
    assert!(page.contains("Vault asks for your second factor"), "{page}");
    let proved = browser
        .post(
            &app,
            "/oauth2/step-up",
            &[("csrf", &csrf_in(&page)), ("code", &oathtool(&totp, 30))],
        )
        .await;
    assert_eq!(location(&proved), "/oauth2/continue");
    let back = way_back(browser.get(&app, "/oauth2/continue").await).await;
    assert!(param(&back, "code").is_some(), "{back}");
}

#[tokio::test]
async fn a_request_for_a_recent_login_asks_for_the_password_again_in_the_same_session() {
    let app = spawn_app().await;
    let secret = client(&app, "wiki", false).await.unwrap();
    let (mut browser, _) = signed_in_with_password(&app, "cy").await;
    let session_cookie = browser.cookie("tessera_session").map(str::to_owned);
    let before = Instant::now().seconds();

    let asked = browser
        .get(&app, &authorize_path("wiki", "&prompt=login"))
        .await;
    assert_eq!(location(&asked), "/oauth2/step-up");
    let page = text(browser.get(&app, "/oauth2/step-up").await).await;
    assert!(page.contains("asks for a recent login"), "{page}");
    assert!(page.contains("name=\"password\""), "{page}");
    assert_eq!(
        location(&browser.get(&app, "/oauth2/continue").await),
        "/oauth2/step-up",
        "no code without the password"
    );

    let wrong = browser
        .post(
            &app,
            "/oauth2/step-up",
            &[("csrf", &csrf_in(&page)), ("password", "not the password")],
        )
        .await;
    assert_eq!(wrong.status(), 422);
    let proved = browser
        .post(
            &app,
            "/oauth2/step-up",
            &[("csrf", &csrf_in(&page)), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(location(&proved), "/oauth2/continue");
    let back = way_back(browser.get(&app, "/oauth2/continue").await).await;
    let claims = id_token_of(&app, &secret, &back).await;
    assert!(claims["auth_time"].as_i64().unwrap() >= before, "{claims}");
    assert_eq!(
        browser.cookie("tessera_session").map(str::to_owned),
        session_cookie,
        "not a fresh login"
    );
    assert_eq!(app.audit("event=login.reauthenticate").await.len(), 1);
}

#[tokio::test]
async fn without_interaction_a_missing_step_is_an_error_for_the_client() {
    let app = spawn_app().await;
    client(&app, "wiki", false).await.unwrap();
    let (mut browser, user_id) = signed_in_with_password(&app, "di").await;
    app.enroll_authenticator(&user_id).await;

    let factor = browser
        .get(&app, &authorize_path("wiki", "&prompt=none&acr_values=mfa"))
        .await;
    let to = location(&factor);
    assert!(to.starts_with(REDIRECT), "{to}");
    assert_eq!(param(&to, "error").as_deref(), Some("interaction_required"));

    let aged = browser
        .get(&app, &authorize_path("wiki", "&prompt=none&max_age=0"))
        .await;
    assert_eq!(
        param(&location(&aged), "error").as_deref(),
        Some("login_required")
    );
    // Without either, the session does.
    let plain = browser
        .get(&app, &authorize_path("wiki", "&prompt=none"))
        .await;
    assert!(param(&location(&plain), "code").is_some());
}
