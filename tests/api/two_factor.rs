//! Two-factor login through the API, with the real `oathtool` as the authenticator app.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, oathtool, spawn_app};

pub(crate) fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

pub(crate) async fn user_with_authenticator(
    app: &TestApp,
    name: &str,
) -> (String, String, Vec<String>) {
    let user = app.create_user(name, json!({})).await;
    let id = user["id"].as_str().unwrap().to_owned();
    let (secret, codes) = app.enroll_authenticator(&id).await;
    assert_eq!(codes.len(), 10);
    (id, secret, codes)
}

#[tokio::test]
async fn the_whole_flow_works_with_oathtool_as_the_authenticator_app() {
    let app = spawn_app().await;
    app.create_user("ann", json!({})).await;

    // Before two-factor: the password alone logs in.
    let (status, login) = app
        .login_json(json!({"loginId": "ann", "password": PASSWORD}))
        .await;
    assert_eq!(status, 200);
    let token = login["token"].as_str().unwrap().to_owned();

    // The user asks for a secret and enables an authenticator with its first code.
    let secret: Value = app
        .client
        .get(app.url("/api/two-factor/secret"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let base32 = secret["secretBase32Encoded"].as_str().unwrap().to_owned();
    let base64 = secret["secret"].as_str().unwrap();
    assert_eq!(
        tessera::otp::TotpSecret::from_base64(base64).unwrap(),
        tessera::otp::TotpSecret::from_base32(&base32).unwrap(),
        "both encodings carry the same key"
    );
    let enabled = app
        .client
        .post(app.url("/api/user/two-factor"))
        .bearer_auth(&token)
        .json(
            &json!({"method": "authenticator", "code": oathtool(&base32, 0),
                      "secretBase32Encoded": base32, "name": "Phone"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.status(), 200);
    let enabled: Value = enabled.json().await.unwrap();
    let recovery: Vec<String> = enabled["recoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    assert!(recovery.iter().all(|c| c.len() == 11 && &c[5..6] == "-"));

    // Now the password answers 242 with the method to use.
    let (status, challenge) = app
        .login_json(json!({"loginId": "ann", "password": PASSWORD}))
        .await;
    assert_eq!(status, 242);
    let method = &challenge["methods"][0];
    assert_eq!(method["method"], "authenticator");
    assert_eq!(method["name"], "Phone");
    assert_eq!(
        method["authenticator"],
        json!({"algorithm": "HmacSHA1", "codeLength": 6, "timeStep": 30})
    );
    assert!(challenge.to_string().find(&base32).is_none());

    // The next code from the app finishes the login. (The enabling code's step is spent.)
    let code = oathtool(&base32, 30);
    let done = app
        .finish_two_factor(challenge["twoFactorId"].as_str().unwrap(), &code, json!({}))
        .await;
    assert_eq!(done.status(), 200);
    let done: Value = done.json().await.unwrap();
    let claims: Value = app
        .client
        .get(app.url("/api/jwt/validate"))
        .bearer_auth(done["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(claims["jwt"]["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(done["user"]["twoFactor"]["methods"][0]["lastUsed"], true);

    // The same code never works twice.
    let again = app.start_two_factor("ann").await;
    assert_eq!(
        app.finish_two_factor(&again, &code, json!({}))
            .await
            .status(),
        421
    );

    // A recovery code works once, in place of a code.
    let with_recovery = app.finish_two_factor(&again, &recovery[0], json!({})).await;
    assert_eq!(with_recovery.status(), 200);
    let third = app.start_two_factor("ann").await;
    assert_eq!(
        app.finish_two_factor(&third, &recovery[0], json!({}))
            .await
            .status(),
        421
    );

    // Trusting this computer skips the challenge next time...
    let trusted = app
        .finish_two_factor(
            &third,
            &recovery[1].to_lowercase(),
            json!({"trustComputer": true}),
        )
        .await;
    assert_eq!(trusted.status(), 200);
    let trust_id = trusted.json::<Value>().await.unwrap()["twoFactorTrustId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, login) = app
        .login_json(json!({"loginId": "ann", "password": PASSWORD, "twoFactorTrustId": trust_id}))
        .await;
    assert_eq!(status, 200, "{login}");

    // ...until the password changes.
    let id = login["user"]["id"].as_str().unwrap();
    let changed = app
        .with_key(Method::PATCH, &format!("/api/user/{id}"))
        .json(&json!({"user": {"password": "a new long password"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let (status, _) = app
        .login_json(json!({"loginId": "ann", "password": "a new long password", "twoFactorTrustId": trust_id}))
        .await;
    assert_eq!(status, 242);
}

#[tokio::test]
async fn five_wrong_codes_kill_a_challenge() {
    let app = spawn_app().await;
    let (_, secret, _) = user_with_authenticator(&app, "dee").await;
    let challenge = app.start_two_factor("dee").await;
    for _ in 0..5 {
        assert_eq!(
            app.finish_two_factor(&challenge, "000000", json!({}))
                .await
                .status(),
            421
        );
    }
    let right = oathtool(&secret, 30);
    assert_eq!(
        app.finish_two_factor(&challenge, &right, json!({}))
            .await
            .status(),
        404
    );
    // A fresh login still works with the right code.
    let fresh = app.start_two_factor("dee").await;
    assert_eq!(
        app.finish_two_factor(&fresh, &right, json!({}))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn many_failures_block_new_challenges_until_the_window_passes_but_never_the_password_check() {
    let app = spawn_app().await;
    let (id, secret, _) = user_with_authenticator(&app, "fay").await;
    for _ in 0..2 {
        let challenge = app.start_two_factor("fay").await;
        for _ in 0..5 {
            app.finish_two_factor(&challenge, "123123", json!({})).await;
        }
    }
    // Ten failures: the next right password gets no challenge.
    let (status, body) = app
        .login_json(json!({"loginId": "fay", "password": PASSWORD}))
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(
        body["generalErrors"][0]["code"],
        "[TooManyTwoFactorFailures]"
    );
    // The password check is not locked: a wrong password still reads as a wrong password.
    assert_eq!(app.login("fay", "wrong password").await.status(), 404);
    assert_eq!(app.audit("event=two_factor.blocked").await.len(), 1);

    // Once the failures are older than the window (15 minutes), challenges open again.
    sqlx::query("UPDATE two_factor_failures SET at = at - 901000 WHERE user_id = $1")
        .bind(id)
        .execute(app.core.store.pool())
        .await
        .unwrap();
    let challenge = app.start_two_factor("fay").await;
    let done = app
        .finish_two_factor(&challenge, &oathtool(&secret, 30), json!({}))
        .await;
    assert_eq!(done.status(), 200);
}

#[tokio::test]
async fn an_expired_challenge_is_gone() {
    let app = spawn_app().await;
    let (_, secret, _) = user_with_authenticator(&app, "gus").await;
    let challenge = app.start_two_factor("gus").await;
    sqlx::query("UPDATE login_challenges SET expires_at = 0")
        .execute(app.core.store.pool())
        .await
        .unwrap();
    let response = app
        .finish_two_factor(&challenge, &oathtool(&secret, 30), json!({}))
        .await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        app.finish_two_factor("made-up", "123456", json!({}))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn enabling_checks_the_secret_and_the_code_before_storing_anything() {
    let app = spawn_app().await;
    let user = app.create_user("hal", json!({})).await;
    let id = user["id"].as_str().unwrap();
    let secret = tessera::otp::TotpSecret::generate().to_base32();
    let path = format!("/api/user/two-factor/{id}");
    let cases = [
        (
            json!({"method": "authenticator", "code": "123456", "secretBase32Encoded": "not base32!"}),
            400,
            Some("secretBase32Encoded"),
        ),
        (
            json!({"method": "authenticator", "code": "123456", "secretBase32Encoded": "GEZDGNBVGY3TQOJQGEZDGNBV"}),
            400,
            Some("secretBase32Encoded"),
        ),
        (
            json!({"method": "authenticator", "code": "12ab56", "secretBase32Encoded": secret}),
            400,
            Some("code"),
        ),
        (
            json!({"method": "authenticator", "code": "1234567", "secretBase32Encoded": secret}),
            400,
            Some("code"),
        ),
        (
            json!({"method": "carrier-pigeon", "code": "123456", "secretBase32Encoded": secret}),
            400,
            Some("method"),
        ),
        (
            json!({"method": "authenticator", "code": "123456"}),
            400,
            Some("secretBase32Encoded"),
        ),
        (
            json!({"method": "authenticator", "code": "123456", "secretBase32Encoded": secret, "extra": 1}),
            400,
            Some("extra"),
        ),
        (
            json!({"method": "authenticator", "code": wrong_code(&secret), "secretBase32Encoded": secret}),
            421,
            None,
        ),
    ];
    for (body, status, field) in cases {
        let response = app
            .with_key(Method::POST, &path)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{body}");
        if let Some(field) = field {
            let errors: Value = response.json().await.unwrap();
            assert!(errors["fieldErrors"][field].is_array(), "{body}: {errors}");
        }
    }
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM two_factor_methods")
        .fetch_one(app.core.store.pool())
        .await
        .unwrap();
    assert_eq!(stored, 0);
    let bad_user = app
        .with_key(Method::POST, "/api/user/two-factor/not-a-uuid")
        .json(&json!({"code": "123456", "secretBase32Encoded": secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_user.status(), 400);
    let missing_user = app
        .with_key(
            Method::POST,
            &format!("/api/user/two-factor/{}", uuid::Uuid::new_v4()),
        )
        .json(&json!({"code": oathtool(&secret, 0), "secretBase32Encoded": secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing_user.status(), 404);
}

/// A six-digit code that is not the current, previous or next one.
pub(crate) fn wrong_code(secret: &str) -> String {
    let near: Vec<String> = [-30, 0, 30].iter().map(|o| oathtool(secret, *o)).collect();
    (0..)
        .map(|n: u32| format!("{:06}", n * 7919 % 1_000_000))
        .find(|c| !near.contains(c))
        .unwrap()
}

#[tokio::test]
async fn the_legacy_enable_shape_of_seed_004_is_accepted() {
    let app = spawn_app().await;
    let user = app.create_user("ida", json!({})).await;
    let id = user["id"].as_str().unwrap();
    let secret = tessera::otp::TotpSecret::generate();
    let response = app
        .with_key(Method::POST, &format!("/api/user/two-factor/{id}"))
        .json(&json!({"code": oathtool(&secret.to_base32(), 0), "delivery": "None", "secret": secret.to_base64()}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = app
        .with_key(Method::POST, &format!("/api/user/two-factor/{id}"))
        .json(&json!({"code": "123456", "delivery": "Carrier", "secret": secret.to_base64()}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn methods_show_on_the_user_without_any_secret_and_a_second_one_brings_no_new_codes() {
    let app = spawn_app().await;
    let (id, secret, _) = user_with_authenticator(&app, "jo").await;
    let second = tessera::otp::TotpSecret::generate().to_base32();
    let response: Value = app
        .with_key(Method::POST, &format!("/api/user/two-factor/{id}"))
        .json(&json!({"method": "authenticator", "code": oathtool(&second, 0), "secretBase32Encoded": second, "name": "Tablet"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(response.get("recoveryCodes").is_none(), "{response}");
    let user: Value = app
        .with_key(Method::GET, &format!("/api/user/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let methods = user["user"]["twoFactor"]["methods"].as_array().unwrap();
    let names: Vec<&str> = methods
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Phone", "Tablet"]);
    let text = user.to_string();
    assert!(!text.contains(&secret) && !text.contains(&second));

    // Either authenticator finishes a login.
    let challenge = app.start_two_factor("jo").await;
    let done = app
        .finish_two_factor(&challenge, &oathtool(&second, 30), json!({}))
        .await;
    assert_eq!(done.status(), 200);
}

#[tokio::test]
async fn a_method_is_removed_with_its_code_and_a_recovery_code_removes_them_all() {
    let app = spawn_app().await;
    let (id, secret, recovery) = user_with_authenticator(&app, "kim").await;
    let second = tessera::otp::TotpSecret::generate().to_base32();
    app.with_key(Method::POST, &format!("/api/user/two-factor/{id}"))
        .json(&json!({"code": oathtool(&second, 0), "secretBase32Encoded": second}))
        .send()
        .await
        .unwrap();
    let methods = app
        .core
        .two_factor
        .user_methods(tessera::domain::UserId::parse(&id).unwrap())
        .await
        .unwrap();
    let (first_id, second_id) = (methods[0].id.to_string(), methods[1].id.to_string());

    let delete = |query: String| {
        app.with_key(
            Method::DELETE,
            &format!("/api/user/two-factor/{id}?{query}"),
        )
        .send()
    };
    assert_eq!(
        delete(format!("methodId={first_id}&code={}", wrong_code(&secret)))
            .await
            .unwrap()
            .status(),
        421
    );
    assert_eq!(
        delete("methodId=NOPE&code=123456".to_owned())
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        delete(format!("methodId={first_id}"))
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        delete(format!(
            "methodId={first_id}&code={}",
            oathtool(&secret, 30)
        ))
        .await
        .unwrap()
        .status(),
        200
    );
    assert_eq!(
        app.core
            .two_factor
            .user_methods(tessera::domain::UserId::parse(&id).unwrap())
            .await
            .unwrap()
            .len(),
        1
    );

    // Another user's method id is not this user's.
    let other = app.create_user("lee", json!({})).await;
    let other_id = other["id"].as_str().unwrap();
    let response = app
        .with_key(
            Method::DELETE,
            &format!(
                "/api/user/two-factor/{other_id}?methodId={second_id}&code={}",
                recovery[0]
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    assert_eq!(
        delete(format!("methodId={second_id}&code={}", recovery[0]))
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(
        app.core
            .two_factor
            .user_methods(tessera::domain::UserId::parse(&id).unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    let (status, _) = app
        .login_json(json!({"loginId": "kim", "password": PASSWORD}))
        .await;
    assert_eq!(status, 200, "no method left: the password alone logs in");
    let kinds: Vec<String> = app
        .audit(&format!("userId={id}&event=two_factor.disable"))
        .await
        .iter()
        .map(|e| {
            e["details"]["methodId"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or("all".into())
        })
        .collect();
    assert_eq!(kinds, ["all".to_owned(), first_id]);
}

#[tokio::test]
async fn new_recovery_codes_replace_the_old_ones() {
    let app = spawn_app().await;
    let (id, _, old) = user_with_authenticator(&app, "max").await;
    let response: Value = app
        .with_key(
            Method::POST,
            &format!("/api/user/two-factor/recovery-code/{id}"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new: Vec<String> = response["recoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(new.len(), 10);
    let challenge = app.start_two_factor("max").await;
    assert_eq!(
        app.finish_two_factor(&challenge, &old[0], json!({}))
            .await
            .status(),
        421
    );
    assert_eq!(
        app.finish_two_factor(&challenge, &new[0], json!({}))
            .await
            .status(),
        200
    );

    let nobody = app.create_user("ned", json!({})).await;
    let response = app
        .with_key(
            Method::POST,
            &format!(
                "/api/user/two-factor/recovery-code/{}",
                nobody["id"].as_str().unwrap()
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        400,
        "no recovery codes without two-factor"
    );
}

#[tokio::test]
async fn changing_two_factor_settings_as_the_user_needs_a_recent_login_with_the_second_factor() {
    let app = spawn_app().await;
    let (id, secret, recovery) = user_with_authenticator(&app, "val").await;

    // A login that used the second factor may change things...
    let challenge = app.start_two_factor("val").await;
    let done: Value = app
        .finish_two_factor(
            &challenge,
            &oathtool(&secret, 30),
            json!({"trustComputer": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    let fresh = done["token"].as_str().unwrap().to_owned();
    let regenerate = |token: String| {
        app.client
            .post(app.url("/api/user/two-factor/recovery-code"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(regenerate(fresh.clone()).await.unwrap().status(), 200);

    // ...one that skipped it on a trusted computer may not...
    let (status, trusted_login) = app
        .login_json(json!({"loginId": "val", "password": PASSWORD, "twoFactorTrustId": done["twoFactorTrustId"]}))
        .await;
    assert_eq!(status, 200);
    let response = regenerate(trusted_login["token"].as_str().unwrap().to_owned())
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["generalErrors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("log in again")
    );

    // ...and neither may a login older than ten minutes: the session's, as stored, counts.
    let claims: Value = app
        .client
        .get(app.url("/api/jwt/validate"))
        .bearer_auth(&fresh)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sid = claims["jwt"]["sid"].as_str().unwrap();
    let amr: Vec<String> = serde_json::from_value(claims["jwt"]["amr"].clone()).unwrap();
    let long_ago = tessera::clock::Instant::now().plus_seconds(-11 * 60);
    app.core
        .store
        .sessions()
        .reauthenticate_session(sid, &amr, long_ago, None)
        .await
        .unwrap();
    let stale = fresh.clone();
    assert_eq!(regenerate(stale.clone()).await.unwrap().status(), 403);
    let methods = app
        .core
        .two_factor
        .user_methods(tessera::domain::UserId::parse(&id).unwrap())
        .await
        .unwrap();
    let disable = app
        .client
        .delete(app.url(&format!(
            "/api/user/two-factor?methodId={}&code={}",
            methods[0].id, recovery[0]
        )))
        .bearer_auth(&stale)
        .send()
        .await
        .unwrap();
    assert_eq!(disable.status(), 403);
    assert_eq!(
        app.core
            .two_factor
            .user_methods(tessera::domain::UserId::parse(&id).unwrap())
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        regenerate("not a token".into()).await.unwrap().status(),
        401
    );
}

#[tokio::test]
async fn malformed_second_factor_requests_are_precise_400s() {
    let app = spawn_app().await;
    user_with_authenticator(&app, "wes").await;
    let challenge = app.start_two_factor("wes").await;
    for code in ["", "abc", "12", "12345678901", "QJD73-L6GR"] {
        let response = app.finish_two_factor(&challenge, code, json!({})).await;
        assert_eq!(response.status(), 400, "{code:?}");
        let errors: Value = response.json().await.unwrap();
        assert!(
            errors["fieldErrors"]["code"].is_array(),
            "{code:?}: {errors}"
        );
    }
    let response = app
        .post_json("/api/two-factor/login", &json!({"twoFactorId": challenge}))
        .await;
    assert_eq!(response.status(), 400);
    // Malformed codes used no attempt: five wrong ones are still allowed.
    for _ in 0..5 {
        assert_eq!(
            app.finish_two_factor(&challenge, "000001", json!({}))
                .await
                .status(),
            421
        );
    }
}

#[tokio::test]
async fn secrets_rest_encrypted_and_recovery_codes_hashed() {
    let app = spawn_app().await;
    let (_, secret, recovery) = user_with_authenticator(&app, "xan").await;
    let raw = tessera::otp::TotpSecret::from_base32(&secret).unwrap();
    let rows: Vec<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT secret_ciphertext, secret_key_id FROM two_factor_methods")
            .fetch_all(app.core.store.pool())
            .await
            .unwrap();
    let (ciphertext, key_id) = (rows[0].0.clone().unwrap(), rows[0].1.clone().unwrap());
    assert_eq!(key_id, "k1");
    assert!(!ciphertext.contains(&secret));
    assert!(!ciphertext.contains(&raw.to_base64()));
    let hashes: Vec<String> = sqlx::query_scalar("SELECT code_hash FROM recovery_codes")
        .fetch_all(app.core.store.pool())
        .await
        .unwrap();
    assert_eq!(hashes.len(), 10);
    for code in &recovery {
        let plain = code.replace('-', "");
        assert!(hashes.iter().all(|h| !h.contains(&plain)));
    }
    let audit = serde_json::to_string(&app.audit("limit=1000").await).unwrap();
    assert!(!audit.contains(&secret) && !recovery.iter().any(|c| audit.contains(c)));
}
