//! Tessera's performance suite: drives a `tessera serve` process on loopback with N
//! connections for a fixed time and prints, per scenario and database, requests/s, latency
//! percentiles, outcomes by status, the server's CPU time per request and peak RSS, with the
//! limit each figure is bounded by and the budget lines (met or missed, with the ratio).
//!
//! `cargo run --release -p tessera-bench -- all --db both` runs everything. It prints figures
//! and asserts nothing about time.

// The server's allocator (see tessera's `main.rs`): the limits are measured with it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod limits;
mod load;
mod scenarios;
mod server;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ScenarioName {
    /// Every scenario below, after the limits.
    All,
    /// Only the limits: Argon2id hashes/s and the database's raw commit rate.
    Limits,
    /// POST /api/two-factor/login with a valid code, the challenge created beforehand.
    CodeCheck,
    /// Password → 242 → code → 200, at the default Argon2id parameters.
    LoginFull,
    /// Send a login code to the outbox, read it there, check it.
    SmsRoundtrip,
    /// 8 code-check clients alone, then beside 50 clients guessing passwords.
    Flood,
    /// login-full with 1,000 and with 1,000,000 users in the database.
    Scale,
    /// POST /oauth2/token (authorization_code) for an ES256 and an RS256 client, the codes
    /// issued beforehand through /oauth2/authorize.
    OidcExchange,
    /// GET /api/authz/forward-auth (a reverse proxy's question) at 8 and 64 connections,
    /// beside the cheapest route (GET /static/app.js) at the same connections.
    ForwardAuth,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DatabaseChoice {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Target {
    /// A `tessera serve` process the suite starts, seeds and stops itself.
    Tessera,
    /// privacyIDEA's POST /validate/check at --url, with the tokens of --tokens
    /// (code-check only; bench/privacyidea.sh sets it up).
    Privacyidea,
}

#[derive(Debug, Parser)]
#[command(
    name = "tessera-bench",
    about = "Tessera's performance suite (prints; never asserts)"
)]
pub struct Args {
    #[arg(value_enum)]
    scenario: ScenarioName,
    /// Which database(s) to run on.
    #[arg(long, value_enum, default_value = "both")]
    db: DatabaseChoice,
    /// Seconds each measured phase runs.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Concurrent connections of code-check.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Concurrent connections of login-full and scale (default: two per core, enough to keep
    /// the server's hashing pool busy).
    #[arg(long)]
    pub login_connections: Option<usize>,
    /// Concurrent connections of sms-roundtrip (the outbox shows only its 50 newest messages,
    /// and a client must find its own among them: with 16, a client stalled for half a second
    /// on the 2-core machine once found its message pushed out, 1 in 431).
    #[arg(long, default_value_t = 8)]
    pub sms_connections: usize,
    /// Concurrent connections of oidc-exchange.
    #[arg(long, default_value_t = 16)]
    pub oidc_connections: usize,
    /// Users enrolled for code-check (and flood); each serves about three checks per 30 s step.
    #[arg(long, default_value_t = 30_000)]
    pub users: usize,
    /// Users in the database for scale's two runs.
    #[arg(long, value_delimiter = ',', default_values_t = [1_000usize, 1_000_000])]
    pub scale_users: Vec<usize>,
    /// PostgreSQL to run on (a fresh schema per scenario, dropped at the end).
    #[arg(
        long,
        env = "TESSERA_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub postgres_url: String,
    /// The tessera binary to run (default: the workspace's release build, built if needed).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "tessera")]
    target: Target,
    /// The server of --target privacyidea.
    #[arg(long)]
    pub url: Option<String>,
    /// Exit with an error if any operation did not end as expected (CI's smoke run: it checks
    /// that every scenario works, never how fast).
    #[arg(long)]
    fail_on_errors: bool,
    /// `serial,base32 secret` lines of the privacyIDEA tokens to check codes of.
    #[arg(long)]
    pub tokens: Option<PathBuf>,
    /// Appends every measured request's start and latency to this file (for finding out when
    /// the slow ones happen; see BENCHMARKS.md).
    #[arg(long)]
    latency_log: Option<PathBuf>,
}

impl Args {
    pub fn measured(&self) -> Duration {
        Duration::from_secs_f64(self.duration.max(0.5))
    }

    pub fn cores(&self) -> usize {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    }

    pub fn login_connections(&self) -> usize {
        self.login_connections.unwrap_or(2 * self.cores())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(path) = &args.latency_log {
        let _ = load::LATENCY_LOG.set(path.clone());
    }
    if args.target == Target::Privacyidea {
        anyhow::ensure!(
            args.scenario == ScenarioName::CodeCheck,
            "--target privacyidea runs code-check only"
        );
        return scenarios::privacyidea_code_check(&args).await;
    }
    let backends: Vec<server::Backend> = match args.db {
        DatabaseChoice::Sqlite => vec![server::Backend::Sqlite],
        DatabaseChoice::Postgres => vec![server::Backend::Postgres],
        DatabaseChoice::Both => vec![server::Backend::Sqlite, server::Backend::Postgres],
    };
    let binary = server::server_binary(args.server_bin.as_deref())?;
    println!(
        "tessera-bench: {} cores, {} s per measured phase; the generator shares the machine with the server",
        args.cores(),
        args.duration
    );
    let mut suite = scenarios::Suite::new(&args, binary).await?;
    for backend in backends {
        suite.limits_on(backend).await?;
        let run = |name: ScenarioName| args.scenario == ScenarioName::All || args.scenario == name;
        if run(ScenarioName::CodeCheck) {
            suite.code_check(backend).await?;
        }
        if run(ScenarioName::LoginFull) {
            suite.login_full(backend).await?;
        }
        if run(ScenarioName::SmsRoundtrip) {
            suite.sms_roundtrip(backend).await?;
        }
        if run(ScenarioName::Flood) {
            suite.flood(backend).await?;
        }
        if run(ScenarioName::Scale) {
            suite.scale(backend).await?;
        }
        if run(ScenarioName::OidcExchange) {
            suite.oidc_exchange(backend).await?;
        }
        if run(ScenarioName::ForwardAuth) {
            suite.forward_auth(backend).await?;
        }
    }
    suite.print_budget();
    if args.fail_on_errors {
        anyhow::ensure!(
            suite.errors == 0,
            "{} operations did not end as expected",
            suite.errors
        );
    }
    Ok(())
}
