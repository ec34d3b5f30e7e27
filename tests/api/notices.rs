//! Security notices: a person is told by email (and by text, where the settings allow it) of a
//! login from a computer new to their account, a change of password, a second factor added or
//! removed, recovery codes used or renewed, and an administrator's reset. Notices are read from
//! the audit log in the background, so every path to a change tells alike. Each carries a
//! "this was not me" link whose page secures the account: every session ended, every trusted
//! computer forgotten, a link to choose a new password emailed.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, all_at_once, spawn_app, tally};
use crate::web::{Browser, csrf_in, location};

fn address_of(name: &str) -> String {
    format!("{name}@example.com")
}

/// A user with a verified address, `{name}@example.com`; answers its id.
async fn user(app: &TestApp, name: &str) -> String {
    let user = app
        .create_user(name, json!({"email": address_of(name)}))
        .await;
    user["id"].as_str().unwrap().to_owned()
}

/// Waits (the worker reads the log every second, and PostgreSQL's events settle first) for the
/// `count`th email to `to` whose subject starts with `subject`, and answers the newest.
async fn notice_to(app: &TestApp, to: &str, subject: &str, count: usize) -> Value {
    for _ in 0..300 {
        let emails = app.emails_to(to, subject).await;
        if emails.len() >= count {
            return emails[0].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no notice “{subject}…” to {to}: {:?}", app.outbox().await);
}

/// The audit log's `user.notice_sent` events, newest first, once there are `count` (each is
/// written once its messages are on their way).
async fn notices_sent(app: &TestApp, count: usize) -> Vec<Value> {
    for _ in 0..300 {
        let sent = app.audit("event=user.notice_sent").await;
        if sent.len() >= count {
            return sent;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} notices in the audit log");
}

/// The secret of the "this was not me" link in a notice.
fn not_me_link(app: &TestApp, notice: &Value) -> String {
    let body = notice["body"].as_str().unwrap();
    let link = body
        .lines()
        .find(|line| line.contains("/not-me/"))
        .unwrap_or_else(|| panic!("no link in {body}"));
    assert!(
        link.starts_with(&format!("{}/not-me/", app.config.public_url())),
        "{link}"
    );
    link.rsplit('/').next().unwrap().to_owned()
}

async fn token_works(app: &TestApp, token: &str) -> bool {
    app.client
        .get(app.url("/api/jwt/validate"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        == 200
}

const NEW_COMPUTER: &str = "New login to your Tessera account";

#[tokio::test]
async fn a_login_from_a_computer_new_to_the_account_is_told_and_a_known_one_is_not() {
    let app = spawn_app().await;
    user(&app, "ann").await;
    let mut laptop = Browser::new();
    laptop.log_in(&app, "ann", PASSWORD).await;
    laptop.log_in(&app, "ann", PASSWORD).await;
    let mut stranger = Browser::new();
    stranger.log_in(&app, "ann", PASSWORD).await;

    let notice = notice_to(&app, &address_of("ann"), NEW_COMPUTER, 1).await;
    let body = notice["body"].as_str().unwrap();
    assert!(body.contains("account ann"), "{body}");
    assert!(body.contains("From: 127.0.0.1"), "{body}");
    assert!(body.contains("If it was not you, open this link within 7 days"));
    // The worker reads in order: the laptop's logins came before the stranger's.
    assert_eq!(
        app.emails_to(&address_of("ann"), NEW_COMPUTER).await.len(),
        1,
        "the account's first computer, and its second login, are not news"
    );
    let sent = notices_sent(&app, 1).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["details"]["notice"], "newComputer");
    assert_eq!(sent[0]["details"]["email"]["to"], "a•••@example.com");
}

#[tokio::test]
async fn each_change_to_a_way_in_is_told_once_and_says_who_made_it() {
    let app = spawn_app().await;
    let id = user(&app, "bea").await;
    let to = address_of("bea");
    app.enroll_authenticator(&id).await;
    let added = notice_to(&app, &to, "A second factor was added", 1).await;
    let body = added["body"].as_str().unwrap();
    assert!(
        body.contains("account bea: an authenticator app."),
        "{body}"
    );
    assert!(
        body.contains("An administrator made this change."),
        "{body}"
    );

    let renewed = app
        .with_key(
            Method::POST,
            &format!("/api/user/two-factor/recovery-code/{id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(renewed.status(), 200);
    let codes = renewed.json::<Value>().await.unwrap()["recoveryCodes"].clone();
    notice_to(&app, &to, "New recovery codes", 1).await;

    let challenge = app.start_two_factor("bea").await;
    let login = app
        .finish_two_factor(&challenge, codes[0].as_str().unwrap(), json!({}))
        .await;
    assert_eq!(login.status(), 200);
    let token = login.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    notice_to(&app, &to, "A recovery code was used", 1).await;

    let changed = app
        .client
        .put(app.url("/api/user/change-password"))
        .bearer_auth(&token)
        .json(&json!({"currentPassword": PASSWORD, "password": "a brand new passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let own = notice_to(&app, &to, "Your Tessera password was changed", 1).await;
    assert!(
        !own["body"].as_str().unwrap().contains("administrator"),
        "the person's own change names no one else"
    );

    let reset = app
        .with_key(
            Method::POST,
            &format!("/api/system/users/{id}/reset-two-factor"),
        )
        .json(&json!({"reason": "lost phone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 200);
    notice_to(&app, &to, "Your Tessera second factors were reset", 1).await;

    let kinds: Vec<Value> = notices_sent(&app, 5)
        .await
        .iter()
        .map(|e| e["details"]["notice"].clone())
        .collect();
    assert_eq!(
        kinds,
        [
            "twoFactorReset",
            "passwordChanged",
            "recoveryCodeUsed",
            "recoveryCodesRenewed",
            "methodAdded"
        ],
        "one notice each, newest first"
    );
}

#[tokio::test]
async fn this_was_not_me_ends_every_session_once_and_emails_a_password_link() {
    let app = spawn_app().await;
    user(&app, "cat").await;
    let mut laptop = Browser::new();
    let home = laptop.log_in(&app, "cat", PASSWORD).await;
    assert_eq!(location(&home), "/");
    // An application's login: a computer new to the account.
    let (status, body) = app
        .login_json(json!({"loginId": "cat", "password": PASSWORD}))
        .await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    let notice = notice_to(&app, &address_of("cat"), NEW_COMPUTER, 1).await;
    let id = not_me_link(&app, &notice);

    // Opening the link (a mail scanner does) changes nothing.
    let mut reader = Browser::new();
    let page = reader.get(&app, &format!("/not-me/{id}")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Was this you?"), "{html}");
    assert!(html.contains("From the address: 127.0.0.1"), "{html}");
    assert!(token_works(&app, &token).await);

    // Without the form's token, nothing happens either.
    let forged = reader
        .post(&app, &format!("/not-me/{id}"), &[("csrf", "")])
        .await;
    assert_eq!(forged.status(), 403);
    assert!(token_works(&app, &token).await);

    let csrf = csrf_in(&html);
    let path = format!("/not-me/{id}");
    let presses: Vec<_> = (0..20)
        .map(|_| {
            let client = reqwest::Client::new();
            let url = app.url(&path);
            let cookies = reader.cookie_header();
            let csrf = csrf.clone();
            async move {
                let response = client
                    .post(url)
                    .header("Cookie", cookies)
                    .form(&[("csrf", csrf.as_str())])
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                (status, response.text().await.unwrap())
            }
        })
        .collect();
    let answers = all_at_once(presses).await;
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(tally(&statuses), "20×200");
    let secured = answers
        .iter()
        .filter(|(_, html)| {
            html.contains("A link to choose a new password was sent to c•••@example.com")
        })
        .count();
    assert_eq!(
        secured, 1,
        "one press secures the account and sends the link"
    );

    assert!(
        !token_works(&app, &token).await,
        "the application's session ended"
    );
    let back = laptop.get(&app, "/").await;
    assert_eq!(location(&back), "/login", "the browser's session ended");
    let disowned = app.audit("event=user.notice_disowned").await;
    assert_eq!(disowned.len(), 1, "{disowned:?}");
    assert_eq!(disowned[0]["details"]["notice"], "newComputer");
    assert_eq!(disowned[0]["details"]["sessionsEnded"], 2);
    let resets = app
        .emails_to(&address_of("cat"), "Reset your Tessera password")
        .await;
    assert_eq!(resets.len(), 1);

    // The link's page says when it was used, and nothing is done again.
    let again = reader.get(&app, &path).await.text().await.unwrap();
    assert!(again.contains("You said this was not you on"), "{again}");
}

#[tokio::test]
async fn a_malformed_unknown_or_expired_link_secures_nothing_and_says_why() {
    let app = spawn_app().await;
    let mut reader = Browser::new();
    let malformed = reader.get(&app, "/not-me/short").await;
    assert_eq!(malformed.status(), 400);
    let unknown = reader
        .get(&app, "/not-me/k3J5sL0_Qm-2vXyZ8aBcDeFgHiJkLmNoPqRsTuVwXyZ")
        .await;
    assert_eq!(unknown.status(), 404);
    assert!(
        unknown
            .text()
            .await
            .unwrap()
            .contains("This link is not valid")
    );

    user(&app, "dan").await;
    Browser::new().log_in(&app, "dan", PASSWORD).await;
    let (_, body) = app
        .login_json(json!({"loginId": "dan", "password": PASSWORD}))
        .await;
    let token = body["token"].as_str().unwrap().to_owned();
    let notice = notice_to(&app, &address_of("dan"), NEW_COMPUTER, 1).await;
    let id = not_me_link(&app, &notice);
    // Seven days later, as the store sees it.
    sqlx::query("UPDATE security_notices SET expires_at = expires_at - 604800000")
        .execute(app.core.store.pool())
        .await
        .unwrap();
    let page = reader.get(&app, &format!("/not-me/{id}")).await;
    assert_eq!(page.status(), 404);
    let csrf = reader.csrf(&app).await;
    let pressed = reader
        .post(&app, &format!("/not-me/{id}"), &[("csrf", &csrf)])
        .await;
    assert_eq!(pressed.status(), 404);
    assert!(
        pressed
            .text()
            .await
            .unwrap()
            .contains("This link has expired")
    );
    assert!(token_works(&app, &token).await, "nothing was ended");
    assert!(app.audit("event=user.notice_disowned").await.is_empty());
}

#[tokio::test]
async fn the_administrator_chooses_the_events_the_channels_and_the_words() {
    let app = spawn_app().await;
    let read = app
        .with_key(Method::GET, "/api/system/notices")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let defaults: Value = read.json().await.unwrap();
    assert_eq!(defaults["notices"]["email"], true);
    assert_eq!(defaults["notices"]["sms"], false);
    assert_eq!(defaults["notices"]["kinds"].as_array().unwrap().len(), 8);

    let refused = app
        .with_key(Method::PUT, "/api/system/notices")
        .json(&json!({"notices": {"templates": {"methodAdded.body": "No way out."}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let error: Value = refused.json().await.unwrap();
    let message = error["fieldErrors"]["notices.templates"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("\"methodAdded.body\"") && message.contains("{link}"),
        "{error}"
    );

    let saved = app
        .with_key(Method::PUT, "/api/system/notices")
        .json(&json!({"notices": {
            "sms": true,
            "kinds": ["methodAdded"],
            "templates": {
                "methodAdded.subject": "{product}: {method} added for {username}",
                "methodAdded.sms": "{username}: {method} added. Not you? {link}"
            }
        }}))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);

    let id = user(&app, "eve").await;
    let changed = app
        .with_key(Method::PATCH, &format!("/api/user/{id}"))
        .json(&json!({"user": {"password": "another long passphrase"}}))
        .send()
        .await
        .unwrap();
    assert!(changed.status().is_success(), "{}", changed.status());
    app.enroll_sms(&id, "+13035550142").await;
    let email = notice_to(&app, &address_of("eve"), "Tessera: a phone added", 1).await;
    assert_eq!(email["subject"], "Tessera: a phone added for eve");
    // The email goes first, then the text.
    let mut texts: Vec<Value> = Vec::new();
    for _ in 0..300 {
        texts = app
            .outbox()
            .await
            .into_iter()
            .filter(|m| {
                m["to"] == "+13035550142" && m["body"].as_str().unwrap().contains("Not you?")
            })
            .collect();
        if !texts.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(texts.len(), 1, "the text goes to the phone too");
    assert!(
        texts[0]["body"]
            .as_str()
            .unwrap()
            .starts_with("eve: a phone added. Not you? http")
    );
    assert!(
        app.emails_to(&address_of("eve"), "Your Tessera password")
            .await
            .is_empty(),
        "a change of password is not told when the administrator turned it off"
    );
}

/// A login read after its account was deleted (the worker reads the log a second later) names a
/// user the database no longer has: its computer is not remembered, and the rest of the batch is
/// not lost with it (it broke the foreign key and failed the whole pass).
#[tokio::test]
async fn a_login_of_an_account_deleted_since_is_passed_over() {
    let app = spawn_app().await;
    let kept = app.create_user("kept", serde_json::json!({})).await;
    let kept = tessera::domain::UserId::parse(kept["id"].as_str().unwrap()).unwrap();
    let gone = tessera::domain::UserId::parse("0b7a4d5e-1c2f-4e3a-9b8c-7d6e5f4a3b2c").unwrap();
    let seen = app
        .core
        .store
        .notices()
        .see_devices(
            &[(gone, "laptop".to_owned()), (kept, "laptop".to_owned())],
            tessera::clock::Instant::now(),
            86_400,
        )
        .await
        .expect("a deleted account's login breaks nothing");
    assert_eq!(
        seen,
        vec![
            tessera::store::DeviceSeen::Known,
            tessera::store::DeviceSeen::First
        ]
    );
}
