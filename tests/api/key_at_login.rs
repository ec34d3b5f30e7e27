//! A security key (or a passkey) enrolled during a login that must enrol a second factor,
//! through the JSON API: `POST /api/webauthn/register/start` and `register/complete` with the
//! login's `twoFactorId` and no API key; the completion finishes the login and answers as
//! `POST /api/two-factor/login` does, with the recovery codes. The same limits as any
//! enrolment at login: a login expired or finished registers nothing, the key is the login's
//! user's, and of many completions at once one registers a key and logs in. The enrolment page
//! runs the same ceremony under the pending login's cookie.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, all_at_once, spawn_app, spawn_app_with, tally};
use crate::soft_key::{ORIGIN, RP_ID, SoftKey, register_through_api};
use crate::web::{Browser, csrf_in, location};

/// An app whose API logins must use a second factor, and a user `name` (with a verified
/// address) who has none: their id.
async fn app_requiring_a_second_factor(name: &str) -> (TestApp, String) {
    let app = spawn_app().await;
    app.put_two_factor_settings(json!({"apiLoginPolicy": "required"}))
        .await;
    let user = app
        .create_user(name, json!({"email": format!("{name}@example.com")}))
        .await;
    (app, user["id"].as_str().expect("an id").to_owned())
}

/// `POST path` with `body` and no API key: status and body.
async fn post(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let response = app.post_json(path, &body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The registration options for the login `two_factor_id` in `workflow`.
async fn options_for(app: &TestApp, two_factor_id: &str, workflow: &str) -> Value {
    let (status, body) = post(
        app,
        "/api/webauthn/register/start",
        json!({"twoFactorId": two_factor_id, "name": "Blue key", "workflow": workflow}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["options"].clone()
}

/// `register/complete` for the login `two_factor_id` with `credential`: status and body.
async fn complete(app: &TestApp, two_factor_id: &str, credential: Value) -> (u16, Value) {
    post(
        app,
        "/api/webauthn/register/complete",
        json!({"twoFactorId": two_factor_id, "credential": credential,
               "origin": ORIGIN, "rpId": RP_ID}),
    )
    .await
}

async fn keys_of(app: &TestApp, user_id: &str) -> Vec<Value> {
    let response = app
        .with_key(Method::GET, &format!("/api/webauthn?userId={user_id}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    body["credentials"].as_array().expect("a list").clone()
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

/// The login's `twoFactorId` after the password: a 242 that names no method to use.
async fn must_enrol(app: &TestApp, name: &str) -> String {
    let (status, challenge) = app
        .login_json(json!({"loginId": name, "password": PASSWORD}))
        .await;
    assert_eq!(status, 242, "{challenge}");
    assert_eq!(challenge["methods"], json!([]), "{challenge}");
    challenge["twoFactorId"]
        .as_str()
        .expect("a twoFactorId")
        .to_owned()
}

#[tokio::test]
async fn a_login_that_must_enrol_registers_a_key_which_completes_it_and_the_next_login() {
    let (app, ann) = app_requiring_a_second_factor("ann").await;
    let two_factor_id = must_enrol(&app, "ann").await;

    // No API key and no session: the twoFactorId names the user.
    let options = options_for(&app, &two_factor_id, "general").await;
    assert_eq!(options["publicKey"]["user"]["name"], "ann");
    let key = SoftKey::new();
    let (status, done) = complete(&app, &two_factor_id, key.register(&options)).await;
    assert_eq!(status, 200, "{done}");
    // Answered as `POST /api/two-factor/login` answers, with the key and the recovery codes.
    assert_eq!(done["user"]["id"], ann.as_str());
    assert!(done["refreshToken"].is_string(), "{done}");
    assert_eq!(done["credential"]["userId"], ann.as_str());
    assert_eq!(done["credential"]["name"], "Blue key");
    assert_eq!(done["credential"]["discoverable"], false);
    assert_eq!(done["recoveryCodes"].as_array().map(Vec::len), Some(10));
    let token = done["token"].as_str().expect("a token");
    assert_eq!(amr_of(&app, token).await, json!(["pwd", "hwk", "mfa"]));

    // Audited as the user's own registration, with the login's type; the login as any.
    let registered = app.audit("event=webauthn.register").await;
    assert_eq!(registered.len(), 1, "{registered:?}");
    assert_eq!(registered[0]["actor"], format!("user:{ann}"));
    assert_eq!(registered[0]["target"], ann.as_str());
    assert_eq!(registered[0]["details"]["loginType"], "api");
    let logins = app.audit("event=login.success").await;
    assert_eq!(logins.len(), 1, "{logins:?}");
    assert_eq!(logins[0]["details"]["amr"], json!(["pwd", "hwk", "mfa"]));

    // The person is told, as when a key is added from the security page.
    let mut told = Vec::new();
    for _ in 0..300 {
        told = app
            .emails_to("ann@example.com", "A second factor was added")
            .await;
        if !told.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(told.len(), 1, "{:?}", app.outbox().await);

    // The login is spent: it enrols nothing more.
    let (status, _) = post(
        &app,
        "/api/webauthn/register/start",
        json!({"twoFactorId": two_factor_id, "name": "Another", "workflow": "general"}),
    )
    .await;
    assert_eq!(status, 404);

    // The next login asks for the key, and the key finishes it.
    let (status, challenge) = app
        .login_json(json!({"loginId": "ann", "password": PASSWORD}))
        .await;
    assert_eq!(status, 242, "{challenge}");
    assert_eq!(challenge["methods"][0]["method"], "webauthn");
    let next = challenge["twoFactorId"].as_str().expect("an id");
    let (status, started) = post(
        &app,
        "/api/webauthn/start",
        json!({"twoFactorId": next, "workflow": "general"}),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let (status, again) = post(
        &app,
        "/api/webauthn/login",
        json!({"twoFactorId": next, "credential": key.assert(&started["options"], 1),
               "origin": ORIGIN, "rpId": RP_ID}),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    let token = again["token"].as_str().expect("a token");
    assert_eq!(amr_of(&app, token).await, json!(["pwd", "hwk", "mfa"]));
}

#[tokio::test]
async fn a_passkey_enrolled_at_login_signs_in_alone_next_time() {
    let (app, bea) = app_requiring_a_second_factor("bea").await;
    let two_factor_id = must_enrol(&app, "bea").await;
    let options = options_for(&app, &two_factor_id, "bootstrap").await;
    assert_eq!(
        options["publicKey"]["authenticatorSelection"]["residentKey"],
        "required"
    );
    let key = SoftKey::new();
    let (status, done) = complete(&app, &two_factor_id, key.register(&options)).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["credential"]["discoverable"], true);
    assert_eq!(keys_of(&app, &bea).await.len(), 1);

    let (status, started) = post(
        &app,
        "/api/webauthn/start",
        json!({"workflow": "bootstrap"}),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let (status, signed_in) = post(
        &app,
        "/api/webauthn/login",
        json!({"credential": key.assert(&started["options"], 1), "origin": ORIGIN,
               "rpId": RP_ID}),
    )
    .await;
    assert_eq!(status, 200, "{signed_in}");
    assert_eq!(signed_in["user"]["id"], bea.as_str());
}

#[tokio::test]
async fn a_login_expired_or_finished_registers_no_key() {
    let (app, cid) = app_requiring_a_second_factor("cid").await;

    // Expired while the person touched the key: nothing is kept.
    let expired = must_enrol(&app, "cid").await;
    let options = options_for(&app, &expired, "general").await;
    sqlx::query("UPDATE login_challenges SET expires_at = 0")
        .execute(app.core.store.pool())
        .await
        .unwrap();
    let (status, body) = complete(&app, &expired, SoftKey::new().register(&options)).await;
    assert_eq!(status, 404, "{body}");
    assert!(keys_of(&app, &cid).await.is_empty());
    assert!(app.audit("event=webauthn.register").await.is_empty());

    // Finished by one key: a second ceremony begun for it keeps nothing.
    let login = must_enrol(&app, "cid").await;
    let first = options_for(&app, &login, "general").await;
    let second = options_for(&app, &login, "general").await;
    let (status, body) = complete(&app, &login, SoftKey::new().register(&first)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = complete(&app, &login, SoftKey::new().register(&second)).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(keys_of(&app, &cid).await.len(), 1);

    // An unknown login, and a login whose user has a key now, which must finish with it.
    let (status, _) = post(
        &app,
        "/api/webauthn/register/start",
        json!({"twoFactorId": "no-such-login", "name": "Key", "workflow": "general"}),
    )
    .await;
    assert_eq!(status, 404);
    let with_key = app.start_two_factor("cid").await;
    let (status, body) = post(
        &app,
        "/api/webauthn/register/start",
        json!({"twoFactorId": with_key, "name": "Key", "workflow": "general"}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn of_twenty_completions_of_one_login_one_registers_a_key_and_logs_in() {
    let (app, dee) = app_requiring_a_second_factor("dee").await;
    let two_factor_id = must_enrol(&app, "dee").await;
    let mut answers = Vec::new();
    for _ in 0..20 {
        let options = options_for(&app, &two_factor_id, "general").await;
        answers.push(SoftKey::new().register(&options));
    }
    let requests = answers
        .into_iter()
        .map(|credential| {
            let (client, url) = (
                app.client.clone(),
                app.url("/api/webauthn/register/complete"),
            );
            let body = json!({"twoFactorId": two_factor_id, "credential": credential,
                              "origin": ORIGIN, "rpId": RP_ID});
            async move {
                let response = client.post(url).json(&body).send().await.expect("sent");
                response.status().as_u16()
            }
        })
        .collect();
    let statuses: Vec<u16> = all_at_once(requests).await;
    let won = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(won, 1, "{}", tally(&statuses));
    assert!(
        statuses.iter().all(|s| [200, 403, 404].contains(s)),
        "{}",
        tally(&statuses)
    );
    assert_eq!(keys_of(&app, &dee).await.len(), 1);
    assert_eq!(app.audit("event=webauthn.register").await.len(), 1);
    assert_eq!(app.audit("event=login.success").await.len(), 1);
}

#[tokio::test]
async fn a_ceremony_begun_for_one_login_registers_for_no_other_user_or_way() {
    let (app, eve) = app_requiring_a_second_factor("eve").await;
    let fay = app.create_user("fay", json!({})).await["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let eves_login = must_enrol(&app, "eve").await;
    let fays_login = must_enrol(&app, "fay").await;
    let options = options_for(&app, &eves_login, "general").await;
    let key = SoftKey::new();

    // Another login's twoFactorId, or the user's id with an API key: the challenge is not theirs.
    let (status, body) = complete(&app, &fays_login, key.register(&options)).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["fieldErrors"]["credential.response.clientDataJSON"].is_array(),
        "{body}"
    );
    let response = app
        .with_key(Method::POST, "/api/webauthn/register/complete")
        .json(&json!({"userId": eve, "credential": key.register(&options),
                      "origin": ORIGIN, "rpId": RP_ID}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    assert!(keys_of(&app, &eve).await.is_empty());
    assert!(keys_of(&app, &fay).await.is_empty());

    // A user is named by a twoFactorId or by a userId with an API key, never both.
    let (status, body) = post(
        &app,
        "/api/webauthn/register/start",
        json!({"twoFactorId": eves_login, "userId": eve, "name": "Key", "workflow": "general"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["fieldErrors"]["userId"].is_array(), "{body}");
    let (status, _) = post(
        &app,
        "/api/webauthn/register/start",
        json!({"userId": eve, "name": "Key", "workflow": "general"}),
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) = post(
        &app,
        "/api/webauthn/register/start",
        json!({"name": "Key", "workflow": "general"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");

    // The registration made through the API key for a user stays as it was.
    register_through_api(&app, &fay, &SoftKey::new(), "general").await;
    assert_eq!(keys_of(&app, &fay).await.len(), 1);
}

#[tokio::test]
async fn the_enrolment_page_offers_a_key_where_webauthn_is_on_and_its_ceremony_completes_the_login()
{
    for (public_url, on) in [("http://tessera.test", true), ("http://127.0.0.1:9", false)] {
        let app = spawn_app_with(|config| config.public_url = Some(public_url.into())).await;
        app.put_two_factor_settings(json!({"webLoginPolicy": "required"}))
            .await;
        app.create_user("gus", json!({})).await;
        let mut browser = Browser::new();
        let response = browser.log_in(&app, "gus", PASSWORD).await;
        assert_eq!(location(&response), "/login/enroll");
        let page = browser
            .get(&app, "/login/enroll")
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(page.contains("Add a security key"), on, "{public_url}");
        let csrf = csrf_in(&page);
        let start = [
            ("csrf", csrf.as_str()),
            ("name", ""),
            ("kind", "security_key"),
        ];
        let started = browser.post(&app, "/login/enroll/key/start", &start).await;
        let status = started.status().as_u16();
        let body: Value = started.json().await.expect("JSON");
        if !on {
            // No relying party: refused in words, nothing begun.
            assert_eq!(status, 422, "{body}");
            assert!(body["message"].as_str().unwrap().contains("off"), "{body}");
            continue;
        }
        assert_eq!(status, 200, "{body}");
        let credential = SoftKey::new().register(&body["options"]).to_string();
        let finish = [("csrf", csrf.as_str()), ("credential", credential.as_str())];
        let finished = browser
            .post(&app, "/login/enroll/key/finish", &finish)
            .await;
        assert_eq!(finished.status(), 200);
        let enrolled: Value = finished.json().await.expect("JSON");
        assert_eq!(enrolled["recoveryCodes"].as_array().map(Vec::len), Some(10));
        // No session yet: the login completes once the codes are saved, as any enrolment's,
        // trusting the computer when asked to, as a code's login does.
        assert!(page.contains("Trust this computer for 30 days"), "{page}");
        let completion = enrolled["completion"].as_str().expect("a completion code");
        let done = browser
            .post(
                &app,
                "/login/enroll/finish",
                &[
                    ("csrf", &csrf),
                    ("completion", completion),
                    ("saved", "1"),
                    ("trust", "1"),
                ],
            )
            .await;
        assert_eq!(location(&done), "/?welcome=1");
        assert!(browser.cookie("tessera_trust").is_some());
        let home = browser.get(&app, "/").await.text().await.unwrap();
        assert!(home.contains("password, security key"), "{home}");
        let keys = app.audit("event=webauthn.register").await;
        assert_eq!(keys[0]["details"]["loginType"], "web", "{keys:?}");

        // A login gone sends the script back to the password, which returns to the choice.
        app.create_user("hal", json!({})).await;
        let mut late = Browser::new();
        late.log_in(&app, "hal", PASSWORD).await;
        let page = late.get(&app, "/login/enroll").await.text().await.unwrap();
        let csrf = csrf_in(&page);
        sqlx::query("UPDATE login_challenges SET expires_at = 0")
            .execute(app.core.store.pool())
            .await
            .unwrap();
        let start = [
            ("csrf", csrf.as_str()),
            ("name", "Key"),
            ("kind", "passkey"),
        ];
        let gone: Value = late
            .post(&app, "/login/enroll/key/start", &start)
            .await
            .json()
            .await
            .expect("JSON");
        assert_eq!(gone, json!({"redirect": "/login?expired=enroll"}));
    }
}

#[tokio::test]
async fn after_an_access_code_a_new_key_comes_with_new_recovery_codes_and_trusts_no_computer() {
    let app = spawn_app().await;
    let ivy = app.create_user("ivy", json!({})).await["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    // Ivy's only second factor is a key she lost; her administrator gives her an access code.
    let (_, lost) = register_through_api(&app, &ivy, &SoftKey::new(), "general").await;
    let old_codes = lost["recoveryCodes"].clone();
    let issued = app
        .with_key(
            Method::POST,
            &format!("/api/user/two-factor/access-code/{ivy}"),
        )
        .json(&json!({"reason": "lost key, ID checked at the desk"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(issued.status(), 200);
    let code = issued.json::<Value>().await.expect("JSON")["accessCode"]
        .as_str()
        .expect("a code")
        .to_owned();
    let mut browser = Browser::new();
    assert_eq!(
        location(&browser.log_in(&app, "ivy", PASSWORD).await),
        "/login/code"
    );
    let prompt = browser.get(&app, "/login/code?access=1").await;
    let csrf = csrf_in(&prompt.text().await.unwrap());
    let form = [
        ("csrf", csrf.as_str()),
        ("method", ""),
        ("code", code.as_str()),
        ("access", "1"),
    ];
    let response = browser.post(&app, "/login/code", &form).await;
    assert_eq!(location(&response), "/login/enroll");
    let page = browser
        .get(&app, "/login/enroll")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Add a security key"), "{page}");
    assert!(
        !page.contains("Trust this computer"),
        "no trust by access code"
    );

    let start = [("csrf", csrf.as_str()), ("name", "New key"), ("kind", "")];
    let started: Value = browser
        .post(&app, "/login/enroll/key/start", &start)
        .await
        .json()
        .await
        .expect("JSON");
    let credential = SoftKey::new().register(&started["options"]).to_string();
    let finish = [("csrf", csrf.as_str()), ("credential", credential.as_str())];
    let enrolled: Value = browser
        .post(&app, "/login/enroll/key/finish", &finish)
        .await
        .json()
        .await
        .expect("JSON");
    let codes = &enrolled["recoveryCodes"];
    assert_eq!(codes.as_array().map(Vec::len), Some(10), "{enrolled}");
    assert_ne!(codes, &old_codes, "a new set in place of the old");
    assert_eq!(keys_of(&app, &ivy).await.len(), 2);

    // Asking for trust anyway changes nothing: such a login trusts no computer.
    let completion = enrolled["completion"].as_str().expect("a completion code");
    let done = browser
        .post(
            &app,
            "/login/enroll/finish",
            &[
                ("csrf", csrf.as_str()),
                ("completion", completion),
                ("saved", "1"),
                ("trust", "1"),
            ],
        )
        .await;
    assert_eq!(location(&done), "/?welcome=1");
    assert!(browser.cookie("tessera_trust").is_none());
    let logins = app.audit("event=login.success").await;
    assert_eq!(
        logins[0]["details"]["amr"],
        json!(["pwd", "access_code", "hwk", "mfa"])
    );
    // The old codes went with the access code's enrolment.
    let old = old_codes[0].as_str().expect("a code");
    let two_factor_id = app.start_two_factor("ivy").await;
    let response = app.finish_two_factor(&two_factor_id, old, json!({})).await;
    assert_eq!(response.status(), 421);
}
