//! A security key (or a passkey) is a second factor like any method wherever the rules of
//! second factors apply: re-authentication before a sensitive change, an administrator's reset,
//! a user's deletion, the trust of computers, recovery codes and the last factor's removal.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, oathtool, spawn_app};
use crate::soft_key::{ORIGIN, RP_ID, SoftKey, register_through_api, user};

/// Registers `key` for `user_id` in `workflow`: the answer of `register/complete`.
async fn register(app: &TestApp, user_id: &str, key: &SoftKey, workflow: &str) -> Value {
    register_through_api(app, user_id, key, workflow).await.1
}

fn codes_of(registered: &Value) -> Vec<String> {
    registered["recoveryCodes"]
        .as_array()
        .unwrap_or_else(|| panic!("recovery codes: {registered}"))
        .iter()
        .map(|c| c.as_str().expect("text").to_owned())
        .collect()
}

/// The options of a ceremony begun with `body`, by `POST /api/webauthn/start` with `bearer`.
async fn start_as(app: &TestApp, bearer: &str, body: Value) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/api/webauthn/start"))
        .bearer_auth(bearer)
        .json(&body)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn assert_as(app: &TestApp, bearer: &str, credential: &Value) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/api/webauthn/assert"))
        .bearer_auth(bearer)
        .json(&json!({"credential": credential, "origin": ORIGIN, "rpId": RP_ID}))
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A login finished with `key` (the `counter`-th use), trusting the computer: the answer.
async fn key_login(app: &TestApp, name: &str, key: &SoftKey, counter: u32) -> Value {
    let two_factor_id = app.start_two_factor(name).await;
    let response = app
        .post_json(
            "/api/webauthn/start",
            &json!({"twoFactorId": two_factor_id, "workflow": "general"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let options = response.json::<Value>().await.expect("JSON")["options"].clone();
    let response = app
        .post_json(
            "/api/webauthn/login",
            &json!({"twoFactorId": two_factor_id, "credential": key.assert(&options, counter),
                    "origin": ORIGIN, "rpId": RP_ID, "trustComputer": true}),
        )
        .await;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "{body}");
    body
}

async fn login_with_trust(app: &TestApp, name: &str, trust: &Value) -> (u16, Value) {
    app.login_json(json!({"loginId": name, "password": PASSWORD, "twoFactorTrustId": trust}))
        .await
}

/// `POST /api/user/two-factor/recovery-code` as the user: a change that needs a recent login
/// with the second factor.
async fn sensitive_change(app: &TestApp, bearer: &str) -> u16 {
    app.client
        .post(app.url("/api/user/two-factor/recovery-code"))
        .bearer_auth(bearer)
        .send()
        .await
        .expect("sent")
        .status()
        .as_u16()
}

/// New recovery codes by an administrator: refused (400) once the user has no second factor.
async fn renew_codes(app: &TestApp, user_id: &str) -> u16 {
    app.with_key(
        Method::POST,
        &format!("/api/user/two-factor/recovery-code/{user_id}"),
    )
    .send()
    .await
    .expect("sent")
    .status()
    .as_u16()
}

async fn keys_of(app: &TestApp, user_id: &str) -> Vec<Value> {
    let body: Value = app
        .with_key(Method::GET, &format!("/api/webauthn?userId={user_id}"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    body["credentials"].as_array().expect("a list").clone()
}

async fn delete_key(app: &TestApp, id: &Value) -> u16 {
    app.with_key(
        Method::DELETE,
        &format!("/api/webauthn/{}", id.as_str().expect("an id")),
    )
    .send()
    .await
    .expect("sent")
    .status()
    .as_u16()
}

#[tokio::test]
async fn a_key_only_user_on_a_trusted_computer_must_prove_the_key_before_a_sensitive_change() {
    let app = spawn_app().await;
    let ann = user(&app, "ann").await;
    let bob = user(&app, "bob").await;
    let key = SoftKey::new();
    register(&app, &ann, &key, "general").await;
    let trust = key_login(&app, "ann", &key, 1).await["twoFactorTrustId"].clone();

    // The trusted computer spares the key: a session of the password alone.
    let (status, login) = login_with_trust(&app, "ann", &trust).await;
    assert_eq!(status, 200, "{login}");
    let token = login["token"].as_str().expect("a token");
    assert_eq!(sensitive_change(&app, token).await, 403);
    let secret = tessera::otp::TotpSecret::generate().to_base32();
    let enable = app
        .client
        .post(app.url("/api/user/two-factor"))
        .bearer_auth(token)
        .json(
            &json!({"method": "authenticator", "secretBase32Encoded": secret,
                      "code": oathtool(&secret, 0)}),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(enable.status(), 403, "no method added without the key");

    // A session asks only for its own user's keys.
    let (status, body) = start_as(
        &app,
        token,
        json!({"userId": bob, "workflow": "reauthentication"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["fieldErrors"]["userId"].is_array(), "{body}");
    let (status, body) = start_as(
        &app,
        token,
        json!({"userId": ann, "workflow": "reauthentication"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = assert_as(&app, token, &key.assert(&body["options"], 2)).await;
    assert_eq!(status, 200, "{body}");

    // The session proved the key: the change is open to it, the proof audited.
    assert_eq!(sensitive_change(&app, token).await, 200);
    let proofs = app.audit("event=login.reauthenticate").await;
    assert_eq!(proofs.len(), 1, "{proofs:?}");
    assert_eq!(proofs[0]["details"]["amr"], json!(["hwk"]));
}

#[tokio::test]
async fn a_key_proof_re_authenticates_only_the_session_that_sent_it() {
    let app = spawn_app().await;
    let ann = user(&app, "ann").await;
    let key = SoftKey::new();
    register(&app, &ann, &key, "general").await;
    let trust = key_login(&app, "ann", &key, 1).await["twoFactorTrustId"].clone();
    let (_, first) = login_with_trust(&app, "ann", &trust).await;
    let (_, second) = login_with_trust(&app, "ann", &first["twoFactorTrustId"]).await;
    let first = first["token"].as_str().expect("a token");
    let second = second["token"].as_str().expect("a token");

    // Begun by an administrator, answered with the first session's token.
    let started: Value = app
        .with_key(Method::POST, "/api/webauthn/start")
        .json(&json!({"userId": ann, "workflow": "reauthentication"}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    let (status, body) = assert_as(&app, first, &key.assert(&started["options"], 2)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(sensitive_change(&app, first).await, 200);
    assert_eq!(sensitive_change(&app, second).await, 403);
}

#[tokio::test]
async fn an_administrators_reset_removes_the_keys_and_a_deletion_takes_them_with_the_user() {
    let app = spawn_app().await;
    let ann = user(&app, "ann").await;
    let (_, _) = app.enroll_authenticator(&ann).await;
    let (security_key, passkey) = (SoftKey::new(), SoftKey::new());
    register(&app, &ann, &security_key, "general").await;
    register(&app, &ann, &passkey, "bootstrap").await;

    let reset = app
        .with_key(
            Method::POST,
            &format!("/api/system/users/{ann}/reset-two-factor"),
        )
        .json(&json!({"reason": "lost every key; identity checked at the desk"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(reset.status(), 200);
    assert_eq!(
        reset.json::<Value>().await.expect("JSON"),
        json!({"count": 1, "keys": 2})
    );
    assert!(keys_of(&app, &ann).await.is_empty());
    let events = app.audit("event=two_factor.reset").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["details"]["keysRemoved"], 2);
    assert_eq!(events[0]["details"]["methodsRemoved"], 1);
    let (status, body) = app
        .login_json(json!({"loginId": "ann", "password": PASSWORD}))
        .await;
    assert_eq!(status, 200, "no factor left, no key asked for: {body}");
    assert_eq!(renew_codes(&app, &ann).await, 400, "no recovery codes left");

    // A deleted user's keys go with them: the same key registers for someone else.
    let bob = user(&app, "bob").await;
    let bobs_key = SoftKey::new();
    register(&app, &bob, &bobs_key, "general").await;
    let deleted = app
        .with_key(Method::DELETE, &format!("/api/user/{bob}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 200);
    assert!(keys_of(&app, &bob).await.is_empty());
    register(&app, &ann, &bobs_key, "general").await;
    assert_eq!(keys_of(&app, &ann).await.len(), 1);
}

#[tokio::test]
async fn registering_or_removing_a_key_ends_the_trust_of_computers() {
    let app = spawn_app().await;
    let ann = user(&app, "ann").await;
    let (_, mut recovery) = app.enroll_authenticator(&ann).await;
    let trusted = |code: String| {
        let app = &app;
        async move {
            let challenge = app.start_two_factor("ann").await;
            let done: Value = app
                .finish_two_factor(&challenge, &code, json!({"trustComputer": true}))
                .await
                .json()
                .await
                .expect("JSON");
            done["twoFactorTrustId"].clone()
        }
    };

    for workflow in ["general", "bootstrap"] {
        let trust = trusted(recovery.remove(0)).await;
        assert_eq!(login_with_trust(&app, "ann", &trust).await.0, 200);
        let trust = trusted(recovery.remove(0)).await;
        let registered = register(&app, &ann, &SoftKey::new(), workflow).await;
        assert!(
            registered.get("recoveryCodes").is_none(),
            "not a first factor: {registered}"
        );
        let (status, _) = login_with_trust(&app, "ann", &trust).await;
        assert_eq!(status, 242, "a {workflow} key ended the trust");

        let trust = trusted(recovery.remove(0)).await;
        let key = registered["credential"]["id"].clone();
        assert_eq!(delete_key(&app, &key).await, 200);
        let (status, _) = login_with_trust(&app, "ann", &trust).await;
        assert_eq!(status, 242, "removing a {workflow} key ended the trust");
    }
}

#[tokio::test]
async fn a_first_key_comes_with_recovery_codes_that_finish_a_key_login() {
    let app = spawn_app().await;
    let ann = user(&app, "ann").await;
    let first = register(&app, &ann, &SoftKey::new(), "general").await;
    let codes = codes_of(&first);
    assert_eq!(codes.len(), 10);
    let second = register(&app, &ann, &SoftKey::new(), "bootstrap").await;
    assert!(second.get("recoveryCodes").is_none(), "{second}");

    // The login waits for a key; a recovery code finishes it instead.
    let (status, challenge) = app
        .login_json(json!({"loginId": "ann", "password": PASSWORD}))
        .await;
    assert_eq!(status, 242, "{challenge}");
    let two_factor_id = challenge["twoFactorId"].as_str().expect("an id");
    let done = app
        .finish_two_factor(two_factor_id, &codes[0], json!({}))
        .await;
    assert_eq!(done.status(), 200);
    let done: Value = done.json().await.expect("JSON");
    assert!(done["token"].is_string(), "{done}");

    // The codes stay while a key does, and go with the last one.
    assert_eq!(delete_key(&app, &first["credential"]["id"]).await, 200);
    let challenge = app.start_two_factor("ann").await;
    let done = app
        .finish_two_factor(&challenge, &codes[1], json!({}))
        .await;
    assert_eq!(done.status(), 200);
    assert_eq!(delete_key(&app, &second["credential"]["id"]).await, 200);
    assert_eq!(renew_codes(&app, &ann).await, 400);
    let (status, _) = app
        .login_json(json!({"loginId": "ann", "password": PASSWORD}))
        .await;
    assert_eq!(status, 200, "no second factor left");
}

#[tokio::test]
async fn the_recovery_codes_stay_while_a_method_or_a_key_is_left() {
    let app = spawn_app().await;
    let ann = user(&app, "ann").await;
    let registered = register(&app, &ann, &SoftKey::new(), "general").await;
    let codes = codes_of(&registered);

    // A method added beside a key keeps the key's recovery codes.
    let secret = tessera::otp::TotpSecret::generate().to_base32();
    let enabled = app
        .with_key(Method::POST, &format!("/api/user/two-factor/{ann}"))
        .json(
            &json!({"method": "authenticator", "secretBase32Encoded": secret,
                      "code": oathtool(&secret, 0)}),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(enabled.status(), 200);
    let enabled: Value = enabled.json().await.expect("JSON");
    assert!(enabled.get("recoveryCodes").is_none(), "{enabled}");

    // The last key goes while the method stays: so do the codes.
    assert_eq!(delete_key(&app, &registered["credential"]["id"]).await, 200);
    let challenge = app.start_two_factor("ann").await;
    let done = app
        .finish_two_factor(&challenge, &codes[0], json!({}))
        .await;
    assert_eq!(done.status(), 200);

    // And the other way round: the last method goes while a key stays.
    let registered = register(&app, &ann, &SoftKey::new(), "general").await;
    assert!(registered.get("recoveryCodes").is_none(), "{registered}");
    let method = app.methods_of(&ann).await[0]["id"].clone();
    let removed = app
        .with_key(Method::DELETE, &format!("/api/user/two-factor/{ann}"))
        .query(&[
            ("methodId", method.as_str().expect("an id")),
            ("code", &oathtool(&secret, 30)),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(removed.status(), 200);
    assert!(app.methods_of(&ann).await.is_empty());
    let challenge = app.start_two_factor("ann").await;
    let done = app
        .finish_two_factor(&challenge, &codes[1], json!({}))
        .await;
    assert_eq!(done.status(), 200, "the key keeps the codes");
    assert_eq!(delete_key(&app, &registered["credential"]["id"]).await, 200);
    assert_eq!(
        renew_codes(&app, &ann).await,
        400,
        "the last factor took them"
    );
}

#[tokio::test]
async fn a_recovery_code_that_turns_two_factor_off_removes_the_keys_too() {
    let app = spawn_app().await;
    let ann = user(&app, "ann").await;
    let (_, recovery) = app.enroll_authenticator(&ann).await;
    register(&app, &ann, &SoftKey::new(), "bootstrap").await;
    let method = app.methods_of(&ann).await[0]["id"].clone();
    let removed = app
        .with_key(Method::DELETE, &format!("/api/user/two-factor/{ann}"))
        .query(&[
            ("methodId", method.as_str().expect("an id")),
            ("code", &recovery[0]),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(removed.status(), 200);
    assert!(app.methods_of(&ann).await.is_empty());
    assert!(keys_of(&app, &ann).await.is_empty());
    let events = app.audit("event=two_factor.disable").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["details"]["keysRemoved"], 1);
    let (status, _) = app
        .login_json(json!({"loginId": "ann", "password": PASSWORD}))
        .await;
    assert_eq!(status, 200, "two-factor is off");
}
