//! A security key on the re-authentication page, for each of its purposes: the security
//! settings (the password posted with the key's answer), an application's step-up and a site's
//! (the key alone). A person whose only second factor is a key gets back in with it, no loop;
//! the session takes `hwk` and `mfa` and a fresh authentication time, audited as a code's
//! proof is; a refusal is a sentence for the page and proves nothing.

use serde_json::{Value, json};

use crate::forward_auth::{APP, behind_a_proxy, escaped, rules_are};
use crate::helpers::{PASSWORD, TestApp, spawn_app};
use crate::oidc::{authorize_path, client, code_form, param, trade, way_back};
use crate::soft_key::{SoftKey, register_through_api};
use crate::web::{Browser, csrf_in, location};

/// A browser signed in as a new user `name` with the password alone, who then gets `key` (its
/// only second factor) through the API, as on a computer trusted before the key was added.
async fn key_only(app: &TestApp, name: &str, key: &SoftKey) -> (Browser, String) {
    let user = app.create_user(name, json!({})).await;
    let id = user["id"].as_str().unwrap().to_owned();
    let mut browser = Browser::new();
    let logged_in = browser.log_in(app, name, PASSWORD).await;
    assert_eq!(location(&logged_in), "/");
    register_through_api(app, &id, key, "general").await;
    (browser, id)
}

/// A page's HTML and its CSRF token.
async fn page(browser: &mut Browser, app: &TestApp, path: &str) -> (String, String) {
    let response = browser.get(app, path).await;
    assert_eq!(response.status(), 200, "{path}");
    let html = response.text().await.unwrap();
    let csrf = csrf_in(&html);
    (html, csrf)
}

