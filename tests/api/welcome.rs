//! The welcome step changes the account, so it comes only after the whole login: a password
//! alone, waiting for its second factor, can neither fill the profile nor accept the terms.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, oathtool, spawn_app};
use crate::web::{Browser, location};

async fn profile(app: &TestApp, id: &str) -> Value {
    app.with_key(reqwest::Method::GET, &format!("/api/user/{id}"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["user"]
        .clone()
}

#[tokio::test]
async fn a_password_alone_cannot_answer_the_welcome_step_and_the_full_login_is_sent_to_it() {
    let app = spawn_app().await;
    let saved = app
        .with_key(reqwest::Method::PUT, "/api/system/welcome")
        .json(
            &json!({"welcome": {"termsVersion": 1, "termsText": "Be kind.",
                                   "profileFields": ["email"]}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    let user = app.create_user("wes", json!({})).await;
    let id = user["id"].as_str().unwrap();
    let (secret, _) = app.enroll_authenticator(id).await;

    let mut browser = Browser::new();
    let after_password = browser.log_in(&app, "wes", PASSWORD).await;
    assert_eq!(location(&after_password), "/login/code");
    assert_eq!(
        location(&browser.get(&app, "/welcome").await),
        "/login",
        "no welcome form before the code"
    );
    let csrf = browser.csrf(&app).await;
    let answered = browser
        .post(
            &app,
            "/welcome",
            &[
                ("csrf", &csrf),
                ("email", "thief@example.com"),
                ("terms_version", "1"),
                ("accept", "on"),
            ],
        )
        .await;
    assert_eq!(location(&answered), "/login");
    let unchanged = profile(&app, id).await;
    assert!(
        unchanged.get("email").is_none_or(Value::is_null),
        "{unchanged}"
    );
    assert!(
        unchanged
            .get("termsVersionAccepted")
            .is_none_or(Value::is_null),
        "{unchanged}"
    );

    // With the code, the login is complete, and the home page asks for the welcome step.
    let csrf = browser.csrf(&app).await;
    let done = browser
        .post(
            &app,
            "/login/code",
            &[("csrf", &csrf), ("code", &oathtool(&secret, 30))],
        )
        .await;
    assert_eq!(location(&done), "/");
    assert_eq!(location(&browser.get(&app, "/").await), "/welcome");
    let csrf = browser.csrf(&app).await;
    let answered = browser
        .post(
            &app,
            "/welcome",
            &[
                ("csrf", &csrf),
                ("email", "wes@example.com"),
                ("terms_version", "1"),
                ("accept", "on"),
            ],
        )
        .await;
    assert_eq!(location(&answered), "/");
    let welcomed = profile(&app, id).await;
    assert_eq!(welcomed["email"], "wes@example.com");
    assert_eq!(welcomed["termsVersionAccepted"], 1);
}
