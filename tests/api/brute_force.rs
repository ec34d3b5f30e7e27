//! An attacker who has the password guesses the second factor as fast as they can; the account's
//! failure window bounds the guesses that are checked, and once it passes the owner gets in.

use std::time::{Duration, Instant as WallClock};

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, oathtool, spawn_app};

const WINDOW_SECONDS: u64 = 60;
const FAILURE_LIMIT: usize = 10;
const ATTACK: Duration = Duration::from_secs(3);

#[tokio::test]
async fn guessing_as_fast_as_possible_gets_few_checks_and_locks_the_owner_out_only_for_the_window()
{
    let app = spawn_app().await;
    // The shortest window the settings allow, so that the test can wait for it to pass.
    app.put_two_factor_settings(json!({
        "failureLimit": FAILURE_LIMIT,
        "failureWindowSeconds": WINDOW_SECONDS,
    }))
    .await;
    let user = app.create_user("vic", json!({})).await;
    let (secret, _) = app.enroll_authenticator(user["id"].as_str().unwrap()).await;

    // Wrong guesses only: a lucky right one would prove nothing about the limit.
    let right_codes: Vec<String> = (-2..=2).map(|step| oathtool(&secret, step * 30)).collect();
    // Eight attackers, each logging in with the password and guessing on every login it gets.
    let started = WallClock::now();
    let attackers: Vec<_> = (0..8u32)
        .map(|attacker| {
            let (client, url, right_codes) = (app.client.clone(), app.url(""), right_codes.clone());
            tokio::spawn(async move {
                let (mut sent, mut checked) = (0usize, 0usize);
                let mut guess = 100_000 + attacker * 100_000;
                while started.elapsed() < ATTACK {
                    let login = client
                        .post(format!("{url}/api/login"))
                        .json(&json!({"loginId": "vic", "password": PASSWORD}))
                        .send()
                        .await
                        .unwrap();
                    sent += 1;
                    if login.status() != 242 {
                        continue;
                    }
                    let two_factor_id = login.json::<Value>().await.unwrap()["twoFactorId"]
                        .as_str()
                        .unwrap()
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
                        sent += 1;
                        match answer {
                            421 => checked += 1,
                            429 | 404 => break,
                            200 => panic!("a guess got in"),
                            other => panic!("unexpected {other}"),
                        }
                    }
                }
                (sent, checked)
            })
        })
        .collect();
    let (mut sent, mut checked) = (0, 0);
    for attacker in attackers {
        let (s, c) = attacker.await.unwrap();
        sent += s;
        checked += c;
    }
    let per_hour = checked as u64 * 3600 / WINDOW_SECONDS;
    println!(
        "brute force: {sent} requests in {:.1} s, {checked} codes checked \
         (at most {FAILURE_LIMIT} per {WINDOW_SECONDS} s window: {per_hour} guesses/hour here, \
         40/hour at the defaults of 10 per 15 minutes)",
        ATTACK.as_secs_f64()
    );
    assert!(sent > 100, "the attack was fast: {sent} requests");
    assert!(
        (1..=FAILURE_LIMIT).contains(&checked),
        "{checked} codes checked in one window"
    );

    // During the window even the owner with the right code is refused ...
    let (status, _) = app
        .login_json(json!({"loginId": "vic", "password": PASSWORD}))
        .await;
    assert_eq!(status, 429, "the window holds");

    // ... and once it has passed, the owner gets in from another client.
    let window_end = started + Duration::from_secs(WINDOW_SECONDS + 1);
    tokio::time::sleep(window_end.saturating_duration_since(WallClock::now())).await;
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
    let done = owner
        .post(app.url("/api/two-factor/login"))
        .json(&json!({"twoFactorId": two_factor_id, "code": oathtool(&secret, 0)}))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200, "no lockout outlives the window");
}
