use reqwest::Method;
use serde_json::json;

use crate::helpers::{PASSWORD, spawn_app};

#[tokio::test]
async fn the_audit_log_needs_an_api_key() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/api/system/audit-log"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn the_audit_log_filters_by_event_and_time_and_pages() {
    let app = spawn_app().await;
    let before = tessera::clock::Instant::now().millis();
    for name in ["u1", "u2", "u3"] {
        app.create_user(name, json!({})).await;
    }
    let created = app.audit("event=user.create").await;
    assert_eq!(created.len(), 3);
    assert_eq!(created[0]["details"]["username"], "u3", "newest first");
    assert!(
        created
            .iter()
            .all(|e| e["actor"].as_str().unwrap().starts_with("api-key:"))
    );

    let page = app.audit("event=user.create&limit=2&offset=2").await;
    assert_eq!(page.len(), 1);
    assert_eq!(page[0]["details"]["username"], "u1");

    assert_eq!(
        app.audit(&format!("event=user.create&end={before}"))
            .await
            .len(),
        0
    );
    assert_eq!(
        app.audit(&format!("event=user.create&start={before}"))
            .await
            .len(),
        3
    );
}

#[tokio::test]
async fn no_secret_reaches_the_audit_log() {
    let app = spawn_app().await;
    let user = app.create_user("ann", json!({})).await;
    let id = user["id"].as_str().unwrap();
    app.with_key(Method::PATCH, &format!("/api/user/{id}"))
        .json(&json!({"user": {"password": "another long password"}}))
        .send()
        .await
        .unwrap();
    let login: serde_json::Value = app
        .login("ann", "another long password")
        .await
        .json()
        .await
        .unwrap();
    let everything = serde_json::to_string(&app.audit("limit=1000").await).unwrap();
    for secret in [
        PASSWORD,
        "another long password",
        login["token"].as_str().unwrap(),
        login["refreshToken"].as_str().unwrap(),
        app.api_key.as_str(),
    ] {
        assert!(!everything.contains(secret), "the audit log holds a secret");
    }
}

#[tokio::test]
async fn every_logout_is_recorded_with_its_user_as_actor_and_target() {
    let app = spawn_app().await;
    app.put_two_factor_settings(json!({"webLoginPolicy": "enabled", "apiLoginPolicy": "enabled"}))
        .await;
    let id = app.create_user("ann", json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let log_in = || async {
        let response = app.login("ann", PASSWORD).await;
        assert_eq!(response.status(), 200);
        response.json::<serde_json::Value>().await.unwrap()
    };

    // With the access token, with the refresh token, and everywhere at once.
    let by_token = log_in().await;
    let response = app
        .client
        .post(app.url("/api/logout"))
        .bearer_auth(by_token["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let by_refresh = log_in().await;
    let response = app
        .post_json(
            "/api/logout",
            &json!({"refreshToken": by_refresh["refreshToken"]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let everywhere = log_in().await;
    log_in().await;
    let response = app
        .post_json(
            "/api/logout",
            &json!({"refreshToken": everywhere["refreshToken"], "global": true}),
        )
        .await;
    assert_eq!(response.status(), 200);

    // And from the pages' "Log out".
    let mut browser = crate::web::Browser::new();
    browser.log_in(&app, "ann", PASSWORD).await;
    let csrf = browser.csrf(&app).await;
    browser.post(&app, "/logout", &[("csrf", &csrf)]).await;

    let logouts = app.audit("event=logout").await;
    assert_eq!(logouts.len(), 5, "{logouts:#?}");
    for logout in &logouts {
        assert_eq!(logout["actor"], format!("user:{id}"), "{logout:#?}");
        assert_eq!(logout["target"], id, "{logout:#?}");
    }
    assert_eq!(
        logouts
            .iter()
            .filter(|e| e["details"]["global"] == true)
            .count(),
        1
    );
}
