//! Races over a person's methods: enables and disables fired at once, at one server or spread over
//! several, end in a consistent state (one of two enables, one of two removals, the last method
//! never lost). Each prints one figure line; processes.rs runs the scenario across serve processes.
//! The helpers are races.rs's.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, all_at_once, oathtool, spawn_app, tally};
use crate::races::{count, node, spread_over, two_nodes};

/// One change of a user's methods.
enum Action {
    EnableAuthenticator {
        user: String,
        name: String,
        secret: String,
    },
    EnableSms {
        user: String,
        phone: String,
        code: String,
    },
    Disable {
        user: String,
        method: String,
        code: String,
    },
    RenewRecoveryCodes {
        user: String,
    },
    ChangePhone {
        user: String,
        method: String,
        phone: String,
        code: String,
    },
}

impl Action {
    fn describe(&self) -> String {
        match self {
            Action::EnableAuthenticator { user, name, .. } => format!("enable {user} {name}"),
            Action::EnableSms { user, phone, .. } => format!("sms {user} {phone}"),
            Action::Disable { user, method, .. } => format!("disable {user} {method}"),
            Action::RenewRecoveryCodes { user } => format!("renew {user}"),
            Action::ChangePhone { user, method, .. } => format!("change {user} {method}"),
        }
    }

    fn request(
        &self,
        app: &TestApp,
    ) -> impl std::future::Future<Output = (u16, Value)> + Send + 'static {
        let request = match self {
            Action::EnableAuthenticator { user, name, secret } => app
                .with_key(Method::POST, &format!("/api/user/two-factor/{user}"))
                .json(
                    &json!({"method": "authenticator", "secretBase32Encoded": secret,
                              "code": oathtool(secret, 0), "name": name}),
                ),
            Action::EnableSms { user, phone, code } => app
                .with_key(Method::POST, &format!("/api/user/two-factor/{user}"))
                .json(&json!({"method": "sms", "mobilePhone": phone, "code": code})),
            Action::Disable { user, method, code } => app.with_key(
                Method::DELETE,
                &format!("/api/user/two-factor/{user}?methodId={method}&code={code}"),
            ),
            Action::RenewRecoveryCodes { user } => app.with_key(
                Method::POST,
                &format!("/api/user/two-factor/recovery-code/{user}"),
            ),
            Action::ChangePhone {
                user,
                method,
                phone,
                code,
            } => app
                .with_key(Method::POST, &format!("/api/user/two-factor/phone/{user}"))
                .json(&json!({"methodId": method, "mobilePhone": phone, "code": code})),
        };
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json().await.unwrap_or(Value::Null))
        }
    }
}

