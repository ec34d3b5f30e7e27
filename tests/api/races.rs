//! Races: many requests fired at the same moment, at one server or spread round-robin over
//! servers sharing one database. Every "exactly once" rule must hold whoever answers, and no
//! request may end in a 5xx.
//!
//! Each scenario takes the nodes to spread its requests over, so `processes.rs` runs the same
//! scenarios across separate `tessera serve` processes. Each prints one figure line.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, all_at_once, oathtool, spawn_app, tally};

/// How many identical requests each race fires.
const BURST: usize = 100;

/// The node the `i`th request goes to.
pub(crate) fn node(nodes: &[TestApp], i: usize) -> &TestApp {
    &nodes[i % nodes.len()]
}

/// Where the requests went, for the figure line: `1 node`, `2 nodes`, `3 processes`.
pub(crate) fn spread_over(nodes: &[TestApp], label: &str) -> String {
    match nodes.len() {
        1 => format!("1 {label}"),
        n if label.ends_with('s') => format!("{n} {label}es"),
        n => format!("{n} {label}s"),
    }
}

/// Finishes every login of `challenges` with `code` at once, spread over the nodes.
async fn submit_all(nodes: &[TestApp], challenges: &[String], code: &str) -> Vec<u16> {
    let requests = challenges
        .iter()
        .enumerate()
        .map(|(i, challenge)| {
            let request = node(nodes, i)
                .client
                .post(node(nodes, i).url("/api/two-factor/login"))
                .json(&json!({"twoFactorId": challenge, "code": code}));
            async move { request.send().await.unwrap().status().as_u16() }
        })
        .collect();
    all_at_once(requests).await
}

/// A user (its id) with an authenticator (its secret and recovery codes), `BURST` logins of it
/// waiting for their code (opened on the nodes in turn), and a failure limit that lets every one
/// of them be checked: so that what decides the race is the one-time rule, not the guess limit.
async fn user_with_open_logins(
    nodes: &[TestApp],
    name: &str,
) -> (String, String, Vec<String>, Vec<String>) {
    let first = &nodes[0];
    let user = first.create_user(name, json!({})).await;
    let id = user["id"].as_str().unwrap().to_owned();
    let (secret, recovery) = first.enroll_authenticator(&id).await;
    let settings: Value = first
        .with_key(Method::GET, "/api/system/two-factor")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut settings = settings["twoFactor"].clone();
    settings["failureLimit"] = json!(BURST);
    first.put_two_factor_settings(settings).await;
    let mut challenges = Vec::new();
    for i in 0..BURST {
        challenges.push(node(nodes, i).start_two_factor(name).await);
    }
    (id, secret, recovery, challenges)
}

/// The same valid authenticator code, submitted to `BURST` open logins at once.
pub async fn same_totp_code_succeeds_once(nodes: &[TestApp], label: &str) {
    let (_, secret, _, challenges) = user_with_open_logins(nodes, "totp-racer").await;
    // The next step's code: the enrolment spent the current one.
    let code = oathtool(&secret, 30);
    let statuses = submit_all(nodes, &challenges, &code).await;
    eprintln!(
        "race: same TOTP code ×{BURST} on {} → {}",
        spread_over(nodes, label),
        tally(&statuses)
    );
    assert_eq!(count(&statuses, 200), 1, "{}", tally(&statuses));
    assert_eq!(count(&statuses, 421), BURST - 1, "{}", tally(&statuses));
}

/// The same recovery code, submitted to `BURST` open logins at once.
pub async fn same_recovery_code_is_used_once(nodes: &[TestApp], label: &str) {
    let (id, _, recovery, challenges) = user_with_open_logins(nodes, "recovery-racer").await;
    let statuses = submit_all(nodes, &challenges, &recovery[0]).await;
    eprintln!(
        "race: same recovery code ×{BURST} on {} → {}",
        spread_over(nodes, label),
        tally(&statuses)
    );
    assert_eq!(count(&statuses, 200), 1, "{}", tally(&statuses));
    assert_eq!(count(&statuses, 421), BURST - 1, "{}", tally(&statuses));
    let spent = nodes[0]
        .audit(&format!("userId={id}&event=two_factor.recovery_code_use"))
        .await;
    assert_eq!(spent.len(), 1, "one use in the audit log: {spent:?}");
}

