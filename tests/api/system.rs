use serde_json::{Value, json};

use crate::helpers::{PASSWORD, spawn_app};

#[tokio::test]
async fn health_reports_the_database() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["database"], "ok");
}

#[tokio::test]
async fn health_answers_503_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.core.store.close().await;
    let response = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), 503);
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_logins_by_outcome() {
    let app = spawn_app().await;
    app.create_user("ann", json!({})).await;
    app.login("ann", PASSWORD).await;
    app.login("ann", "wrong password").await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("tessera_logins_total{outcome=\"success\"}"),
        "{text}"
    );
    assert!(text.contains("tessera_logins_total{outcome=\"wrong_password\"}"));
    assert!(text.contains("route=\"/api/login\""));
    assert!(text.contains("tessera_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn responses_carry_a_request_id() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/health")).send().await.unwrap();
    assert!(response.headers().get("x-request-id").is_some());
}

/// The API describes itself: an OpenAPI 3.1 document anyone may fetch, and a reference page
/// built from it that loads nothing from elsewhere.
#[tokio::test]
async fn the_openapi_document_and_its_reference_page_are_served() {
    let app = spawn_app().await;
    let answer = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "application/json");
    let document: Value = answer.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["paths"]["/api/two-factor/login"]["post"].is_object());
    assert!(document["components"]["securitySchemes"]["apiKey"].is_object());

    let page = app.client.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    assert!(html.contains("POST /api/two-factor/login"), "{html}");
    assert!(html.contains("/v2/Services/{ServiceSid}/VerificationCheck"));
    assert!(
        !html.contains("http://") && !html.contains("https://cdn"),
        "no outside resources"
    );
    assert!(
        csp.contains("default-src 'self'") || csp.contains("default-src 'none'"),
        "{csp}"
    );
}

#[tokio::test]
async fn a_request_that_waits_out_the_pool_answers_503_busy_and_says_when_to_retry() {
    let app = crate::helpers::spawn_app_with(|config| config.database.max_connections = 1).await;
    let created = app.create_user("waits", json!({})).await;
    let path = format!("/api/user/{}", created["id"].as_str().unwrap());
    // The pool's one connection taken, as by a request that is slow to finish: the next request
    // waits the pool's whole time (10 s) for it.
    let held = app.core.store.pool().acquire().await.unwrap();
    let response = app
        .with_key(reqwest::Method::GET, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["generalErrors"][0]["code"], "[busy]", "{body}");
    drop(held);
    let response = app
        .with_key(reqwest::Method::GET, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
