//! sms-roundtrip: a code sent to the development outbox, read there and checked.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::code_check::prepare_challenges;
use super::{Suite, cheap_argon2, transport};
use crate::load::{self, Outcome, Slot, SlotPool, Step, Take};
use crate::server::{Backend, Server, ServerSettings, Workspace};

/// A distinct, valid US mobile-or-fixed number per user (+1 303 2xx xxxx).
fn phone(user: usize) -> String {
    format!("+13032{:06}", user % 1_000_000)
}

impl Suite<'_> {
    pub async fn sms_roundtrip(&mut self, backend: Backend) -> anyhow::Result<()> {
        let args = self.args;
        let connections = args.sms_connections;
        println!(
            "\n== sms-roundtrip on {}: {connections} connections; send to the outbox, read it, check it (fraud guard off)",
            backend.label()
        );
        let workspace = Workspace::create(backend, &args.postgres_url, "sms").await?;
        let result = self.sms_in(&workspace, connections).await;
        workspace.remove().await;
        result
    }

    async fn sms_in(&mut self, workspace: &Workspace, connections: usize) -> anyhow::Result<()> {
        let args = self.args;
        let settings = ServerSettings {
            argon2: cheap_argon2(),
            fraud_guard: false,
            password_guard: true,
            trusted_loopback_proxy: false,
        };
        // Each user has a number of its own, so a client finds its message by the number.
        let users = (connections * 8).max(100);
        let hash = self.cheap_hash.clone();
        self.import_users(workspace, &settings, users, |i| {
            format!("u{i},\"{hash}\",,{},true", phone(i))
        })
        .await?;
        let server = Server::start_on_existing_database(&self.binary, workspace, &settings).await?;
        let slots: Vec<Slot> = (0..users)
            .map(|user| Slot::new(user, Arc::from(Vec::new())))
            .collect();
        // A login context sends at most 5 codes; one per challenge here.
        let slots = prepare_challenges(
            &server.base_url,
            slots,
            usize::MAX,
            args.measured(),
            connections,
            "sms",
        )
        .await?;
        let pool = Arc::new(SlotPool::new(slots, true, false));
        server.reset_peak_rss();
        let cpu_before = server.cpu_seconds();
        let base = server.base_url.clone();
        let figures = load::run(connections, args.measured(), move |client, _| {
            let pool = pool.clone();
            let base = base.clone();
            async move {
                let mut slot = match pool.take() {
                    Take::Ready(slot, _) => slot,
                    Take::Wait => return Step::Wait,
                    Take::Empty => return Step::Exhausted,
                };
                let Some((challenge, method)) = slot.challenges.pop_front() else {
                    return Step::Exhausted;
                };
                let outcome = sms_once(&client, &base, slot.user, &challenge, &method).await;
                pool.put_back(slot, 0);
                Step::Done(outcome)
            }
        })
        .await;
        let cpu = server.cpu_seconds() - cpu_before;
        let peak = server.peak_rss_bytes();
        self.print_run(
            "sms-roundtrip (send + outbox read + check = one request)",
            &figures,
            Some((&server, cpu, peak)),
        );
        server.stop();
        Ok(())
    }
}

async fn sms_once(
    client: &reqwest::Client,
    base: &str,
    user: usize,
    challenge: &str,
    method: &str,
) -> Outcome {
    // Earlier messages to this number belong to earlier logins: only a newer one is this one's.
    let sent_at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let sent = client
        .post(format!("{base}/api/two-factor/send/{challenge}"))
        .json(&json!({"methodId": method}))
        .send()
        .await;
    match sent {
        Ok(response) if response.status() == 200 => {}
        Ok(response) => return Outcome::failed(format!("send-{}", response.status().as_u16())),
        Err(e) => return Outcome::failed(transport(&e)),
    }
    let number = phone(user);
    // The send answers once the message is queued and its first delivery tried; the outbox is
    // read until the message shows (a few tries at most), as a person would refresh it.
    let mut code = None;
    for _ in 0..20 {
        let outbox = match client.get(format!("{base}/dev/outbox.json")).send().await {
            Ok(response) => response.json::<Value>().await.unwrap_or(Value::Null),
            Err(e) => return Outcome::failed(transport(&e)),
        };
        // Newest first: the first new message to this user's number is the one just sent.
        code = outbox.as_array().and_then(|messages| {
            messages
                .iter()
                .find(|m| {
                    m["to"].as_str().is_some_and(|to| to.contains(&number))
                        && m["insertInstant"]
                            .as_i64()
                            .is_some_and(|at| at >= sent_at_ms)
                })
                .and_then(|m| m["body"].as_str())
                .and_then(six_digits)
        });
        if code.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let Some(code) = code else {
        return Outcome::failed("not-in-outbox");
    };
    match client
        .post(format!("{base}/api/two-factor/login"))
        .json(&json!({"twoFactorId": challenge, "code": code}))
        .send()
        .await
    {
        Ok(response) => Outcome::status(response.status().as_u16(), 200),
        Err(e) => Outcome::failed(transport(&e)),
    }
}

fn six_digits(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 6)
        .map(str::to_owned)
}
