//! Logins with WebAuthn through the JSON API: a security key as the second factor of a password
//! login (`POST /api/webauthn/start` with the `twoFactorId`, then `POST /api/webauthn/login`),
//! a passkey that signs in alone (`bootstrap`), and re-authentication with a key. Every refusal
//! is named, counted as a wrong code where a login's second factor is concerned, and leaves no
//! session behind.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, all_at_once, spawn_app, tally};
use crate::soft_key::{Making, ORIGIN, RP_ID, SoftKey, b64, register_through_api, user};

const CLIENT_DATA: &str = "credential.response.clientDataJSON";
const AUTHENTICATOR_DATA: &str = "credential.response.authenticatorData";

/// Registers `key` for `user_id` in `workflow`: the registration's options.
async fn register(app: &TestApp, user_id: &str, key: &SoftKey, workflow: &str) -> Value {
    register_through_api(app, user_id, key, workflow).await.0
}

/// `POST /api/webauthn/start` without an API key: status and body.
async fn start(app: &TestApp, body: Value) -> (u16, Value) {
    let response = app.post_json("/api/webauthn/start", &body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The options of a second factor's ceremony for the login `two_factor_id`.
async fn second_factor_options(app: &TestApp, two_factor_id: &str) -> Value {
    let (status, body) = start(
        app,
        json!({"twoFactorId": two_factor_id, "workflow": "general"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["options"].clone()
}

async fn passkey_options(app: &TestApp, login_id: Option<&str>) -> Value {
    let mut body = json!({"workflow": "bootstrap"});
    if let Some(login_id) = login_id {
        body["loginId"] = json!(login_id);
    }
    let (status, body) = start(app, body).await;
    assert_eq!(status, 200, "{body}");
    body["options"].clone()
}

/// `POST /api/webauthn/login` with `extra` beside the credential and this server's claims.
async fn key_login(app: &TestApp, credential: &Value, extra: Value) -> (u16, Value) {
    let mut body = json!({"credential": credential, "origin": ORIGIN, "rpId": RP_ID});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let response = app.post_json("/api/webauthn/login", &body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The one field an error names, and its code.
fn refused_field(body: &Value) -> (String, String) {
    let fields = body["fieldErrors"].as_object().expect("field errors");
    assert_eq!(fields.len(), 1, "{body}");
    let (field, errors) = fields.iter().next().expect("one");
    (
        field.clone(),
        errors[0]["code"].as_str().expect("code").to_owned(),
    )
}

async fn amr_of(app: &TestApp, token: &str) -> Value {
    let claims: Value = app
        .client
        .get(app.url("/api/jwt/validate"))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    claims["jwt"]["amr"].clone()
}

async fn sign_count(app: &TestApp, user_id: &str) -> i64 {
    let response = app
        .with_key(Method::GET, &format!("/api/webauthn?userId={user_id}"))
        .send()
        .await
        .expect("sent");
    let body: Value = response.json().await.expect("JSON");
    body["credentials"][0]["signCount"]
        .as_i64()
        .expect("a count")
}

async fn failures(app: &TestApp) -> usize {
    app.audit("event=two_factor.failure").await.len()
}

#[tokio::test]
async fn a_security_key_is_the_second_factor_of_a_password_login() {
    let app = spawn_app().await;
    let ann = user(&app, "ann").await;
    // No key yet: the password is enough.
    let (status, _) = app
        .login_json(json!({"loginId": "ann", "password": PASSWORD}))
        .await;
    assert_eq!(status, 200);

    let key = SoftKey::new();
    register(&app, &ann, &key, "general").await;
    let (status, challenge) = app
        .login_json(json!({"loginId": "ann", "password": PASSWORD}))
        .await;
    assert_eq!(status, 242, "{challenge}");
    let methods = challenge["methods"].as_array().expect("methods");
    assert_eq!(methods.len(), 1, "{challenge}");
    assert_eq!(methods[0]["method"], "webauthn");
    assert_eq!(methods[0]["discoverable"], false);
    let two_factor_id = challenge["twoFactorId"].as_str().expect("an id");

    // The ceremony names the login's user's key, and needs no API key.
    let options = second_factor_options(&app, two_factor_id).await;
    assert_eq!(
        options["publicKey"]["allowCredentials"][0]["id"],
        b64(&key.credential_id)
    );
    // A key's user cannot enrol a code method instead of using it.
    let secret = tessera::otp::TotpSecret::generate().to_base32();
    let refused = app
        .post_json(
            "/api/user/two-factor",
            &json!({"twoFactorId": two_factor_id, "method": "authenticator",
                    "code": crate::helpers::oathtool(&secret, 0), "secretBase32Encoded": secret}),
        )
        .await;
    assert_eq!(refused.status(), 403);

    let (status, done) = key_login(
        &app,
        &key.assert(&options, 1),
        json!({"twoFactorId": two_factor_id, "trustComputer": true}),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["user"]["id"], ann.as_str());
    let token = done["token"].as_str().expect("a token");
    assert_eq!(amr_of(&app, token).await, json!(["pwd", "hwk", "mfa"]));
    assert_eq!(sign_count(&app, &ann).await, 1);
    let logins = app.audit("event=login.success").await;
    let by_key: Vec<&Value> = logins
        .iter()
        .filter(|e| e["details"]["webauthnId"].is_string())
        .collect();
    assert_eq!(by_key.len(), 1, "{logins:?}");
    assert_eq!(by_key[0]["details"]["amr"], json!(["pwd", "hwk", "mfa"]));
    assert_eq!(by_key[0]["details"]["method"], "webauthn");

    // The login is spent, and the trust it gave spares the key next time.
    let (status, _) = key_login(
        &app,
        &key.assert(&options, 2),
        json!({"twoFactorId": two_factor_id}),
    )
    .await;
    assert_eq!(status, 404);
    let trust = done["twoFactorTrustId"].as_str().expect("a trust");
    let (status, body) = app
        .login_json(json!({"loginId": "ann", "password": PASSWORD, "twoFactorTrustId": trust}))
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_challenge_lists_the_keys_beside_the_code_methods() {
    let app = spawn_app().await;
    let bea = user(&app, "bea").await;
    app.enroll_authenticator(&bea).await;
    register(&app, &bea, &SoftKey::new(), "bootstrap").await;
    let (status, challenge) = app
        .login_json(json!({"loginId": "bea", "password": PASSWORD}))
        .await;
    assert_eq!(status, 242);
    let kinds: Vec<&str> = challenge["methods"]
        .as_array()
        .expect("methods")
        .iter()
        .map(|m| m["method"].as_str().expect("a method"))
        .collect();
    assert_eq!(kinds, ["authenticator", "webauthn"]);
    // A passkey is a second factor too.
    assert_eq!(challenge["methods"][1]["discoverable"], true);
}

#[tokio::test]
async fn a_passkey_signs_in_alone_with_both_factors() {
    let app = spawn_app().await;
    let cid = user(&app, "cid").await;
    let key = SoftKey::new();
    let options = register(&app, &cid, &key, "bootstrap").await;
    let selection = &options["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required");
    assert_eq!(selection["requireResidentKey"], true);
    assert_eq!(selection["userVerification"], "required");
    let listed = app
        .with_key(Method::GET, &format!("/api/webauthn?userId={cid}"))
        .send()
        .await
        .expect("sent")
        .json::<Value>()
        .await
        .expect("JSON");
    assert_eq!(listed["credentials"][0]["discoverable"], true);

    // Without a login id, the browser is asked for any passkey of this site.
    let options = passkey_options(&app, None).await;
    assert_eq!(options["publicKey"]["userVerification"], "required");
    assert!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{options}"
    );
    let (status, done) = key_login(&app, &key.assert(&options, 1), json!({})).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["user"]["username"], "cid");
    let token = done["token"].as_str().expect("a token");
    assert_eq!(amr_of(&app, token).await, json!(["hwk", "user", "mfa"]));
    let logins = app.audit("event=login.success").await;
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0]["details"]["method"], "passkey");

    // With a login id, its passkeys are named; an unknown one gets made-up ids, the same each
    // time, so that the answer does not tell who has an account.
    let named = passkey_options(&app, Some("cid")).await;
    assert_eq!(
        named["publicKey"]["allowCredentials"][0]["id"],
        b64(&key.credential_id)
    );
    // (As many as people tend to have: none, often.)
    for name in ["nobody", "somebody@example.com"] {
        let made_up = passkey_options(&app, Some(name)).await;
        let ids = &made_up["publicKey"]["allowCredentials"];
        assert!(!ids.to_string().contains(&b64(&key.credential_id)));
        assert_eq!(
            ids,
            &passkey_options(&app, Some(name)).await["publicKey"]["allowCredentials"]
        );
    }
    let (status, _) = key_login(&app, &key.assert(&named, 2), json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(sign_count(&app, &cid).await, 2);
}

#[tokio::test]
async fn a_security_key_or_an_unverified_answer_does_not_sign_in_alone() {
    let app = spawn_app().await;
    let dan = user(&app, "dan").await;
    let key = SoftKey::new();
    register(&app, &dan, &key, "general").await;
    // A security key keeps no user handle: its answer names nobody.
    let options = passkey_options(&app, None).await;
    let (status, body) = key_login(&app, &key.assert(&options, 1), json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(refused_field(&body).0, "credential.response.userHandle");
    // Made to claim its user, it is still not a passkey.
    *key.user_handle.borrow_mut() = Some(uuid_bytes(&dan));
    let (status, body) = key_login(&app, &key.assert(&options, 1), json!({})).await;
    assert_eq!(
        (status, refused_field(&body).0),
        (400, "credential.id".into())
    );

    // A passkey must verify the person, at its registration and at each sign-in.
    let no_pin = SoftKey::without_verification();
    let response = app
        .with_key(Method::POST, "/api/webauthn/register/start")
        .json(&json!({"userId": dan, "name": "No PIN", "workflow": "bootstrap"}))
        .send()
        .await
        .expect("sent");
    let registration = response.json::<Value>().await.expect("JSON")["options"].clone();
    let response = app
        .with_key(Method::POST, "/api/webauthn/register/complete")
        .json(
            &json!({"userId": dan, "credential": no_pin.register(&registration),
                      "origin": ORIGIN, "rpId": RP_ID}),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    let passkey = SoftKey::new();
    register(&app, &dan, &passkey, "bootstrap").await;
    passkey.verifies.set(false);
    let options = passkey_options(&app, None).await;
    let (status, body) = key_login(&app, &passkey.assert(&options, 1), json!({})).await;
    assert_eq!(
        (status, refused_field(&body).0),
        (400, AUTHENTICATOR_DATA.into())
    );
    assert!(app.audit("event=login.success").await.is_empty());
    assert_eq!(app.audit("event=login.failure").await.len(), 2);
    // The same ceremony still takes the verified answer.
    passkey.verifies.set(true);
    let (status, _) = key_login(&app, &passkey.assert(&options, 1), json!({})).await;
    assert_eq!(status, 200);
}

fn uuid_bytes(id: &str) -> Vec<u8> {
    hex::decode(id.replace('-', "")).expect("a UUID")
}

#[tokio::test]
async fn a_replayed_answer_or_another_logins_challenge_is_refused_as_a_wrong_code() {
    let app = spawn_app().await;
    let eve = user(&app, "eve").await;
    let key = SoftKey::new();
    register(&app, &eve, &key, "general").await;
    let first = app.start_two_factor("eve").await;
    let second = app.start_two_factor("eve").await;
    let options = second_factor_options(&app, &first).await;
    let answer = key.assert(&options, 1);
    // An answer to the first login's challenge does not finish the second login.
    let (status, body) = key_login(&app, &answer, json!({"twoFactorId": second})).await;
    assert_eq!(status, 421, "{body}");
    assert_eq!(refused_field(&body).0, CLIENT_DATA);
    assert!(body.to_string().contains("another user, login"), "{body}");
    assert_eq!(failures(&app).await, 1);
    let (status, _) = key_login(&app, &answer, json!({"twoFactorId": first})).await;
    assert_eq!(status, 200);
    // Replayed for the second login, with its own challenge given meanwhile: spent.
    second_factor_options(&app, &second).await;
    let (status, body) = key_login(&app, &answer, json!({"twoFactorId": second})).await;
    assert_eq!((status, refused_field(&body).0), (421, CLIENT_DATA.into()));
    assert_eq!(failures(&app).await, 2);
    assert_eq!(app.audit("event=login.success").await.len(), 1);

    // A passkey's answer replayed: its ceremony is spent.
    let passkey = SoftKey::new();
    register(&app, &eve, &passkey, "bootstrap").await;
    let options = passkey_options(&app, None).await;
    let answer = passkey.assert(&options, 1);
    assert_eq!(key_login(&app, &answer, json!({})).await.0, 200);
    let (status, body) = key_login(&app, &answer, json!({})).await;
    assert_eq!((status, refused_field(&body).0), (400, CLIENT_DATA.into()));
    assert!(body.to_string().contains("already used"), "{body}");
}

#[tokio::test]
async fn a_counter_that_goes_backwards_is_refused_audited_and_writes_nothing_else() {
    let app = spawn_app().await;
    let fay = user(&app, "fay").await;
    let key = SoftKey::new();
    register(&app, &fay, &key, "general").await;
    let login = app.start_two_factor("fay").await;
    let options = second_factor_options(&app, &login).await;
    let (status, _) = key_login(
        &app,
        &key.assert(&options, 5),
        json!({"twoFactorId": login}),
    )
    .await;
    assert_eq!(status, 200);

    // A clone's answer, its counter behind the one stored.
    let login = app.start_two_factor("fay").await;
    let options = second_factor_options(&app, &login).await;
    let sessions_before = app.audit("event=login.success").await.len();
    let (status, body) = key_login(
        &app,
        &key.assert(&options, 3),
        json!({"twoFactorId": login}),
    )
    .await;
    assert_eq!(status, 421, "{body}");
    assert_eq!(
        refused_field(&body),
        (
            AUTHENTICATOR_DATA.into(),
            format!("[cloned]{AUTHENTICATOR_DATA}")
        )
    );
    let clones = app.audit("event=webauthn.clone_refused").await;
    assert_eq!(clones.len(), 1);
    assert_eq!(clones[0]["details"]["stored"], 5);
    assert_eq!(sign_count(&app, &fay).await, 5);
    assert_eq!(
        app.audit("event=login.success").await.len(),
        sessions_before
    );
    // Counted as a wrong code; the login and its challenge are still open for the real key.
    assert_eq!(failures(&app).await, 1);
    let (status, _) = key_login(
        &app,
        &key.assert(&options, 6),
        json!({"twoFactorId": login}),
    )
    .await;
    assert_eq!(status, 200);

    // A passkey's clone: refused and audited too, no session.
    let passkey = SoftKey::new();
    register(&app, &fay, &passkey, "bootstrap").await;
    let options = passkey_options(&app, None).await;
    assert_eq!(
        key_login(&app, &passkey.assert(&options, 9), json!({}))
            .await
            .0,
        200
    );
    let options = passkey_options(&app, None).await;
    let (status, body) = key_login(&app, &passkey.assert(&options, 9), json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        refused_field(&body).1,
        format!("[cloned]{AUTHENTICATOR_DATA}")
    );
    assert_eq!(app.audit("event=webauthn.clone_refused").await.len(), 2);
    assert_eq!(app.audit("event=login.success").await.len(), 3);
}

#[tokio::test]
async fn answers_made_elsewhere_are_refused_by_name() {
    let app = spawn_app().await;
    let gus = user(&app, "gus").await;
    let key = SoftKey::new();
    register(&app, &gus, &key, "general").await;
    let login = app.start_two_factor("gus").await;
    let options = second_factor_options(&app, &login).await;
    let answer = key.assert(&options, 1);
    let with = |origin: &str, rp_id: &str| json!({"twoFactorId": login, "credential": answer, "origin": origin, "rpId": rp_id});
    // The body's claims are checked first: refused, not counted.
    for (body, field) in [
        (with("https://evil.example", RP_ID), "origin"),
        (with(ORIGIN, "evil.example"), "rpId"),
    ] {
        let response = app.post_json("/api/webauthn/login", &body).await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(refused_field(&body).0, field);
    }
    assert_eq!(failures(&app).await, 0);
    // What the key signed is checked next: a wrong code each.
    for (making, field) in [
        (
            Making {
                origin: "https://evil.example".into(),
                kind: "webauthn.get".into(),
                ..Making::default()
            },
            CLIENT_DATA,
        ),
        (
            Making {
                rp_id: "evil.example".into(),
                kind: "webauthn.get".into(),
                ..Making::default()
            },
            AUTHENTICATOR_DATA,
        ),
    ] {
        let (status, body) = key_login(
            &app,
            &key.assert_with(&options, 1, &making),
            json!({"twoFactorId": login}),
        )
        .await;
        assert_eq!((status, refused_field(&body).0), (421, field.into()));
    }
    assert_eq!(failures(&app).await, 2);
    assert_eq!(
        key_login(&app, &answer, json!({"twoFactorId": login}))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn an_answer_that_does_not_read_is_refused_uncounted_and_changes_nothing() {
    let app = spawn_app().await;
    let hal = user(&app, "hal").await;
    let key = SoftKey::new();
    register(&app, &hal, &key, "general").await;
    let login = app.start_two_factor("hal").await;
    let options = second_factor_options(&app, &login).await;
    let answer = key.assert(&options, 1);
    let mut bad_base64 = answer.clone();
    bad_base64["response"]["signature"] = json!("not*base64");
    let mut not_authenticator_data = answer.clone();
    not_authenticator_data["response"]["authenticatorData"] = json!(b64(b"\xa1\x01"));
    let mut not_client_data = answer.clone();
    not_client_data["response"]["clientDataJSON"] = json!(b64(b"{\"challenge\":"));
    let mut bad_handle = answer.clone();
    bad_handle["response"]["userHandle"] = json!("%%");
    for (credential, field) in [
        (&bad_base64, "credential.response.signature"),
        (&not_client_data, CLIENT_DATA),
        (&bad_handle, "credential.response.userHandle"),
    ] {
        let (status, body) = key_login(&app, credential, json!({"twoFactorId": login})).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(refused_field(&body).0, field, "{body}");
    }
    // Authenticator data too short to be any: refused before anything is counted.
    let (status, body) =
        key_login(&app, &not_authenticator_data, json!({"twoFactorId": login})).await;
    assert_eq!(
        (status, refused_field(&body).0),
        (400, AUTHENTICATOR_DATA.into())
    );
    assert_eq!(failures(&app).await, 0);
    // Not a credential at all, or not JSON: refused by name.
    let (status, body) =
        key_login(&app, &json!({"id": "AQID"}), json!({"twoFactorId": login})).await;
    assert_eq!(status, 400, "{body}");
    let response = app
        .client
        .post(app.url("/api/webauthn/login"))
        .header("Content-Type", "application/json")
        .body("{\"credential\": ")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    for bad in [
        json!({"workflow": "bootstrap", "loginId": " "}),
        json!({"workflow": "bootstrap", "twoFactorId": login}),
        json!({"workflow": "general"}),
        json!({"workflow": "reauthentication", "twoFactorId": login}),
        json!({"workflow": "general", "twoFactorId": login, "loginId": "hal"}),
    ] {
        let (status, body) = start(&app, bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
        refused_field(&body);
    }
    assert_eq!(sign_count(&app, &hal).await, 0);
    assert_eq!(
        key_login(&app, &answer, json!({"twoFactorId": login}))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn twenty_identical_key_logins_at_once_log_in_once() {
    let app = spawn_app().await;
    let ida = user(&app, "ida").await;
    let key = SoftKey::new();
    register(&app, &ida, &key, "general").await;
    let login = app.start_two_factor("ida").await;
    let options = second_factor_options(&app, &login).await;
    let body = json!({"twoFactorId": login, "credential": key.assert(&options, 1),
                      "origin": ORIGIN, "rpId": RP_ID});
    let requests: Vec<_> = (0..20)
        .map(|_| {
            let (client, url, body) = (
                app.client.clone(),
                app.url("/api/webauthn/login"),
                body.clone(),
            );
            async move {
                client
                    .post(url)
                    .json(&body)
                    .send()
                    .await
                    .expect("sent")
                    .status()
                    .as_u16()
            }
        })
        .collect();
    let statuses = all_at_once(requests).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{}",
        tally(&statuses)
    );
    assert!(
        statuses.iter().all(|s| [200, 404, 421, 429].contains(s)),
        "{}",
        tally(&statuses)
    );
    assert_eq!(app.audit("event=login.success").await.len(), 1);
    assert_eq!(sign_count(&app, &ida).await, 1);
}

#[tokio::test]
async fn a_deactivated_user_logs_in_with_no_key() {
    let app = spawn_app().await;
    let jay = user(&app, "jay").await;
    let key = SoftKey::new();
    register(&app, &jay, &key, "general").await;
    let passkey = SoftKey::new();
    register(&app, &jay, &passkey, "bootstrap").await;
    let login = app.start_two_factor("jay").await;
    let options = second_factor_options(&app, &login).await;
    let response = app
        .with_key(Method::PATCH, &format!("/api/user/{jay}"))
        .json(&json!({"user": {"active": false}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let (status, _) = key_login(
        &app,
        &key.assert(&options, 1),
        json!({"twoFactorId": login}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = start(&app, json!({"twoFactorId": login, "workflow": "general"})).await;
    assert_eq!(status, 404);
    // A right passkey of a disabled account is told so, and opens nothing.
    let options = passkey_options(&app, None).await;
    let (status, _) = key_login(&app, &passkey.assert(&options, 1), json!({})).await;
    assert_eq!(status, 423);
    assert!(app.audit("event=login.success").await.is_empty());
    assert_eq!(sign_count(&app, &jay).await, 0);
}

#[tokio::test]
async fn a_key_removed_between_start_and_login_is_refused() {
    let app = spawn_app().await;
    let kim = user(&app, "kim").await;
    let key = SoftKey::new();
    register(&app, &kim, &key, "general").await;
    let spare = SoftKey::new();
    register(&app, &kim, &spare, "bootstrap").await;
    let login = app.start_two_factor("kim").await;
    let options = second_factor_options(&app, &login).await;
    let passkey_start = passkey_options(&app, None).await;
    let listed = app
        .with_key(Method::GET, &format!("/api/webauthn?userId={kim}"))
        .send()
        .await
        .expect("sent")
        .json::<Value>()
        .await
        .expect("JSON");
    for credential in listed["credentials"].as_array().expect("keys") {
        let id = credential["id"].as_str().expect("an id");
        let response = app
            .with_key(Method::DELETE, &format!("/api/webauthn/{id}"))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
    }
    let (status, body) = key_login(
        &app,
        &key.assert(&options, 1),
        json!({"twoFactorId": login}),
    )
    .await;
    assert_eq!(
        (status, refused_field(&body).0),
        (421, "credential.id".into())
    );
    let (status, body) = key_login(&app, &spare.assert(&passkey_start, 1), json!({})).await;
    assert_eq!(
        (status, refused_field(&body).0),
        (400, "credential.id".into())
    );
    assert!(app.audit("event=login.success").await.is_empty());
}

#[tokio::test]
async fn a_key_proves_the_person_again_for_a_re_authentication() {
    let app = spawn_app().await;
    let lou = user(&app, "lou").await;
    let passkey = SoftKey::new();
    register(&app, &lou, &passkey, "bootstrap").await;
    let body = json!({"userId": lou, "workflow": "reauthentication"});
    // Naming a user's keys takes an API key.
    let (status, _) = start(&app, body.clone()).await;
    assert_eq!(status, 401);
    let response = app
        .with_key(Method::POST, "/api/webauthn/start")
        .json(&body)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let options = response.json::<Value>().await.expect("JSON")["options"].clone();
    assert_eq!(
        options["publicKey"]["allowCredentials"][0]["id"],
        b64(&passkey.credential_id)
    );
    let assert = |credential: Value| {
        app.with_key(Method::POST, "/api/webauthn/assert")
            .json(&json!({"credential": credential, "origin": ORIGIN, "rpId": RP_ID}))
            .send()
    };
    // A passkey registered with user verification must verify the person here too.
    passkey.verifies.set(false);
    let response = assert(passkey.assert(&options, 1)).await.expect("sent");
    assert_eq!(response.status(), 400);
    passkey.verifies.set(true);
    let response = assert(passkey.assert(&options, 1)).await.expect("sent");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["credential"]["userId"], lou.as_str());
    // Proof is no login: no session was opened.
    assert!(app.audit("event=login.success").await.is_empty());
    assert_eq!(app.audit("event=webauthn.assert").await.len(), 1);
}
