//! A user who must enrol at login has the time an enrolment takes (installing an app from a
//! store takes longer than typing a code), and a login that expires while enrolling says so
//! and goes back to where the person was after the password.

use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, spawn_app};
use crate::web::{Browser, csrf_in, location};

/// How long each stored login waits, in seconds, newest last.
async fn login_lifetimes(app: &TestApp) -> Vec<i64> {
    let rows: Vec<(i64, i64)> =
        sqlx::query_as("SELECT created_at, expires_at FROM login_challenges ORDER BY created_at")
            .fetch_all(app.core.store.pool())
            .await
            .unwrap();
    rows.iter()
        .map(|(created, expires)| (expires - created) / 1000)
        .collect()
}

#[tokio::test]
async fn a_login_waits_for_an_enrolment_as_long_as_the_enrolment_takes() {
    let app = spawn_app().await;
    app.put_two_factor_settings(
        json!({"webLoginPolicy": "required", "apiLoginPolicy": "required"}),
    )
    .await;
    let user = app.create_user("new", json!({})).await;
    let (status, _) = app
        .login_json(json!({"loginId": "new", "password": PASSWORD}))
        .await;
    assert_eq!(status, 242);
    app.enroll_authenticator(user["id"].as_str().unwrap()).await;
    let (status, _) = app
        .login_json(json!({"loginId": "new", "password": PASSWORD}))
        .await;
    assert_eq!(status, 242);
    // Enrolling: enrollmentTtlSeconds (600); a code from an enrolled method: challengeTtlSeconds.
    assert_eq!(login_lifetimes(&app).await, [600, 300]);

    app.put_two_factor_settings(
        json!({"apiLoginPolicy": "required", "enrollmentTtlSeconds": 1800}),
    )
    .await;
    let other = app.create_user("later", json!({})).await;
    assert!(other["id"].is_string());
    let (status, _) = app
        .login_json(json!({"loginId": "later", "password": PASSWORD}))
        .await;
    assert_eq!(status, 242);
    assert_eq!(login_lifetimes(&app).await.last(), Some(&1800));
}

#[tokio::test]
async fn a_login_that_expires_while_setting_up_an_app_returns_there_after_the_password() {
    let app = spawn_app().await;
    app.put_two_factor_settings(json!({"webLoginPolicy": "required"}))
        .await;
    app.create_user("ivy", json!({})).await;
    let mut browser = Browser::new();
    let response = browser.log_in(&app, "ivy", PASSWORD).await;
    assert_eq!(location(&response), "/login/enroll");
    let page = browser.get(&app, "/login/enroll/authenticator").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("expires in 10 minutes"));

    sqlx::query("UPDATE login_challenges SET expires_at = 0")
        .execute(app.core.store.pool())
        .await
        .unwrap();
    let response = browser.get(&app, "/login/enroll/authenticator").await;
    assert_eq!(location(&response), "/login?expired=authenticator");
    let page = browser
        .get(&app, "/login?expired=authenticator")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("took longer than this login could wait"),
        "{page}"
    );
    assert!(page.contains("name=\"resume\" value=\"authenticator\""));

    let response = browser
        .post(
            &app,
            "/login",
            &[
                ("csrf", &csrf_in(&page)),
                ("username", "ivy"),
                ("password", PASSWORD),
                ("resume", "authenticator"),
            ],
        )
        .await;
    assert_eq!(location(&response), "/login/enroll/authenticator");
    assert_eq!(
        browser
            .get(&app, "/login/enroll/authenticator")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn an_expired_phone_enrolment_returns_to_the_choice_of_methods() {
    let app = spawn_app().await;
    app.put_two_factor_settings(json!({"webLoginPolicy": "required"}))
        .await;
    app.create_user("pia", json!({})).await;
    let mut browser = Browser::new();
    browser.log_in(&app, "pia", PASSWORD).await;
    sqlx::query("UPDATE login_challenges SET expires_at = 0")
        .execute(app.core.store.pool())
        .await
        .unwrap();
    let response = browser.get(&app, "/login/enroll").await;
    assert_eq!(location(&response), "/login?expired=enroll");
    // Any other value is the plain expiry, and resumes nothing.
    let page = browser
        .get(&app, "/login?expired=elsewhere")
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("name=\"resume\""));
}
