//! The scenarios of the performance suite and the budget they report against.

mod code_check;
mod flood;
mod forward_auth;
mod login_full;
mod oidc;
mod privacyidea;
mod scale;
mod sms;

pub use privacyidea::privacyidea_code_check;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tessera::config::Argon2Config;
use tessera::crypto::PasswordHasher;

use crate::Args;
use crate::limits::{self, CommitRate, HashRate};
use crate::load::{self, RunFigures, Step};
use crate::server::{self, Backend, Server, ServerSettings, Workspace};

const PASSWORD: &str = "benchmark password 1";
const WRONG_PASSWORD: &str = "not the benchmark password";
const CSV_HEADER: &str = "username,password_hash,totp_secrets,mobile_phone,authy_migrated";

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

fn transport(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout".into()
    } else if error.is_connect() {
        "connect-error".into()
    } else {
        "transport-error".into()
    }
}
