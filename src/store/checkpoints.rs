//! SQLite only: WAL checkpoints on a thread of their own.
//!
//! A checkpoint copies the write-ahead log back into the database file and syncs that file. By
//! default SQLite runs one inside whichever commit takes the log past 1,000 pages, and on the
//! SQLite thread that stalled the commit and every job queued behind it: a code check writes
//! about a dozen pages, so a checkpoint every ~90 checks, and the 8-client code check's p90
//! was 22 ms against a p50 of 2 ms. Tessera's connections turn that off
//! (`wal_autocheckpoint = 0`) and this thread checkpoints instead, in `PASSIVE` mode, which
//! never waits for (nor blocks) readers or the writer.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// How often the log is copied back: at a few thousand checks a second it stays a few MB.
const EVERY: Duration = Duration::from_millis(50);

/// Stops the thread when the last handle (the store's) is dropped.
#[derive(Clone)]
pub(super) struct Checkpoints {
    _running: mpsc::Sender<()>,
}

impl Checkpoints {
    pub(super) fn start(path: &Path) -> Result<Self, StoreError> {
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.execute_batch("PRAGMA busy_timeout = 10000;")?;
        let (running, stop) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("tessera-checkpoint".into())
            .spawn(move || {
                let mut failing = false;
                while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(EVERY) {
                    // It answers (busy, frames in the log, frames copied); nothing here needs
                    // them. A failed round is tried again at the next, and said once.
                    match connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        Ok(()) if failing => {
                            failing = false;
                            tracing::info!("WAL checkpoints work again");
                        }
                        Ok(()) => {}
                        Err(error) if !failing => {
                            failing = true;
                            tracing::warn!(%error, "WAL checkpoint failed; retrying every {EVERY:?}");
                        }
                        Err(_) => {}
                    }
                }
            })
            .map_err(|error| {
                StoreError::Corrupt(format!("cannot start the checkpoint thread: {error}"))
            })?;
        Ok(Self { _running: running })
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::Store;
    use crate::config::DatabaseUrl;

    #[tokio::test]
    async fn no_commit_checkpoints_and_the_log_still_reaches_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.db");
        let url = DatabaseUrl::new(format!("sqlite://{}", file.display()));
        let store = Store::connect(&url, 2).await.unwrap();
        for pool in [store.pool(), store.writes()] {
            let (threshold,): (i64,) = sqlx::query_as("PRAGMA wal_autocheckpoint")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(threshold, 0, "a commit must not stop to checkpoint");
        }
        sqlx::query("CREATE TABLE filler (text TEXT)")
            .execute(store.writes())
            .await
            .unwrap();
        let before = std::fs::metadata(&file).unwrap().len();
        // Far past SQLite's own threshold of 1,000 pages, which no connection acts on here.
        for _ in 0..1_500 {
            sqlx::query("INSERT INTO filler VALUES ($1)")
                .bind("x".repeat(4_000))
                .execute(store.writes())
                .await
                .unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut size = std::fs::metadata(&file).unwrap().len();
        while size < before + 4_000_000 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
            size = std::fs::metadata(&file).unwrap().len();
        }
        assert!(
            size >= before + 4_000_000,
            "the database file stayed at {size} bytes: nothing copied the log back"
        );
    }
}