/// Concurrent enables and disables of one user's methods — new authenticators (one of them
/// submitted twice), removals of two authenticators (one of them twice with two valid codes),
/// an SMS method removed twice with its one code, a new phone enabled three times with its one
/// code — and, for a second user, the removal of the last method racing the addition of a new
/// one; for a third, the removal of its only method racing renewals of its recovery codes; for
/// a fourth, the removal of its phone method racing two changes of its number. The end state must be what the answers said: the listed methods are the enabled minus
/// the removed ones, each once, with one audit event per change; recovery codes exist exactly
/// while methods do; every listed method logs in and no removed one does.
pub async fn concurrent_enables_and_disables_end_consistent(nodes: &[TestApp], label: &str) {
    const OLD_PHONE: &str = "+13035550171";
    const NEW_PHONE: &str = "+13035550172";
    const MOVING_OLD_PHONE: &str = "+13035550173";
    const MOVING_NEW_PHONE: &str = "+13035550174";
    let first = &nodes[0];
    // Three steps either side: a code of two steps ahead still passes after the race, so a
    // removed authenticator is refused because it is gone, not because its step is spent.
    let mut settings: Value = first
        .with_key(Method::GET, "/api/system/two-factor")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    settings["twoFactor"]["totpSkewSteps"] = json!(3);
    first
        .put_two_factor_settings(settings["twoFactor"].clone())
        .await;

    let user = first.create_user("method-racer", json!({})).await;
    let id = user["id"].as_str().unwrap().to_owned();
    let mut secrets: BTreeMap<String, String> = BTreeMap::new(); // method id → secret
    for name in ["One", "Two", "Three"] {
        let (method, secret) = enable_authenticator(first, &id, name).await;
        secrets.insert(method, secret);
    }
    let ids: Vec<String> = first
        .methods_of(&id)
        .await
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    let (kept, twice_removed, removed) = (&ids[0], &ids[1], &ids[2]);
    let old_sms = first.enroll_sms(&id, OLD_PHONE).await;
    // The code that proves the old phone before its removal, and the one for the new phone.
    assert_eq!(
        first
            .with_key(Method::POST, "/api/two-factor/send")
            .json(&json!({"methodId": old_sms, "userId": id}))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let old_code = first.code_sent_to(OLD_PHONE).await;
    assert_eq!(
        first.send_enrollment(&id, "sms", NEW_PHONE).await.status(),
        200
    );
    let new_code = first.code_sent_to(NEW_PHONE).await;

    // The second user: one method, removed while another is added.
    let last = first.create_user("last-method-racer", json!({})).await;
    let last_id = last["id"].as_str().unwrap().to_owned();
    let (last_old, last_old_secret) = enable_authenticator(first, &last_id, "Old").await;
    let last_new_secret = tessera::otp::TotpSecret::generate().to_base32();

    // The third user: its only method removed while its recovery codes are renewed.
    let renewing = first.create_user("renewing-racer", json!({})).await;
    let renewing_id = renewing["id"].as_str().unwrap().to_owned();
    let (renewing_method, renewing_secret) =
        enable_authenticator(first, &renewing_id, "Only").await;

    // The fourth user: its phone method removed while its number is changed, twice with the
    // one code sent to the new number.
    let moving = first.create_user("moving-racer", json!({})).await;
    let moving_id = moving["id"].as_str().unwrap().to_owned();
    let moving_method = first.enroll_sms(&moving_id, MOVING_OLD_PHONE).await;
    for body in [
        json!({"methodId": moving_method, "userId": moving_id}),
        json!({"methodId": moving_method, "userId": moving_id, "mobilePhone": MOVING_NEW_PHONE}),
    ] {
        let sent = first
            .with_key(Method::POST, "/api/two-factor/send")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 200, "{body}");
    }
    let moving_removal_code = first.code_sent_to(MOVING_OLD_PHONE).await;
    let moving_change_code = first.code_sent_to(MOVING_NEW_PHONE).await;

    let new_secrets: Vec<String> = (0..4)
        .map(|_| tessera::otp::TotpSecret::generate().to_base32())
        .collect();
    let mut actions: Vec<Action> = Vec::new();
    for (n, secret) in new_secrets.iter().enumerate() {
        actions.push(Action::EnableAuthenticator {
            user: id.clone(),
            name: format!("New{n}"),
            secret: secret.clone(),
        });
    }
    // A double submission of the first new authenticator.
    actions.push(Action::EnableAuthenticator {
        user: id.clone(),
        name: "New0".into(),
        secret: new_secrets[0].clone(),
    });
    for offset in [30, 60] {
        actions.push(Action::Disable {
            user: id.clone(),
            method: twice_removed.clone(),
            code: oathtool(&secrets[twice_removed], offset),
        });
    }
    actions.push(Action::Disable {
        user: id.clone(),
        method: removed.clone(),
        code: oathtool(&secrets[removed], 30),
    });
    for _ in 0..2 {
        actions.push(Action::Disable {
            user: id.clone(),
            method: old_sms.clone(),
            code: old_code.clone(),
        });
    }
    for _ in 0..3 {
        actions.push(Action::EnableSms {
            user: id.clone(),
            phone: NEW_PHONE.into(),
            code: new_code.clone(),
        });
    }
    actions.push(Action::Disable {
        user: last_id.clone(),
        method: last_old.clone(),
        code: oathtool(&last_old_secret, 30),
    });
    actions.push(Action::EnableAuthenticator {
        user: last_id.clone(),
        name: "New".into(),
        secret: last_new_secret.clone(),
    });

    actions.push(Action::Disable {
        user: renewing_id.clone(),
        method: renewing_method.clone(),
        code: oathtool(&renewing_secret, 30),
    });
    for _ in 0..4 {
        actions.push(Action::RenewRecoveryCodes {
            user: renewing_id.clone(),
        });
    }

    actions.push(Action::Disable {
        user: moving_id.clone(),
        method: moving_method.clone(),
        code: moving_removal_code,
    });
    for _ in 0..2 {
        actions.push(Action::ChangePhone {
            user: moving_id.clone(),
            method: moving_method.clone(),
            phone: MOVING_NEW_PHONE.into(),
            code: moving_change_code.clone(),
        });
    }

    let requests = actions
        .iter()
        .enumerate()
        .map(|(i, action)| action.request(node(nodes, i)))
        .collect();
    let answers: Vec<(u16, Value)> = all_at_once(requests).await;
    let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    assert!(
        statuses.iter().all(|s| [200, 400, 421].contains(s)),
        "only successes and documented refusals: {}",
        tally(&statuses)
    );

    // What the answers say happened, per user.
    let mut enabled_names: Vec<String> = Vec::new();
    let mut enabled_phones: Vec<String> = Vec::new();
    let mut disabled: Vec<String> = Vec::new();
    let mut last_new_codes: Option<Vec<String>> = None;
    for (action, (status, body)) in actions.iter().zip(&answers) {
        if *status != 200 {
            continue;
        }
        match action {
            Action::EnableAuthenticator { user, name, .. } if *user == id => {
                enabled_names.push(name.clone())
            }
            Action::EnableAuthenticator { .. } => {
                last_new_codes = body["recoveryCodes"].as_array().map(|codes| {
                    codes
                        .iter()
                        .map(|c| c.as_str().unwrap().to_owned())
                        .collect()
                })
            }
            Action::EnableSms { phone, .. } => enabled_phones.push(phone.clone()),
            Action::Disable { user, method, .. } if *user == id => disabled.push(method.clone()),
            Action::Disable { .. }
            | Action::RenewRecoveryCodes { .. }
            | Action::ChangePhone { .. } => {}
        }
    }
    let of = |wanted: &str| -> Vec<&str> {
        actions
            .iter()
            .zip(&statuses)
            .filter(|(action, _)| action.describe() == wanted)
            .map(|(_, status)| match status {
                200 => "ok",
                _ => "refused",
            })
            .collect()
    };
    eprintln!(
        "race: {} concurrent enables/disables on {} → {}; double enable {:?}, double removal with two codes {:?}, \
         double removal with one SMS code {:?}, one SMS code enabling ×3 {:?}, last method removed while one is added {}, \
         last method removed while recovery codes are renewed ×4 {}, phone method removed while its number is changed ×2 {}",
        actions.len(),
        spread_over(nodes, label),
        tally(&statuses),
        of(&format!("enable {id} New0")),
        of(&format!("disable {id} {twice_removed}")),
        of(&format!("disable {id} {old_sms}")),
        of(&format!("sms {id} {NEW_PHONE}")),
        tally(&statuses[statuses.len() - 10..statuses.len() - 8]),
        tally(&statuses[statuses.len() - 8..statuses.len() - 3]),
        tally(&statuses[statuses.len() - 3..]),
    );

    // Each distinct change happened exactly once.
    enabled_names.sort();
    assert_eq!(
        enabled_names,
        ["New0", "New1", "New2", "New3"],
        "each new authenticator once, the double submission refused"
    );
    assert_eq!(enabled_phones, [NEW_PHONE], "one SMS code enables once");
    disabled.sort();
    let mut expected_disabled = vec![twice_removed.clone(), removed.clone(), old_sms.clone()];
    expected_disabled.sort();
    assert_eq!(
        disabled, expected_disabled,
        "each removal answered 200 once"
    );

    // The API lists exactly that, each method once.
    let listed = node(nodes, 1).methods_of(&id).await;
    let listed_ids: BTreeSet<String> = listed
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed_ids.len(), listed.len(), "no method listed twice");
    let mut described: Vec<String> = listed
        .iter()
        .map(|m| match m["method"].as_str().unwrap() {
            "sms" => format!("sms {}", m["mobilePhone"].as_str().unwrap()),
            _ => format!("authenticator {}", m["name"].as_str().unwrap()),
        })
        .collect();
    described.sort();
    assert_eq!(
        described,
        [
            "authenticator New0",
            "authenticator New1",
            "authenticator New2",
            "authenticator New3",
            "authenticator One",
            &format!("sms {NEW_PHONE}"),
        ],
    );
    assert!(listed_ids.contains(kept.as_str()));

    // The audit log tells the same story: one event per change.
    let enables = first
        .audit(&format!("userId={id}&event=two_factor.enable"))
        .await;
    assert_eq!(enables.len(), 4 + 4 + 1, "4 before the race, 5 in it");
    let mut audited_removals: Vec<String> = first
        .audit(&format!("userId={id}&event=two_factor.disable"))
        .await
        .iter()
        .map(|e| e["details"]["methodId"].as_str().unwrap().to_owned())
        .collect();
    audited_removals.sort();
    assert_eq!(audited_removals, expected_disabled);

    // Recovery codes exist exactly while methods do: the first user keeps its set.
    let user_id = tessera::domain::UserId::parse(&id).unwrap();
    assert_eq!(
        first
            .core
            .store
            .two_factor()
            .unused_recovery_codes(user_id)
            .await
            .unwrap(),
        10
    );

    // Every listed method logs in; no removed one does.
    for method in &listed {
        let method_id = method["id"].as_str().unwrap();
        let code = match method["method"].as_str().unwrap() {
            "sms" => None,
            _ => Some(oathtool(secret_of(&secrets, &new_secrets, method), 60)),
        };
        assert_eq!(
            log_in_with(nodes, "method-racer", method_id, code, NEW_PHONE).await,
            200,
            "{method}"
        );
    }
    for gone in [twice_removed, removed] {
        let challenge = node(nodes, 1).start_two_factor("method-racer").await;
        assert_eq!(
            node(nodes, 0)
                .finish_two_factor(&challenge, &oathtool(&secrets[gone], 60), json!({}))
                .await
                .status(),
            421,
            "a removed authenticator's code is refused"
        );
    }
    let challenge = node(nodes, 1).start_two_factor("method-racer").await;
    let send = node(nodes, 0)
        .post_json(
            &format!("/api/two-factor/send/{challenge}"),
            &json!({"methodId": old_sms}),
        )
        .await;
    assert_eq!(send.status(), 400, "the removed phone gets no code");

    // The second user: whatever the order, one method and a working set of recovery codes.
    let last_methods = first.methods_of(&last_id).await;
    let last_names: Vec<&str> = last_methods
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(last_names, ["New"], "the old method went, the new one came");
    let last_user = tessera::domain::UserId::parse(&last_id).unwrap();
    assert_eq!(
        first
            .core
            .store
            .two_factor()
            .unused_recovery_codes(last_user)
            .await
            .unwrap(),
        10,
        "one method, so one full set of recovery codes"
    );
    if let Some(codes) = last_new_codes {
        // The new method came first: its codes are the ones that work.
        let challenge = node(nodes, 1).start_two_factor("last-method-racer").await;
        assert_eq!(
            node(nodes, 0)
                .finish_two_factor(&challenge, &codes[0], json!({}))
                .await
                .status(),
            200
        );
    }
    let challenge = node(nodes, 1).start_two_factor("last-method-racer").await;
    assert_eq!(
        node(nodes, 0)
            .finish_two_factor(&challenge, &oathtool(&last_new_secret, 60), json!({}))
            .await
            .status(),
        200
    );

    // The third user: no method, so no recovery codes, whichever renewal ran when.
    let renewals = &statuses[statuses.len() - 8..statuses.len() - 3];
    assert_eq!(renewals[0], 200, "its method was removed with a valid code");
    assert!(first.methods_of(&renewing_id).await.is_empty());
    let renewing_user = tessera::domain::UserId::parse(&renewing_id).unwrap();
    assert_eq!(
        first
            .core
            .store
            .two_factor()
            .unused_recovery_codes(renewing_user)
            .await
            .unwrap(),
        0,
        "no method, no recovery codes: {}",
        tally(renewals)
    );
    let (status, _) = node(nodes, 1)
        .login_json(json!({"loginId": "renewing-racer", "password": crate::helpers::PASSWORD}))
        .await;
    assert_eq!(status, 200, "without a method the password alone logs in");

    // The fourth user: the method is gone, and the number changed once at most, exactly as
    // often as the audit log says; a change that came too late says so.
    let moving_answers = &statuses[statuses.len() - 3..];
    assert_eq!(moving_answers[0], 200, "the removal's code was valid");
    assert!(first.methods_of(&moving_id).await.is_empty());
    let changes = count(&moving_answers[1..], 200);
    assert!(changes <= 1, "one code changes the number once");
    let audited_changes = first
        .audit(&format!("userId={moving_id}&event=user.phone_change"))
        .await
        .len();
    assert_eq!(
        changes,
        audited_changes,
        "each 200 is a change that happened: {}",
        tally(moving_answers)
    );
}

