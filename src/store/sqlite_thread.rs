//! SQLite only: a connection on a thread of its own that runs a whole transaction per request,
//! and commits the transactions that queued up together as one.
//!
//! sqlx's SQLite driver hands every statement to its connection's thread and waits for the
//! answer, two thread switches per statement. Here a transaction travels to the thread as one
//! closure and comes back as one answer. The closure runs to its end even when the request that
//! sent it is gone, so a transaction is never left open.
//!
//! Group commit: the thread runs the jobs that are waiting (up to `JOBS_PER_GROUP`) inside one
//! transaction, each job in a savepoint of its own, and answers them only after the one commit.
//! The commit's own work, and the pages the jobs share (the audit log's last leaf, the WAL
//! index), are then paid once per group instead of once per job. A job sees the writes of the jobs
//! before it, as it would have after their commits; nobody sees them before the commit.
//!
//! The thread writes the same file as the store's sqlx pools. It holds the store's writer
//! connection (the writers' turn) while it runs a group, so the two never meet in SQLite's busy
//! handler; it takes the turn once for the jobs that come within `TURN_HELD_AT_MOST`, not once
//! per job, because each hand-back is a task and a ping to a thread of sqlx's that the next job
//! would wait for. A sqlx writer that wants the turn meanwhile asks for it (`want_turn`) and
//! gets it when the group running ends. Figures in BENCHMARKS.md, "Why the constants are what
//! they are".

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use sqlx::AnyPool;
use tokio::runtime::Handle;

use super::StoreError;
use super::checkpoints::LongLog;

/// A job's answer, held until its group's commit has succeeded or failed.
type Answer = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
type Job = Box<dyn FnOnce(&mut Connection) -> Answer + Send>;

/// What the thread is sent.
enum Message {
    Job(Job),
    /// A sqlx writer is about to wait for the writers' connection: the thread gives it back
    /// after the group it runs instead of keeping it for jobs to come.
    TurnWanted,
}

#[derive(Clone)]
pub(super) struct SqliteThread {
    messages: mpsc::Sender<Message>,
    turn: Arc<TurnState>,
}

/// What sqlx writers need to know of the writers' turn to ask for it.
#[derive(Default)]
struct TurnState {
    /// The thread holds it (only then is there one to ask for).
    held: AtomicBool,
    /// Asked for during this hold: the writers that wait together send one request, not one
    /// each, and the thread gives the turn back once.
    asked: AtomicBool,
}

/// Prepared statements kept per connection: the hot path uses about a dozen.
const STATEMENT_CACHE: usize = 64;

/// Jobs committed together at most, fewer than a busy server's clients on purpose: while one
/// group runs, the answers of the one before travel back and the next requests arrive, instead
/// of the thread and every client waiting for each other in step (figures in BENCHMARKS.md,
/// "Why the constants are what they are").
const JOBS_PER_GROUP: usize = 32;

/// How long the thread keeps the writers' turn for the jobs that keep coming, since giving it
/// back and taking it again costs a task, a ping to a thread of sqlx's and a round trip through
/// its pool (figures in BENCHMARKS.md, "Why the constants are what they are"). Past this, or when
/// a sqlx writer asks, the turn goes back: a writer waits for one group at most, or this long
/// if it asked just as the thread took the turn.
pub(super) const TURN_HELD_AT_MOST: Duration = Duration::from_millis(20);

