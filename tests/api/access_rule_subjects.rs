//! Access rules name users and groups by name. A rename that would leave a rule naming nobody
//! (a deny rule then fails open) or somebody else, a deletion of a group a rule names, and a
//! sign-up with a username a rule names are refused, each naming the rule; a change that keeps
//! the name goes through.

use reqwest::Method;
use serde_json::{Value, json};

use crate::forward_auth::rules_are;
use crate::helpers::{PASSWORD, TestApp, spawn_app};

async fn call(app: &TestApp, method: Method, path: &str, body: Value) -> (u16, Value) {
    let response = app.with_key(method, path).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The one refusal of `field`: its code and its message.
fn refusal(body: &Value, field: &str) -> (String, String) {
    let errors = body["fieldErrors"][field]
        .as_array()
        .expect("a field error");
    assert_eq!(errors.len(), 1, "{body}");
    (
        errors[0]["code"].as_str().unwrap().to_owned(),
        errors[0]["message"].as_str().unwrap().to_owned(),
    )
}

/// Changes the fields of `user` given in `fields`.
async fn patch_user(app: &TestApp, id: &str, fields: Value) -> (u16, Value) {
    let path = format!("/api/user/{id}");
    call(app, Method::PATCH, &path, json!({ "user": fields })).await
}

async fn username_of(app: &TestApp, id: &str) -> String {
    let (status, body) = call(app, Method::GET, &format!("/api/user/{id}"), Value::Null).await;
    assert_eq!(status, 200, "{body}");
    body["user"]["username"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_user_a_rule_names_keeps_the_name_until_the_rule_changes() {
    let app = spawn_app().await;
    let mallory = app.create_user("mallory", json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bob = app.create_user("bob", json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    rules_are(
        &app,
        json!({"defaultPolicy": "one_factor", "rules": [
            {"domain": ["app.example.com"], "subject": ["user:Mallory"], "policy": "deny"},
            {"domain": ["admin.example.com"], "subject": ["group:ops", "user:carol"], "policy": "two_factor"}
        ]}),
    )
    .await;

    let (status, body) = patch_user(&app, &mallory, json!({"username": "mallory2"})).await;
    assert_eq!(status, 400, "{body}");
    let (code, message) = refusal(&body, "user.username");
    assert_eq!(code, "[inUse]user.username");
    assert!(
        message.contains("user:mallory (rules[0].subject[0])")
            && message.contains("stop it applying to this person"),
        "the rule is named, by its place: {message}"
    );
    assert_eq!(
        username_of(&app, &mallory).await,
        "mallory",
        "nothing changed"
    );

    let (status, body) = patch_user(&app, &bob, json!({"username": "Carol"})).await;
    assert_eq!(status, 400, "into a name a rule holds: {body}");
    let (_, message) = refusal(&body, "user.username");
    assert!(message.contains("rules[1].subject[1]"), "{message}");
    assert_eq!(username_of(&app, &bob).await, "bob");

    let (status, body) = patch_user(
        &app,
        &mallory,
        json!({"fullName": "Mallory Jones", "username": "MALLORY"}),
    )
    .await;
    assert_eq!(
        status, 200,
        "the same name in another case is no rename: {body}"
    );

    rules_are(&app, json!({"defaultPolicy": "one_factor", "rules": []})).await;
    let (status, body) = patch_user(&app, &mallory, json!({"username": "mallory2"})).await;
    assert_eq!(status, 200, "no rule names her now: {body}");
    assert_eq!(username_of(&app, &mallory).await, "mallory2");
}

#[tokio::test]
async fn a_group_a_rule_names_is_neither_renamed_nor_deleted() {
    let app = spawn_app().await;
    let group = |name: &str| json!({"group": {"name": name}});
    let (_, ops) = call(&app, Method::POST, "/api/group", group("Ops")).await;
    let ops = ops["group"]["id"].as_str().unwrap().to_owned();
    let (_, dev) = call(&app, Method::POST, "/api/group", group("dev")).await;
    let dev = dev["group"]["id"].as_str().unwrap().to_owned();
    rules_are(
        &app,
        json!({"defaultPolicy": "deny", "rules": [
            {"domain": ["app.example.com"], "subject": ["group:ops", "group:auditors"], "policy": "one_factor"}
        ]}),
    )
    .await;

    for (method, id, body, place) in [
        (
            Method::PUT,
            &ops,
            group("operations"),
            "rules[0].subject[0]",
        ),
        (Method::DELETE, &ops, Value::Null, "rules[0].subject[0]"),
        (Method::PUT, &dev, group("Auditors"), "rules[0].subject[1]"),
    ] {
        let (status, answer) = call(&app, method.clone(), &format!("/api/group/{id}"), body).await;
        assert_eq!(status, 409, "{method} {answer}");
        assert_eq!(answer["generalErrors"][0]["code"], "[inUse]accessRules");
        let message = answer["generalErrors"][0]["message"].as_str().unwrap();
        assert!(message.contains(place), "{message}");
    }
    let (_, listed) = call(&app, Method::GET, "/api/group", Value::Null).await;
    let mut names: Vec<&str> = listed["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["Ops", "dev"], "nothing changed");

    let (status, _) = call(
        &app,
        Method::PUT,
        &format!("/api/group/{ops}"),
        json!({"group": {"name": "OPS", "description": "on call"}}),
    )
    .await;
    assert_eq!(status, 200, "the same name in another case is no rename");
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/group/{dev}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "no rule names dev");
}

#[tokio::test]
async fn nobody_signs_up_as_a_username_a_rule_names() {
    let app = spawn_app().await;
    let settings = call(
        &app,
        Method::PUT,
        "/api/system/accounts",
        json!({"accounts": {"selfRegistration": true}}),
    )
    .await;
    assert_eq!(settings.0, 200, "{}", settings.1);
    rules_are(
        &app,
        json!({"defaultPolicy": "deny", "rules": [
            {"domain": ["app.example.com"], "subject": ["user:carol"], "policy": "one_factor"}
        ]}),
    )
    .await;
    let sign_up = |username: &str| json!({"user": {"username": username, "email": format!("{username}@example.com"), "password": PASSWORD}});
    let response = app
        .post_json("/api/user/registration", &sign_up("Carol"))
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        refusal(&body, "user.username").0,
        "[duplicate]user.username",
        "held as a taken name is: {body}"
    );
    let found = app
        .with_key(Method::GET, "/api/user?username=carol")
        .send()
        .await
        .unwrap();
    assert_eq!(found.status(), 404, "no account was made");

    let response = app
        .post_json("/api/user/registration", &sign_up("dave"))
        .await;
    assert_eq!(response.status(), 200, "a name no rule holds");
}
