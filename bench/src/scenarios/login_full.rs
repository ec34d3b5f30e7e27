//! login-full: the whole login, password then code, on databases of growing size.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tessera::config::Argon2Config;

use super::{HASH_LIMIT_BUDGET, PASSWORD, Suite, base32, random_secret, transport};
use crate::limits;
use crate::load::{self, Outcome, RunFigures, Slot, SlotPool, Step, Take};
use crate::server::{Backend, Server, ServerSettings, Workspace};

/// Scale: users who log in (each with several authenticators, so that 1,000 users give enough
/// fresh codes per 30 s step for a fast machine; the server checks a code against each of them,
/// a few microseconds beside a hash of milliseconds).
const SCALE_LOGIN_USERS: usize = 1_000;
const SECRETS_PER_LOGIN_USER: usize = 4;

impl Suite<'_> {
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

    pub(super) fn print_login_full_header(&self, backend: Backend, population: usize, title: &str) {
        println!(
            "\n== {title} on {}: {} connections, {population} users in the database ({SCALE_LOGIN_USERS} of them log in, {SECRETS_PER_LOGIN_USER} authenticators each), default Argon2id",
            backend.label(),
            self.args.login_connections()
        );
    }

    /// Seeds the database and starts its server: a login-full target ready to be measured.
    pub(super) async fn prepare_login_full(
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
    pub(super) async fn measure_login_full(&self, target: &mut LoginFullTarget, window: Duration) {
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
    pub(super) fn finish_login_full(&mut self, target: LoginFullTarget) -> RunFigures {
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
}

/// A login-full server made ready: its database seeded, its server up, its users' secrets.
pub(super) struct LoginFullTarget {
    title: String,
    pub(super) server: Server,
    pool: Arc<SlotPool>,
    cpu_seconds: f64,
    windows: Vec<RunFigures>,
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
