use serde_json::{Value, json};

use crate::helpers::{PASSWORD, spawn_app, spawn_app_with};

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
        .with_key(reqwest::Method::GET, "/metrics")
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

/// `/metrics` needs a live API key (as FusionAuth's header, or as the bearer credential a
/// Prometheus scraper sends), from any peer: a proxy on this machine makes every peer loopback.
/// The API's description stays public.
#[tokio::test]
async fn metrics_need_an_api_key_unless_made_public() {
    let app = spawn_app().await;
    app.create_user("ann", json!({})).await;
    let (_, login) = app
        .login_json(json!({"loginId": "ann", "password": PASSWORD}))
        .await;
    let read = |authorization: Option<String>| {
        let mut request = app.client.get(app.url("/metrics"));
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(read(None).await, 401, "no key, from loopback");
    assert_eq!(read(Some("not-a-key".into())).await, 401);
    let token = login["token"].as_str().unwrap();
    assert_eq!(
        read(Some(format!("Bearer {token}"))).await,
        401,
        "a user's token"
    );
    assert_eq!(read(Some(app.api_key.clone())).await, 200);
    assert_eq!(read(Some(format!("Bearer {}", app.api_key))).await, 200);
    for path in ["/api/openapi.json", "/api/docs", "/health"] {
        let answer = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(answer.status(), 200, "{path}");
    }

    let public = spawn_app_with(|config| config.metrics.public = true).await;
    let answer = public
        .client
        .get(public.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

/// `metrics.listen` opens a second listener, on loopback only, that serves `/metrics` without
/// a key and nothing else; the main listener still asks for one.
#[tokio::test]
async fn a_loopback_metrics_listener_serves_the_metrics_alone_without_a_key() {
    let app = spawn_app_with(|config| config.metrics.listen = Some("127.0.0.1:0".into())).await;
    let metrics = app.metrics_address.clone().expect("a metrics listener");
    let text = app
        .client
        .get(format!("{metrics}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("tessera_http_connections_open"), "{text}");
    for path in ["/health", "/api/openapi.json", "/dev/outbox.json"] {
        let answer = app
            .client
            .get(format!("{metrics}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 404, "{path}");
    }
    let main = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(main.status(), 401);
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
