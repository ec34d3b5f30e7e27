//! SQLite only: WAL checkpoints on a thread of their own.
//!
//! A checkpoint copies the write-ahead log back into the database file and syncs that file. By
//! default SQLite runs one inside whichever commit takes the log past 1,000 pages, which on the
//! SQLite thread stalls that commit and every job queued behind it. Tessera's connections turn
//! that off (`wal_autocheckpoint = 0`) and this thread checkpoints instead, in `PASSIVE` mode,
//! which never waits for (nor blocks) readers or the writer.
//!
//! Copying the log back is not enough to keep it short: SQLite starts writing the log from its
//! beginning again only when a write transaction begins with every frame already copied, and
//! under steady load the SQLite thread always has new frames committed before this thread's
//! copy ends, so the log would grow without end (and the kernel zero each of its new pages). So
//! when the log passes `RESTART_AFTER_FRAMES`, this thread copies it back without pause until
//! only a few frames are left, then raises `LongLog`, and the writer copies back those few
//! between two of its transactions (`LongLog::catch_up`), after which its next transaction
//! restarts the log. Figures in BENCHMARKS.md, "Why the constants are what they are".

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// How often the log is copied back (its restart, below, is what keeps it short). Each round
/// wakes this thread and syncs the log and the file, and a page rewritten between two rounds is
/// copied once, so rarer rounds cost less; much rarer ones save no more and lengthen the worst
/// latency (figures in BENCHMARKS.md, "Why the constants are what they are").
pub(super) const EVERY: Duration = Duration::from_millis(200);

/// Frames in the log (4 KiB pages, so 256 MiB) past which the writer is asked to let it
/// restart. Each restart makes the writer wait for two syncs, and every request in flight waits
/// with it, so restarts must be rare under the heaviest load; the price is a log this large
/// (figures in BENCHMARKS.md, "Why the constants are what they are").
pub(super) const RESTART_AFTER_FRAMES: i64 = 65_536;

/// Frames at most left for the writer to copy back when it is asked to: it waits for their copy
/// and two syncs, so this thread copies the rest first (figures in BENCHMARKS.md, "Why the
/// constants are what they are").
const CATCH_UP_AT_MOST: i64 = 512;

/// Rounds of copying back without pause before the writer is asked to catch up however much is
/// left, so that a writer faster than the copy still lets the log restart.
const DRAIN_ROUNDS: u32 = 4;

/// Stops the thread when the last handle (the store's) is dropped.
#[derive(Clone)]
pub(super) struct Checkpoints {
    _running: mpsc::Sender<()>,
    long_log: LongLog,
    file: PathBuf,
}

/// Raised by the checkpoint thread while the log is longer than its threshold
/// (`RESTART_AFTER_FRAMES` for the store) and little of it is left to copy back.
#[derive(Clone, Default)]
pub(super) struct LongLog(Arc<AtomicBool>);

impl LongLog {
    /// For the writer, between two of its transactions: when the log is long, copies back
    /// what is left of it, so that its next transaction starts the log again from the
    /// beginning. The background copy has done most of the work; this is the tail.
    pub(super) fn catch_up(&self, writer: &Connection) {
        if self.0.swap(false, Ordering::Relaxed) {
            // (busy, frames in the log, frames copied). When a reader or the checkpoint thread
            // kept some frames from being copied, the next turn tries again.
            let copied_all = writer
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                    Ok(row.get::<_, i64>(0)? == 0
                        && row.get::<_, i64>(1)? == row.get::<_, i64>(2)?)
                })
                .unwrap_or(false);
            if !copied_all {
                self.0.store(true, Ordering::Relaxed);
            }
        }
    }
}

impl Checkpoints {
    pub(super) fn long_log(&self) -> LongLog {
        self.long_log.clone()
    }

    /// `restart_after`: frames in the log past which it is restarted (`RESTART_AFTER_FRAMES`);
    /// `every`: how often the log is copied back (`EVERY`). A test of the restart with a small
    /// threshold copies back at a matching pace.
    pub(super) fn start(
        path: &Path,
        restart_after: i64,
        every: Duration,
    ) -> Result<Self, StoreError> {
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.execute_batch("PRAGMA busy_timeout = 10000;")?;
        let (running, stop) = mpsc::channel::<()>();
        let long_log = LongLog::default();
        let raise = long_log.clone();
        std::thread::Builder::new()
            .name("tessera-checkpoint".into())
            .spawn(move || {
                let mut failing = false;
                let (mut wait, mut copied_before, mut drained) = (every, 0, 0);
                while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(wait) {
                    // It answers (busy, frames in the log, frames copied). A failed round is
                    // tried again at the next, and said once.
                    let checkpoint = "PRAGMA wal_checkpoint(PASSIVE)";
                    let answer = connection.query_row(checkpoint, [], |row| {
                        Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
                    });
                    wait = every;
                    match answer {
                        Ok((frames, copied)) => {
                            let long = frames > restart_after;
                            let left = frames - copied;
                            // A long log is copied back round after round while that makes
                            // progress (a reader may hold frames back), until little is left:
                            // only then is the writer asked to copy the rest, so that it
                            // waits for little. A writer faster than the copy is asked anyway
                            // after a few rounds.
                            drained = if long { drained + 1 } else { 0 };
                            let little_left = left <= CATCH_UP_AT_MOST;
                            raise.0.store(
                                long && (little_left || drained > DRAIN_ROUNDS),
                                Ordering::Relaxed,
                            );
                            if long && !little_left && copied > copied_before {
                                wait = Duration::ZERO;
                            }
                            copied_before = copied;
                            if failing {
                                failing = false;
                                tracing::info!("WAL checkpoints work again");
                            }
                        }
                        Err(error) if !failing => {
                            failing = true;
                            tracing::warn!(%error, "WAL checkpoint failed; retrying every {every:?}");
                        }
                        Err(_) => {}
                    }
                }
            })
            .map_err(|error| {
                StoreError::Corrupt(format!("cannot start the checkpoint thread: {error}"))
            })?;
        Ok(Self {
            _running: running,
            long_log,
            file: path.to_owned(),
        })
    }

