//! PostgreSQL: concurrent code checks in groups. One check alone (`postgres`) is a round trip
//! per statement, and PostgreSQL spends most of a check's CPU on statements, not on rows.
//! Checks that arrive while a group runs wait for a group of their own: one transaction in
//! which every check's transaction runs, the checks side by side, each statement they wait on
//! one set-based statement over the whole group (`batch`). The statements' cost is shared, the
//! rows' is not; the sequence of a check is the same as alone.
//!
//! A group keeps the guarantees of one check alone:
//! - locks are taken in one order, the challenges sorted, then their users sorted, so two
//!   groups (or a group and a check alone) never wait on each other in a circle;
//! - the methods and counts are read by a statement after the one that locked the users, so
//!   they see every guess committed by whoever held a lock before;
//! - one check per challenge and per user in a group, so that a user's guesses count one after
//!   another: a second one takes no attempt in the group and runs alone once it has committed;
//! - a check that rolls back writes nothing, its attempt included;
//! - what the checks commit, the group writes for all of them, or nothing: an error once any
//!   statement has answered fails the group's checks together (`StoreError::GroupNotCommitted`);
//!   an error before lets each check run alone.

mod batch;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Waker};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Transaction};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};

use super::postgres::PostgresStatements;
use super::{GuessTransaction, StoreError};
use batch::{Batch, GroupStatements, SharedBatch};

/// The most checks in one group: enough for every connection of a busy server to share one
/// commit, few enough that one group's statements stay short.
const MOST_IN_GROUP: usize = 128;

/// While another group runs, a group waits for this many checks before it starts: groups of one
/// or two would spend the database on their statements (figures in BENCHMARKS.md, "Why the
/// constants are what they are").
const FULL_ENOUGH: usize = 16;

/// The longest a group's first check waits for more while another group runs: otherwise a few
/// clients' checks, which never make `FULL_ENOUGH`, each wait for a whole group before their
/// own (figures in BENCHMARKS.md, "Why the constants are what they are").
const LONGEST_WAIT: std::time::Duration = std::time::Duration::from_millis(2);

/// The most groups that run at once, each on a connection of its own: one group's statements
/// run on one PostgreSQL backend, one core, and between them the group is judged here; more
/// groups would each be smaller (figures in BENCHMARKS.md, "Why the constants are what they
/// are").
const MOST_WORKERS: usize = 3;

/// How many groups a pool of `max_connections` runs at once, and whether their workers keep
/// their connections between groups: kept, they take at most a quarter of the pool, so that
/// every other query still finds one (a pool of one or two would otherwise be all theirs).
fn workers_for(max_connections: u32) -> (usize, bool) {
    let quarter = usize::try_from(max_connections / 4).unwrap_or(MOST_WORKERS);
    let workers = quarter.clamp(1, MOST_WORKERS);
    (workers, quarter >= workers)
}

/// How many checks may wait for a group before a new one waits to be queued.
const QUEUE: usize = 1024;

/// A check waiting for its group, behind one face whatever its transaction.
trait Member: Send {
    /// Runs the check's transaction among the group's, keeping its outcome for `answer`.
    fn run(&mut self, statements: GroupStatements)
    -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
    /// Runs the check alone on `connection` and answers; false when the database failed it,
    /// after which the connection is not kept.
    fn alone_on<'c>(
        self: Box<Self>,
        connection: &'c mut AnyConnection,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'c>>;
    /// Answers the outcome kept by `run`, or `failure`.
    fn answer(self: Box<Self>, failure: Option<StoreError>);
}

struct Queued<G: GuessTransaction> {
    guess: G,
    outcome: Option<Result<G::Output, StoreError>>,
    reply: oneshot::Sender<Result<G::Output, StoreError>>,
}

impl<G: GuessTransaction> Member for Queued<G> {
    fn run(
        &mut self,
        statements: GroupStatements,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let outcome = self.guess.run(statements).await;
            self.outcome = Some(outcome);
        })
    }

    fn alone_on<'c>(
        self: Box<Self>,
        connection: &'c mut AnyConnection,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'c>> {
        Box::pin(async move {
            let outcome = match PostgresStatements::begin(connection).await {
                Ok(statements) => self.guess.run(statements).await,
                Err(error) => Err(error),
            };
            let clean = !matches!(outcome, Err(StoreError::Database(_)));
            // The caller may have gone (its request was dropped): nothing to tell.
            let _ = self.reply.send(outcome);
            clean
        })
    }

    fn answer(self: Box<Self>, failure: Option<StoreError>) {
        let outcome = match failure {
            Some(failure) => Err(failure),
            None => self.outcome.unwrap_or_else(|| {
                Err(StoreError::Corrupt(
                    "a code check of a group was left unfinished".into(),
                ))
            }),
        };
        let _ = self.reply.send(outcome);
    }
}

