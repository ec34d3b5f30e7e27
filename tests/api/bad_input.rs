//! Malformed, oversized and hostile input gets a 4xx that says what is wrong, and changes
//! nothing.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, spawn_app};

#[tokio::test]
async fn malformed_json_is_a_400_that_says_so() {
    let app = spawn_app().await;
    for body in [
        "{",
        "not json",
        "{\"loginId\": \"a\", \"password\": \"b\"} trailing",
        "",
    ] {
        let response = app
            .client
            .post(app.url("/api/login"))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body:?}");
        let errors: Value = response.json().await.unwrap();
        assert_eq!(
            errors["generalErrors"][0]["code"], "[invalidJSON]",
            "{body:?}"
        );
    }
}

#[tokio::test]
async fn wrong_types_missing_and_unknown_fields_are_named() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"loginId": 5, "password": "x"}),
            "loginId",
            "[invalid]loginId",
        ),
        (json!({"password": "x"}), "loginId", "[blank]loginId"),
        (
            json!({"loginId": "a", "password": "x", "admin": true}),
            "admin",
            "[unknown]admin",
        ),
        (
            json!({"loginId": "  ", "password": "x"}),
            "loginId",
            "[blank]loginId",
        ),
        (
            json!({"loginId": "a", "password": ""}),
            "password",
            "[blank]password",
        ),
        (
            json!({"loginId": "a", "password": "x", "ipAddress": "nope"}),
            "ipAddress",
            "[invalid]ipAddress",
        ),
        (
            json!({"loginId": "a", "password": "x", "applicationId": "app"}),
            "applicationId",
            "[invalid]applicationId",
        ),
    ];
    for (body, field, code) in cases {
        let response = app.post_json("/api/login", &body).await;
        assert_eq!(response.status(), 400, "{body}");
        let errors: Value = response.json().await.unwrap();
        assert_eq!(
            errors["fieldErrors"][field][0]["code"], code,
            "{body}: {errors}"
        );
        assert!(
            errors["fieldErrors"][field][0]["message"]
                .as_str()
                .unwrap()
                .len()
                > 5
        );
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused_with_415() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("loginId=a&password=b")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413() {
    let app = spawn_app().await;
    let huge = "x".repeat(200 * 1024);
    let response = app
        .post_json("/api/login", &json!({"loginId": "a", "password": huge}))
        .await;
    assert_eq!(response.status(), 413);
    let errors: Value = response.json().await.unwrap();
    assert_eq!(errors["generalErrors"][0]["code"], "[tooLarge]");
}

#[tokio::test]
async fn an_overlong_password_is_refused_before_hashing() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/api/login",
            &json!({"loginId": "a", "password": "p".repeat(300)}),
        )
        .await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn invalid_user_fields_are_all_reported_and_nothing_is_stored() {
    let app = spawn_app().await;
    let response = app
        .with_key(Method::POST, "/api/user")
        .json(&json!({"user": {
            "username": "has space", "email": "nope", "password": "short",
            "mobilePhone": "555-1212", "roles": ["root"]
        }}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let errors: Value = response.json().await.unwrap();
    for field in [
        "user.username",
        "user.email",
        "user.password",
        "user.mobilePhone",
        "user.roles",
    ] {
        assert!(errors["fieldErrors"][field].is_array(), "{field}: {errors}");
    }
    assert!(
        errors["fieldErrors"]["user.mobilePhone"][0]["message"]
            .as_str()
            .unwrap()
            .contains("country code")
    );
    assert_eq!(app.core.store.users().count_users().await.unwrap(), 0);
    assert!(!app.core.store.users().has_users().await.unwrap());
}

#[tokio::test]
async fn a_phone_number_that_does_not_exist_is_refused_with_the_reason() {
    let app = spawn_app().await;
    let response = app
        .with_key(Method::POST, "/api/user")
        .json(&json!({"user": {"username": "zed", "password": PASSWORD, "mobilePhone": "+1 555"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let errors: Value = response.json().await.unwrap();
    let message = errors["fieldErrors"]["user.mobilePhone"][0]["message"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("refused") || message.contains("not a valid"),
        "{message}"
    );
}

#[tokio::test]
async fn bad_ids_and_queries_are_400_not_500() {
    let app = spawn_app().await;
    let bad_id = app
        .with_key(Method::GET, "/api/user/not-a-uuid")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_id.status(), 400);
    let errors: Value = bad_id.json().await.unwrap();
    assert_eq!(
        errors["fieldErrors"]["userId"][0]["code"],
        "[invalid]userId"
    );

    for query in [
        "",
        "loginId=a&email=b@example.com",
        "color=red",
        "email=nope",
    ] {
        let response = app
            .with_key(Method::GET, &format!("/api/user?{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
    }
    for query in [
        "limit=0",
        "limit=abc",
        "event=nope",
        "userId=x",
        "offset=-1",
    ] {
        let response = app
            .with_key(Method::GET, &format!("/api/system/audit-log?{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
    }
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let app = spawn_app().await;
    let missing = app
        .client
        .get(app.url("/api/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let method = app.client.get(app.url("/api/login")).send().await.unwrap();
    assert_eq!(method.status(), 405);
}

#[tokio::test]
async fn a_malformed_refresh_or_logout_is_a_clear_error() {
    let app = spawn_app().await;
    let refresh = app.post_json("/api/jwt/refresh", &json!({})).await;
    assert_eq!(refresh.status(), 400);
    let unknown = app
        .post_json("/api/jwt/refresh", &json!({"refreshToken": "made-up"}))
        .await;
    assert_eq!(unknown.status(), 404);
    let logout = app
        .client
        .post(app.url("/api/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 400);
    let bad_bearer = app
        .client
        .post(app.url("/api/logout"))
        .bearer_auth("x.y.z")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_bearer.status(), 401);
}
