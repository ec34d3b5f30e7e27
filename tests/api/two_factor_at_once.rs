//! Second-factor logins at once: one valid code or recovery code sent many times succeeds once,
//! guesses cannot outrun the limits, many users finishing together each get their own verdict. The
//! helpers are two_factor.rs's.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, all_at_once, oathtool, spawn_app, spawn_app_with, tally};
use crate::two_factor::{count, user_with_authenticator, wrong_code};

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
