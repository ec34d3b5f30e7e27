//! Security keys through the JSON API in FusionAuth's WebAuthn shapes: registration with a
//! software key (tests/api/soft_key.rs), the list, removal, and every bad answer refused with
//! its field and nothing written.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, all_at_once, spawn_app, spawn_app_with, tally};
use crate::soft_key::{Making, ORIGIN, RP_ID, SoftKey, b64};

async fn start(app: &TestApp, user_id: &str, name: &str) -> Value {
    let response = app
        .with_key(Method::POST, "/api/webauthn/register/start")
        .json(&json!({
            "userId": user_id, "displayName": "Ann", "name": name,
            "userAgent": "tests", "workflow": "general",
        }))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.expect("JSON")["options"].clone()
}

async fn complete(app: &TestApp, user_id: &str, credential: &Value) -> (u16, Value) {
    complete_as(app, user_id, credential, ORIGIN, RP_ID).await
}

async fn complete_as(
    app: &TestApp,
    user_id: &str,
    credential: &Value,
    origin: &str,
    rp_id: &str,
) -> (u16, Value) {
    let response = app
        .with_key(Method::POST, "/api/webauthn/register/complete")
        .json(&json!({
            "userId": user_id, "credential": credential, "origin": origin, "rpId": rp_id,
        }))
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn keys_of(app: &TestApp, user_id: &str) -> Vec<Value> {
    let response = app
        .with_key(Method::GET, &format!("/api/webauthn?userId={user_id}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    body["credentials"].as_array().cloned().expect("a list")
}

/// The one field a 400 names, and its code.
fn refused_field(body: &Value) -> (String, String) {
    let fields = body["fieldErrors"].as_object().expect("field errors");
    assert_eq!(fields.len(), 1, "{body}");
    let (field, errors) = fields.iter().next().expect("one");
    (
        field.clone(),
        errors[0]["code"].as_str().expect("code").to_owned(),
    )
}

async fn user(app: &TestApp, name: &str) -> String {
    app.create_user(name, json!({})).await["id"]
        .as_str()
        .expect("an id")
        .to_owned()
}

#[tokio::test]
async fn a_key_registers_once_is_listed_then_removed() {
    let app = spawn_app().await;
    let ann = user(&app, "ann").await;
    let options = start(&app, &ann, "  YubiKey  ").await;
    let public_key = &options["publicKey"];
    assert_eq!(public_key["rp"]["id"], RP_ID);
    assert_eq!(public_key["attestation"], "none");
    assert_eq!(
        public_key["authenticatorSelection"]["userVerification"],
        "preferred"
    );
    assert_eq!(public_key["user"]["name"], "ann");
    assert_eq!(public_key["user"]["displayName"], "Ann");

    let key = SoftKey::new();
    let (status, body) = complete(&app, &ann, &key.register(&options)).await;
    assert_eq!(status, 200, "{body}");
    let credential = &body["credential"];
    assert_eq!(credential["name"], "YubiKey");
    assert_eq!(credential["userId"], ann.as_str());
    assert_eq!(credential["credentialId"], b64(&key.credential_id));
    assert_eq!(credential["discoverable"], false);
    let id = credential["id"].as_str().expect("an id").to_owned();

    let listed = keys_of(&app, &ann).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    assert!(listed[0]["insertInstant"].as_i64().is_some());
    let events = app.audit("event=webauthn.register").await;
    assert_eq!(events.len(), 1);

    // The next registration excludes the key already there.
    let again = start(&app, &ann, "Spare").await;
    let excluded = again["publicKey"]["excludeCredentials"]
        .as_array()
        .expect("excluded keys");
    assert_eq!(excluded.len(), 1);
    assert_eq!(excluded[0]["id"], b64(&key.credential_id));
    // …and the same key again is refused.
    let (status, body) = complete(&app, &ann, &key.register(&again)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(keys_of(&app, &ann).await.len(), 1);

    let deleted = app
        .with_key(Method::DELETE, &format!("/api/webauthn/{id}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 200);
    assert!(keys_of(&app, &ann).await.is_empty());
    let removed = app.audit("event=webauthn.delete").await;
    assert_eq!(removed.len(), 1);
    assert_eq!(
        removed[0]["details"]["kind"], "security_key",
        "the notice names the kind: {removed:?}"
    );
    let again = app
        .with_key(Method::DELETE, &format!("/api/webauthn/{id}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(again.status(), 404);
}

#[tokio::test]
async fn a_challenge_answers_once_even_when_the_answers_arrive_together() {
    let app = spawn_app().await;
    let ann = user(&app, "ann").await;
    let options = start(&app, &ann, "YubiKey").await;
    let answer = SoftKey::new().register(&options);
    let requests: Vec<_> = (0..10)
        .map(|_| {
            let (client, url, key) = (
                app.client.clone(),
                app.url("/api/webauthn/register/complete"),
                app.api_key.clone(),
            );
            let body =
                json!({"userId": ann, "credential": answer, "origin": ORIGIN, "rpId": RP_ID});
            async move {
                let response = client
                    .post(url)
                    .header("Authorization", key)
                    .json(&body)
                    .send()
                    .await
                    .expect("sent");
                response.status().as_u16()
            }
        })
        .collect();
    assert_eq!(tally(&all_at_once(requests).await), "1×200, 9×400");
    assert_eq!(keys_of(&app, &ann).await.len(), 1);

    // Afterwards, the same answer once more: the challenge is spent.
    let (status, body) = complete(&app, &ann, &answer).await;
    assert_eq!(status, 400);
    assert_eq!(
        refused_field(&body),
        (
            "credential.response.clientDataJSON".into(),
            "[invalid]credential.response.clientDataJSON".into()
        )
    );
    assert_eq!(app.audit("event=webauthn.register").await.len(), 1);
}

#[tokio::test]
async fn answers_made_elsewhere_or_for_another_are_refused_and_nothing_is_kept() {
    let app = spawn_app().await;
    let ann = user(&app, "ann").await;
    let bob = user(&app, "bob").await;
    let key = SoftKey::new();
    let attestation = "credential.response.attestationObject";
    let client_data = "credential.response.clientDataJSON";

    let cases: Vec<(Making, &str)> = vec![
        (
            Making {
                origin: "https://evil.example".into(),
                ..Making::default()
            },
            client_data,
        ),
        (
            Making {
                rp_id: "evil.example".into(),
                ..Making::default()
            },
            attestation,
        ),
        (
            Making {
                kind: "webauthn.get".into(),
                ..Making::default()
            },
            client_data,
        ),
    ];
    for (making, field) in cases {
        let options = start(&app, &ann, "YubiKey").await;
        let (status, body) = complete(&app, &ann, &key.register_with(&options, &making)).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(refused_field(&body).0, field, "{body}");
        // Refused, the challenge is still good for the right answer... by its own user only.
        if field == attestation {
            let answer = key.register(&options);
            let (status, body) = complete(&app, &bob, &answer).await;
            assert_eq!(status, 400);
            assert_eq!(refused_field(&body).0, client_data);
            assert!(body.to_string().contains("another user"), "{body}");
        }
    }

    // The body's own claims must be this server's.
    let options = start(&app, &ann, "YubiKey").await;
    let answer = key.register(&options);
    let (status, body) = complete_as(&app, &ann, &answer, "https://evil.example", RP_ID).await;
    assert_eq!((status, refused_field(&body).0), (400, "origin".into()));
    let (status, body) = complete_as(&app, &ann, &answer, ORIGIN, "example.com").await;
    assert_eq!((status, refused_field(&body).0), (400, "rpId".into()));

    // Malformed parts: bad base64url, CBOR that is not an attestation, JSON that is not client
    // data, a challenge never given.
    let mut garbage_cbor = answer.clone();
    garbage_cbor["response"]["attestationObject"] = json!(b64(b"\xff\x00garbage"));
    let mut bad_base64 = answer.clone();
    bad_base64["response"]["attestationObject"] = json!("not*base64");
    let mut not_json = answer.clone();
    not_json["response"]["clientDataJSON"] = json!(b64(b"{\"challenge\":"));
    let mut unknown = answer.clone();
    unknown["response"]["clientDataJSON"] = json!(b64(
        json!({"type": "webauthn.create", "challenge": b64(b"never given"), "origin": ORIGIN})
            .to_string()
            .as_bytes()
    ));
    for (credential, field) in [
        (&garbage_cbor, attestation),
        (&bad_base64, attestation),
        (&not_json, client_data),
        (&unknown, client_data),
    ] {
        let (status, body) = complete(&app, &ann, credential).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(refused_field(&body).0, field, "{body}");
    }

    // Not a credential at all, or not JSON: refused by name.
    let (status, _) = complete(&app, &ann, &json!({"id": "AQID"})).await;
    assert_eq!(status, 400);
    let response = app
        .with_key(Method::POST, "/api/webauthn/register/complete")
        .header("Content-Type", "application/json")
        .body("{\"userId\": ")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);

    assert!(keys_of(&app, &ann).await.is_empty());
    assert!(keys_of(&app, &bob).await.is_empty());
    assert!(app.audit("event=webauthn.register").await.is_empty());

    // After all that, the last challenge still takes its right answer.
    let (status, body) = complete(&app, &ann, &answer).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_start_names_what_it_refuses() {
    let app = spawn_app().await;
    let ann = user(&app, "ann").await;
    for (body, field) in [
        (
            json!({"userId": ann, "name": " ", "workflow": "general"}),
            "name",
        ),
        (
            json!({"userId": ann, "name": "x".repeat(65), "workflow": "general"}),
            "name",
        ),
        (
            json!({"userId": ann, "name": "Key", "workflow": "passwordless"}),
            "workflow",
        ),
        (
            json!({"userId": "nope", "name": "Key", "workflow": "general"}),
            "userId",
        ),
        (
            json!({"userId": "00000000-0000-4000-8000-000000000000", "name": "Key", "workflow": "general"}),
            "userId",
        ),
    ] {
        let response = app
            .with_key(Method::POST, "/api/webauthn/register/start")
            .json(&body)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 400, "{body}");
        let answer: Value = response.json().await.expect("JSON");
        assert_eq!(refused_field(&answer).0, field, "{answer}");
    }
    let no_key = app
        .post_json(
            "/api/webauthn/register/start",
            &json!({"userId": ann, "name": "Key", "workflow": "general"}),
        )
        .await;
    assert_eq!(no_key.status(), 401);
}

#[tokio::test]
async fn without_a_domain_name_webauthn_is_off() {
    let app = spawn_app_with(|config| config.public_url = Some("http://127.0.0.1:9".into())).await;
    let ann = user(&app, "ann").await;
    let response = app
        .with_key(Method::POST, "/api/webauthn/register/start")
        .json(&json!({"userId": ann, "name": "Key", "workflow": "general"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["generalErrors"][0]["code"], "[WebAuthnDisabled]");
}

#[tokio::test]
async fn check_config_refuses_an_rp_id_the_public_url_is_not_under() {
    let cli = crate::helpers::Cli::new().await;
    let check = |rp_id: &str| {
        cli.command()
            .arg("check-config")
            .env("TESSERA_PUBLIC_URL", "https://login.example.com")
            .env("TESSERA_WEBAUTHN__RP_ID", rp_id)
            .output()
            .unwrap()
    };
    let refused = check("example.org");
    assert!(!refused.status.success());
    let said = String::from_utf8(refused.stderr).unwrap();
    assert!(said.contains("webauthn.rp_id = \"example.org\""), "{said}");
    assert!(check("example.com").status.success());
}

async fn assert_start(app: &TestApp, user_id: &str) -> (u16, Value) {
    let response = app
        .with_key(Method::POST, "/api/webauthn/start")
        .json(&json!({"userId": user_id, "workflow": "general"}))
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn assert_answer(app: &TestApp, credential: &Value) -> (u16, Value) {
    let response = app
        .with_key(Method::POST, "/api/webauthn/assert")
        .json(&json!({"credential": credential, "origin": ORIGIN, "rpId": RP_ID}))
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn registered(app: &TestApp, user_id: &str) -> SoftKey {
    let key = SoftKey::new();
    let options = start(app, user_id, "YubiKey").await;
    let (status, body) = complete(app, user_id, &key.register(&options)).await;
    assert_eq!(status, 200, "{body}");
    key
}

#[tokio::test]
async fn an_assertion_moves_the_counter_forward_once_and_a_clone_is_refused_and_audited() {
    let app = spawn_app().await;
    let ann = user(&app, "ann").await;
    let (status, body) = assert_start(&app, &ann).await;
    assert_eq!(
        (status, refused_field(&body).1),
        (400, "[noKeys]userId".into())
    );
    let key = registered(&app, &ann).await;

    let (status, started) = assert_start(&app, &ann).await;
    assert_eq!(status, 200, "{started}");
    let options = &started["options"];
    assert_eq!(
        options["publicKey"]["allowCredentials"][0]["id"],
        b64(&key.credential_id)
    );
    let answer = key.assert(options, 3);
    let (status, body) = assert_answer(&app, &answer).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["credential"]["signCount"], 3);
    assert!(body["credential"]["lastUseInstant"].as_i64().is_some());
    // The same assertion again: its challenge is spent.
    let (status, body) = assert_answer(&app, &answer).await;
    assert_eq!(status, 400);
    assert_eq!(refused_field(&body).0, "credential.response.clientDataJSON");

    // A clone signs with a counter that does not move forward: refused, audited, unchanged.
    for stale in [3, 2] {
        let (_, started) = assert_start(&app, &ann).await;
        let (status, body) = assert_answer(&app, &key.assert(&started["options"], stale)).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            refused_field(&body).1,
            "[cloned]credential.response.authenticatorData"
        );
    }
    // Two challenges given while the counter stood at 3: the library passes both answers, the
    // store's conditional statement refuses the one whose counter the other already passed.
    let (_, first) = assert_start(&app, &ann).await;
    let (_, second) = assert_start(&app, &ann).await;
    let (status, _) = assert_answer(&app, &key.assert(&first["options"], 5)).await;
    assert_eq!(status, 200);
    let (status, body) = assert_answer(&app, &key.assert(&second["options"], 4)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        refused_field(&body).1,
        "[cloned]credential.response.authenticatorData"
    );
    assert_eq!(app.audit("event=webauthn.clone_refused").await.len(), 3);
    assert_eq!(keys_of(&app, &ann).await[0]["signCount"], 5);

    // Wrong origin, another relying party, a signature that does not verify.
    let (_, started) = assert_start(&app, &ann).await;
    let options = &started["options"];
    let elsewhere = key.assert_with(
        options,
        9,
        &Making {
            origin: "https://evil.example".into(),
            kind: "webauthn.get".into(),
            ..Making::default()
        },
    );
    let (status, body) = assert_answer(&app, &elsewhere).await;
    assert_eq!((status, refused_field(&body).0), (400, CLIENT_DATA.into()));
    let other_rp = key.assert_with(
        options,
        9,
        &Making {
            rp_id: "evil.example".into(),
            kind: "webauthn.get".into(),
            ..Making::default()
        },
    );
    let (status, body) = assert_answer(&app, &other_rp).await;
    assert_eq!(
        (status, refused_field(&body).0),
        (400, "credential.response.authenticatorData".into())
    );
    let mut forged = key.assert(options, 9);
    forged["response"]["signature"] =
        SoftKey::new().assert(options, 9)["response"]["signature"].clone();
    let (status, body) = assert_answer(&app, &forged).await;
    assert_eq!(
        (status, refused_field(&body).0),
        (400, "credential.response.signature".into())
    );
    assert_eq!(keys_of(&app, &ann).await[0]["signCount"], 5);
    // After all that, the challenge still takes its right answer.
    let (status, body) = assert_answer(&app, &key.assert(options, 9)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.audit("event=webauthn.assert").await.len(), 3);
}

const CLIENT_DATA: &str = "credential.response.clientDataJSON";

#[tokio::test]
async fn twenty_identical_assertions_at_once_count_once() {
    let app = spawn_app().await;
    let ann = user(&app, "ann").await;
    let key = registered(&app, &ann).await;
    let (_, started) = assert_start(&app, &ann).await;
    let answer = key.assert(&started["options"], 1);
    let requests: Vec<_> = (0..20)
        .map(|_| {
            let (client, url, api_key) = (
                app.client.clone(),
                app.url("/api/webauthn/assert"),
                app.api_key.clone(),
            );
            let body = json!({"credential": answer, "origin": ORIGIN, "rpId": RP_ID});
            async move {
                client
                    .post(url)
                    .header("Authorization", api_key)
                    .json(&body)
                    .send()
                    .await
                    .expect("sent")
                    .status()
                    .as_u16()
            }
        })
        .collect();
    assert_eq!(tally(&all_at_once(requests).await), "1×200, 19×400");
    assert_eq!(app.audit("event=webauthn.assert").await.len(), 1);
    assert_eq!(keys_of(&app, &ann).await[0]["signCount"], 1);
}
