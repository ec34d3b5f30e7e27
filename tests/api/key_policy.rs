//! The administrator's policy for security keys and passkeys (the `webauthn` section of the
//! two-factor settings): a kind switched off is neither registered, offered, accepted nor
//! counted; user verification required where the settings say; administrators or members of a
//! group who must use a key are offered no code and refused one; and authenticator models
//! restricted by AAGUID, proved by an attestation that leads to the operator's roots. Every
//! refusal is audited as `webauthn.policy_refused`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::attested::Maker;
use crate::helpers::{PASSWORD, TestApp, oathtool, spawn_app, spawn_app_with};
use crate::soft_key::{ORIGIN, RP_ID, SoftKey, register_through_api, user};
use crate::web::Browser;

const AUTHENTICATOR_DATA: &str = "credential.response.authenticatorData";
const ATTESTATION: &str = "credential.response.attestationObject";
/// A model the tests' makers attest (any AAGUID but the nil one).
const MODEL: &str = "cb69481e-8ff7-4039-93ec-0a2729a154a8";
const OTHER_MODEL: &str = "ee882879-721c-4913-9775-3dfcce97072a";

/// Sends `body` with the API key: the status and the JSON.
async fn call(app: &TestApp, method: Method, path: &str, body: Value) -> (u16, Value) {
    let response = app
        .with_key(method, path)
        .json(&body)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The settings with `webauthn` as given, everything else at its default.
async fn key_settings(app: &TestApp, webauthn: Value) {
    app.put_two_factor_settings(json!({ "webauthn": webauthn }))
        .await;
}

/// `register/start` for `user_id` in `workflow`: the status and the body.
async fn start_registration(app: &TestApp, user_id: &str, workflow: &str) -> (u16, Value) {
    call(
        app,
        Method::POST,
        "/api/webauthn/register/start",
        json!({"userId": user_id, "name": "My key", "workflow": workflow}),
    )
    .await
}

/// A whole registration of `key` that the server may refuse: the status and the body.
async fn try_register(app: &TestApp, user_id: &str, key: &SoftKey, workflow: &str) -> (u16, Value) {
    let (status, body) = start_registration(app, user_id, workflow).await;
    assert_eq!(status, 200, "{body}");
    call(
        app,
        Method::POST,
        "/api/webauthn/register/complete",
        json!({"userId": user_id, "credential": key.register(&body["options"]),
               "origin": ORIGIN, "rpId": RP_ID}),
    )
    .await
}

/// The one field an error names, and its code.
fn refused(body: &Value) -> (String, String) {
    let fields = body["fieldErrors"].as_object().expect("field errors");
    assert_eq!(fields.len(), 1, "{body}");
    let (field, errors) = fields.iter().next().expect("one");
    (
        field.clone(),
        errors[0]["code"].as_str().expect("code").to_owned(),
    )
}

/// The methods a 242 lists, by their `method`.
fn listed(body: &Value) -> Vec<String> {
    body["methods"]
        .as_array()
        .unwrap_or_else(|| panic!("methods: {body}"))
        .iter()
        .map(|m| m["method"].as_str().expect("a method").to_owned())
        .collect()
}

/// A password login that stops at the second factor: its `twoFactorId` and the 242.
async fn two_factor_due(app: &TestApp, name: &str) -> (String, Value) {
    let (status, body) = app
        .login_json(json!({"loginId": name, "password": PASSWORD}))
        .await;
    assert_eq!(status, 242, "{body}");
    (
        body["twoFactorId"].as_str().expect("an id").to_owned(),
        body,
    )
}

/// `POST /api/webauthn/start` for the login `two_factor_id`.
async fn second_factor_start(app: &TestApp, two_factor_id: &str) -> (u16, Value) {
    let response = app
        .post_json(
            "/api/webauthn/start",
            &json!({"twoFactorId": two_factor_id, "workflow": "general"}),
        )
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `POST /api/webauthn/login` with a key's answer: for the login `two_factor_id`, or a passkey's
/// sign-in without one.
async fn key_login(app: &TestApp, two_factor_id: Option<&str>, credential: &Value) -> (u16, Value) {
    let mut body = json!({"credential": credential, "origin": ORIGIN, "rpId": RP_ID});
    if let Some(id) = two_factor_id {
        body["twoFactorId"] = json!(id);
    }
    let response = app.post_json("/api/webauthn/login", &body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The `webauthn.policy_refused` events of the audit log, as (reason, what).
async fn policy_refusals(app: &TestApp) -> Vec<(String, String)> {
    app.audit("event=webauthn.policy_refused")
        .await
        .iter()
        .map(|e| {
            let details = &e["details"];
            (
                details["reason"].as_str().unwrap_or_default().to_owned(),
                details["what"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_kind_switched_off_is_not_registered_offered_accepted_or_counted() {
    let app = spawn_app().await;
    let ann = user(&app, "ann").await;
    let key = SoftKey::new();
    register_through_api(&app, &ann, &key, "general").await;
    // A login begun while keys were allowed, answered after they were switched off.
    let (begun, _) = two_factor_due(&app, "ann").await;
    let (status, body) = second_factor_start(&app, &begun).await;
    assert_eq!(status, 200, "{body}");
    key_settings(&app, json!({"securityKeys": false})).await;

    let (status, body) = key_login(&app, Some(&begun), &key.assert(&body["options"], 1)).await;
    assert_eq!(
        (status, refused(&body)),
        (421, ("workflow".into(), "[forbidden]workflow".into()))
    );
    let (status, body) = start_registration(&app, &ann, "general").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(refused(&body).1, "[forbidden]workflow");
    assert_eq!(
        body["fieldErrors"]["workflow"][0]["message"],
        "security keys are switched off on this server"
    );

    // Her only second factor no longer counts: she must set up another, and the key is
    // neither listed nor offered.
    let (next, body) = two_factor_due(&app, "ann").await;
    assert!(listed(&body).is_empty(), "{body}");
    let (status, body) = second_factor_start(&app, &next).await;
    assert_eq!(
        (status, refused(&body).1),
        (400, "[noKeys]twoFactorId".into())
    );
    // Passkeys are still allowed.
    let passkey = SoftKey::new();
    register_through_api(&app, &ann, &passkey, "bootstrap").await;
    let (_, body) = two_factor_due(&app, "ann").await;
    assert_eq!(listed(&body), ["webauthn"]);
    assert_eq!(body["methods"][0]["discoverable"], true);

    let refusals = policy_refusals(&app).await;
    assert!(
        refusals.contains(&("kind_forbidden".into(), "second_factor".into())),
        "{refusals:?}"
    );
    assert!(
        refusals.contains(&("kind_forbidden".into(), "registration".into())),
        "{refusals:?}"
    );
}

#[tokio::test]
async fn passkeys_switched_off_sign_no_one_in() {
    let app = spawn_app().await;
    let bob = user(&app, "bob").await;
    let passkey = SoftKey::new();
    register_through_api(&app, &bob, &passkey, "bootstrap").await;
    let start = json!({"workflow": "bootstrap", "loginId": "bob"});
    let response = app.post_json("/api/webauthn/start", &start).await;
    let options = response.json::<Value>().await.expect("JSON")["options"].clone();
    let login_page = || async {
        Browser::new()
            .get(&app, "/login")
            .await
            .text()
            .await
            .expect("text")
    };
    assert!(login_page().await.contains("passkey-login"));
    key_settings(&app, json!({"passkeys": false})).await;
    assert!(
        !login_page().await.contains("passkey-login"),
        "the login page offers none"
    );

    let (status, body) = key_login(&app, None, &passkey.assert(&options, 1)).await;
    assert_eq!(
        (status, refused(&body).1),
        (400, "[forbidden]workflow".into())
    );
    let response = app.post_json("/api/webauthn/start", &start).await;
    assert_eq!(response.status(), 400);
    let (status, _) = start_registration(&app, &bob, "bootstrap").await;
    assert_eq!(status, 400);
    // Security keys are still allowed.
    register_through_api(&app, &bob, &SoftKey::new(), "general").await;
}

#[tokio::test]
async fn required_verification_is_asked_and_a_key_without_it_refused() {
    let app = spawn_app().await;
    let cy = user(&app, "cy").await;
    // A key without a PIN, registered while verification was only preferred.
    let no_pin = SoftKey::without_verification();
    register_through_api(&app, &cy, &no_pin, "general").await;
    key_settings(&app, json!({"userVerification": "required"})).await;

    let (status, body) = start_registration(&app, &cy, "general").await;
    assert_eq!(status, 200);
    let selection = &body["options"]["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["userVerification"], "required");
    let (status, body) = try_register(&app, &cy, &SoftKey::without_verification(), "general").await;
    assert_eq!(
        (status, refused(&body)),
        (
            400,
            (ATTESTATION.into(), format!("[unverified]{ATTESTATION}"))
        )
    );
    assert_eq!(
        try_register(&app, &cy, &SoftKey::new(), "general").await.0,
        200
    );

    // The key registered before, used without the person verified, is refused at the login.
    let (login, _) = two_factor_due(&app, "cy").await;
    let (_, body) = second_factor_start(&app, &login).await;
    assert_eq!(body["options"]["publicKey"]["userVerification"], "required");
    let (status, body) = key_login(&app, Some(&login), &no_pin.assert(&body["options"], 1)).await;
    assert_eq!(
        (status, refused(&body)),
        (
            421,
            (
                AUTHENTICATOR_DATA.into(),
                format!("[unverified]{AUTHENTICATOR_DATA}")
            )
        )
    );
    no_pin.verifies.set(true);
    let (_, body) = second_factor_start(&app, &login).await;
    let (status, body) = key_login(&app, Some(&login), &no_pin.assert(&body["options"], 2)).await;
    assert_eq!(status, 200, "{body}");
    let refusals = policy_refusals(&app).await;
    assert!(refusals.contains(&("user_not_verified".into(), "registration".into())));
    assert!(refusals.contains(&("user_not_verified".into(), "second_factor".into())));
}

#[tokio::test]
async fn an_administrator_who_must_use_a_key_is_offered_no_code_and_refused_one() {
    let app = spawn_app().await;
    let boss = app.create_user("boss", json!({"roles": ["admin"]})).await["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let (secret, recovery) = app.enroll_authenticator(&boss).await;
    let key = SoftKey::new();
    register_through_api(&app, &boss, &key, "general").await;
    let (_, body) = two_factor_due(&app, "boss").await;
    assert_eq!(listed(&body), ["authenticator", "webauthn"]);
    key_settings(&app, json!({"phishingResistantForAdmins": true})).await;

    let (login, body) = two_factor_due(&app, "boss").await;
    assert_eq!(listed(&body), ["webauthn"], "only keys");
    let response = app
        .finish_two_factor(
            &login,
            &oathtool(&secret, 0),
            json!({"trustComputer": true}),
        )
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(refused(&body), ("code".into(), "[keyRequired]code".into()));
    let response = app
        .post_json(&format!("/api/two-factor/send/{login}"), &json!({}))
        .await;
    assert_eq!(response.status(), 400, "no code is sent either");
    // The key finishes the login; a recovery code, the lost key's way, does too.
    let (_, options) = second_factor_start(&app, &login).await;
    let (status, body) = key_login(&app, Some(&login), &key.assert(&options["options"], 1)).await;
    assert_eq!(status, 200, "{body}");
    let (login, _) = two_factor_due(&app, "boss").await;
    let response = app.finish_two_factor(&login, &recovery[0], json!({})).await;
    assert_eq!(response.status(), 200);
    let refusals = policy_refusals(&app).await;
    assert!(
        refusals.contains(&("key_required".into(), "code".into())),
        "{refusals:?}"
    );
    assert!(
        refusals.contains(&("key_required".into(), "code_sent".into())),
        "{refusals:?}"
    );
}

#[tokio::test]
async fn a_member_of_a_group_that_must_use_a_key_enrols_one_and_no_code_method() {
    let app = spawn_app().await;
    let dee = user(&app, "dee").await;
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/group",
        json!({"group": {"name": "Operators"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let group = body["group"]["id"].as_str().expect("an id").to_owned();
    let members = json!({"members": {&group: [{"userId": dee}]}});
    assert_eq!(
        call(&app, Method::POST, "/api/group/member", members)
            .await
            .0,
        200
    );
    app.enroll_authenticator(&dee).await;
    key_settings(&app, json!({"phishingResistantForGroups": [group]})).await;

    // Her authenticator does not count: she must enrol a key, and only a key.
    let (login, body) = two_factor_due(&app, "dee").await;
    assert!(listed(&body).is_empty(), "{body}");
    let secret = tessera::otp::TotpSecret::generate().to_base32();
    let response = app
        .post_json(
            "/api/user/two-factor",
            &json!({"twoFactorId": login, "method": "authenticator",
                    "secretBase32Encoded": secret, "code": oathtool(&secret, 0)}),
        )
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(refused(&body).1, "[keyRequired]kind");

    // Her password alone does not add the key that would finish it: an administrator's
    // access code must let her enrol one.
    let at_login = |login: &str, workflow: &str| json!({"twoFactorId": login, "name": "A key", "workflow": workflow});
    let response = app
        .post_json("/api/webauthn/register/start", &at_login(&login, "general"))
        .await;
    assert_eq!(response.status(), 403);
    let body = response.text().await.expect("a body");
    assert!(
        body.contains("ask an administrator for an access code"),
        "{body}"
    );

    // A member with no second factor at all enrols a key during the login, of the kinds the
    // settings allow.
    key_settings(
        &app,
        json!({"phishingResistantForGroups": [group], "passkeys": false}),
    )
    .await;
    let eve = user(&app, "eve").await;
    let members = json!({"members": {&group: [{"userId": eve}]}});
    assert_eq!(
        call(&app, Method::POST, "/api/group/member", members)
            .await
            .0,
        200
    );
    let (login, _) = two_factor_due(&app, "eve").await;
    let response = app
        .post_json(
            "/api/webauthn/register/start",
            &at_login(&login, "bootstrap"),
        )
        .await;
    assert_eq!(response.status(), 400, "passkeys are switched off");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(refused(&body).1, "[disabled]workflow");
    let response = app
        .post_json("/api/webauthn/register/start", &at_login(&login, "general"))
        .await;
    assert_eq!(response.status(), 200);
    let options: Value = response.json().await.expect("JSON");
    let response = app
        .post_json(
            "/api/webauthn/register/complete",
            &json!({"twoFactorId": login, "credential": SoftKey::new().register(&options["options"]),
                    "origin": ORIGIN, "rpId": RP_ID}),
        )
        .await;
    let status = response.status();
    let done: Value = response.json().await.expect("JSON");
    assert_eq!(status, 200, "{done}");
    assert!(done["token"].is_string(), "{done}");
    // A group the settings name this way cannot be deleted.
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/group/{group}"),
        json!({}),
    )
    .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn bad_key_settings_are_refused_with_every_field_named() {
    let app = spawn_app().await;
    let (status, body) = call(
        &app,
        Method::PUT,
        "/api/system/two-factor",
        json!({"twoFactor": {"webauthn": {
            "securityKeys": false, "passkeys": false, "phishingResistantForAdmins": true,
            "phishingResistantForGroups": [uuid::Uuid::new_v4()],
            "allowedAaguids": [MODEL]}}}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let mut fields: Vec<&String> = body["fieldErrors"]
        .as_object()
        .expect("fields")
        .keys()
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "webauthn.allowedAaguids",
            "webauthn.phishingResistantForAdmins",
            "webauthn.phishingResistantForGroups"
        ]
    );
    // The change of the settings is audited as any.
    key_settings(&app, json!({"passkeys": false})).await;
    let changes = app.audit("event=settings.change").await;
    assert_eq!(
        changes[0]["details"]["value"]["webauthn"]["passkeys"],
        false
    );
}

/// A server whose configuration trusts `maker`'s root, allowing only `MODEL`.
async fn restricted_to_a_model(maker: &Maker) -> TestApp {
    let pem = maker.root_pem();
    let app = spawn_app_with(|config| {
        let path = config.data_dir.join("roots.pem");
        std::fs::write(&path, pem).expect("written");
        config.webauthn.attestation_roots_file = Some(path);
    })
    .await;
    key_settings(&app, json!({"allowedAaguids": [MODEL]})).await;
    app
}

#[tokio::test]
async fn only_a_model_attested_by_a_trusted_root_registers() {
    let maker = Maker::new("Trusted");
    let app = restricted_to_a_model(&maker).await;
    let eve = user(&app, "eve").await;
    let (_, body) = start_registration(&app, &eve, "general").await;
    assert_eq!(body["options"]["publicKey"]["attestation"], "direct");

    let not_allowed = (
        400,
        (ATTESTATION.to_owned(), format!("[notAllowed]{ATTESTATION}")),
    );
    // No attestation: the AAGUID would be only the key's claim.
    let (status, body) = try_register(&app, &eve, &SoftKey::new(), "general").await;
    assert_eq!((status, refused(&body)), not_allowed);
    // Another model of the trusted maker.
    let other = SoftKey::new();
    *other.attestation.borrow_mut() = Some(maker.attest(OTHER_MODEL));
    let (status, body) = try_register(&app, &eve, &other, "general").await;
    assert_eq!((status, refused(&body)), not_allowed);
    // The allowed model's AAGUID, attested by a maker the operator does not trust.
    let forged = SoftKey::new();
    *forged.attestation.borrow_mut() = Some(Maker::new("Forger").attest(MODEL));
    let (status, body) = try_register(&app, &eve, &forged, "general").await;
    assert_eq!((status, refused(&body)), not_allowed);
    assert_eq!(
        policy_refusals(&app).await,
        vec![
            (
                "authenticator_not_allowed".to_owned(),
                "registration".to_owned()
            );
            3
        ]
    );

    // The allowed model, attested by the trusted maker: a security key and a passkey.
    let good = SoftKey::new();
    *good.attestation.borrow_mut() = Some(maker.attest(MODEL));
    let (status, body) = try_register(&app, &eve, &good, "general").await;
    assert_eq!(status, 200, "{body}");
    let passkey = SoftKey::new();
    *passkey.attestation.borrow_mut() = Some(maker.attest(MODEL));
    let (status, body) = try_register(&app, &eve, &passkey, "bootstrap").await;
    assert_eq!(status, 200, "{body}");
    // The attested passkey signs in alone.
    let response = app
        .post_json("/api/webauthn/start", &json!({"workflow": "bootstrap"}))
        .await;
    let options = response.json::<Value>().await.expect("JSON")["options"].clone();
    let (status, body) = key_login(&app, None, &passkey.assert(&options, 1)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn the_console_shows_and_saves_the_key_settings_with_bad_models_named() {
    let app = spawn_app().await;
    app.put_two_factor_settings(json!({"webLoginPolicy": "enabled"}))
        .await;
    app.create_user("boss", json!({"roles": ["admin"]})).await;
    let mut admin = Browser::new();
    admin.log_in(&app, "boss", PASSWORD).await;
    let page = admin
        .get(&app, "/admin/settings")
        .await
        .text()
        .await
        .expect("text");
    assert!(
        page.contains(r#"name="passkeys" value="1" checked"#),
        "{page}"
    );
    let csrf = admin.csrf(&app).await;
    let form = |models: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("web_login_policy", "enabled".into()),
            ("api_login_policy", "required_for_admins".into()),
            ("authenticator", "1".into()),
            ("trust_days", "30".into()),
            ("max_code_attempts", "5".into()),
            ("challenge_ttl_seconds", "300".into()),
            ("required_for_groups", String::new()),
            ("security_keys", "1".into()),
            ("key_verification", "required".into()),
            ("keys_for_admins", "1".into()),
            ("allowed_aaguids", models.into()),
        ]
    };
    let bad = form("not-a-model");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = admin.post(&app, "/admin/settings", &bad).await;
    assert_eq!(refused.status(), 422);
    let said = refused.text().await.expect("text");
    assert!(said.contains("“not-a-model” is not an AAGUID"), "{said}");

    let good = form("");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        admin.post(&app, "/admin/settings", &good).await.status(),
        303
    );
    let keys = app
        .core
        .two_factor
        .two_factor_policy()
        .await
        .expect("settings")
        .webauthn;
    assert!(
        keys.security_keys && !keys.passkeys,
        "an unticked box switches off"
    );
    assert!(keys.phishing_resistant_for_admins);
    assert_eq!(
        keys.user_verification,
        tessera::key_policy::UserVerification::Required
    );
}

#[tokio::test]
async fn a_user_whose_only_key_is_of_a_kind_switched_off_enrols_another_at_login() {
    let app = spawn_app().await;
    let ivy = user(&app, "ivy").await;
    register_through_api(&app, &ivy, &SoftKey::new(), "general").await;
    app.put_two_factor_settings(json!({"apiLoginPolicy": "required",
                                       "webauthn": {"securityKeys": false}}))
        .await;
    // Her security key neither finishes the login nor stands in the way of a passkey.
    let (login, body) = two_factor_due(&app, "ivy").await;
    assert!(listed(&body).is_empty(), "{body}");
    let response = app
        .post_json(
            "/api/webauthn/register/start",
            &json!({"twoFactorId": login, "name": "Phone", "workflow": "bootstrap"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let options: Value = response.json().await.expect("JSON");
    let response = app
        .post_json(
            "/api/webauthn/register/complete",
            &json!({"twoFactorId": login, "credential": SoftKey::new().register(&options["options"]),
                    "origin": ORIGIN, "rpId": RP_ID}),
        )
        .await;
    let status = response.status();
    let done: Value = response.json().await.expect("JSON");
    assert_eq!(status, 200, "{done}");
    assert!(done["token"].is_string(), "{done}");
}