impl SqliteThread {
    /// Opens the database file (it exists: the sqlx pool created it) with the store's settings.
    /// `writers`: the pool whose one connection is the writers' turn.
    /// `long_log`: raised when the log should restart (see `checkpoints`).
    /// `turn_held_at_most`: the store's is `TURN_HELD_AT_MOST`.
    pub(super) fn open(
        path: &Path,
        cache_kib: u32,
        writers: AnyPool,
        long_log: LongLog,
        turn_held_at_most: Duration,
    ) -> Result<Self, StoreError> {
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
             PRAGMA cache_size = -{cache_kib}; PRAGMA wal_autocheckpoint = 0; \
             PRAGMA temp_store = MEMORY;"
        ))?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let runtime = Handle::try_current().map_err(|error| {
            StoreError::Corrupt(format!("the SQLite thread needs a Tokio runtime: {error}"))
        })?;
        let (messages, queue) = mpsc::channel::<Message>();
        let turn_state = Arc::new(TurnState::default());
        let state = turn_state.clone();
        std::thread::Builder::new()
            .name("tessera-sqlite".into())
            .spawn(move || {
                let mut connection = connection;
                // Ends when the last store handle is dropped.
                while let Ok(message) = queue.recv() {
                    // Asked for a turn this thread no longer holds: nothing to give back.
                    let Message::Job(mut first) = message else {
                        continue;
                    };
                    // Past the pool's time-out the jobs run without the turn: SQLite's busy
                    // handler still keeps them correct, only slower.
                    let turn = runtime.block_on(writers.acquire()).ok();
                    state.held.store(true, Ordering::Release);
                    let taken = Instant::now();
                    loop {
                        let turn_wanted = Group::run_queued(&mut connection, first, &queue);
                        long_log.catch_up(&connection);
                        let left = turn_held_at_most.saturating_sub(taken.elapsed());
                        if turn_wanted || left.is_zero() {
                            break;
                        }
                        // The next job goes in the same turn if it comes in time.
                        match queue.recv_timeout(left) {
                            Ok(Message::Job(job)) => first = job,
                            Ok(Message::TurnWanted)
                            | Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                                break;
                            }
                        }
                    }
                    state.held.store(false, Ordering::Release);
                    state.asked.store(false, Ordering::Release);
                    // Handing the connection back to its pool spawns a task.
                    let _in_runtime = runtime.enter();
                    drop(turn);
                }
            })
            .map_err(|error| {
                StoreError::Corrupt(format!("cannot start the SQLite thread: {error}"))
            })?;
        Ok(Self {
            messages,
            turn: turn_state,
        })
    }

    /// Called by a sqlx writer before it waits for the writers' connection: if the thread
    /// holds it for jobs that may come, it gives it back when its group ends.
    pub(super) fn want_turn(&self) {
        if self.turn.held.load(Ordering::Acquire) && !self.turn.asked.swap(true, Ordering::AcqRel) {
            let _ = self.messages.send(Message::TurnWanted);
        }
    }

    /// Runs `job` on the thread and waits for its answer, which comes after its writes are
    /// committed. The job makes its writes in `connection.savepoint()`: it runs inside its
    /// group's transaction, where `transaction()` would be refused. A savepoint dropped without
    /// `commit()` takes back only this job's writes.
    pub(super) async fn run<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.messages
            .send(Message::Job(Box::new(move |connection| {
                let outcome = job(connection);
                Box::new(move |committed: Result<(), StoreError>| {
                    // The job's own error says more than the group's.
                    let _ = reply.send(outcome.and_then(|value| committed.map(|()| value)));
                })
            })))
            .map_err(|_| StoreError::ThreadGone)?;
        answer.await.map_err(|_| StoreError::ThreadGone)?
    }
}

/// The jobs run since the group's transaction began, waiting for its commit.
#[derive(Default)]
struct Group {
    answers: Vec<Answer>,
    /// Whether the group's transaction was begun; when `BEGIN` fails, each job's savepoint is
    /// a transaction of its own.
    open: bool,
}

impl Group {
    /// Runs `first` and the jobs queued behind it, up to `JOBS_PER_GROUP` or up to a sqlx
    /// writer's request for the turn, and commits them. True when the turn was asked for.
    fn run_queued(
        connection: &mut Connection,
        first: Job,
        queue: &mpsc::Receiver<Message>,
    ) -> bool {
        let mut group = Group::default();
        group.run(connection, first);
        let mut turn_wanted = false;
        for _ in 1..JOBS_PER_GROUP {
            match queue.try_recv() {
                Ok(Message::Job(job)) => group.run(connection, job),
                Ok(Message::TurnWanted) => {
                    turn_wanted = true;
                    break;
                }
                Err(_) => break,
            }
        }
        group.commit(connection);
        turn_wanted
    }

    fn run(&mut self, connection: &mut Connection, job: Job) {
        if connection.is_autocommit() {
            self.open = connection.execute_batch("BEGIN IMMEDIATE").is_ok();
        }
        // A panicking job loses its own answer (its caller sees `ThreadGone`) and its
        // savepoint rolls back as it unwinds; the thread and the group go on.
        let answer = std::panic::catch_unwind(AssertUnwindSafe(|| job(connection))).ok();
        if connection.is_autocommit() {
            // Either there was no group transaction, and the job's savepoint committed or
            // rolled back on its own, or an error made SQLite roll the whole group back.
            let outcome = if self.open {
                Err("SQLite rolled the transaction back after an error".to_owned())
            } else {
                Ok(())
            };
            self.answer(answer, outcome);
        } else {
            self.answers.extend(answer);
        }
    }

