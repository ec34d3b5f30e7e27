//! The scenarios of the performance suite and the budget they report against.

mod forward_auth;
mod oidc;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};
use tessera::config::Argon2Config;
use tessera::crypto::PasswordHasher;

use crate::Args;
use crate::limits::{self, CommitRate, HashRate};
use crate::load::{self, Outcome, RunFigures, Slot, SlotPool, Step, Take};
use crate::server::{self, Backend, Server, ServerSettings, Workspace};

const PASSWORD: &str = "benchmark password 1";
const WRONG_PASSWORD: &str = "not the benchmark password";
const CSV_HEADER: &str = "username,password_hash,totp_secrets,mobile_phone,authy_migrated";
/// Flood: clients doing code-check, and clients guessing passwords beside them.
const FLOOD_CHECKERS: usize = 8;
const FLOOD_GUESSERS: usize = 50;
/// Scale: users who log in (each with several authenticators, so that 1,000 users give enough
/// fresh codes per 30 s step for a fast machine; the server checks a code against each of them,
/// a few microseconds beside a hash of milliseconds).
const SCALE_LOGIN_USERS: usize = 1_000;
const SECRETS_PER_LOGIN_USER: usize = 4;

/// How long one measurement of the Argon2id limit takes (a third on one core, the rest on all).
const HASH_LIMIT_BUDGET: Duration = Duration::from_secs(3);

/// The cheapest Argon2id the server accepts. Scenarios that do not measure password hashing
/// (code-check, flood's checkers, sms-roundtrip) run the server with it and store hashes made
/// with it, so creating their challenges beforehand takes seconds instead of minutes; a code
/// check itself hashes nothing.
fn cheap_argon2() -> Argon2Config {
    Argon2Config {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
        max_concurrent: 0,
    }
}

struct BudgetLine {
    backend: Backend,
    text: String,
    met: bool,
}

pub struct Suite<'a> {
    args: &'a Args,
    binary: PathBuf,
    hash: HashRate,
    commit: HashMap<&'static str, CommitRate>,
    budget: Vec<BudgetLine>,
    /// Operations that did not end as expected, over every scenario (for --fail-on-errors).
    pub errors: u64,
    default_hash: String,
    cheap_hash: String,
}

