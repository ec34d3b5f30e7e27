//! Two-factor login through the API, with the real `oathtool` as the authenticator app.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, all_at_once, oathtool, spawn_app, spawn_app_with, tally};

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

async fn user_with_authenticator(app: &TestApp, name: &str) -> (String, String, Vec<String>) {
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
async fn fifty_concurrent_submissions_of_one_valid_code_succeed_exactly_once() {
    let app = spawn_app().await;
    let (_, secret, _) = user_with_authenticator(&app, "bob").await;
    // Above the account's failure limit, so that every submission is checked.
    app.put_two_factor_settings(json!({"failureLimit": 100}))
        .await;
    let mut challenges = Vec::new();
    for _ in 0..50 {
        challenges.push(app.start_two_factor("bob").await);
    }
    let code = oathtool(&secret, 30);
    let statuses = app
        .finish_two_factor_concurrently(challenges.into_iter().map(|c| (c, code.clone())).collect())
        .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 421).count(),
        49,
        "{statuses:?}"
    );
}

/// Forty users finishing their logins at once, half with a right code and half with a wrong
/// one. On PostgreSQL their checks share a few transactions (`store::check_group`); each must
/// still get its own verdict, its own session and its own audit event, and a wrong code must
/// leave its login open for the next try.
#[tokio::test]
async fn forty_users_finishing_their_logins_at_once_each_get_their_own_verdict_and_session() {
    const USERS: usize = 40;
    let app = spawn_app().await;
    let mut users = Vec::new();
    for i in 0..USERS {
        let name = format!("crowd{i}");
        let (id, secret, _) = user_with_authenticator(&app, &name).await;
        let challenge = app.start_two_factor(&name).await;
        users.push((id, secret, challenge));
    }
    let events = |kind: &'static str, id: &str| {
        let query = format!("event={kind}&userId={id}");
        let app = &app;
        async move { app.audit(&query).await.len() }
    };
    let mut successes_before = Vec::new();
    for (id, _, _) in &users {
        successes_before.push(events("login.success", id).await);
    }
    // The next step's code: the enrolment spent the current one.
    let codes: Vec<String> = users
        .iter()
        .enumerate()
        .map(|(i, (_, secret, _))| {
            if i % 2 == 0 {
                oathtool(secret, 30)
            } else {
                wrong_code(secret)
            }
        })
        .collect();
    let finish = |challenge: &str, code: &str| {
        let request = app
            .client
            .post(app.url("/api/two-factor/login"))
            .json(&json!({"twoFactorId": challenge, "code": code}));
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let answers = all_at_once(
        users
            .iter()
            .zip(&codes)
            .map(|((_, _, challenge), code)| finish(challenge, code))
            .collect(),
    )
    .await;

    for (i, ((id, _, _), (status, body))) in users.iter().zip(&answers).enumerate() {
        if i % 2 == 0 {
            assert_eq!(*status, 200, "user {i}: {body}");
            assert_eq!(
                body["user"]["id"],
                json!(id),
                "user {i} got someone's session"
            );
            let token = body["token"].as_str().unwrap();
            let validated: Value = app
                .client
                .get(app.url("/api/jwt/validate"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(validated["jwt"]["sub"], json!(id), "user {i}'s token");
            assert_eq!(
                events("login.success", id).await,
                successes_before[i] + 1,
                "user {i}'s login event"
            );
        } else {
            assert_eq!(*status, 421, "user {i}: {body}");
            assert_eq!(
                events("two_factor.failure", id).await,
                1,
                "user {i}'s failure event"
            );
        }
    }
    // The wrong codes took an attempt each, and nothing more: their logins finish now.
    for (i, (id, secret, challenge)) in users.iter().enumerate().skip(1).step_by(2) {
        let (status, body) = finish(challenge, &oathtool(secret, 30)).await;
        assert_eq!(status, 200, "user {i}'s second try: {body}");
        assert_eq!(body["user"]["id"], json!(id));
    }
}

/// With a database pool of one connection, the code check must give it back: on PostgreSQL
/// its groups (`store::check_group`) keep connections of their own only from a pool big enough
/// to spare them.
#[tokio::test]
async fn a_pool_of_one_connection_serves_second_factor_logins_one_after_another() {
    let app = spawn_app_with(|config| config.database.max_connections = 1).await;
    let (id, secret, codes) = user_with_authenticator(&app, "solo").await;
    let first = app.start_two_factor("solo").await;
    let response = app
        .finish_two_factor(&first, &oathtool(&secret, 30), json!({}))
        .await;
    assert_eq!(response.status(), 200);
    // Each of these needs the pool's one connection again.
    let second = app.start_two_factor("solo").await;
    let response = app.finish_two_factor(&second, &codes[0], json!({})).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["id"], json!(id));
}

#[tokio::test]
async fn concurrent_uses_of_one_recovery_code_succeed_exactly_once() {
    let app = spawn_app().await;
    let (id, _, recovery) = user_with_authenticator(&app, "cy").await;
    // Above the account's failure limit, so that every submission is checked.
    app.put_two_factor_settings(json!({"failureLimit": 100}))
        .await;
    let mut challenges = Vec::new();
    for _ in 0..20 {
        challenges.push(app.start_two_factor("cy").await);
    }
    let statuses = app
        .finish_two_factor_concurrently(
            challenges
                .into_iter()
                .map(|c| (c, recovery[0].clone()))
                .collect(),
        )
        .await;
    // One submission spends the code; every other one is answered as a wrong code, none with
    // an error.
    assert_eq!(count(&statuses, 200), 1, "{}", tally(&statuses));
    assert_eq!(count(&statuses, 421), 19, "{}", tally(&statuses));
    let spent = app
        .audit(&format!("userId={id}&event=two_factor.recovery_code_use"))
        .await;
    assert_eq!(spent.len(), 1, "one use in the audit log: {spent:?}");
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

/// Thirty wrong guesses at one login at once: its five attempts are taken one at a time, so
/// exactly five codes are checked and every other guess finds the login out of attempts.
#[tokio::test]
async fn concurrent_guesses_cannot_outrun_the_attempt_limit() {
    let app = spawn_app().await;
    let (id, secret, _) = user_with_authenticator(&app, "eve").await;
    let challenge = app.start_two_factor("eve").await;
    // Wrong guesses only: a right one would end the login early and prove nothing.
    let right: Vec<String> = (-2..=2).map(|step| oathtool(&secret, step * 30)).collect();
    let guesses: Vec<(String, String)> = (0..)
        .map(|guess| format!("{guess:06}"))
        .filter(|guess| !right.contains(guess))
        .take(30)
        .map(|guess| (challenge.clone(), guess))
        .collect();
    let statuses = app.finish_two_factor_concurrently(guesses).await;
    // The login was there and the checks ran: five guesses were judged wrong...
    assert_eq!(count(&statuses, 421), 5, "{}", tally(&statuses));
    // ...and the other 25 were refused unchecked; never a success or an error.
    assert_eq!(count(&statuses, 404), 25, "{}", tally(&statuses));
    let failures = app
        .audit(&format!("userId={id}&event=two_factor.failure"))
        .await;
    assert_eq!(failures.len(), 5, "one failure per checked guess");
    // Out of attempts, the login refuses even the right code.
    let late = app
        .finish_two_factor(&challenge, &oathtool(&secret, 30), json!({}))
        .await;
    assert_eq!(late.status(), 404);
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
fn wrong_code(secret: &str) -> String {
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
async fn a_required_policy_makes_a_user_enrol_during_login_with_the_two_factor_id() {
    let app = spawn_app().await;
    app.create_user("oli", json!({})).await;
    app.put_two_factor_settings(json!({"apiLoginPolicy": "required"}))
        .await;

    let (status, challenge) = app
        .login_json(json!({"loginId": "oli", "password": PASSWORD}))
        .await;
    assert_eq!(status, 242);
    assert_eq!(challenge["methods"], json!([]));
    let two_factor_id = challenge["twoFactorId"].as_str().unwrap();

    let secret = tessera::otp::TotpSecret::generate().to_base32();
    let enabled = app
        .post_json(
            "/api/user/two-factor",
            &json!({"twoFactorId": two_factor_id, "method": "authenticator",
                    "code": oathtool(&secret, 0), "secretBase32Encoded": secret}),
        )
        .await;
    assert_eq!(enabled.status(), 200);
    let enabled: Value = enabled.json().await.unwrap();
    assert_eq!(enabled["recoveryCodes"].as_array().unwrap().len(), 10);
    let code = enabled["code"].as_str().unwrap();
    let done = app.finish_two_factor(two_factor_id, code, json!({})).await;
    assert_eq!(done.status(), 200);

    // With a method enrolled, a twoFactorId cannot add another: the method must be used.
    let (_, challenge) = app
        .login_json(json!({"loginId": "oli", "password": PASSWORD}))
        .await;
    let other = tessera::otp::TotpSecret::generate().to_base32();
    let refused = app
        .post_json(
            "/api/user/two-factor",
            &json!({"twoFactorId": challenge["twoFactorId"], "code": oathtool(&other, 0), "secretBase32Encoded": other}),
        )
        .await;
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn policies_per_login_type_admins_and_the_user_flag_apply_at_the_next_login() {
    let app = spawn_app().await;
    app.create_user("pat", json!({"roles": ["admin"]})).await;
    app.create_user("quinn", json!({})).await;
    app.create_user("rae", json!({"twoFactorRequired": true}))
        .await;

    let status = |login: &'static str| {
        let app = &app;
        async move {
            app.login_json(json!({"loginId": login, "password": PASSWORD}))
                .await
                .0
        }
    };
    // By default an administrator needs a second factor; nobody else does.
    assert_eq!(status("pat").await, 242);
    assert_eq!(status("quinn").await, 200);
    assert_eq!(
        status("rae").await,
        242,
        "the per-user flag asks for enrolment"
    );

    app.put_two_factor_settings(json!({"apiLoginPolicy": "enabled"}))
        .await;
    assert_eq!(status("pat").await, 200);
    assert_eq!(status("quinn").await, 200);

    app.put_two_factor_settings(json!({"apiLoginPolicy": "disabled"}))
        .await;
    assert_eq!(status("rae").await, 200, "disabled never challenges");

    let settings: Value = app
        .with_key(Method::GET, "/api/system/two-factor")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(settings["twoFactor"]["apiLoginPolicy"], "disabled");
    assert_eq!(
        settings["twoFactor"]["webLoginPolicy"],
        "required_for_admins"
    );
    assert_eq!(app.audit("event=settings.change").await.len(), 2);

    let bad = app
        .with_key(Method::PUT, "/api/system/two-factor")
        .json(&json!({"twoFactor": {"maxCodeAttempts": 0, "apiLoginPolicy": "sometimes"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let bad = app
        .with_key(Method::PUT, "/api/system/two-factor")
        .json(&json!({"twoFactor": {"maxCodeAttempts": 0}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let errors: Value = bad.json().await.unwrap();
    assert!(
        errors["fieldErrors"]["maxCodeAttempts"].is_array(),
        "{errors}"
    );
}

#[tokio::test]
async fn every_login_policy_issues_no_trust_and_honours_none() {
    let app = spawn_app().await;
    let (_, secret, recovery) = user_with_authenticator(&app, "sal").await;
    let login_with_trust = |trust: String| {
        app.login_json(json!({"loginId": "sal", "password": PASSWORD, "twoFactorTrustId": trust}))
    };
    let challenge = app.start_two_factor("sal").await;
    let done = app
        .finish_two_factor(
            &challenge,
            &oathtool(&secret, 30),
            json!({"trustComputer": true}),
        )
        .await;
    assert_eq!(done.status(), 200);
    let done: Value = done.json().await.unwrap();
    let first = done["twoFactorTrustId"]
        .as_str()
        .expect("a trust token while computers may be trusted")
        .to_owned();
    // While the policy allows it, the trust spares a login (and comes back renewed)...
    let (status, spared) = login_with_trust(first).await;
    assert_eq!(status, 200, "{spared}");
    let trust = spared["twoFactorTrustId"]
        .as_str()
        .expect("the renewed trust token")
        .to_owned();

    // ...and once every login needs a second factor, that live token spares nothing...
    app.put_two_factor_settings(json!({"trustLevel": "every_login"}))
        .await;
    let (status, body) = login_with_trust(trust).await;
    assert_eq!(status, 242, "{body}");
    // ...and a login that asks for trust gets in without a token.
    let challenge = app.start_two_factor("sal").await;
    let done = app
        .finish_two_factor(&challenge, &recovery[0], json!({"trustComputer": true}))
        .await;
    assert_eq!(done.status(), 200, "the recovery code finished the login");
    let done: Value = done.json().await.unwrap();
    assert!(done["token"].is_string(), "{done}");
    assert!(done.get("twoFactorTrustId").is_none(), "{done}");
}

#[tokio::test]
async fn trusted_computers_are_listed_and_revoked_by_the_user_or_an_admin() {
    let app = spawn_app().await;
    let (id, _, recovery) = user_with_authenticator(&app, "tia").await;
    let mut trusts = Vec::new();
    let mut token = String::new();
    for code in &recovery[..2] {
        let challenge = app.start_two_factor("tia").await;
        let done: Value = app
            .client
            .post(app.url("/api/two-factor/login"))
            .header("User-Agent", "Firefox/140")
            .json(&json!({"twoFactorId": challenge, "code": code, "trustComputer": true}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        trusts.push(done["twoFactorTrustId"].as_str().unwrap().to_owned());
        token = done["token"].as_str().unwrap().to_owned();
    }
    let listed: Value = app
        .client
        .get(app.url("/api/user/two-factor/trust"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = listed["trusts"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["userAgent"], "Firefox/140");
    assert_eq!(listed[0]["ipAddress"], "127.0.0.1");
    assert!(
        !listed
            .iter()
            .any(|t| trusts.contains(&t["id"].as_str().unwrap().to_owned()))
    );

    // The status API says whether a trust id still spares the challenge.
    let status = |trust: String| {
        app.with_key(
            Method::GET,
            &format!("/api/two-factor/status/{trust}?userId={id}"),
        )
        .send()
    };
    assert_eq!(status(trusts[0].clone()).await.unwrap().status(), 200);
    assert_eq!(status("bogus".into()).await.unwrap().status(), 242);

    // The user forgets one computer...
    let one = listed.iter().find(|t| t["id"].is_string()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = app
        .client
        .delete(app.url(&format!("/api/user/two-factor/trust?trustId={one}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let left: Value = app
        .with_key(Method::GET, &format!("/api/user/two-factor/trust/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(left["trusts"].as_array().unwrap().len(), 1);
    // ...and the admin the rest.
    let all = app
        .with_key(Method::DELETE, &format!("/api/user/two-factor/trust/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(all.status(), 200);
    for trust in &trusts {
        let (status, _) = app
            .login_json(json!({"loginId": "tia", "password": PASSWORD, "twoFactorTrustId": trust}))
            .await;
        assert_eq!(status, 242);
    }
    assert_eq!(app.audit("event=two_factor.trust_revoke").await.len(), 2);
    assert_eq!(app.audit("event=two_factor.trust_grant").await.len(), 2);
}

#[tokio::test]
async fn a_trust_id_from_a_cookie_works_like_the_body_field() {
    let app = spawn_app().await;
    let (_, _, recovery) = user_with_authenticator(&app, "uma").await;
    let challenge = app.start_two_factor("uma").await;
    let done: Value = app
        .finish_two_factor(&challenge, &recovery[0], json!({"trustComputer": true}))
        .await
        .json()
        .await
        .unwrap();
    let trust = done["twoFactorTrustId"].as_str().unwrap();
    let response = app
        .client
        .post(app.url("/api/login"))
        .header("Cookie", format!("other=1; tessera_trust={trust}"))
        .json(&json!({"loginId": "uma", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
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

    // ...and neither may a login older than ten minutes.
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
    let mut old: tessera::crypto::Claims = serde_json::from_value(claims["jwt"].clone()).unwrap();
    old.auth_time -= 11 * 60;
    // Signed with the server's own key, read from its data directory.
    let keys = tessera::crypto::Keys::load_or_create(app.data_dir.path()).unwrap();
    let stale = tessera::crypto::TokenSigner::new(keys.signing_key()).sign(&old);
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

/// Opening many logins first (each with its own five attempts) and guessing on all of them at
/// once still gets no more than the account's failure limit (10) of codes checked per window.
#[tokio::test]
async fn many_open_logins_guessed_at_once_get_no_more_checks_than_the_failure_limit() {
    let app = spawn_app().await;
    let (_, secret, _) = user_with_authenticator(&app, "eve").await;
    let mut challenges = Vec::new();
    for _ in 0..5 {
        challenges.push(app.start_two_factor("eve").await);
    }
    let last = challenges.pop().unwrap();
    let right = oathtool(&secret, 30);
    let wrong = if right == "123456" {
        "654321"
    } else {
        "123456"
    };
    let statuses = app
        .finish_two_factor_concurrently(
            challenges
                .iter()
                .flat_map(|c| std::iter::repeat_n((c.clone(), wrong.to_owned()), 5))
                .collect(),
        )
        .await;
    let mut checked = statuses.iter().filter(|s| **s == 421).count();
    let refused = statuses.len() - checked;
    // Guesses in flight count against each other, so a burst may even have none checked
    // (PostgreSQL often does); the bound is what matters.
    assert!(
        checked <= 10,
        "20 guesses, at most 10 checked: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [421, 429].contains(s)),
        "{statuses:?}"
    );
    // Top up one guess at a time to the limit.
    while checked < 10 {
        let challenge = app.start_two_factor("eve").await;
        let answer = app.finish_two_factor(&challenge, wrong, json!({})).await;
        assert_eq!(answer.status(), 421);
        checked += 1;
    }

    let refused_unchecked = app.finish_two_factor(&last, &right, json!({})).await;
    assert_eq!(
        refused_unchecked.status(),
        429,
        "past the limit even the right code is not checked"
    );
    let body: serde_json::Value = refused_unchecked.json().await.unwrap();
    assert_eq!(
        body["generalErrors"][0]["code"], "[TooManyTwoFactorFailures]",
        "{body}"
    );
    let (status, _) = app
        .login_json(json!({"loginId": "eve", "password": PASSWORD}))
        .await;
    assert_eq!(status, 429, "and no new login opens");
    assert_eq!(
        app.audit("event=two_factor.blocked").await.len(),
        refused + 2,
        "every refusal is audited"
    );
    assert_eq!(app.audit("event=two_factor.failure").await.len(), 10);
}
