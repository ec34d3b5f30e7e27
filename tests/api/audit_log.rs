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