fn db_key(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

fn random_secret() -> Arc<[u8]> {
    let bytes: [u8; 20] = rand::random();
    Arc::from(bytes.to_vec())
}

fn base32(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

fn mb(bytes: Option<u64>) -> f64 {
    bytes.map(|b| b as f64 / 1_048_576.0).unwrap_or(f64::NAN)
}

impl<'a> Suite<'a> {
    pub async fn new(args: &'a Args, binary: PathBuf) -> anyhow::Result<Self> {
        let cores = args.cores();
        let default = Argon2Config::default();
        println!(
            "\n== limit: one Argon2id hash at the default parameters (m={} KiB, t={}, p={}), tessera's own hasher",
            default.memory_kib, default.iterations, default.parallelism
        );
        let hash = tokio::task::spawn_blocking(move || {
            limits::argon2_rate(&default, cores, HASH_LIMIT_BUDGET)
        })
        .await??;
        println!(
            "  one hash {:.2} ms: {:.1} hashes/s on one core, {:.1} hashes/s on {} cores (a password login cannot beat this)",
            hash.one_hash.as_secs_f64() * 1000.0,
            hash.per_core,
            hash.all_cores,
            hash.cores
        );
        let default_hash = PasswordHasher::new(&Argon2Config::default(), 1)?
            .hash_blocking(PASSWORD)?
            .as_str()
            .to_owned();
        let cheap_hash = PasswordHasher::new(&cheap_argon2(), 1)?
            .hash_blocking(PASSWORD)?
            .as_str()
            .to_owned();
        Ok(Self {
            args,
            binary,
            hash,
            commit: HashMap::new(),
            budget: Vec::new(),
            errors: 0,
            default_hash,
            cheap_hash,
        })
    }

    fn note(&mut self, backend: Backend, text: String, met: bool) {
        println!("  budget: {text}: {}", if met { "met" } else { "MISSED" });
        self.budget.push(BudgetLine { backend, text, met });
    }

    pub async fn limits_on(&mut self, backend: Backend) -> anyhow::Result<()> {
        let workspace = Workspace::create(backend, &self.args.postgres_url, "commit").await?;
        let budget = Duration::from_secs_f64((self.args.duration / 2.0).clamp(1.0, 10.0));
        let measured = limits::commit_rate(
            &workspace.database_url,
            tessera::config::DatabaseConfig::default().max_connections,
            budget,
        )
        .await;
        workspace.remove().await;
        let commit = measured?;
        println!(
            "\n== limit on {}: raw commit rate of one conditional single-row UPDATE",
            backend.label()
        );
        println!(
            "  {:.0} commits/s from 1 connection, {:.0} commits/s from {} connections (a code check cannot beat {:.0}/s)",
            commit.one_connection,
            commit.pool,
            commit.pool_connections,
            commit.best()
        );
        self.commit.insert(db_key(backend), commit);
        Ok(())
    }

    fn commit_limit(&self, backend: Backend) -> f64 {
        self.commit
            .get(db_key(backend))
            .map(CommitRate::best)
            .unwrap_or(f64::NAN)
    }

    /// Runs `operation` on `connections` connections for `window` against `server`, and prints
    /// the run with the server's CPU and peak RSS over it.
    async fn measure_on<F, Fut>(
        &mut self,
        server: &Server,
        title: &str,
        connections: usize,
        window: Duration,
        operation: F,
    ) -> RunFigures
    where
        F: Fn(reqwest::Client, u64) -> Fut + Clone + Send + Sync + 'static,
        Fut: std::future::Future<Output = Step> + Send,
    {
        server.reset_peak_rss();
        let cpu_before = server.cpu_seconds();
        let figures = load::run(connections, window, operation).await;
        let cpu = server.cpu_seconds() - cpu_before;
        let peak = server.peak_rss_bytes();
        self.print_run(title, &figures, Some((server, cpu, peak)));
        figures
    }

    /// The common lines: rate, latency, outcomes, CPU per request, RSS, ready time.
    fn print_run(
        &mut self,
        title: &str,
        figures: &RunFigures,
        server: Option<(&Server, f64, Option<u64>)>,
    ) {
        self.errors += figures.errors;
        println!("  {title}");
        println!(
            "    requests/s   {:>10.1}   ({} in {:.2} s{})",
            figures.rate(),
            figures.count(),
            figures.elapsed.as_secs_f64(),
            if figures.ran_out {
                "; stopped early: the prepared challenges were spent"
            } else {
                ""
            }
        );
        println!(
            "    latency ms   p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
            figures.percentile_ms(50.0),
            figures.percentile_ms(90.0),
            figures.percentile_ms(99.0),
            figures.max_ms()
        );
        println!(
            "    outcomes     {}   errors {}{}",
            figures.outcomes_text(),
            figures.errors,
            if figures.waited_for_codes.is_zero() {
                String::new()
            } else {
                format!(
                    "   (clients waited {:.1} s in all for a fresh TOTP step: too few users)",
                    figures.waited_for_codes.as_secs_f64()
                )
            }
        );
        if let Some((server, cpu_seconds, peak)) = server {
            let per_request = cpu_seconds / figures.count().max(1) as f64;
            println!(
                "    server CPU   {:.3} ms/request ({cpu_seconds:.2} s)   peak RSS {:.1} MB   ready {:.0} ms after start",
                per_request * 1000.0,
                mb(peak),
                server.ready.as_secs_f64() * 1000.0
            );
        }
    }

    async fn import_users(
        &self,
        workspace: &Workspace,
        settings: &ServerSettings,
        total: usize,
        row: impl FnMut(usize) -> String,
    ) -> anyhow::Result<()> {
        let took = server::import(&self.binary, workspace, settings, CSV_HEADER, total, row)?;
        workspace.settle_after_import().await?;
        println!(
            "  seeded {total} users with `tessera import` in {:.1} s",
            took.as_secs_f64()
        );
        Ok(())
    }

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

    pub async fn login_full(&mut self, backend: Backend) -> anyhow::Result<()> {
        // This machine's speed drifts by ±10% over minutes (it is shared), more than the gap
        // the budget line is about: the limit is measured again just before and just after
        // the phase, and the phase is compared with their mean.
        let before = self.hash_rate_now().await?;
        let figures = self
            .login_full_with(backend, SCALE_LOGIN_USERS, "login-full")
            .await?;
        let after = self.hash_rate_now().await?;
        let allowed = (before + after) / 2.0;
        let ratio = figures.rate() / allowed;
        println!(
            "    limit        Argon2id {allowed:.1} hashes/s on {} cores ({before:.1} just before, {after:.1} just after): login-full runs at {ratio:.2} of it",
            self.hash.cores
        );
        self.note(
            backend,
            format!("login-full ≥ 0.90 of the Argon2id hash rate on all cores — {ratio:.2}"),
            ratio >= 0.9 && figures.errors == 0,
        );
        Ok(())
    }

    /// Argon2id hashes/s on all cores, measured now as at the start of the run.
    async fn hash_rate_now(&self) -> anyhow::Result<f64> {
        let cores = self.hash.cores;
        let rate = tokio::task::spawn_blocking(move || {
            limits::argon2_rate(&Argon2Config::default(), cores, HASH_LIMIT_BUDGET)
        })
        .await??;
        Ok(rate.all_cores)
    }

    /// login-full on a database of `population` users, of whom the first 1,000 log in.
    async fn login_full_with(
        &mut self,
        backend: Backend,
        population: usize,
        title: &str,
    ) -> anyhow::Result<RunFigures> {
        self.print_login_full_header(backend, population, title);
        let workspace = Workspace::create(backend, &self.args.postgres_url, "login").await?;
        let result = match self.prepare_login_full(&workspace, population, title).await {
            Ok(mut target) => {
                self.measure_login_full(&mut target, self.args.measured())
                    .await;
                Ok(self.finish_login_full(target))
            }
            Err(error) => Err(error),
        };
        workspace.remove().await;
        result
    }

    fn print_login_full_header(&self, backend: Backend, population: usize, title: &str) {
        println!(
            "\n== {title} on {}: {} connections, {population} users in the database ({SCALE_LOGIN_USERS} of them log in, {SECRETS_PER_LOGIN_USER} authenticators each), default Argon2id",
            backend.label(),
            self.args.login_connections()
        );
    }

    /// Seeds the database and starts its server: a login-full target ready to be measured.
    async fn prepare_login_full(
        &mut self,
        workspace: &Workspace,
        population: usize,
        title: &str,
    ) -> anyhow::Result<LoginFullTarget> {
        let settings = ServerSettings {
            argon2: Argon2Config::default(),
            fraud_guard: true,
            password_guard: true,
            trusted_loopback_proxy: false,
        };
        let login_users = SCALE_LOGIN_USERS.min(population);
        let secrets: Vec<Vec<Arc<[u8]>>> = (0..login_users)
            .map(|_| {
                (0..SECRETS_PER_LOGIN_USER)
                    .map(|_| random_secret())
                    .collect()
            })
            .collect();
        let hash = self.default_hash.clone();
        self.import_users(workspace, &settings, population, |i| match secrets.get(i) {
            Some(own) => {
                let list: Vec<String> = own.iter().map(|s| base32(s)).collect();
                format!("u{i},\"{hash}\",{},,", list.join(";"))
            }
            // The rest of the population: a password and nothing else.
            None => format!("f{i},\"{hash}\",,,"),
        })
        .await?;
        let server = Server::start_on_existing_database(&self.binary, workspace, &settings).await?;
        // Every user's first authenticator, then every user's second, and so on: the
        // connections log in as different people at once, as a server's users do. In user order,
        // all the connections were the same person at once, and on PostgreSQL each waited for
        // the others' lock on that user's row.
        let slots: Vec<Slot> = (0..SECRETS_PER_LOGIN_USER)
            .flat_map(|nth| {
                secrets
                    .iter()
                    .enumerate()
                    .map(move |(user, own)| Slot::new(user, own[nth].clone()))
            })
            .collect();
        server.reset_peak_rss();
        Ok(LoginFullTarget {
            title: title.to_owned(),
            server,
            pool: Arc::new(SlotPool::new(slots, false, true)),
            cpu_seconds: 0.0,
            windows: Vec::new(),
        })
    }

    /// Drives the target's server for `window` and keeps the figures.
    async fn measure_login_full(&self, target: &mut LoginFullTarget, window: Duration) {
        let cpu_before = target.server.cpu_seconds();
        let base = target.server.base_url.clone();
        let pool = target.pool.clone();
        let figures = load::run(self.args.login_connections(), window, move |client, _| {
            let pool = pool.clone();
            let base = base.clone();
            async move {
                let (slot, step) = match pool.take() {
                    Take::Ready(slot, step) => (slot, step),
                    Take::Wait => return Step::Wait,
                    Take::Empty => return Step::Exhausted,
                };
                let outcome = login_full_once(&client, &base, &slot, step).await;
                pool.put_back(slot, step);
                Step::Done(outcome)
            }
        })
        .await;
        target.cpu_seconds += target.server.cpu_seconds() - cpu_before;
        target.windows.push(figures);
    }

    /// Prints the target's figures over all its windows and stops its server.
    fn finish_login_full(&mut self, target: LoginFullTarget) -> RunFigures {
        let figures = RunFigures::merge(target.windows);
        let peak = target.server.peak_rss_bytes();
        self.print_run(
            &target.title,
            &figures,
            Some((&target.server, target.cpu_seconds, peak)),
        );
        target.server.stop();
        figures
    }

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

    pub async fn flood(&mut self, backend: Backend) -> anyhow::Result<()> {
        let args = self.args;
        println!(
            "\n== flood on {}: {FLOOD_CHECKERS} clients do code-check, alone and then beside {FLOOD_GUESSERS} clients guessing passwords (default Argon2id hashes)",
            backend.label()
        );
        let workspace = Workspace::create(backend, &args.postgres_url, "flood").await?;
        let result = self.flood_in(backend, &workspace).await;
        workspace.remove().await;
        result
    }

    async fn flood_in(&mut self, backend: Backend, workspace: &Workspace) -> anyhow::Result<()> {
        let args = self.args;
        // The checkers' users have cheap hashes (their challenges are made beforehand); the
        // victims' hashes are at the default parameters, which a verification follows, so each
        // wrong guess costs a full Argon2id in the server's bounded pool.
        let settings = ServerSettings {
            argon2: cheap_argon2(),
            fraud_guard: true,
            password_guard: false,
            trusted_loopback_proxy: false,
        };
        // Each phase has users of its own, as many as code-check's: replay protection lets a
        // user log in with at most three codes per 30-second step, and on a fast machine the 8
        // clients alone spent all 30,000 users' codes in the first phase, so that the phase
        // beside the flood had none left to check. Three challenges
        // each, opened beforehand: 180,000 by default, about 23 s on that machine.
        let users = 2 * args.users;
        let checker_slots: Vec<Slot> = (0..users)
            .map(|user| Slot::new(user, random_secret()))
            .collect();
        let (cheap, default) = (self.cheap_hash.clone(), self.default_hash.clone());
        self.import_users(workspace, &settings, users + FLOOD_GUESSERS, |i| {
            if i < users {
                format!("u{i},\"{cheap}\",{},,", base32(&checker_slots[i].secret))
            } else {
                format!("victim{},\"{default}\",,,", i - users)
            }
        })
        .await?;
        let server = Server::start_on_existing_database(&self.binary, workspace, &settings).await?;
        // Two measured phases to feed, alone and beside the flood (see code-check's comment).
        let slots = prepare_challenges(
            &server.base_url,
            checker_slots,
            3,
            args.measured() * 6,
            args.connections,
            "authenticator",
        )
        .await?;
        // Interleaved, so that both phases have as many challenges if the time ran out.
        let (alone_slots, flood_slots): (Vec<Slot>, Vec<Slot>) =
            slots.into_iter().partition(|slot| slot.user % 2 == 0);
        server.reset_peak_rss();
        let alone = load::run(
            FLOOD_CHECKERS,
            args.measured(),
            code_check_operation(
                server.base_url.clone(),
                Arc::new(SlotPool::new(alone_slots, true, true)),
            ),
        )
        .await;
        self.print_run("code-check, no flood", &alone, None);
        let cpu_before = server.cpu_seconds();
        let base = server.base_url.clone();
        // Guesses queue for the hashing pool; those still waiting shortly after the checkers
        // are done are dropped rather than awaited: the flood is only the background.
        let flood_ends = tokio::time::Instant::now() + args.measured() + Duration::from_secs(1);
        let guessing = load::run(FLOOD_GUESSERS, args.measured(), move |client, sequence| {
            let base = base.clone();
            async move {
                let victim = sequence as usize % FLOOD_GUESSERS;
                let guess = client
                    .post(format!("{base}/api/login"))
                    .json(
                        &json!({"loginId": format!("victim{victim}"), "password": WRONG_PASSWORD}),
                    )
                    .send();
                match tokio::time::timeout_at(flood_ends, guess).await {
                    Err(_) => Step::Abandoned,
                    Ok(Ok(response)) => {
                        Step::Done(Outcome::status(response.status().as_u16(), 404))
                    }
                    Ok(Err(e)) => Step::Done(Outcome::failed(transport(&e))),
                }
            }
        });
        let checking = load::run(
            FLOOD_CHECKERS,
            args.measured(),
            code_check_operation(
                server.base_url.clone(),
                Arc::new(SlotPool::new(flood_slots, true, true)),
            ),
        );
        let (guesses, during) = tokio::join!(guessing, checking);
        let cpu = server.cpu_seconds() - cpu_before;
        let peak = server.peak_rss_bytes();
        self.print_run("code-check during the flood", &during, None);
        self.print_run(
            "password guesses (the flood; 404 expected)",
            &guesses,
            Some((&server, cpu, peak)),
        );
        let (before, under) = (alone.percentile_ms(99.0), during.percentile_ms(99.0));
        println!(
            "    code-check p99: {before:.2} ms without the flood, {under:.2} ms with it ({:.1}×)",
            under / before
        );
        self.note(
            backend,
            format!(
                "flood: code-check p99 ≤ 20 ms — {under:.2} ms = {:.2} of it",
                under / 20.0
            ),
            under <= 20.0 && during.errors == 0,
        );
        server.stop();
        Ok(())
    }

    pub async fn scale(&mut self, backend: Backend) -> anyhow::Result<()> {
        let populations = self.args.scale_users.clone();
        // Every population is seeded and its server started first; then they are measured in
        // turns (A B A B). Drift of a noisy machine (other tenants, write-back, clock speed)
        // then falls on all of them alike instead of on whichever ran last.
        let mut workspaces = Vec::new();
        let mut targets = Vec::new();
        for population in populations {
            let title = format!("scale: login-full, {population} users");
            self.print_login_full_header(backend, population, &title);
            let workspace = Workspace::create(backend, &self.args.postgres_url, "scale").await?;
            let prepared = self
                .prepare_login_full(&workspace, population, &title)
                .await;
            workspaces.push(workspace);
            match prepared {
                Ok(target) => targets.push((population, target)),
                Err(error) => {
                    for (_, target) in targets {
                        target.server.stop();
                    }
                    for workspace in workspaces {
                        workspace.remove().await;
                    }
                    return Err(error);
                }
            }
        }
        let rounds = if targets.len() > 1 { SCALE_ROUNDS } else { 1 };
        let window = self.args.measured() / rounds;
        if rounds > 1 {
            println!(
                "\n  measured in turns: {rounds} rounds of {:.1} s per population",
                window.as_secs_f64()
            );
        }
        for _ in 0..rounds {
            for (_, target) in targets.iter_mut() {
                self.measure_login_full(target, window).await;
            }
        }
        let mut medians = Vec::new();
        for (population, target) in targets {
            let figures = self.finish_login_full(target);
            medians.push((population, figures.percentile_ms(50.0)));
        }
        for workspace in workspaces {
            workspace.remove().await;
        }
        if let (Some(&(small, base)), Some(&(large, grown))) = (medians.first(), medians.last())
            && small != large
        {
            let moved = grown / base - 1.0;
            println!(
                "\n  scale: login-full p50 {base:.2} ms with {small} users, {grown:.2} ms with {large} users ({:+.1}%)",
                moved * 100.0
            );
            self.note(
                backend,
                format!(
                    "scale: p50 moves ≤ 10% from {small} to {large} users — {:+.1}% = {:.2} of the allowance",
                    moved * 100.0,
                    moved.abs() / 0.10
                ),
                moved.abs() <= 0.10,
            );
        }
        Ok(())
    }

    pub fn print_budget(&self) {
        if self.budget.is_empty() {
            return;
        }
        println!("\n== budget (BENCHMARKS.md's targets; reported, never asserted)");
        let met = self.budget.iter().filter(|b| b.met).count();
        for line in &self.budget {
            println!(
                "  {:<7} {:<8} {}",
                if line.met { "met" } else { "MISSED" },
                db_key(line.backend),
                line.text
            );
        }
        println!("  {met} of {} met", self.budget.len());
    }
}

/// Turns of scale's measurement: each population is measured this many times, alternately.
const SCALE_ROUNDS: u32 = 2;

/// A login-full server made ready: its database seeded, its server up, its users' secrets.
struct LoginFullTarget {
    title: String,
    server: Server,
    pool: Arc<SlotPool>,
    cpu_seconds: f64,
    windows: Vec<RunFigures>,
}

/// A distinct, valid US mobile-or-fixed number per user (+1 303 2xx xxxx).
fn phone(user: usize) -> String {
    format!("+13032{:06}", user % 1_000_000)
}

fn transport(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout".into()
    } else if error.is_connect() {
        "connect-error".into()
    } else {
        "transport-error".into()
    }
}

/// Opens logins (password → 242) beforehand, `rounds` per slot at most, round-robin over the
/// slots so that each user gets its first challenge before any gets a second, for at most
/// `budget`; keeps each slot's (twoFactorId, methodId of `method_kind`).
async fn prepare_challenges(
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

fn code_check_operation(
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

async fn login_full_once(client: &reqwest::Client, base: &str, slot: &Slot, step: u64) -> Outcome {
    let answer = client
        .post(format!("{base}/api/login"))
        .json(&json!({"loginId": format!("u{}", slot.user), "password": PASSWORD}))
        .send()
        .await;
    let response = match answer {
        Ok(response) => response,
        Err(e) => return Outcome::failed(transport(&e)),
    };
    if response.status() != 242 {
        return Outcome::failed(format!("login-{}", response.status().as_u16()));
    }
    let Ok(body) = response.json::<Value>().await else {
        return Outcome::failed("login-bad-body");
    };
    let Some(challenge) = body["twoFactorId"].as_str() else {
        return Outcome::failed("login-no-twoFactorId");
    };
    let code = load::totp_code(&slot.secret, step);
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

/// code-check against privacyIDEA's `POST /validate/check` (serial + code), for
/// bench/privacyidea.sh; prints the same figures and a `RESULT` line it reads.
pub async fn privacyidea_code_check(args: &Args) -> anyhow::Result<()> {
    let url = args.url.clone().context("--url of privacyIDEA is needed")?;
    let tokens = args.tokens.clone().context("--tokens FILE is needed")?;
    let text = std::fs::read_to_string(&tokens)?;
    let mut slots = Vec::new();
    let mut serials = Vec::new();
    for (index, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let (serial, secret) = line.split_once(',').context("a line is `serial,base32`")?;
        let bytes = data_encoding::BASE32_NOPAD
            .decode(secret.trim().trim_end_matches('=').as_bytes())
            .context("a secret is base32")?;
        serials.push(serial.trim().to_owned());
        slots.push(Slot::new(index, Arc::from(bytes)));
    }
    let serials = Arc::new(serials);
    let pool = Arc::new(SlotPool::new(slots, false, true));
    println!(
        "\n== code-check against privacyIDEA at {url}: {} connections, {} tokens",
        args.connections,
        serials.len()
    );
    let figures = load::run(args.connections, args.measured(), move |client, _| {
        let (pool, url, serials) = (pool.clone(), url.clone(), serials.clone());
        async move {
            let (slot, step) = match pool.take() {
                Take::Ready(slot, step) => (slot, step),
                Take::Wait => return Step::Wait,
                Take::Empty => return Step::Exhausted,
            };
            let code = load::totp_code(&slot.secret, step);
            let answer = client
                .post(format!("{url}/validate/check"))
                .form(&[
                    ("serial", serials[slot.user].as_str()),
                    ("pass", code.as_str()),
                ])
                .send()
                .await;
            pool.put_back(slot, step);
            Step::Done(match answer {
                Ok(response) if response.status() == 200 => {
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    if body["result"]["value"] == true {
                        Outcome::status(200, 200)
                    } else {
                        Outcome::failed("200-rejected")
                    }
                }
                Ok(response) => Outcome::status(response.status().as_u16(), 200),
                Err(e) => Outcome::failed(transport(&e)),
            })
        }
    })
    .await;
    println!(
        "  requests/s {:.1}  p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms  outcomes {}  errors {}",
        figures.rate(),
        figures.percentile_ms(50.0),
        figures.percentile_ms(90.0),
        figures.percentile_ms(99.0),
        figures.max_ms(),
        figures.outcomes_text(),
        figures.errors
    );
    println!(
        "RESULT rate={:.1} p50={:.2} p99={:.2} errors={}",
        figures.rate(),
        figures.percentile_ms(50.0),
        figures.percentile_ms(99.0),
        figures.errors
    );
    Ok(())
}