/// Runs the check alone on a connection of the pool.
async fn alone(member: Box<dyn Member>, pool: AnyPool) {
    match pool.acquire().await {
        Ok(mut connection) => {
            member.alone_on(&mut connection).await;
        }
        Err(error) => member.answer(Some(error.into())),
    }
}

/// Where code checks queue for their group; the workers stop when the last sender is dropped.
#[derive(Clone)]
pub(in crate::store) struct CheckGroups {
    queue: mpsc::Sender<Box<dyn Member>>,
    pool: AnyPool,
}

impl CheckGroups {
    /// Starts the workers (`workers_for` the pool's size), each running one group at a time.
    pub(in crate::store) fn start(pool: AnyPool) -> Self {
        let (workers, keep) = workers_for(pool.options().get_max_connections());
        let (queue, waiting) = mpsc::channel(QUEUE);
        let waiting = Arc::new(Waiting {
            queue: Mutex::new(waiting),
            running: AtomicUsize::new(0),
            finished: Notify::new(),
        });
        for _ in 0..workers {
            tokio::spawn(work(pool.clone(), waiting.clone(), keep));
        }
        Self { queue, pool }
    }

    /// Queues the check for a group, and answers its outcome; should the workers be gone, it
    /// runs alone.
    pub(in crate::store) async fn submit<G: GuessTransaction>(
        &self,
        guess: G,
    ) -> Result<G::Output, StoreError> {
        let (reply, answer) = oneshot::channel();
        let member = Box::new(Queued {
            guess,
            outcome: None,
            reply,
        });
        if let Err(mpsc::error::SendError(member)) = self.queue.send(member).await {
            alone(member, self.pool.clone()).await;
        }
        answer
            .await
            .map_err(|_| StoreError::GroupNotCommitted("the code check's group stopped".into()))?
    }
}

/// The queue the workers share, and how many groups are running.
struct Waiting {
    queue: Mutex<mpsc::Receiver<Box<dyn Member>>>,
    running: AtomicUsize,
    /// Told whenever a group has finished.
    finished: Notify,
}

/// Runs groups one after another, on a connection kept while it serves when `keep`: taken from
/// the pool for each group, it was tested with a round trip of its own each time.
async fn work(pool: AnyPool, waiting: Arc<Waiting>, keep: bool) {
    let mut held: Option<PoolConnection<Any>> = None;
    loop {
        let Some(group) = next_group(&waiting).await else {
            return;
        };
        waiting.running.fetch_add(1, Ordering::SeqCst);
        let connection = match held.take() {
            Some(connection) => Ok(connection),
            None => pool.acquire().await,
        };
        match connection {
            Ok(mut connection) => {
                if run_group(&pool, &mut connection, group).await && keep {
                    held = Some(connection);
                }
                // Otherwise it goes back to the pool, which tests it before its next use.
            }
            Err(error) => {
                tracing::warn!(%error, "no connection for a group of code checks");
                run_alone(&pool, group);
            }
        }
        waiting.running.fetch_sub(1, Ordering::SeqCst);
        waiting.finished.notify_waiters();
    }
}

/// The checks of the next group: whatever waits once the first has come, and while another
/// group runs, more until `FULL_ENOUGH`, until that group finishes, or until the first has
/// waited `LONGEST_WAIT` (those constants say why).
async fn next_group(waiting: &Waiting) -> Option<Vec<Box<dyn Member>>> {
    let mut queue = waiting.queue.lock().await;
    let mut group = vec![queue.recv().await?];
    let deadline = tokio::time::Instant::now() + LONGEST_WAIT;
    loop {
        while group.len() < MOST_IN_GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let finished = waiting.finished.notified();
        tokio::pin!(finished);
        // Registered before `running` is read: a group finishing in between still wakes us.
        finished.as_mut().enable();
        if group.len() >= FULL_ENOUGH || waiting.running.load(Ordering::SeqCst) == 0 {
            return Some(group);
        }
        tokio::select! {
            next = queue.recv() => match next {
                Some(next) => group.push(next),
                None => return Some(group),
            },
            () = &mut finished => {}
            () = tokio::time::sleep_until(deadline) => return Some(group),
        }
    }
}