    /// Answers the jobs run since the group began (and `last`), with the group's outcome.
    fn answer(&mut self, last: Option<Answer>, outcome: Result<(), String>) {
        for answer in self.answers.drain(..).chain(last) {
            answer(outcome.clone().map_err(StoreError::GroupNotCommitted));
        }
        self.open = false;
    }

    fn commit(mut self, connection: &mut Connection) {
        if connection.is_autocommit() {
            return self.answer(None, Ok(()));
        }
        let outcome = connection.execute_batch("COMMIT").map_err(|error| {
            // A failed COMMIT can leave the transaction open; none of it may stand.
            let _ = connection.execute_batch("ROLLBACK");
            error.to_string()
        });
        self.answer(None, outcome);
    }
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
            .shared
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
                let tx = connection.savepoint()?;
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

    /// Queues three jobs behind one that waits, so that they run as one group.
    async fn in_one_group<A, B, C>(
        thread: &super::SqliteThread,
        a: A,
        b: B,
        c: C,
    ) -> [Result<(), StoreError>; 3]
    where
        A: FnOnce(&mut rusqlite::Connection) -> Result<(), StoreError> + Send + 'static,
        B: FnOnce(&mut rusqlite::Connection) -> Result<(), StoreError> + Send + 'static,
        C: FnOnce(&mut rusqlite::Connection) -> Result<(), StoreError> + Send + 'static,
    {
        let (waited, a, b, c) = tokio::join!(
            thread.run(|_| {
                std::thread::sleep(std::time::Duration::from_millis(100));
                Ok(())
            }),
            thread.run(a),
            thread.run(b),
            thread.run(c),
        );
        // The job that waited is in the group too.
        assert_eq!(waited.is_ok(), a.is_ok(), "{waited:?} {a:?}");
        [a, b, c]
    }

    fn insert(n: i64) -> impl FnOnce(&mut rusqlite::Connection) -> Result<(), StoreError> {
        move |connection| {
            let tx = connection.savepoint()?;
            tx.execute("INSERT INTO marks VALUES (?1)", [n])?;
            tx.commit()?;
            Ok(())
        }
    }

    async fn marks(store: &Store) -> Vec<i64> {
        sqlx::query_as::<_, (i64,)>("SELECT n FROM marks ORDER BY n")
            .fetch_all(store.pool())
            .await
            .unwrap()
            .into_iter()
            .map(|(n,)| n)
            .collect()
    }

    async fn store_with_marks(dir: &tempfile::TempDir) -> (Store, super::SqliteThread) {
        let store = store_in(dir).await;
        sqlx::query("CREATE TABLE marks (n INTEGER UNIQUE)")
            .execute(store.writes())
            .await
            .unwrap();
        let thread = store.shared.sqlite_thread.clone().unwrap();
        (store, thread)
    }

