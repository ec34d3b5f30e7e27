//! Seed 004 (FusionAuth's older two-factor tutorial with text messages) works against Tessera
//! as printed: its request bodies are sent as they stand, with only the ids, the secret and the
//! codes of this run swapped in, and get the seed's answers. Its number, `555-555-5555`, is
//! fictional (555 is no area code); a real number in the same national form stands in for it.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, spawn_app, spawn_app_with};

/// The seed's number in its own national form, and as Tessera stores it.
const SEED_FORM: &str = "303-555-5555";
const E164: &str = "+13035555555";

async fn us_server() -> TestApp {
    spawn_app_with(|config| config.default_region = Some("US".into())).await
}

async fn messages_to(app: &TestApp, to: &str) -> usize {
    app.outbox()
        .await
        .iter()
        .filter(|message| message["to"] == to)
        .count()
}

/// The user the seed enables, through the seed's three requests; returns the user's id.
async fn enable_as_the_seed_does(app: &TestApp, username: &str) -> String {
    let user = app.create_user(username, json!({})).await;
    let user_id = user["id"].as_str().unwrap().to_owned();

    // "Generate a secret"
    let generated: Value = app
        .with_key(Method::GET, "/api/two-factor/secret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = generated["secret"].as_str().expect("a secret").to_owned();

    // "Collect a verification code": sent to the number with the secret.
    let sent = app
        .with_key(Method::POST, "/api/two-factor/send")
        .json(&json!({"mobilePhone": SEED_FORM, "secret": secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200, "{}", sent.text().await.unwrap());
    let code = app.code_sent_to(E164).await;

    // "Enable Two Factor Authentication"
    let enabled = app
        .with_key(Method::POST, &format!("/api/user/two-factor/{user_id}"))
        .json(&json!({"code": code, "secret": secret, "delivery": "TextMessage"}))
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.status(), 200, "{}", enabled.text().await.unwrap());
    user_id
}

#[tokio::test]
async fn the_seed_enables_text_messages_and_logs_in_with_the_code_the_login_sent() {
    let app = us_server().await;
    enable_as_the_seed_does(&app, "seed").await;
    let before = messages_to(&app, E164).await;

    // "a 242 status code will be returned from the Login API"
    let (status, login) = app
        .login_json(json!({"loginId": "seed", "password": PASSWORD}))
        .await;
    assert_eq!(status, 242, "{login}");
    let two_factor_id = login["twoFactorId"].as_str().expect("a twoFactorId");

    // "the verification code sent to their mobile phone as a result of successfully calling the
    // Login API": one message, sent by the login itself.
    assert_eq!(messages_to(&app, E164).await, before + 1);
    let code = app.code_sent_to(E164).await;

    // "Complete Two Factor Authentication", with the seed's applicationId and empty ipAddress.
    let done = app
        .post_json(
            "/api/two-factor/login",
            &json!({
                "applicationId": "10000000-0000-0002-0000-000000000001",
                "code": code,
                "ipAddress": "",
                "twoFactorId": two_factor_id
            }),
        )
        .await;
    assert_eq!(done.status(), 200, "{}", done.text().await.unwrap());
    let done: Value = done.json().await.unwrap();
    assert_eq!(done["token"].as_str().unwrap().split('.').count(), 3);
}

#[tokio::test]
async fn more_codes_come_from_the_send_api_with_the_two_factor_id_alone() {
    let app = us_server().await;
    enable_as_the_seed_does(&app, "more").await;
    let (status, login) = app
        .login_json(json!({"loginId": "more", "password": PASSWORD}))
        .await;
    assert_eq!(status, 242);
    let two_factor_id = login["twoFactorId"].as_str().unwrap();
    let sent_by_login = messages_to(&app, E164).await;

    // "the Send a Two Factor Code API may be called with the twoFactorId": `{}` names no method.
    let resent = app
        .post_json(&format!("/api/two-factor/send/{two_factor_id}"), &json!({}))
        .await;
    assert_eq!(resent.status(), 200, "{}", resent.text().await.unwrap());
    assert_eq!(messages_to(&app, E164).await, sent_by_login + 1);
    let code = app.code_sent_to(E164).await;
    let done = app.finish_two_factor(two_factor_id, &code, json!({})).await;
    assert_eq!(done.status(), 200);
}

#[tokio::test]
async fn a_login_sends_no_code_unasked_to_a_phone_enrolled_the_current_way_unless_the_settings_say_so()
 {
    let app = spawn_app().await;
    let user = app.create_user("cur", json!({})).await;
    app.enroll_sms(user["id"].as_str().unwrap(), E164).await;
    let enrolled = messages_to(&app, E164).await;

    let (status, _) = app
        .login_json(json!({"loginId": "cur", "password": PASSWORD}))
        .await;
    assert_eq!(status, 242);
    assert_eq!(
        messages_to(&app, E164).await,
        enrolled,
        "nothing sent unasked"
    );

    app.put_two_factor_settings(json!({"sendCodeOnLogin": "preferred"}))
        .await;
    let (status, login) = app
        .login_json(json!({"loginId": "cur", "password": PASSWORD}))
        .await;
    assert_eq!(status, 242);
    assert_eq!(
        messages_to(&app, E164).await,
        enrolled + 1,
        "its only method"
    );
    let code = app.code_sent_to(E164).await;
    let done = app
        .finish_two_factor(login["twoFactorId"].as_str().unwrap(), &code, json!({}))
        .await;
    assert_eq!(done.status(), 200);

    app.put_two_factor_settings(json!({"sendCodeOnLogin": "never"}))
        .await;
    let (status, _) = app
        .login_json(json!({"loginId": "cur", "password": PASSWORD}))
        .await;
    assert_eq!(status, 242);
    assert_eq!(messages_to(&app, E164).await, enrolled + 1);
}

#[tokio::test]
async fn a_code_asked_for_without_a_method_needs_a_method_that_receives_codes() {
    let app = spawn_app().await;
    let user = app.create_user("app", json!({})).await;
    app.enroll_authenticator(user["id"].as_str().unwrap()).await;
    let two_factor_id = app.start_two_factor("app").await;
    let refused = app
        .post_json(&format!("/api/two-factor/send/{two_factor_id}"), &json!({}))
        .await;
    assert_eq!(refused.status(), 400);
    let errors: Value = refused.json().await.unwrap();
    let message = errors["fieldErrors"]["methodId"][0]["message"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("no method that receives codes"),
        "{message}"
    );
}

#[tokio::test]
async fn a_national_number_needs_a_default_region_and_is_stored_in_e164() {
    let without = spawn_app().await;
    let refused = without
        .with_key(Method::POST, "/api/two-factor/send")
        .json(&json!({"mobilePhone": SEED_FORM, "secret": "8MJJfCY4ERBtotvenSc3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let errors: Value = refused.json().await.unwrap();
    let message = errors["fieldErrors"]["mobilePhone"][0]["message"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("start the phone number with + and the country code"),
        "{message}"
    );

    let us = us_server().await;
    let user = us
        .create_user("nat", json!({"mobilePhone": "(303) 555-0199"}))
        .await;
    assert_eq!(user["mobilePhone"], "+13035550199", "{user}");
    let fictional = us
        .with_key(Method::POST, "/api/two-factor/send")
        .json(&json!({"mobilePhone": "555-555-5555", "secret": "8MJJfCY4ERBtotvenSc3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(fictional.status(), 400);
    let errors: Value = fictional.json().await.unwrap();
    let message = errors["fieldErrors"]["mobilePhone"][0]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("numbering plan of US"), "{message}");
}

#[tokio::test]
async fn on_the_pages_the_code_sent_unasked_is_said_sent_without_the_authy_move() {
    let app = us_server().await;
    app.put_two_factor_settings(json!({"webLoginPolicy": "enabled"}))
        .await;
    enable_as_the_seed_does(&app, "web").await;
    let mut browser = crate::web::Browser::new();
    let response = browser.log_in(&app, "web", PASSWORD).await;
    let code_page = crate::web::location(&response);
    assert!(code_page.ends_with("&sent=1"), "{code_page}");
    let page = browser.get(&app, &code_page).await.text().await.unwrap();
    assert!(page.contains("We sent a code to +1 •••• 5555"), "{page}");
    assert!(!page.contains("moved to a new verification service"));
}