/// Runs one group on `connection`, and says whether the connection came through without an
/// error of the database (and may be kept), once every check of the group has its answer (or
/// runs alone).
async fn run_group(
    pool: &AnyPool,
    connection: &mut AnyConnection,
    mut group: Vec<Box<dyn Member>>,
) -> bool {
    if group.len() == 1 {
        // One check: its own statements on this connection, cheaper than a group's.
        return match group.pop() {
            Some(member) => member.alone_on(connection).await,
            None => true,
        };
    }
    let mut tx = match connection.begin().await {
        Ok(tx) => tx,
        Err(error) => {
            tracing::warn!(%error, checks = group.len(), "a group of code checks could not begin");
            run_alone(pool, group);
            return false;
        }
    };
    let batch = Batch::shared(group.len());
    let committed = match run_together(&batch, &mut tx, &mut group).await {
        Ok(()) => match Batch::write(&batch, &mut tx).await {
            Ok(()) => tx.commit().await.map_err(StoreError::from),
            Err(error) => Err(error.into()),
        },
        Err(Unfinished::BeforeAnyAnswer(error)) => {
            // Nothing was taken: each check can still run alone.
            tracing::warn!(%error, checks = group.len(), "a group of code checks could not take its attempts");
            drop(tx);
            run_alone(pool, group);
            return false;
        }
        Err(Unfinished::Failed(error)) => Err(error),
    };
    let mut later = Vec::new();
    let failure = committed.as_ref().err().map(ToString::to_string);
    if let Some(failure) = &failure {
        tracing::warn!(error = %failure, checks = group.len(), "a group of code checks failed");
    }
    for (member, deferred) in group.into_iter().zip(Batch::deferred(&batch)) {
        if deferred {
            later.push(member);
        } else {
            member.answer(failure.clone().map(StoreError::GroupNotCommitted));
        }
    }
    run_alone(pool, later);
    committed.is_ok()
}

/// How running the checks side by side stopped short.
enum Unfinished {
    /// A statement failed before any had answered.
    BeforeAnyAnswer(StoreError),
    Failed(StoreError),
}

/// Runs the group's transactions side by side until each has ended: whenever every one waits
/// on a statement, the group runs those statements (`batch::answer_asks`).
async fn run_together(
    batch: &SharedBatch,
    tx: &mut Transaction<'_, Any>,
    group: &mut [Box<dyn Member>],
) -> Result<(), Unfinished> {
    let mut running: Vec<_> = group
        .iter_mut()
        .enumerate()
        .map(|(place, member)| Some(member.run(GroupStatements::new(place, batch.clone()))))
        .collect();
    let mut answered = false;
    loop {
        {
            // The transactions wait only on the batch, which is answered below: no waker is
            // needed to know when to poll them again.
            let mut context = Context::from_waker(Waker::noop());
            for slot in &mut running {
                if let Some(transaction) = slot
                    && transaction.as_mut().poll(&mut context).is_ready()
                {
                    *slot = None;
                }
            }
        }
        if running.iter().all(Option::is_none) {
            return Ok(());
        }
        let failed = |error: StoreError| {
            if answered {
                Unfinished::Failed(error)
            } else {
                Unfinished::BeforeAnyAnswer(error)
            }
        };
        match batch::answer_asks(batch, tx).await {
            Ok(true) => answered = true,
            Ok(false) => {
                return Err(failed(StoreError::Corrupt(
                    "a code check of a group waited on something else than the group".into(),
                )));
            }
            Err(error) => return Err(failed(error.into())),
        }
    }
}

/// Runs each check alone, each on a task of its own.
fn run_alone(pool: &AnyPool, members: Vec<Box<dyn Member>>) {
    for member in members {
        tokio::spawn(alone(member, pool.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_connections_take_at_most_a_quarter_of_the_pool() {
        assert_eq!(workers_for(16), (3, true));
        assert_eq!(workers_for(8), (2, true));
        assert_eq!(workers_for(4), (1, true));
        assert_eq!(workers_for(100), (3, true));
        for small in 1..4 {
            assert_eq!(workers_for(small), (1, false), "a pool of {small}");
        }
    }
}
