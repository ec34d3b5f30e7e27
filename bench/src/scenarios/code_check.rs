//! code-check: the second step of a login, a TOTP code against challenges opened beforehand.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

use super::{PASSWORD, Suite, base32, cheap_argon2, mb, random_secret, transport};
use crate::load::{self, Outcome, Slot, SlotPool, Step, Take};
use crate::server::{Backend, Server, ServerSettings, Workspace};

impl Suite<'_> {
    /// Users `u0…` with one TOTP secret each and the cheap hash, as code-check needs them.
    async fn seed_code_check_users(
        &self,
        workspace: &Workspace,
        settings: &ServerSettings,
        users: usize,
    ) -> anyhow::Result<Vec<Slot>> {
        let slots: Vec<Slot> = (0..users)
            .map(|user| Slot::new(user, random_secret()))
            .collect();
        let hash = self.cheap_hash.clone();
        self.import_users(workspace, settings, users, |i| {
            format!("u{i},\"{hash}\",{},,", base32(&slots[i].secret))
        })
        .await?;
        Ok(slots)
    }

    pub async fn code_check(&mut self, backend: Backend) -> anyhow::Result<()> {
        let args = self.args;
        println!(
            "\n== code-check on {}: {} connections, {} users",
            backend.label(),
            args.connections,
            args.users
        );
        let workspace = Workspace::create(backend, &args.postgres_url, "code-check").await?;
        let result = self.code_check_in(backend, &workspace).await;
        workspace.remove().await;
        result
    }

    async fn code_check_in(
        &mut self,
        backend: Backend,
        workspace: &Workspace,
    ) -> anyhow::Result<()> {
        let args = self.args;
        let settings = ServerSettings {
            argon2: cheap_argon2(),
            fraud_guard: true,
            password_guard: true,
            trusted_loopback_proxy: false,
        };
        let slots = self
            .seed_code_check_users(workspace, &settings, args.users)
            .await?;
        let server = Server::start_on_existing_database(&self.binary, workspace, &settings).await?;
        // A code check runs faster than a password login opens a challenge (3.4 times as fast
        // on SQLite since the group commit): six measured phases' worth of opening keeps the
        // phase from running dry.
        let slots = prepare_challenges(
            &server.base_url,
            slots,
            3,
            args.measured() * 6,
            args.connections,
            "authenticator",
        )
        .await?;
        let pool = Arc::new(SlotPool::new(slots, true, true));
        server.reset_peak_rss();
        let cpu_before = server.cpu_seconds();
        let figures = load::run(
            args.connections,
            args.measured(),
            code_check_operation(server.base_url.clone(), pool),
        )
        .await;
        let cpu = server.cpu_seconds() - cpu_before;
        let peak = server.peak_rss_bytes();
        let limit = self.commit_limit(backend);
        self.print_run("code-check", &figures, Some((&server, cpu, peak)));
        let rss_ratio = mb(peak) / 100.0;
        self.note(
            backend,
            format!(
                "peak RSS ≤ 100 MB under {} connections (code-check) — {:.1} MB = {rss_ratio:.2} of it",
                args.connections,
                mb(peak)
            ),
            rss_ratio <= 1.0,
        );
        let ready_ratio = server.ready.as_secs_f64() / 0.2;
        self.note(
            backend,
            format!(
                "ready ≤ 200 ms after start on an existing database — {:.0} ms = {ready_ratio:.2} of it",
                server.ready.as_secs_f64() * 1000.0
            ),
            ready_ratio <= 1.0,
        );
        println!(
            "    limit        raw commit rate {limit:.0}/s: code-check runs at {:.2} of it",
            figures.rate() / limit
        );
        // Read by bench/privacyidea.sh.
        println!(
            "RESULT rate={:.1} p50={:.2} p99={:.2} errors={}",
            figures.rate(),
            figures.percentile_ms(50.0),
            figures.percentile_ms(99.0),
            figures.errors
        );
        let ratio = figures.rate() / limit;
        self.note(
            backend,
            format!("code-check ≥ 0.50 of the raw commit rate — {ratio:.2}"),
            ratio >= 0.5,
        );
        let p99 = figures.percentile_ms(99.0);
        self.note(
            backend,
            format!(
                "code-check p99 ≤ 5 ms at {} connections — {p99:.2} ms = {:.2} of it",
                args.connections,
                p99 / 5.0
            ),
            p99 <= 5.0 && figures.errors == 0,
        );
        server.stop();
        Ok(())
    }
}