/// A form posted by the page's script: the status and the JSON answer.
async fn script_post(
    browser: &mut Browser,
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let response = browser.post(app, path, form).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The options of `{action}/key/start`.
async fn options(browser: &mut Browser, app: &TestApp, action: &str, csrf: &str) -> Value {
    let (status, body) = script_post(
        browser,
        app,
        &format!("{action}/key/start"),
        &[("csrf", csrf)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["options"].clone()
}

/// The key's answer (its `counter`-th use) to a new ceremony of `action`, posted with
/// `password` when given.
async fn use_key(
    browser: &mut Browser,
    app: &TestApp,
    (action, csrf): (&str, &str),
    key: &SoftKey,
    counter: u32,
    password: Option<&str>,
) -> (u16, Value) {
    let options = options(browser, app, action, csrf).await;
    let answer = key.assert(&options, counter).to_string();
    let mut form = vec![("csrf", csrf), ("credential", answer.as_str())];
    if let Some(password) = password {
        form.push(("password", password));
    }
    script_post(browser, app, &format!("{action}/key/finish"), &form).await
}

async fn session_amr(app: &TestApp, user_id: &str) -> String {
    sqlx::query_scalar("SELECT amr FROM sessions WHERE user_id = $1")
        .bind(user_id.to_owned())
        .fetch_one(app.core.store.pool())
        .await
        .unwrap()
}

async fn failures(app: &TestApp) -> usize {
    app.audit("event=two_factor.failure").await.len()
}

#[tokio::test]
async fn a_key_only_user_gets_back_into_the_security_settings_with_the_password_and_the_key() {
    let app = spawn_app().await;
    let key = SoftKey::new();
    let (mut browser, ann) = key_only(&app, "ann", &key).await;
    assert_eq!(
        location(&browser.get(&app, "/security").await),
        "/security/reauth"
    );
    let (html, csrf) = page(&mut browser, &app, "/security/reauth").await;
    assert!(
        html.contains("Security settings need a fresh login with your second factor."),
        "{html}"
    );
    // The key is the prompt: the password goes with its answer; no code, no button that would
    // prove the password alone.
    assert!(html.contains("id=\"reauth-key\""), "{html}");
    assert!(html.contains("data-password=\"password\""), "{html}");
    assert!(html.contains("data-prompt=\"1\""), "{html}");
    assert!(!html.contains("id=\"code\""), "{html}");
    assert!(!html.contains(">Continue</button>"), "{html}");
    assert!(
        html.contains("Lost your key? Use a recovery code"),
        "{html}"
    );

    // The password alone, posted anyway, is refused with why: it was the loop.
    let alone = browser
        .post(
            &app,
            "/security/reauth",
            &[("csrf", &csrf), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(alone.status(), 422);
    assert!(
        alone
            .text()
            .await
            .unwrap()
            .contains("Your second factor is a security key: use it."),
    );
    assert_eq!(
        location(&browser.get(&app, "/security").await),
        "/security/reauth"
    );

    // A wrong password with a right key: counted as a wrong guess, nothing proved.
    let action = ("/security/reauth", csrf.as_str());
    let before = failures(&app).await;
    let (status, body) = use_key(&mut browser, &app, action, &key, 1, Some("wrong horse")).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["message"],
        "The password is not right. Enter it again, then use your security key."
    );
    assert_eq!(failures(&app).await, before + 1);
    assert_eq!(
        location(&browser.get(&app, "/security").await),
        "/security/reauth"
    );

    let (status, body) = use_key(&mut browser, &app, action, &key, 2, Some(PASSWORD)).await;
    assert_eq!((status, &body), (200, &json!({"redirect": "/security"})));
    assert_eq!(browser.get(&app, "/security").await.status(), 200);
    assert_eq!(session_amr(&app, &ann).await, "pwd hwk mfa");
    let proofs = app.audit("event=login.reauthenticate").await;
    assert_eq!(proofs.len(), 1, "{proofs:?}");
    assert_eq!(proofs[0]["details"]["amr"], json!(["pwd", "hwk"]));
    let user = tessera::domain::UserId::parse(&ann).unwrap();
    let keys = app.core.webauthn.credentials_of(user).await;
    assert_eq!(
        proofs[0]["details"]["webauthnId"],
        json!(keys.unwrap()[0].id)
    );
}

#[tokio::test]
async fn without_the_key_a_recovery_code_with_the_password_gets_back_in() {
    let app = spawn_app().await;
    let hal = app.create_user("hal", json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut browser = Browser::new();
    browser.log_in(&app, "hal", PASSWORD).await;
    let (_, registered) = register_through_api(&app, &hal, &SoftKey::new(), "general").await;
    let code = registered["recoveryCodes"][0].as_str().unwrap().to_owned();
    let (_, csrf) = page(&mut browser, &app, "/security/reauth").await;
    let proved = browser
        .post(
            &app,
            "/security/reauth",
            &[("csrf", &csrf), ("password", PASSWORD), ("code", &code)],
        )
        .await;
    assert_eq!(location(&proved), "/security");
    assert_eq!(browser.get(&app, "/security").await.status(), 200);
    assert_eq!(session_amr(&app, &hal).await, "pwd rec mfa");
}

#[tokio::test]
async fn beside_a_code_the_key_is_an_alternative() {
    let app = spawn_app().await;
    let gus = app.create_user("gus", json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut browser = Browser::new();
    browser.log_in(&app, "gus", PASSWORD).await;
    // An authenticator and a key, both after this login.
    app.enroll_authenticator(&gus).await;
    let key = SoftKey::new();
    register_through_api(&app, &gus, &key, "general").await;
    let (html, csrf) = page(&mut browser, &app, "/security/reauth").await;
    assert!(html.contains("name=\"code\""), "{html}");
    assert!(html.contains(">Continue</button>"), "{html}");
    assert!(html.contains("id=\"reauth-key\""), "{html}");
    assert!(
        !html.contains("data-prompt"),
        "the code is the prompt: {html}"
    );

    let action = ("/security/reauth", csrf.as_str());
    let (status, body) = use_key(&mut browser, &app, action, &key, 1, Some(PASSWORD)).await;
    assert_eq!((status, &body), (200, &json!({"redirect": "/security"})));
    assert_eq!(browser.get(&app, "/security").await.status(), 200);
    assert_eq!(session_amr(&app, &gus).await, "pwd hwk mfa");
}

#[tokio::test]
async fn a_refused_key_is_said_beside_the_button_and_proves_nothing() {
    let app = spawn_app().await;
    let key = SoftKey::new();
    let (mut browser, _) = key_only(&app, "bea", &key).await;
    let (_, csrf) = page(&mut browser, &app, "/security/reauth").await;
    let action = ("/security/reauth", csrf.as_str());

    // No password: asked for it, before anything is counted.
    let before = failures(&app).await;
    let (status, body) = use_key(&mut browser, &app, action, &key, 1, None).await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "Enter your password, then use your security key."
    );
    assert_eq!(failures(&app).await, before);

    // A key that is not hers.
    let stranger = SoftKey::new();
    let (status, body) = use_key(&mut browser, &app, action, &stranger, 1, Some(PASSWORD)).await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "Your security key did not confirm it's you: the key is not one of the keys this \
         challenge was given for. Try again."
    );

    // A ceremony that expired before the answer came.
    let options = options(&mut browser, &app, "/security/reauth", &csrf).await;
    sqlx::query("UPDATE webauthn_challenges SET expires_at = 1")
        .execute(app.core.store.pool())
        .await
        .unwrap();
    let answer = key.assert(&options, 2).to_string();
    let (status, body) = script_post(
        &mut browser,
        &app,
        "/security/reauth/key/finish",
        &[
            ("csrf", &csrf),
            ("credential", &answer),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 422);
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("Your security key did not confirm it's you: the browser's answer")
            && message.contains("expired"),
        "{message}"
    );
    // An answer the browser did not make.
    let (status, body) = script_post(
        &mut browser,
        &app,
        "/security/reauth/key/finish",
        &[
            ("csrf", &csrf),
            ("credential", "{not json"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("not a WebAuthn credential")
    );
    assert_eq!(
        location(&browser.get(&app, "/security").await),
        "/security/reauth",
        "none of them proved anything"
    );
    assert!(app.audit("event=login.reauthenticate").await.is_empty());

    // An account without keys is told so beside the button.
    app.create_user("cal", json!({})).await;
    let mut other = Browser::new();
    other.log_in(&app, "cal", PASSWORD).await;
    let (_, csrf) = page(&mut other, &app, "/security/reauth").await;
    let (status, body) = script_post(
        &mut other,
        &app,
        "/security/reauth/key/start",
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "Your security key did not confirm it's you: your account has no security key any \
         more. Use another way."
    );
}

#[tokio::test]
async fn an_application_s_step_up_takes_the_key_in_place_of_a_code() {
    let app = spawn_app().await;
    let secret = client(&app, "wiki", false).await.unwrap();
    let key = SoftKey::new();
    let (mut browser, _) = key_only(&app, "dan", &key).await;
    let asked = browser
        .get(&app, &authorize_path("wiki", "&acr_values=mfa"))
        .await;
    assert_eq!(location(&asked), "/oauth2/step-up");
    let (html, csrf) = page(&mut browser, &app, "/oauth2/step-up").await;
    assert!(
        html.contains("The wiki app asks for your second factor: use your security key to go on."),
        "{html}"
    );
    assert!(
        !html.contains("name=\"password\"") && !html.contains("data-password"),
        "{html}"
    );

    let action = ("/oauth2/step-up", csrf.as_str());
    let (status, body) = use_key(&mut browser, &app, action, &key, 1, None).await;
    assert_eq!(
        (status, &body),
        (200, &json!({"redirect": "/oauth2/continue"}))
    );
    let back = way_back(browser.get(&app, "/oauth2/continue").await).await;
    let code = param(&back, "code").unwrap_or_else(|| panic!("no code in {back}"));
    let (status, tokens) = trade(&app, "wiki", Some(&secret), &code_form(&code)).await;
    assert_eq!(status, 200, "{tokens}");
    let keys = app.core.oidc.keys().await.unwrap();
    let claims = keys.verify(tokens["id_token"].as_str().unwrap()).unwrap();
    assert_eq!(claims["amr"], json!(["pwd", "hwk", "mfa"]));
    let told = app.audit("event=login.step_up").await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["details"]["clientId"], "wiki");
    assert_eq!(told[0]["details"]["amr"], json!(["hwk"]));
}

#[tokio::test]
async fn an_application_asking_for_a_recent_login_takes_the_password_with_the_key() {
    let app = spawn_app().await;
    let secret = client(&app, "wiki", false).await.unwrap();
    let key = SoftKey::new();
    let (mut browser, _) = key_only(&app, "fay", &key).await;
    let before = tessera::clock::Instant::now().seconds();
    let asked = browser
        .get(&app, &authorize_path("wiki", "&prompt=login"))
        .await;
    assert_eq!(location(&asked), "/oauth2/step-up");
    let (html, csrf) = page(&mut browser, &app, "/oauth2/step-up").await;
    assert!(html.contains("asks for a recent login"), "{html}");
    assert!(html.contains("data-password=\"password\""), "{html}");

    // The password alone is not the recent login of an account whose second factor is a key.
    let alone = browser
        .post(
            &app,
            "/oauth2/step-up",
            &[("csrf", &csrf), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(alone.status(), 422);
    assert_eq!(
        location(&browser.get(&app, "/oauth2/continue").await),
        "/oauth2/step-up"
    );

    let action = ("/oauth2/step-up", csrf.as_str());
    let (status, body) = use_key(&mut browser, &app, action, &key, 1, Some(PASSWORD)).await;
    assert_eq!(
        (status, &body),
        (200, &json!({"redirect": "/oauth2/continue"}))
    );
    let back = way_back(browser.get(&app, "/oauth2/continue").await).await;
    let code = param(&back, "code").unwrap_or_else(|| panic!("no code in {back}"));
    let (status, tokens) = trade(&app, "wiki", Some(&secret), &code_form(&code)).await;
    assert_eq!(status, 200, "{tokens}");
    let keys = app.core.oidc.keys().await.unwrap();
    let claims = keys.verify(tokens["id_token"].as_str().unwrap()).unwrap();
    assert_eq!(claims["amr"], json!(["pwd", "hwk", "mfa"]));
    assert!(claims["auth_time"].as_i64().unwrap() >= before, "{claims}");
    let proofs = app.audit("event=login.reauthenticate").await;
    assert_eq!(proofs.len(), 1, "{proofs:?}");
    assert_eq!(proofs[0]["details"]["amr"], json!(["pwd", "hwk"]));
}

#[tokio::test]
async fn a_site_s_step_up_takes_the_key_in_place_of_a_code() {
    let app = behind_a_proxy().await;
    rules_are(
        &app,
        json!({"rules": [{"domain": ["app.example.com"], "policy": "two_factor"}]}),
    )
    .await;
    let key = SoftKey::new();
    let (mut browser, _) = key_only(&app, "eve", &key).await;
    let step_up = format!(
        "/forward-auth/step-up?rd={}",
        escaped(&format!("{APP}/vault"))
    );
    let (html, csrf) = page(&mut browser, &app, &step_up).await;
    assert!(
        html.contains("app.example.com asks for your second factor: use your security key"),
        "{html}"
    );
    let action = ("/forward-auth/step-up", csrf.as_str());
    let (status, body) = use_key(&mut browser, &app, action, &key, 1, None).await;
    assert_eq!(
        (status, &body),
        (200, &json!({"redirect": "/forward-auth/continue"}))
    );
    let to = way_back(browser.get(&app, "/forward-auth/continue").await).await;
    assert_eq!(to, format!("{APP}/vault"));
    let told = app.audit("event=login.step_up").await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["details"]["site"], "app.example.com");
    // Two factors now: the step-up page sends the browser straight back.
    let straight = browser.get(&app, &step_up).await;
    assert_eq!(location(&straight), format!("{APP}/vault"));
}

#[tokio::test]
async fn a_member_who_must_use_a_key_is_not_re_authenticated_by_a_code() {
    let app = spawn_app().await;
    let hal = app.create_user("hal", json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut browser = Browser::new();
    browser.log_in(&app, "hal", PASSWORD).await;
    let (secret, _) = app.enroll_authenticator(&hal).await;
    let key = SoftKey::new();
    register_through_api(&app, &hal, &key, "general").await;
    let group = app
        .with_key(reqwest::Method::POST, "/api/group")
        .json(&json!({"group": {"name": "Operators"}}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["group"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let added = app
        .with_key(reqwest::Method::POST, "/api/group/member")
        .json(&json!({"members": {&group: [{"userId": hal}]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 200);
    app.put_two_factor_settings(json!({"webauthn": {"phishingResistantForGroups": [group]}}))
        .await;

    // The page asks for the key alone, and a code posted anyway proves nothing.
    let (html, csrf) = page(&mut browser, &app, "/security/reauth").await;
    assert!(!html.contains("id=\"code\""), "no code is asked: {html}");
    assert!(html.contains("id=\"reauth-key\""), "{html}");
    let refused = browser
        .post(
            &app,
            "/security/reauth",
            &[
                ("csrf", csrf.as_str()),
                ("password", PASSWORD),
                ("code", &crate::helpers::oathtool(&secret, 0)),
            ],
        )
        .await;
    assert_ne!(location(&refused), "/security", "a code does not do");
    assert_eq!(session_amr(&app, &hal).await, "pwd");

    let action = ("/security/reauth", csrf.as_str());
    let (status, body) = use_key(&mut browser, &app, action, &key, 1, Some(PASSWORD)).await;
    assert_eq!((status, &body), (200, &json!({"redirect": "/security"})));
    assert_eq!(session_amr(&app, &hal).await, "pwd hwk mfa");
}
