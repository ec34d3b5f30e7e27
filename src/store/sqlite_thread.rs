//! SQLite only: a connection on a thread of its own that runs a whole transaction per request.
//!
//! sqlx's SQLite driver hands every statement to its connection's thread and waits for the
//! answer: a code check of 14 statements paid 28 thread switches, which were half of the
//! server's CPU under load (BENCHMARKS.md). Here a transaction travels to the thread as one
//! closure and comes back as one answer. The closure runs to its end even when the request that
//! sent it is gone, so a transaction is never left open.
//!
//! The thread writes the same file as the store's sqlx pools. It holds the store's writer
//! connection (the writers' turn) while it runs jobs, so the two never meet in SQLite's busy
//! handler; it takes the turn once for a burst of queued jobs, not once per job, because
//! passing the turn between tasks cost more waiting than the jobs took to run.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::mpsc;

use rusqlite::{Connection, OpenFlags};
use sqlx::AnyPool;
use tokio::runtime::Handle;

use super::StoreError;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

#[derive(Clone)]
pub(super) struct SqliteThread {
    jobs: mpsc::Sender<Job>,
}

/// Prepared statements kept per connection: the hot path uses about a dozen.
const STATEMENT_CACHE: usize = 64;

/// Jobs run in one turn before the thread lets a waiting sqlx writer in.
const JOBS_PER_TURN: usize = 32;

impl SqliteThread {
    /// Opens the database file (it exists: the sqlx pool created it) with the store's settings.
    /// `writers`: the pool whose one connection is the writers' turn.
    pub(super) fn open(path: &Path, cache_kib: u32, writers: AnyPool) -> Result<Self, StoreError> {
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
             PRAGMA cache_size = -{cache_kib}; PRAGMA wal_autocheckpoint = 0;"
        ))?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let runtime = Handle::try_current().map_err(|error| {
            StoreError::Corrupt(format!("the SQLite thread needs a Tokio runtime: {error}"))
        })?;
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("tessera-sqlite".into())
            .spawn(move || {
                let mut connection = connection;
                // Ends when the last store handle is dropped.
                while let Ok(first) = queue.recv() {
                    // Past the pool's time-out the jobs run without the turn: SQLite's busy
                    // handler still keeps them correct, only slower.
                    let turn = runtime.block_on(writers.acquire()).ok();
                    run_job(&mut connection, first);
                    for _ in 1..JOBS_PER_TURN {
                        match queue.try_recv() {
                            Ok(job) => run_job(&mut connection, job),
                            Err(_) => break,
                        }
                    }
                    // Handing the connection back to its pool spawns a task.
                    let _in_runtime = runtime.enter();
                    drop(turn);
                }
            })
            .map_err(|error| {
                StoreError::Corrupt(format!("cannot start the SQLite thread: {error}"))
            })?;
        Ok(Self { jobs })
    }

    /// Runs `job` on the thread and waits for its answer.
    pub(super) async fn run<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |connection| {
                let _ = reply.send(job(connection));
            }))
            .map_err(|_| StoreError::ThreadGone)?;
        answer.await.map_err(|_| StoreError::ThreadGone)?
    }
}

/// A panicking job loses its own answer (its caller sees `ThreadGone`) and rolls back its
/// transaction as it unwinds; the thread goes on.
fn run_job(connection: &mut Connection, job: Job) {
    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(connection)));
}

#[cfg(test)]
mod tests {
    use super::super::{Store, StoreError};
    use crate::config::DatabaseUrl;

    async fn store_in(dir: &tempfile::TempDir) -> Store {
        let url = DatabaseUrl::new(format!("sqlite://{}", dir.path().join("t.db").display()));
        let store = Store::connect(&url, 4).await.unwrap();
        store.migrate().await.unwrap();
        store
    }

    #[tokio::test]
    async fn a_job_sees_what_sqlx_wrote_and_sqlx_sees_what_the_job_committed() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(&dir).await;
        let thread = store
            .sqlite_thread
            .clone()
            .expect("a SQLite file gets the thread");
        sqlx::query("CREATE TABLE marks (n INTEGER)")
            .execute(store.writes())
            .await
            .unwrap();
        sqlx::query("INSERT INTO marks VALUES (1)")
            .execute(store.writes())
            .await
            .unwrap();
        let seen = thread
            .run(|connection| {
                let tx = connection.transaction()?;
                tx.execute("INSERT INTO marks VALUES (2)", [])?;
                let sum: i64 = tx.query_row("SELECT SUM(n) FROM marks", [], |row| row.get(0))?;
                tx.commit()?;
                Ok(sum)
            })
            .await
            .unwrap();
        assert_eq!(seen, 3);
        let (sum,): (i64,) = sqlx::query_as("SELECT SUM(n) FROM marks")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(sum, 3);
    }

    #[tokio::test]
    async fn a_panicking_job_loses_its_answer_and_its_writes_but_not_the_thread() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(&dir).await;
        let thread = store.sqlite_thread.clone().unwrap();
        thread
            .run(|connection| {
                connection.execute("CREATE TABLE marks (n INTEGER)", [])?;
                Ok(())
            })
            .await
            .unwrap();
        let lost = thread
            .run(|connection| -> Result<(), StoreError> {
                let tx = connection.transaction()?;
                tx.execute("INSERT INTO marks VALUES (1)", [])?;
                panic!("a job that fails halfway");
            })
            .await;
        assert!(matches!(lost, Err(StoreError::ThreadGone)), "{lost:?}");
        let count = thread
            .run(|connection| {
                Ok(connection
                    .query_row("SELECT COUNT(*) FROM marks", [], |row| row.get::<_, i64>(0))?)
            })
            .await
            .unwrap();
        assert_eq!(count, 0, "the panicking job's insert was rolled back");
    }

    #[tokio::test]
    async fn an_in_memory_database_is_refused_with_the_reason() {
        for url in ["sqlite::memory:", "sqlite://file.db?mode=memory"] {
            let refused = Store::connect(&DatabaseUrl::new(url), 1).await;
            assert!(matches!(refused, Err(StoreError::InMemory)), "{url}");
        }
    }
}