    #[tokio::test]
    async fn jobs_of_one_group_see_each_others_writes_and_a_failing_job_takes_back_only_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let (store, thread) = store_with_marks(&dir).await;
        let answers = in_one_group(
            &thread,
            insert(1),
            |connection| {
                let tx = connection.savepoint()?;
                let seen: i64 = tx.query_row("SELECT COUNT(*) FROM marks", [], |row| row.get(0))?;
                assert_eq!(seen, 1, "the job before it in the group wrote 1");
                tx.execute("INSERT INTO marks VALUES (2)", [])?;
                // The same mark again: the unique index refuses it, the savepoint rolls back.
                tx.execute("INSERT INTO marks VALUES (1)", [])?;
                tx.commit()?;
                Ok(())
            },
            insert(3),
        )
        .await;
        assert!(answers[0].is_ok() && answers[2].is_ok(), "{answers:?}");
        assert!(
            matches!(answers[1], Err(StoreError::Sqlite(_))),
            "{answers:?}"
        );
        assert_eq!(marks(&store).await, [1, 3]);
    }

    #[tokio::test]
    async fn when_the_group_is_rolled_back_every_job_in_it_hears_so_and_the_next_ones_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let (store, thread) = store_with_marks(&dir).await;
        let answers = in_one_group(
            &thread,
            insert(1),
            // What SQLite does to the whole transaction after some errors (a full disk, I/O).
            |connection| Ok(connection.execute_batch("ROLLBACK")?),
            insert(3),
        )
        .await;
        assert!(
            matches!(answers[0], Err(StoreError::GroupNotCommitted(_))),
            "the first job's write was rolled back with the group: {answers:?}"
        );
        assert!(
            matches!(answers[1], Err(StoreError::GroupNotCommitted(_))),
            "{answers:?}"
        );
        assert!(answers[2].is_ok(), "{answers:?}");
        assert_eq!(marks(&store).await, [3]);
    }

    #[tokio::test]
    async fn a_panicking_job_loses_its_answer_and_its_writes_but_not_the_thread() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(&dir).await;
        let thread = store.shared.sqlite_thread.clone().unwrap();
        thread
            .run(|connection| {
                connection.execute("CREATE TABLE marks (n INTEGER)", [])?;
                Ok(())
            })
            .await
            .unwrap();
        let lost = thread
            .run(|connection| -> Result<(), StoreError> {
                let tx = connection.savepoint()?;
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sqlx_writer_gets_its_turn_while_jobs_keep_the_thread_busy() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
        let dir = tempfile::tempdir().unwrap();
        let (store, thread) = store_with_marks(&dir).await;
        let stop = Arc::new(AtomicBool::new(false));
        let jobs_done = Arc::new(AtomicU64::new(0));
        // More clients than a group takes: there is always a job waiting when a group ends.
        let clients: Vec<_> = (0..2 * super::JOBS_PER_GROUP)
            .map(|_| {
                let (thread, stop, jobs_done) = (thread.clone(), stop.clone(), jobs_done.clone());
                tokio::spawn(async move {
                    while !stop.load(Relaxed) {
                        thread
                            .run(|_| {
                                std::thread::sleep(std::time::Duration::from_micros(200));
                                Ok(())
                            })
                            .await
                            .unwrap();
                        jobs_done.fetch_add(1, Relaxed);
                    }
                })
            })
            .collect();
        while jobs_done.load(Relaxed) < 100 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        sqlx::query("INSERT INTO marks VALUES (7)")
            .execute(store.writes())
            .await
            .expect("the writer got the turn before its pool gave up waiting");
        let when_written = jobs_done.load(Relaxed);
        while jobs_done.load(Relaxed) < when_written + 100 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        stop.store(true, Relaxed);
        for client in clients {
            client.await.unwrap();
        }
        assert_eq!(marks(&store).await, [7]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sqlx_writer_that_asks_for_the_turn_gets_it_from_a_thread_keeping_it_for_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = store_with_marks(&dir).await;
        let file = dir.path().join("t.db");
        let checkpoints = super::super::checkpoints::Checkpoints::start(
            &file,
            1_024,
            super::super::checkpoints::EVERY,
        )
        .unwrap();
        // A thread that would keep the turn for an hour after each job.
        let keeping = super::SqliteThread::open(
            &file,
            2_000,
            store.writes().clone(),
            checkpoints.long_log(),
            std::time::Duration::from_secs(3_600),
        )
        .unwrap();
        let insert = |n: i64| {
            move |connection: &mut rusqlite::Connection| {
                let tx = connection.savepoint()?;
                tx.execute("INSERT INTO marks VALUES (?1)", [n])?;
                Ok(tx.commit()?)
            }
        };
        keeping.run(insert(1)).await.unwrap();

        keeping.want_turn();
        // Without the request it would wait past the pool's 10 s time-out.
        sqlx::query("INSERT INTO marks VALUES (2)")
            .execute(store.shared.writer.as_ref().unwrap())
            .await
            .expect("the writer got the turn it asked for");
        keeping.run(insert(3)).await.unwrap();
        assert_eq!(marks(&store).await, [1, 2, 3]);
    }

    #[tokio::test]
    async fn an_in_memory_database_is_refused_with_the_reason() {
        for url in ["sqlite::memory:", "sqlite://file.db?mode=memory"] {
            let refused = Store::connect(&DatabaseUrl::new(url), 1).await;
            assert!(matches!(refused, Err(StoreError::InMemory)), "{url}");
        }
    }
}
