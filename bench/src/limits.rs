//! The limits a scenario cannot beat, measured in the same run on the same machine:
//! - one Argon2id hash at the configured parameters, with Tessera's own hasher: a login with a
//!   password computes one, so logins/s cannot exceed hashes/s on the cores the pool uses;
//! - the database's raw commit rate for one conditional single-row update (the shape of the
//!   replay-protection write), through Tessera's own store, so with its durability settings
//!   (SQLite WAL + synchronous=NORMAL; PostgreSQL's defaults): a code check writes before it
//!   answers, so code checks/s cannot exceed commits/s.

use std::time::{Duration, Instant};

use tessera::config::{Argon2Config, DatabaseUrl};
use tessera::crypto::PasswordHasher;
use tessera::store::Store;

pub struct HashRate {
    pub one_hash: Duration,
    pub per_core: f64,
    pub all_cores: f64,
    pub cores: usize,
}

pub fn argon2_rate(
    config: &Argon2Config,
    cores: usize,
    budget: Duration,
) -> anyhow::Result<HashRate> {
    let hasher = PasswordHasher::new(config, cores)?;
    let password = "benchmark password 1";
    hasher.hash_blocking(password)?;
    // One core: as many hashes as fit in a third of the budget (at least 5).
    let started = Instant::now();
    let mut rounds = 0u32;
    while rounds < 5 || started.elapsed() < budget / 3 {
        hasher.hash_blocking(password)?;
        rounds += 1;
    }
    let one_hash = started.elapsed() / rounds;
    // All cores at once, one thread per permit of the server's hashing pool.
    let started = Instant::now();
    let deadline = started + budget * 2 / 3;
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let hasher = hasher.clone();
            std::thread::spawn(move || {
                let mut done = 0u64;
                while done < 3 || Instant::now() < deadline {
                    if hasher.hash_blocking(password).is_err() {
                        break;
                    }
                    done += 1;
                }
                done
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap_or(0)).sum();
    Ok(HashRate {
        one_hash,
        per_core: 1.0 / one_hash.as_secs_f64(),
        all_cores: total as f64 / started.elapsed().as_secs_f64(),
        cores,
    })
}

pub struct CommitRate {
    pub one_connection: f64,
    pub pool: f64,
    pub pool_connections: u32,
}

impl CommitRate {
    /// The better of the two: the most the database commits of this write, however driven.
    pub fn best(&self) -> f64 {
        self.one_connection.max(self.pool)
    }
}

/// Commits/s of `UPDATE … SET last_step = $1 WHERE id = $2 AND last_step < $1` (each its own
/// transaction), from one connection and from a pool as large as the server's.
pub async fn commit_rate(
    database_url: &str,
    pool_connections: u32,
    budget: Duration,
) -> anyhow::Result<CommitRate> {
    let store = Store::connect(&DatabaseUrl::new(database_url), pool_connections).await?;
    let pool = store.pool().clone();
    sqlx::query("CREATE TABLE bench_commit (id BIGINT PRIMARY KEY, last_step BIGINT NOT NULL)")
        .execute(&pool)
        .await?;
    for id in 0..i64::from(pool_connections) {
        sqlx::query("INSERT INTO bench_commit (id, last_step) VALUES ($1, 0)")
            .bind(id)
            .execute(&pool)
            .await?;
    }
    let half = budget / 2;
    let one_connection = updates(&pool, 1, half).await?;
    let concurrent = updates(&pool, pool_connections, half).await?;
    sqlx::query("DROP TABLE bench_commit")
        .execute(&pool)
        .await?;
    store.close().await;
    Ok(CommitRate {
        one_connection,
        pool: concurrent,
        pool_connections,
    })
}

async fn updates(pool: &sqlx::AnyPool, tasks: u32, duration: Duration) -> anyhow::Result<f64> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut set = tokio::task::JoinSet::new();
    for task in 0..i64::from(tasks) {
        let pool = pool.clone();
        set.spawn(async move {
            // Above anything an earlier call wrote (it could not commit a million per second).
            let mut step = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX / 2))
                .unwrap_or(0);
            let mut done = 0u64;
            while Instant::now() < deadline {
                step += 1;
                let result = sqlx::query(
                    "UPDATE bench_commit SET last_step = $1 WHERE id = $2 AND last_step < $1",
                )
                .bind(step)
                .bind(task)
                .execute(&pool)
                .await?;
                anyhow::ensure!(result.rows_affected() == 1, "the update changed no row");
                done += 1;
            }
            Ok::<_, anyhow::Error>(done)
        });
    }
    let mut total = 0;
    for done in set.join_all().await {
        total += done?;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}