/// Opens logins (password → 242) beforehand, `rounds` per slot at most, round-robin over the
/// slots so that each user gets its first challenge before any gets a second, for at most
/// `budget`; keeps each slot's (twoFactorId, methodId of `method_kind`).
pub(super) async fn prepare_challenges(
    base: &str,
    mut slots: Vec<Slot>,
    rounds: usize,
    budget: Duration,
    connections: usize,
    method_kind: &'static str,
) -> anyhow::Result<Vec<Slot>> {
    let started = Instant::now();
    let users: Arc<Vec<usize>> = Arc::new(slots.iter().map(|s| s.user).collect());
    let total = users.len().saturating_mul(rounds);
    let next = Arc::new(AtomicUsize::new(0));
    let made: Arc<Mutex<Vec<(usize, String, String)>>> = Arc::new(Mutex::new(Vec::new()));
    let deadline = started + budget;
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (users, next, made, base) =
            (users.clone(), next.clone(), made.clone(), base.to_owned());
        workers.spawn(async move {
            let client = load::client();
            while Instant::now() < deadline {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= total {
                    break;
                }
                let slot = index % users.len();
                let answer = client
                    .post(format!("{base}/api/login"))
                    .json(&json!({"loginId": format!("u{}", users[slot]), "password": PASSWORD}))
                    .send()
                    .await?;
                anyhow::ensure!(
                    answer.status() == 242,
                    "login to open a challenge answered {}",
                    answer.status()
                );
                let body: Value = answer.json().await?;
                let challenge = body["twoFactorId"]
                    .as_str()
                    .context("no twoFactorId")?
                    .to_owned();
                let method = body["methods"]
                    .as_array()
                    .and_then(|methods| {
                        methods
                            .iter()
                            .find(|m| m["method"] == method_kind)
                            .and_then(|m| m["id"].as_str())
                    })
                    .with_context(|| format!("no {method_kind} method in {body}"))?
                    .to_owned();
                made.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((slot, challenge, method));
            }
            Ok::<_, anyhow::Error>(())
        });
    }
    for result in workers.join_all().await {
        result?;
    }
    let made = std::mem::take(&mut *made.lock().unwrap_or_else(|e| e.into_inner()));
    let count = made.len();
    for (slot, challenge, method) in made {
        slots[slot].challenges.push_back((challenge, method));
    }
    slots.retain(|s| !s.challenges.is_empty());
    println!(
        "  opened {count} challenges beforehand in {:.1} s ({:.0}/s)",
        started.elapsed().as_secs_f64(),
        count as f64 / started.elapsed().as_secs_f64()
    );
    Ok(slots)
}

type CodeCheckFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Step> + Send>>;

pub(super) fn code_check_operation(
    base: String,
    pool: Arc<SlotPool>,
) -> impl Fn(reqwest::Client, u64) -> CodeCheckFuture + Clone + Send + Sync + 'static {
    move |client, _| {
        let (pool, base) = (pool.clone(), base.clone());
        Box::pin(async move {
            let (mut slot, step) = match pool.take() {
                Take::Ready(slot, step) => (slot, step),
                Take::Wait => return Step::Wait,
                Take::Empty => return Step::Exhausted,
            };
            let Some((challenge, _)) = slot.challenges.pop_front() else {
                return Step::Exhausted;
            };
            let code = load::totp_code(&slot.secret, step);
            let answer = client
                .post(format!("{base}/api/two-factor/login"))
                .json(&json!({"twoFactorId": challenge, "code": code}))
                .send()
                .await;
            pool.put_back(slot, step);
            Step::Done(match answer {
                Ok(response) => Outcome::status(response.status().as_u16(), 200),
                Err(e) => Outcome::failed(transport(&e)),
            })
        })
    }
}