fn secret_of<'a>(
    secrets: &'a BTreeMap<String, String>,
    new_secrets: &'a [String],
    method: &Value,
) -> &'a str {
    let id = method["id"].as_str().unwrap();
    match secrets.get(id) {
        Some(secret) => secret,
        None => {
            let name = method["name"].as_str().unwrap();
            let n: usize = name.trim_start_matches("New").parse().unwrap();
            &new_secrets[n]
        }
    }
}

/// Logs in with one method: an authenticator code, or (code `None`) the code sent to `phone`.
async fn log_in_with(
    nodes: &[TestApp],
    login: &str,
    method_id: &str,
    code: Option<String>,
    phone: &str,
) -> u16 {
    let challenge = node(nodes, 0).start_two_factor(login).await;
    let code = match code {
        Some(code) => code,
        None => {
            let sent = node(nodes, 1)
                .post_json(
                    &format!("/api/two-factor/send/{challenge}"),
                    &json!({"methodId": method_id}),
                )
                .await;
            assert_eq!(sent.status(), 200);
            nodes[0].code_sent_to(phone).await
        }
    };
    node(nodes, 2)
        .finish_two_factor(&challenge, &code, json!({}))
        .await
        .status()
        .as_u16()
}

/// Enables an authenticator named `name`; its method id and secret.
async fn enable_authenticator(app: &TestApp, user: &str, name: &str) -> (String, String) {
    let secret = tessera::otp::TotpSecret::generate().to_base32();
    let response = app
        .with_key(Method::POST, &format!("/api/user/two-factor/{user}"))
        .json(
            &json!({"method": "authenticator", "secretBase32Encoded": secret,
                      "code": oathtool(&secret, 0), "name": name}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    (body["methodId"].as_str().unwrap().to_owned(), secret)
}

/// Concurrent enables and disables of one user's methods on one server end in the state the
/// answers describe.
#[tokio::test]
async fn concurrent_enables_and_disables_on_one_server_end_in_a_consistent_state() {
    concurrent_enables_and_disables_end_consistent(&[spawn_app().await], "node").await;
}

/// The same, spread over two servers sharing the database.
#[tokio::test]
async fn concurrent_enables_and_disables_on_two_servers_end_in_a_consistent_state() {
    concurrent_enables_and_disables_end_consistent(&two_nodes().await, "node").await;
}
