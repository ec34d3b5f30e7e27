//! Login benchmark: what a password login costs next to the Argon2id hash it must compute.
//!
//! `cargo bench --bench login` starts Tessera on loopback with the default (production) Argon2id
//! parameters and a fresh SQLite database (or the PostgreSQL database in
//! `TESSERA_BENCH_DATABASE_URL`), then prints:
//! - the cost of one hash, on one core and on all cores;
//! - the mean time of one login over HTTP, as a multiple of one hash (target ≤ 1.05);
//! - logins per second with one client per core, as a share of the hash rate on all cores.
//!
//! It prints figures and asserts nothing about time.

use std::time::{Duration, Instant as WallClock};

use serde_json::json;
use tessera::app::Application;
use tessera::audit::{Actor, Origin};
use tessera::clock::Instant;
use tessera::config::Config;

const PASSWORD: &str = "benchmark password 1";
const SEQUENTIAL_LOGINS: u32 = 40;
const CONCURRENT_SECONDS: u64 = 5;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let database_url = std::env::var("TESSERA_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_owned(),
        database_url: Some(database_url.clone()),
        log_level: "warn".into(),
        ..Config::default()
    };
    let cores = config.argon2_max_concurrent();
    let application = Application::build(&config).await?;
    let address = format!("http://{}", application.local_addr());
    let core = application.core().clone();
    tokio::spawn(application.run_until(std::future::pending()));

    let username = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let fields: tessera::accounts::UserFields =
        serde_json::from_value(json!({"username": username, "password": PASSWORD}))?;
    core.accounts
        .create_user(
            None,
            &fields,
            tessera::accounts::NewEmail::Unverified,
            Actor::System,
            &Origin::default(),
            Instant::now(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;

    println!(
        "machine: {cores} cores; database: {}",
        if database_url.starts_with("sqlite") {
            "SQLite (WAL)"
        } else {
            "PostgreSQL"
        }
    );
    println!(
        "argon2id: m={} KiB, t={}, p={}",
        config.argon2.memory_kib, config.argon2.iterations, config.argon2.parallelism
    );

    // One hash, timed on this thread (after a warm-up).
    let hasher = tessera::crypto::PasswordHasher::new(&config.argon2, cores)?;
    hasher.hash_blocking(PASSWORD)?;
    let rounds = 20;
    let started = WallClock::now();
    for _ in 0..rounds {
        hasher.hash_blocking(PASSWORD)?;
    }
    let one_hash = started.elapsed() / rounds;
    let per_core = 1.0 / one_hash.as_secs_f64();

    // Hashes on all cores at once.
    let started = WallClock::now();
    let per_thread = 10;
    let mut threads = Vec::new();
    for _ in 0..cores {
        let hasher = hasher.clone();
        threads.push(std::thread::spawn(move || {
            for _ in 0..per_thread {
                let _ = hasher.hash_blocking(PASSWORD);
            }
        }));
    }
    for thread in threads {
        let _ = thread.join();
    }
    let all_cores = (cores * per_thread) as f64 / started.elapsed().as_secs_f64();
    println!(
        "one hash: {:.2} ms  ({per_core:.1} hashes/s on one core, {all_cores:.1} hashes/s on {cores} cores)",
        ms(one_hash)
    );

    // The same verification through the server's bounded blocking pool, as a login runs it.
    let stored = hasher.hash_blocking(PASSWORD)?;
    let attempt =
        tessera::domain::Password::attempt(PASSWORD).map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = WallClock::now();
    for _ in 0..rounds {
        hasher.verify(&attempt, &stored).await?;
    }
    let pooled = started.elapsed() / rounds;
    println!(
        "one verification through the hashing pool: {:.2} ms",
        ms(pooled)
    );

    let client = reqwest::Client::new();
    let login = move |client: reqwest::Client| {
        let url = format!("{address}/api/login");
        let body = json!({"loginId": &username, "password": PASSWORD});
        async move {
            let response = client.post(url).json(&body).send().await?;
            anyhow::ensure!(
                response.status() == 200,
                "login answered {}",
                response.status()
            );
            Ok::<_, anyhow::Error>(())
        }
    };

    // Sequential logins: latency of one login against one hash.
    login(client.clone()).await?;
    let started = WallClock::now();
    for _ in 0..SEQUENTIAL_LOGINS {
        login(client.clone()).await?;
    }
    let one_login = started.elapsed() / SEQUENTIAL_LOGINS;
    let ratio = one_login.as_secs_f64() / one_hash.as_secs_f64();
    println!(
        "one login over HTTP: {:.2} ms = {ratio:.3} x one hash  (target <= 1.05: {})",
        ms(one_login),
        if ratio <= 1.05 { "met" } else { "missed" }
    );

    // Concurrent logins: one client per core for a fixed time.
    let deadline = WallClock::now() + Duration::from_secs(CONCURRENT_SECONDS);
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..cores {
        let client = client.clone();
        let login = login.clone();
        clients.spawn(async move {
            let mut done = 0u64;
            while WallClock::now() < deadline {
                login(client.clone()).await?;
                done += 1;
            }
            Ok::<_, anyhow::Error>(done)
        });
    }
    let started = WallClock::now();
    let mut total = 0;
    for done in clients.join_all().await {
        total += done?;
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    println!(
        "logins with {cores} clients for {CONCURRENT_SECONDS} s: {rate:.1} logins/s = {:.3} x the hash rate on all cores",
        rate / all_cores
    );
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
