//! Temporary passwords: an administrator sets one (`passwordChangeRequired` on the user API, the
//! console's "Give a temporary password…", `tessera user set-password --temporary`), and the
//! first administrator's printed password is one. A login with it answers FusionAuth's 203 with
//! a `changePasswordId` instead of a session or a second factor; the person chooses their own
//! password with it, then logs in as always.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, spawn_app};
use crate::web::{Browser, csrf_in, location};

const OWN: &str = "a passphrase of my own";

async fn login(app: &TestApp, name: &str, password: &str) -> (u16, Value) {
    app.login_json(json!({"loginId": name, "password": password}))
        .await
}

async fn choose(app: &TestApp, link: &str, password: &str) -> u16 {
    app.post_json(
        &format!("/api/user/change-password/{link}"),
        &json!({"password": password}),
    )
    .await
    .status()
    .as_u16()
}

async fn patch(app: &TestApp, id: &str, user: Value) -> Value {
    let response = app
        .with_key(Method::PATCH, &format!("/api/user/{id}"))
        .json(&json!({ "user": user }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["user"].clone()
}

#[tokio::test]
async fn a_temporary_password_answers_203_with_a_link_to_choose_ones_own() {
    let app = spawn_app().await;
    let user = app
        .create_user("ann", json!({"passwordChangeRequired": true}))
        .await;
    assert_eq!(user["passwordChangeRequired"], true);

    let (status, body) = login(&app, "ann", PASSWORD).await;
    assert_eq!(status, 203, "{body}");
    assert_eq!(body["changePasswordReason"], "Administrative");
    assert!(body.get("token").is_none(), "no session: {body}");
    let link = body["changePasswordId"].as_str().unwrap();

    assert_eq!(choose(&app, link, OWN).await, 200);
    assert_eq!(choose(&app, link, "yet another passphrase").await, 404);
    assert_eq!(login(&app, "ann", PASSWORD).await.0, 404);
    let (status, body) = login(&app, "ann", OWN).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["passwordChangeRequired"], false);
}

#[tokio::test]
async fn the_second_factor_comes_after_the_users_own_password() {
    let app = spawn_app().await;
    let user = app
        .create_user("ben", json!({"passwordChangeRequired": true}))
        .await;
    app.enroll_authenticator(user["id"].as_str().unwrap()).await;

    let (status, body) = login(&app, "ben", PASSWORD).await;
    assert_eq!(status, 203);
    assert!(body.get("twoFactorId").is_none());
    assert_eq!(
        choose(&app, body["changePasswordId"].as_str().unwrap(), OWN).await,
        200
    );
    assert_eq!(login(&app, "ben", OWN).await.0, 242);
}

#[tokio::test]
async fn an_administrator_makes_a_password_temporary_with_it_or_alone() {
    let app = spawn_app().await;
    let user = app.create_user("cat", json!({})).await;
    let id = user["id"].as_str().unwrap();

    let changed = patch(
        &app,
        id,
        json!({"password": "set by the administrator", "passwordChangeRequired": true}),
    )
    .await;
    assert_eq!(changed["passwordChangeRequired"], true);
    assert_eq!(login(&app, "cat", "set by the administrator").await.0, 203);

    // A password set without the flag is the user's to keep.
    patch(&app, id, json!({"password": "set and kept by cat"})).await;
    assert_eq!(login(&app, "cat", "set and kept by cat").await.0, 200);

    // The flag alone asks for a change of the password in force.
    patch(&app, id, json!({"passwordChangeRequired": true})).await;
    assert_eq!(login(&app, "cat", "set and kept by cat").await.0, 203);
    // A wrong password is a wrong password, flag or not.
    assert_eq!(login(&app, "cat", "not the password").await.0, 404);
}

#[tokio::test]
async fn the_console_makes_a_temporary_password_shown_once_after_asking() {
    let app = spawn_app().await;
    // An administrator without a second factor, as the console's tests have.
    app.put_two_factor_settings(json!({"webLoginPolicy": "enabled"}))
        .await;
    app.create_user("root", json!({"roles": ["admin"]})).await;
    let user = app.create_user("dan", json!({})).await;
    let id = user["id"].as_str().unwrap();
    let (_, token) = {
        let (status, body) = login(&app, "dan", PASSWORD).await;
        assert_eq!(status, 200);
        (status, body["token"].as_str().unwrap().to_owned())
    };
    let mut admin = Browser::new();
    assert_eq!(location(&admin.log_in(&app, "root", PASSWORD).await), "/");
    let path = format!("/admin/users/{id}/temporary-password");
    let question = admin.get(&app, &path).await;
    assert_eq!(question.status(), 200);
    let html = question.text().await.unwrap();
    assert!(html.contains("Give dan a temporary password?"), "{html}");
    let csrf = csrf_in(&html);

    // Without the question's answer, nothing happens.
    let unanswered = admin.post(&app, &path, &[("csrf", &csrf)]).await;
    assert!(
        unanswered
            .text()
            .await
            .unwrap()
            .contains("Give dan a temporary password?")
    );
    assert_eq!(login(&app, "dan", PASSWORD).await.0, 200);

    let made = admin
        .post(&app, &path, &[("csrf", &csrf), ("confirm", "yes")])
        .await;
    assert_eq!(made.status(), 200);
    let html = made.text().await.unwrap();
    let password = html
        .split("id=\"temporary-password\" class=\"secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .to_owned();
    assert_eq!(password.len(), 20);

    let validate = app
        .client
        .get(app.url("/api/jwt/validate"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(validate.status(), 401, "dan's sessions ended");
    assert_eq!(login(&app, "dan", PASSWORD).await.0, 404);
    let (status, body) = login(&app, "dan", &password).await;
    assert_eq!(status, 203);
    let text = serde_json::to_string(&app.audit("").await).unwrap();
    assert!(
        !text.contains(&password),
        "the password is kept nowhere in clear"
    );

    // The link's page says what it is for.
    let mut person = Browser::new();
    let page = person
        .get(
            &app,
            &format!(
                "/reset-password/{}",
                body["changePasswordId"].as_str().unwrap()
            ),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Choose your own password"), "{page}");
    assert!(page.contains("You logged in with a temporary password."));
}

#[tokio::test]
async fn the_pages_take_a_temporary_password_to_the_form_for_ones_own() {
    let app = spawn_app().await;
    app.create_user("eve", json!({"passwordChangeRequired": true}))
        .await;
    let mut browser = Browser::new();
    let answer = browser.log_in(&app, "eve", PASSWORD).await;
    let form = location(&answer);
    assert!(form.starts_with("/reset-password/"), "{form}");
    assert!(
        browser.get(&app, "/").await.status().is_redirection(),
        "not logged in"
    );
}