    /// Copies the whole log back and empties it, once the store's other connections are
    /// closed: a log left behind (up to `RESTART_AFTER_FRAMES`) is read whole by the next start
    /// before it can serve. SQLite empties it by itself only when the last connection closes,
    /// and the SQLite thread's and this thread's connections are closed when the process ends.
    pub(super) async fn empty_the_log(&self) {
        let file = self.file.clone();
        let emptied = tokio::task::spawn_blocking(move || -> Result<bool, rusqlite::Error> {
            let connection = Connection::open_with_flags(
                &file,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            connection.execute_batch("PRAGMA busy_timeout = 10000;")?;
            // It answers (busy, frames in the log, frames copied); busy means a reader or a
            // writer was still at work and the log stays for the next start to read.
            connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                Ok(row.get::<_, i64>(0)? == 0)
            })
        })
        .await;
        match emptied {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => tracing::warn!("the WAL could not be emptied at close: still busy"),
            Ok(Err(error)) => tracing::warn!(%error, "the WAL could not be emptied at close"),
            Err(error) => tracing::warn!(%error, "the WAL could not be emptied at close"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::Store;
    use crate::config::DatabaseUrl;

    /// A store on a fresh SQLite file in `dir`, and that file's path.
    async fn store_in(dir: &tempfile::TempDir) -> (std::path::PathBuf, Store) {
        let file = dir.path().join("t.db");
        let url = DatabaseUrl::new(format!("sqlite://{}", file.display()));
        (file, Store::connect(&url, 2).await.unwrap())
    }

    /// `rows` rows of about a page each into `filler`, each its own commit through the writers.
    async fn write_page_sized_rows(store: &Store, rows: usize) {
        for _ in 0..rows {
            sqlx::query("INSERT INTO filler VALUES ($1)")
                .bind("x".repeat(4_000))
                .execute(store.writes())
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn no_commit_checkpoints_and_the_log_still_reaches_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let (file, store) = store_in(&dir).await;
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
        write_page_sized_rows(&store, 1_500).await;
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

    #[tokio::test]
    async fn a_closed_store_leaves_an_empty_log_so_the_next_start_has_nothing_to_read() {
        let dir = tempfile::tempdir().unwrap();
        let (file, store) = store_in(&dir).await;
        sqlx::query("CREATE TABLE filler (text TEXT)")
            .execute(store.writes())
            .await
            .unwrap();
        write_page_sized_rows(&store, 100).await;
        let log = dir.path().join("t.db-wal");
        assert!(std::fs::metadata(&log).unwrap().len() > 0);
        store.close().await;
        let left = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
        assert_eq!(
            left, 0,
            "the log kept {left} bytes for the next start to read"
        );
        let url = DatabaseUrl::new(format!("sqlite://{}", file.display()));
        let reopened = Store::connect(&url, 2).await.unwrap();
        let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM filler")
            .fetch_one(reopened.pool())
            .await
            .unwrap();
        assert_eq!(rows, 100, "every row reached the database file");
    }

    #[tokio::test]
    async fn under_steady_writes_the_log_starts_again_instead_of_growing() {
        let dir = tempfile::tempdir().unwrap();
        let (file, store) = store_in(&dir).await;
        // A thread of its own beside the store's, with a low threshold, so the test stays small:
        // 1/64 of the store's, copied back 4 times as often (every 200 ms, the log of a fast
        // writer grew to 20 times this threshold between two looks).
        let restart_after = 1_024;
        let checkpoints =
            super::Checkpoints::start(&file, restart_after, Duration::from_millis(50)).unwrap();
        let thread = super::super::sqlite_thread::SqliteThread::open(
            &file,
            2_000,
            store.writes().clone(),
            checkpoints.long_log(),
            super::super::sqlite_thread::TURN_HELD_AT_MOST,
        )
        .unwrap();
        thread
            .run(|connection| Ok(connection.execute_batch("CREATE TABLE filler (text TEXT)")?))
            .await
            .unwrap();
        // 32 times the restart threshold, one page a row, as fast as the thread takes them.
        let written = 32 * restart_after as u64;
        let rows_per_job = 10;
        let jobs = written as usize / rows_per_job;
        for job in 0..jobs {
            // A breath now and then, as steady writers leave: with every other test of the
            // crate running beside it on 2 cores, a writer that never paused kept the
            // checkpoint thread from its turn for long stretches (the log once held 58% of
            // what was written).
            if job % 64 == 63 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            thread
                .run(move |connection| {
                    let tx = connection.savepoint()?;
                    for _ in 0..rows_per_job {
                        tx.execute("INSERT INTO filler VALUES (?1)", ["x".repeat(4_000)])?;
                    }
                    tx.commit()?;
                    Ok(())
                })
                .await
                .unwrap();
        }
        let log = dir.path().join("t.db-wal");
        let frames = std::fs::metadata(&log).unwrap().len() / 4_120;
        assert!(
            // Without restarts it holds every frame written; with them, the threshold and what
            // is written while the restart waits for the checkpoint thread and its turn: up to
            // 7 times the threshold with the other tests running beside it, once 10 times in CI
            // on a busy machine. Three quarters of what was written still tells the two apart.
            frames < written * 3 / 4,
            "the log holds {frames} of the {written} frames written: it kept growing"
        );
    }
}
