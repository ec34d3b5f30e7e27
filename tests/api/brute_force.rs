//! An attacker who has the password guesses the second factor with many clients at once; the
//! account's failure window bounds the guesses that are checked, and once it passes the owner
//! gets in.
//!
//! Each attacker goes on until the server stops giving it challenges, so what is asserted is
//! what the server enforces (how many codes it checks, that the password then gets no
//! challenge), never how many requests a machine manages in some time. The window passing is
//! the failures moving out of it: their rows are backdated, as the other tests of the window do.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, oathtool, spawn_app};

/// The defaults, set explicitly: 10 wrong codes per 15 minutes.
const FAILURE_LIMIT: usize = 10;
const WINDOW_SECONDS: u64 = 900;
/// Each of `ATTACKERS` logs in again and again and guesses on every challenge it gets, up to the
/// five attempts a challenge allows, until a login is refused; one that still gets challenges
/// after `MAX_LOGINS_EACH` logins shows an account that never locks.
const ATTACKERS: u32 = 8;
const MAX_LOGINS_EACH: usize = 20;

/// What one attacker's requests were answered.
#[derive(Default)]
struct Answers {
    requests: usize,
    challenges: usize,
    logins_refused: usize,
    checked: usize,
    guesses_refused: usize,
}

#[tokio::test]
async fn guessing_with_many_clients_gets_the_failure_limit_of_checks_and_locks_the_owner_out_only_for_the_window()
 {
    let app = spawn_app().await;
    app.put_two_factor_settings(json!({
        "failureLimit": FAILURE_LIMIT,
        "failureWindowSeconds": WINDOW_SECONDS,
    }))
    .await;
    let user = app.create_user("vic", json!({})).await;
    let id = user["id"].as_str().unwrap().to_owned();
    let (secret, _) = app.enroll_authenticator(&id).await;

    // Wrong guesses only: a lucky right one would prove nothing about the limit.
    let right_codes: Vec<String> = (-2..=2).map(|step| oathtool(&secret, step * 30)).collect();
    // Every attacker holds a challenge before any of them guesses, so that their first guesses
    // race each other to the limit.
    let all_logged_in = std::sync::Arc::new(tokio::sync::Barrier::new(ATTACKERS as usize));
    let attackers: Vec<_> = (0..ATTACKERS)
        .map(|attacker| {
            let (client, url, right_codes) = (app.client.clone(), app.url(""), right_codes.clone());
            let all_logged_in = all_logged_in.clone();
            tokio::spawn(async move {
                let mut answers = Answers::default();
                let mut guess = 100_000 + attacker * 100_000;
                for login_number in 0..MAX_LOGINS_EACH {
                    let login = client
                        .post(format!("{url}/api/login"))
                        .json(&json!({"loginId": "vic", "password": PASSWORD}))
                        .send()
                        .await
                        .unwrap();
                    answers.requests += 1;
                    if login_number == 0 {
                        all_logged_in.wait().await;
                    }
                    match login.status().as_u16() {
                        242 => answers.challenges += 1,
                        429 => {
                            answers.logins_refused += 1;
                            break;
                        }
                        other => panic!("a login answered {other}"),
                    }
                    let two_factor_id = login.json::<Value>().await.unwrap()["twoFactorId"]
                        .as_str()
                        .expect("a challenge")
                        .to_owned();
                    for _ in 0..5 {
                        guess += 1;
                        if right_codes.contains(&guess.to_string()) {
                            guess += 1;
                        }
                        let answer = client
                            .post(format!("{url}/api/two-factor/login"))
                            .json(&json!({"twoFactorId": two_factor_id, "code": guess.to_string()}))
                            .send()
                            .await
                            .unwrap()
                            .status()
                            .as_u16();
                        answers.requests += 1;
                        match answer {
                            421 => answers.checked += 1,
                            429 | 404 => {
                                answers.guesses_refused += 1;
                                break;
                            }
                            200 => panic!("a guess got in"),
                            other => panic!("a guess answered {other}"),
                        }
                    }
                }
                answers
            })
        })
        .collect();
    let mut total = Answers::default();
    for attacker in attackers {
        let answers = attacker.await.unwrap();
        total.requests += answers.requests;
        total.challenges += answers.challenges;
        total.logins_refused += answers.logins_refused;
        total.checked += answers.checked;
        total.guesses_refused += answers.guesses_refused;
    }
    let per_hour = total.checked as u64 * 3600 / WINDOW_SECONDS;
    println!(
        "brute force: {ATTACKERS} clients, {} requests: {} challenges opened, {} logins refused, \
         {} codes checked, {} guesses refused unchecked ({per_hour} checked guesses per hour at \
         {FAILURE_LIMIT} per {WINDOW_SECONDS} s)",
        total.requests,
        total.challenges,
        total.logins_refused,
        total.checked,
        total.guesses_refused
    );
    // Every attacker ended refused at the password step...
    assert_eq!(
        total.logins_refused, ATTACKERS as usize,
        "past the limit, the password gets no challenge"
    );
    // ...and, however the requests interleaved, exactly the failure limit of codes was checked:
    // every guess past it was refused unchecked.
    assert_eq!(total.checked, FAILURE_LIMIT, "codes checked in one window");
    let recorded: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM two_factor_failures WHERE user_id = $1")
            .bind(&id)
            .fetch_one(app.core.store.pool())
            .await
            .unwrap();
    assert_eq!(
        recorded, FAILURE_LIMIT as i64,
        "each checked guess is a failure"
    );

    // During the window even the owner with the right code is refused ...
    let (status, body) = app
        .login_json(json!({"loginId": "vic", "password": PASSWORD}))
        .await;
    assert_eq!(status, 429, "the window holds: {body}");
    assert_eq!(
        body["generalErrors"][0]["code"],
        "[TooManyTwoFactorFailures]"
    );

    // ... and once the failures are older than the window, the owner gets in from another
    // client.
    let moved = sqlx::query("UPDATE two_factor_failures SET at = at - $2 WHERE user_id = $1")
        .bind(&id)
        .bind((WINDOW_SECONDS as i64 + 1) * 1000)
        .execute(app.core.store.pool())
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(moved, FAILURE_LIMIT as u64, "every failure left the window");
    let owner = reqwest::Client::new();
    let login: Value = owner
        .post(app.url("/api/login"))
        .json(&json!({"loginId": "vic", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let two_factor_id = login["twoFactorId"].as_str().expect("a challenge, not 429");
    // The next step's code: the enrolment spent the current one.
    let done = owner
        .post(app.url("/api/two-factor/login"))
        .json(&json!({"twoFactorId": two_factor_id, "code": oathtool(&secret, 30)}))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200, "no lockout outlives the window");
}