/// The SMS code of one login, submitted `BURST` times at once: one approval. The login refuses
/// the rest with 421 (the code is spent or the guess was wrong) or 404 (the login is finished
/// or out of attempts).
pub async fn same_sms_code_is_approved_once(nodes: &[TestApp], label: &str) {
    const PHONE: &str = "+13035550147";
    let first = &nodes[0];
    let user = first.create_user("sms-racer", json!({})).await;
    let method = first.enroll_sms(user["id"].as_str().unwrap(), PHONE).await;
    let challenge = node(nodes, 1).start_two_factor("sms-racer").await;
    let sent = node(nodes, 2)
        .post_json(
            &format!("/api/two-factor/send/{challenge}"),
            &json!({"methodId": method}),
        )
        .await;
    assert_eq!(sent.status(), 200);
    let code = first.code_sent_to(PHONE).await;
    let statuses = submit_all(nodes, &vec![challenge; BURST], &code).await;
    eprintln!(
        "race: same SMS code ×{BURST} on {} → {}",
        spread_over(nodes, label),
        tally(&statuses)
    );
    assert_eq!(count(&statuses, 200), 1, "{}", tally(&statuses));
    assert_eq!(
        count(&statuses, 421) + count(&statuses, 404),
        BURST - 1,
        "{}",
        tally(&statuses)
    );
    let logins = first
        .audit(&format!(
            "userId={}&event=login.success",
            user["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(logins.len(), 1, "one login in the audit log: {logins:?}");
}

/// The code of one verification of the Twilio-compatible Verify API, checked `BURST` times at
/// once: one answer says `approved` (and `valid`); the others are refused — 404 (20404, the
/// verification is gone once approved) or 429 (60202, its checks are spent) — and none of them
/// reports the approval another check made.
pub async fn same_verify_code_is_approved_once(nodes: &[TestApp], label: &str) {
    const PHONE: &str = "+13035550188";
    let first = &nodes[0];
    let (account, token) = first
        .core
        .verify
        .create_verify_account(
            "races",
            tessera::audit::Actor::System,
            tessera::clock::Instant::now(),
        )
        .await
        .unwrap();
    let twilio = |app: &TestApp, path: &str, form: &[(&str, &str)]| {
        app.client
            .post(app.url(path))
            .basic_auth(&account, Some(&token))
            .form(form)
    };
    let created: Value = twilio(first, "/v2/Services", &[("FriendlyName", "Races")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let service = created["sid"].as_str().unwrap().to_owned();
    let started = twilio(
        node(nodes, 1),
        &format!("/v2/Services/{service}/Verifications"),
        &[("To", PHONE), ("Channel", "sms")],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(started.status(), 201);
    let code = first.code_sent_to(PHONE).await;
    let check = format!("/v2/Services/{service}/VerificationCheck");
    let requests = (0..BURST)
        .map(|i| {
            let request = twilio(node(nodes, i), &check, &[("To", PHONE), ("Code", &code)]);
            async move {
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                (
                    status,
                    response.json::<Value>().await.unwrap_or(Value::Null),
                )
            }
        })
        .collect();
    let answers: Vec<(u16, Value)> = all_at_once(requests).await;
    let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    let approved = answers
        .iter()
        .filter(|(_, body)| body["status"] == "approved")
        .count();
    let valid = answers
        .iter()
        .filter(|(_, body)| body["valid"] == true)
        .count();
    eprintln!(
        "race: same Verify API code ×{BURST} on {} → {} answer(s) approved, {valid} valid; {}",
        spread_over(nodes, label),
        approved,
        tally(&statuses)
    );
    assert_eq!(approved, 1, "one answer says approved: {answers:?}");
    assert_eq!(valid, 1, "one answer says valid");
    assert_eq!(count(&statuses, 200), 1, "{}", tally(&statuses));
    assert_eq!(
        count(&statuses, 404) + count(&statuses, 429),
        BURST - 1,
        "{}",
        tally(&statuses)
    );
}

/// `BURST` sends to one number at once: no more messages than the send limits allow, and each
/// 200 is one message in the outbox.
pub async fn concurrent_sends_stay_within_the_send_limit(nodes: &[TestApp], label: &str) {
    // A country of its own, whose budget for a country nobody enrolled in the burst may use up
    // without touching the sends of the races that follow on the same database.
    const PHONE: &str = "+447400123463";
    let first = &nodes[0];
    let delivery: Value = first
        .with_key(Method::GET, "/api/system/delivery")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let delivery = &delivery["delivery"];
    let guard = &delivery["fraudGuard"];
    // Every limit a send to one number of one user from one address meets.
    let limit = [
        &guard["perDestination"]["max"],
        &guard["perUser"]["max"],
        &guard["perIp"]["max"],
        &guard["perNewCountry"]["max"],
        &guard["global"]["max"],
        &delivery["service"]["maxSendAttempts"],
    ]
    .iter()
    .map(|max| max.as_u64().expect("a configured limit") as usize)
    .min()
    .unwrap();
    assert!(limit < BURST, "the burst must exceed the limit to test it");

    let user = first.create_user("send-racer", json!({})).await;
    let id = user["id"].as_str().unwrap().to_owned();
    let requests = (0..BURST)
        .map(|i| {
            let request = node(nodes, i)
                .with_key(Method::POST, "/api/two-factor/send")
                .json(&json!({"method": "sms", "mobilePhone": PHONE, "userId": id}));
            async move { request.send().await.unwrap().status().as_u16() }
        })
        .collect();
    let statuses = all_at_once(requests).await;
    let messages = first
        .outbox()
        .await
        .iter()
        .filter(|m| m["to"] == PHONE)
        .count();
    eprintln!(
        "race: {BURST} concurrent sends to one number on {} → {}, {messages} messages (limit {limit})",
        spread_over(nodes, label),
        tally(&statuses)
    );
    let sent = count(&statuses, 200);
    assert_eq!(sent, messages, "each 200 is one message and no other");
    assert_eq!(
        sent,
        limit,
        "the limit is reached, never passed: {}",
        tally(&statuses)
    );
    assert_eq!(count(&statuses, 429), BURST - sent, "{}", tally(&statuses));
}

/// Enrolment during a login is for a user without a usable method: the `twoFactorId` stands in
/// for a session. Logins of one such user enrolling different authenticators at once: one
/// enrols, the others are refused, and the user ends with one method — a password alone must
/// not add a second factor beside the first.
pub async fn enrolments_during_login_at_once_add_one_method(nodes: &[TestApp], label: &str) {
    const LOGINS: usize = 20;
    let first = &nodes[0];
    let user = first.create_user("enrol-racer", json!({})).await;
    let id = user["id"].as_str().unwrap().to_owned();
    first
        .put_two_factor_settings(json!({"apiLoginPolicy": "required"}))
        .await;
    let mut challenges = Vec::new();
    for i in 0..LOGINS {
        let (status, challenge) = node(nodes, i)
            .login_json(json!({"loginId": "enrol-racer", "password": crate::helpers::PASSWORD}))
            .await;
        assert_eq!(status, 242, "{challenge}");
        challenges.push(challenge["twoFactorId"].as_str().unwrap().to_owned());
    }
    let requests = challenges
        .iter()
        .enumerate()
        .map(|(i, challenge)| {
            let secret = tessera::otp::TotpSecret::generate().to_base32();
            let request = node(nodes, i)
                .client
                .post(node(nodes, i).url("/api/user/two-factor"))
                .json(&json!({"twoFactorId": challenge, "method": "authenticator",
                              "code": oathtool(&secret, 0), "secretBase32Encoded": secret}));
            async move { request.send().await.unwrap().status().as_u16() }
        })
        .collect();
    let statuses = all_at_once(requests).await;
    eprintln!(
        "race: {LOGINS} enrolments during login at once on {} → {}",
        spread_over(nodes, label),
        tally(&statuses)
    );
    assert_eq!(count(&statuses, 200), 1, "{}", tally(&statuses));
    assert_eq!(count(&statuses, 403), LOGINS - 1, "{}", tally(&statuses));
    assert_eq!(first.methods_of(&id).await.len(), 1, "one method enrolled");
    let enabled = first
        .audit(&format!("userId={id}&event=two_factor.enable"))
        .await;
    assert_eq!(
        enabled.len(),
        1,
        "one enrolment in the audit log: {enabled:?}"
    );
}

pub(crate) fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

pub(crate) async fn two_nodes() -> Vec<TestApp> {
    let a = spawn_app().await;
    let b = a.another_node().await;
    vec![a, b]
}

/// 100 simultaneous submissions of one valid authenticator code to 100 open logins of one
/// user, on one server: exactly one succeeds, every other is refused as a wrong code.
#[tokio::test]
async fn one_totp_code_sent_100_times_at_once_to_one_server_succeeds_exactly_once() {
    same_totp_code_succeeds_once(&[spawn_app().await], "node").await;
}

/// The same, spread over two servers sharing the database.
#[tokio::test]
async fn one_totp_code_sent_100_times_at_once_to_two_servers_succeeds_exactly_once() {
    same_totp_code_succeeds_once(&two_nodes().await, "node").await;
}

/// 100 simultaneous uses of one recovery code on one server: exactly one succeeds.
#[tokio::test]
async fn one_recovery_code_used_100_times_at_once_on_one_server_works_exactly_once() {
    same_recovery_code_is_used_once(&[spawn_app().await], "node").await;
}

/// The same, spread over two servers sharing the database.
#[tokio::test]
async fn one_recovery_code_used_100_times_at_once_on_two_servers_works_exactly_once() {
    same_recovery_code_is_used_once(&two_nodes().await, "node").await;
}

/// 100 simultaneous submissions of one login's SMS code on one server: one approval.
#[tokio::test]
async fn one_sms_code_sent_100_times_at_once_to_one_server_is_approved_exactly_once() {
    same_sms_code_is_approved_once(&[spawn_app().await], "node").await;
}

/// The same, spread over two servers sharing the database.
#[tokio::test]
async fn one_sms_code_sent_100_times_at_once_to_two_servers_is_approved_exactly_once() {
    same_sms_code_is_approved_once(&two_nodes().await, "node").await;
}

/// 100 simultaneous checks of one Verify API code on one server: one approval.
#[tokio::test]
async fn one_verify_api_code_checked_100_times_at_once_on_one_server_is_approved_exactly_once() {
    same_verify_code_is_approved_once(&[spawn_app().await], "node").await;
}

/// The same, spread over two servers sharing the database.
#[tokio::test]
async fn one_verify_api_code_checked_100_times_at_once_on_two_servers_is_approved_exactly_once() {
    same_verify_code_is_approved_once(&two_nodes().await, "node").await;
}

/// 100 simultaneous requests for a code to one number on one server: exactly the send limit
/// of messages go out, each answered 200; the rest are refused with 429.
#[tokio::test]
async fn a_hundred_sends_at_once_to_one_number_on_one_server_stop_at_the_send_limit() {
    concurrent_sends_stay_within_the_send_limit(&[spawn_app().await], "node").await;
}

/// The same, spread over two servers sharing the database: the limit is shared.
#[tokio::test]
async fn a_hundred_sends_at_once_to_one_number_on_two_servers_stop_at_the_send_limit() {
    concurrent_sends_stay_within_the_send_limit(&two_nodes().await, "node").await;
}

/// Twenty logins of a user without a method enrolling at once on one server: one method.
#[tokio::test]
async fn enrolments_during_login_at_once_on_one_server_add_one_method() {
    enrolments_during_login_at_once_add_one_method(&[spawn_app().await], "node").await;
}

/// The same, spread over two servers sharing the database.
#[tokio::test]
async fn enrolments_during_login_at_once_on_two_servers_add_one_method() {
    enrolments_during_login_at_once_add_one_method(&two_nodes().await, "node").await;
}
