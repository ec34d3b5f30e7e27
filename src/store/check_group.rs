//! PostgreSQL: concurrent code checks in groups. One check alone (`code_check`) is six round
//! trips (test the connection, begin, take the attempt and lock the user, read the methods and
//! counts, write, commit), and PostgreSQL spends most of a check's CPU on statements, not on
//! rows. Checks that arrive while a group runs wait for a group of their own, which is one
//! transaction of five or six statements, each set-based over all of the group's checks: the
//! statements' cost is shared, the rows' is not.
//!
//! A group keeps the rules of one check alone:
//! - locks are taken in one order, the challenges sorted, then their users sorted, so two
//!   groups (or a group and a check alone) never wait on each other in a circle;
//! - the methods and counts are read by a statement after the one that locked the users, so
//!   they see every guess committed by whoever held a lock before;
//! - one check per challenge and per user in a group, so that a user's guesses count one after
//!   another: a second one takes no attempt in the group and runs alone once it has committed;
//! - a check that ends before its verdict (no open challenge, no attempts left, an inactive
//!   user) writes nothing, as a check alone rolls back;
//! - what one check would write, the group writes for each of its checks, or nothing: an error
//!   once the judges have run fails the group's checks together
//!   (`StoreError::GroupNotCommitted`); an error before lets each check run alone.
//!
//! The statements read their input from one JSON parameter each (`json_to_recordset`): the
//! `Any` driver binds no arrays.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};

use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};

use super::code_check::{
    CheckedUser, GuessRequest, MethodsAndCounts, MethodsAndCountsRow, RightCode, TakenGuess,
    Verdict, checked_user, counts_params, reserve_params, take_guess_on,
};
use super::row::{Columns, Param, bind_all};
use super::sessions::{session_params, touch_params};
use super::two_factor::{METHOD_COLUMNS, challenge_from_row, claim_params};
use super::users::{COLUMNS as USER_COLUMNS, user_from_row};
use super::{ChallengeRecord, StoreError, audit};
use crate::audit::AuditEvent;
use crate::clock::Instant;
use crate::domain::{User, UserId};
use crate::policy::TwoFactorPolicy;

/// The most checks in one group: enough for every connection of a busy server to share one
/// commit, few enough that one group's statements stay short.
const MOST_IN_GROUP: usize = 128;

/// While another group runs, a group waits for this many checks before it starts.
const FULL_ENOUGH: usize = 16;

/// The longest a group's first check waits for more while another group runs.
const LONGEST_WAIT: std::time::Duration = std::time::Duration::from_millis(2);

/// The most groups that run at once, each on a connection of its own: one group's statements
/// run on one PostgreSQL backend, one core, and between them the group is judged here.
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

/// Locks each open challenge of the input and then their users, each in order, and reads them
/// with the challenge's attempts counting this one: the attempt is written with the group's
/// other writes (`WRITES`), one update of the challenge instead of two for a right code. A
/// challenge without a row: not open. `n`: the check's place in the group.
///
/// Each table is reached by `= ANY(ARRAY(…))` on its key: the planner guesses a hundred rows
/// from any `json_to_recordset` and would rather join those to a whole table, scanned, than
/// look each up (a group of 60 checks took 20 ms so, and drew in the JIT compiler).
static TAKE_ATTEMPTS_LOCK_USERS: LazyLock<String> = LazyLock::new(|| {
    let user_columns = USER_COLUMNS
        .split(',')
        .map(|column| format!("u.{}", column.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "WITH input AS (SELECT * FROM json_to_recordset($1::json) \
           AS input(n BIGINT, id_hash TEXT, now BIGINT, settings_key TEXT)), \
         locked AS (SELECT c.id_hash, c.user_id, c.login_type, c.application_id, c.expires_at, \
             c.attempts + 1 AS attempts, c.enrollment_code_hash FROM login_challenges c \
           WHERE c.id_hash = ANY(ARRAY(SELECT id_hash FROM input)) AND c.completed_at IS NULL \
           ORDER BY c.id_hash FOR UPDATE) \
         SELECT input.n, locked.user_id, locked.login_type, locked.application_id, \
           locked.expires_at, locked.attempts, locked.enrollment_code_hash, \
           (SELECT value FROM settings WHERE key = input.settings_key) AS stored_settings, \
           {user_columns} \
         FROM locked JOIN input ON input.id_hash = locked.id_hash AND locked.expires_at > input.now \
         JOIN users u ON u.id = locked.user_id \
         WHERE u.id = ANY(ARRAY(SELECT user_id FROM locked)) \
         ORDER BY u.id FOR UPDATE OF u"
    )
});

/// `code_check`'s methods and counts for each user of the input, ordered by the check's place.
static METHODS_AND_COUNTS: LazyLock<String> = LazyLock::new(|| {
    let method_columns = METHOD_COLUMNS
        .split(',')
        .map(|column| format!("m.{}", column.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "WITH input AS (SELECT * FROM json_to_recordset($1::json) \
           AS input(n BIGINT, user_id TEXT, since BIGINT, context TEXT)) \
         SELECT input.n, \
           (SELECT COUNT(*) FROM two_factor_failures f \
             WHERE f.user_id = input.user_id AND f.at > input.since) AS recent_failures, \
           (SELECT COUNT(*) FROM verifications v \
             WHERE v.context = input.context AND v.status = 'pending') AS codes_sent, \
           {method_columns} \
         FROM input LEFT JOIN two_factor_methods m ON m.user_id = input.user_id \
           AND m.user_id = ANY(ARRAY(SELECT user_id FROM input)) \
         ORDER BY input.n, m.created_at, m.id"
    )
});

/// Spends each authenticator's time step, unless it or a later one already was
/// (`two_factor::CLAIM_STEP`); answers the authenticators whose claim won.
const CLAIM_STEPS: &str = "WITH input AS (SELECT * FROM json_to_recordset($1::json) \
       AS input(id TEXT, step BIGINT, at BIGINT)) \
     UPDATE two_factor_methods m SET last_used_step = input.step, last_used_at = input.at \
     FROM input WHERE m.id = ANY(ARRAY(SELECT id FROM input)) AND m.id = input.id \
       AND (m.last_used_step IS NULL OR m.last_used_step < input.step) \
     RETURNING m.id";

/// Every other write of the group, as `code_check`'s statements for one check write them:
/// attempts taken (and right codes' challenges completed), guesses reserved as failures, users
/// touched, sessions opened, events recorded (in the group's order).
const WRITES: &str = "WITH \
     attempt AS (SELECT * FROM json_to_recordset($1::json) \
       AS r(id_hash TEXT, completed_at BIGINT)), \
     attempted AS (UPDATE login_challenges c SET attempts = c.attempts + 1, \
         completed_at = COALESCE(attempt.completed_at, c.completed_at) FROM attempt \
       WHERE c.id_hash = ANY(ARRAY(SELECT id_hash FROM attempt)) \
         AND c.id_hash = attempt.id_hash), \
     reserved AS (INSERT INTO two_factor_failures (user_id, at, guess_id) \
       SELECT r.user_id, r.at, r.guess_id \
       FROM json_to_recordset($2::json) AS r(user_id TEXT, at BIGINT, guess_id TEXT)), \
     touch AS (SELECT * FROM json_to_recordset($3::json) AS r(user_id TEXT, at BIGINT)), \
     touched AS (UPDATE users u SET last_login_at = touch.at FROM touch \
       WHERE u.id = ANY(ARRAY(SELECT user_id FROM touch)) AND u.id = touch.user_id), \
     opened AS (INSERT INTO sessions (id, user_id, amr, application_id, refresh_hash, \
         created_at, authenticated_at, expires_at, ip, user_agent) \
       SELECT r.id, r.user_id, r.amr, r.application_id, r.refresh_hash, r.now, r.now, \
         r.expires_at, r.ip, r.user_agent \
       FROM json_to_recordset($4::json) AS r(id TEXT, user_id TEXT, amr TEXT, \
         application_id TEXT, refresh_hash TEXT, now BIGINT, expires_at BIGINT, ip TEXT, \
         user_agent TEXT)) \
     INSERT INTO audit_events (at, actor, target, event, ip, user_agent, details) \
     SELECT r.at, r.actor, r.target, r.event, r.ip, r.user_agent, r.details \
     FROM json_to_recordset($5::json) AS r(n BIGINT, at BIGINT, actor TEXT, target TEXT, \
       event TEXT, ip TEXT, user_agent TEXT, details TEXT) \
     ORDER BY r.n";

/// The keys of each JSON record, in the order of the parameters `code_check` binds.
const RESERVE_KEYS: &[&str] = &["user_id", "at", "guess_id"];
const ATTEMPT_KEYS: &[&str] = &["id_hash", "completed_at"];
const TOUCH_KEYS: &[&str] = &["user_id", "at"];
const SESSION_KEYS: &[&str] = &[
    "id",
    "user_id",
    "amr",
    "application_id",
    "refresh_hash",
    "now",
    "expires_at",
    "ip",
    "user_agent",
];
const EVENT_KEYS: &[&str] = &[
    "at",
    "actor",
    "target",
    "event",
    "ip",
    "user_agent",
    "details",
];
const CLAIM_KEYS: &[&str] = &["id", "step", "at"];

/// A code check waiting for its group, its judges and its answer behind one face.
pub(super) trait GroupedGuess: Send {
    fn request(&self) -> &GuessRequest;
    /// The settings in force; called at most once.
    fn policy(&mut self, stored: Option<&str>) -> TwoFactorPolicy;
    /// The event of a guess refused unchecked; called at most once.
    fn refusal(&mut self, user: UserId, recent_failures: i64) -> AuditEvent;
    /// The code's verdict; a right code's carry stays with the check. Called at most once.
    fn verdict(
        &mut self,
        challenge: &ChallengeRecord,
        checked: &CheckedUser,
        policy: &TwoFactorPolicy,
    ) -> Verdict<()>;
    fn answer(self: Box<Self>, taken: Result<TakenGuess<()>, StoreError>);
    /// Runs the check alone, as a check outside any group; only before a judge was called.
    fn alone(self: Box<Self>, pool: AnyPool) -> Pin<Box<dyn Future<Output = ()> + Send>>;
    /// Runs the check alone on `connection`; false when the database failed it, after which
    /// the connection is not kept.
    fn alone_on(
        self: Box<Self>,
        connection: &mut AnyConnection,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + '_>>;
}

/// A check and its judges, as `Store::take_guess` received them.
pub(super) struct Guess<P, R, V, T> {
    request: GuessRequest,
    policy_of: Option<P>,
    refusal: Option<R>,
    verdict: Option<V>,
    carry: Option<T>,
    reply: oneshot::Sender<Result<TakenGuess<T>, StoreError>>,
}

impl<P, R, V, T> Guess<P, R, V, T> {
    pub(super) fn new(
        request: GuessRequest,
        policy_of: P,
        refusal: R,
        verdict: V,
    ) -> (Self, oneshot::Receiver<Result<TakenGuess<T>, StoreError>>) {
        let (reply, answer) = oneshot::channel();
        let guess = Self {
            request,
            policy_of: Some(policy_of),
            refusal: Some(refusal),
            verdict: Some(verdict),
            carry: None,
            reply,
        };
        (guess, answer)
    }
}

const JUDGED_TWICE: &str = "a group judges each check once";

impl<P, R, V, T> GroupedGuess for Guess<P, R, V, T>
where
    P: FnOnce(Option<&str>) -> TwoFactorPolicy + Send + 'static,
    R: FnOnce(UserId, i64) -> AuditEvent + Send + 'static,
    V: FnOnce(&ChallengeRecord, &CheckedUser, &TwoFactorPolicy) -> Verdict<T> + Send + 'static,
    T: Send + 'static,
{
    fn request(&self) -> &GuessRequest {
        &self.request
    }

    fn policy(&mut self, stored: Option<&str>) -> TwoFactorPolicy {
        (self.policy_of.take().expect(JUDGED_TWICE))(stored)
    }

    fn refusal(&mut self, user: UserId, recent_failures: i64) -> AuditEvent {
        (self.refusal.take().expect(JUDGED_TWICE))(user, recent_failures)
    }

    fn verdict(
        &mut self,
        challenge: &ChallengeRecord,
        checked: &CheckedUser,
        policy: &TwoFactorPolicy,
    ) -> Verdict<()> {
        match (self.verdict.take().expect(JUDGED_TWICE))(challenge, checked, policy) {
            Verdict::Right(right) => {
                let RightCode {
                    spend,
                    session,
                    event,
                    spent_event,
                    carry,
                } = *right;
                self.carry = Some(carry);
                Verdict::Right(Box::new(RightCode {
                    spend,
                    session,
                    event,
                    spent_event,
                    carry: (),
                }))
            }
            Verdict::Wrong { event } => Verdict::Wrong { event },
            Verdict::Later => Verdict::Later,
        }
    }

    fn answer(self: Box<Self>, taken: Result<TakenGuess<()>, StoreError>) {
        let Self { carry, reply, .. } = *self;
        let taken = taken.and_then(|taken| {
            Ok(match taken {
                TakenGuess::Unknown => TakenGuess::Unknown,
                TakenGuess::Refused { user, policy } => TakenGuess::Refused { user, policy },
                TakenGuess::Reserved {
                    challenge,
                    checked,
                    policy,
                } => TakenGuess::Reserved {
                    challenge,
                    checked,
                    policy,
                },
                TakenGuess::LoggedIn {
                    challenge,
                    checked,
                    policy,
                    spent,
                    carry: (),
                } => TakenGuess::LoggedIn {
                    challenge,
                    checked,
                    policy,
                    spent,
                    carry: carry.ok_or_else(|| {
                        StoreError::Corrupt("a right code lost its session's tokens".into())
                    })?,
                },
                TakenGuess::Wrong { user } => TakenGuess::Wrong { user },
            })
        });
        // The caller may have gone (its request was dropped): nothing to tell.
        let _ = reply.send(taken);
    }

    fn alone(self: Box<Self>, pool: AnyPool) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            match pool.acquire().await {
                Ok(mut connection) => {
                    self.alone_on(&mut connection).await;
                }
                Err(error) => self.answer(Err(error.into())),
            }
        })
    }

    fn alone_on(
        self: Box<Self>,
        connection: &mut AnyConnection,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + '_>> {
        Box::pin(async move {
            let Self {
                request,
                policy_of,
                refusal,
                verdict,
                reply,
                ..
            } = *self;
            let taken = match (policy_of, refusal, verdict) {
                (Some(policy_of), Some(refusal), Some(verdict)) => {
                    take_guess_on(connection, &request, policy_of, refusal, verdict).await
                }
                _ => Err(StoreError::Corrupt(JUDGED_TWICE.into())),
            };
            let clean = !matches!(taken, Err(StoreError::Database(_)));
            let _ = reply.send(taken);
            clean
        })
    }
}

/// Where code checks queue for their group; the workers stop when the last sender is dropped.
#[derive(Clone)]
pub(super) struct CheckGroups {
    queue: mpsc::Sender<Box<dyn GroupedGuess>>,
    pool: AnyPool,
}

impl CheckGroups {
    /// Starts the workers (`workers_for` the pool's size), each running one group at a time.
    pub(super) fn start(pool: AnyPool) -> Self {
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

    /// Queues the check for a group; should the workers be gone, it runs alone.
    pub(super) async fn submit(&self, guess: Box<dyn GroupedGuess>) {
        if let Err(mpsc::error::SendError(guess)) = self.queue.send(guess).await {
            guess.alone(self.pool.clone()).await;
        }
    }
}

/// The queue the workers share, and how many groups are running.
struct Waiting {
    queue: Mutex<mpsc::Receiver<Box<dyn GroupedGuess>>>,
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
/// waited `LONGEST_WAIT`. Without the wait, the second worker took each check as it came, in
/// groups of one or two, and spent the database on their statements (1,252 groups in 5 s, 710
/// of them under 8 checks). Without its bound, a few clients' checks (which never make
/// `FULL_ENOUGH`) each waited for a whole group before their own: beside a flood of password
/// guesses, which makes every round trip slow, 8 clients' p99 went from 11.9 to 21.9 ms.
async fn next_group(waiting: &Waiting) -> Option<Vec<Box<dyn GroupedGuess>>> {
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

/// Where a check of the group stands.
enum Standing {
    /// Judged (or failed on its own row): answered once the group's writes commit.
    Answer(Result<TakenGuess<()>, StoreError>),
    /// Taken and locked, waiting for its methods and counts.
    Locked {
        challenge: ChallengeRecord,
        user: User,
        policy: TwoFactorPolicy,
    },
    /// Right so far; waiting for its authenticator's claim.
    Right {
        challenge: ChallengeRecord,
        checked: CheckedUser,
        policy: TwoFactorPolicy,
        right: Box<RightCode<()>>,
    },
    /// Shares a challenge or a user with an earlier check of the group: runs alone after it.
    Alone,
}

/// What the group writes besides the claims, as rows of `WRITES`' parameters.
#[derive(Default)]
struct Writes {
    /// The challenges whose attempt is taken, and when a right code completed them.
    attempted: Vec<Vec<Param>>,
    reserved: Vec<Vec<Param>>,
    touched: Vec<Vec<Param>>,
    opened: Vec<Vec<Param>>,
    events: Vec<Vec<Param>>,
}

impl Writes {
    fn attempt(&mut self, request: &GuessRequest, completed_at: Option<Instant>) {
        self.attempted.push(vec![
            request.id_hash.as_str().into(),
            completed_at.map_or(Param::Null, |at| at.millis().into()),
        ]);
    }

    fn event(&mut self, event: &AuditEvent) {
        self.events.push(audit::event_params(event));
    }

    fn params(self) -> Vec<Param> {
        let mut events = self.events;
        for (n, event) in events.iter_mut().enumerate() {
            event.insert(0, i64::try_from(n).unwrap_or(i64::MAX).into());
        }
        let event_keys: Vec<&str> = ["n"].iter().chain(EVENT_KEYS).copied().collect();
        vec![
            json_records(ATTEMPT_KEYS, self.attempted).into(),
            json_records(RESERVE_KEYS, self.reserved).into(),
            json_records(TOUCH_KEYS, self.touched).into(),
            json_records(SESSION_KEYS, self.opened).into(),
            json_records(&event_keys, events).into(),
        ]
    }
}

/// Runs one group on `connection`, and says whether the connection came through without an
/// error of the database (and may be kept), once every check of the group has its answer (or
/// runs alone).
async fn run_group(
    pool: &AnyPool,
    connection: &mut AnyConnection,
    group: Vec<Box<dyn GroupedGuess>>,
) -> bool {
    // A second check of one challenge waits outside the group: the statements take one
    // attempt per challenge.
    let mut challenges = HashSet::new();
    let mut later = Vec::new();
    let (first_of_each, repeated): (Vec<_>, Vec<_>) = group
        .into_iter()
        .partition(|guess| challenges.insert(guess.request().id_hash.clone()));
    later.extend(repeated);
    let mut group = first_of_each;
    if group.len() == 1 && later.is_empty() {
        // One check: its own statements on this connection, cheaper than a group's.
        return match group.pop() {
            Some(guess) => guess.alone_on(connection).await,
            None => true,
        };
    }

    let mut tx = match connection.begin().await {
        Ok(tx) => tx,
        Err(error) => {
            tracing::warn!(%error, checks = group.len(), "a group of code checks could not begin");
            run_alone(pool, group.into_iter().chain(later).collect());
            return false;
        }
    };
    let input = group
        .iter()
        .enumerate()
        .map(|(n, guess)| {
            let request = guess.request();
            vec![
                i64::try_from(n).unwrap_or(i64::MAX).into(),
                request.id_hash.as_str().into(),
                request.now.millis().into(),
                request.settings_key.into(),
            ]
        })
        .collect();
    let input = json_records(&["n", "id_hash", "now", "settings_key"], input);
    let rows = match bind_all(sqlx::query(&TAKE_ATTEMPTS_LOCK_USERS), vec![input.into()])
        .fetch_all(&mut *tx)
        .await
    {
        Ok(rows) => rows,
        Err(error) => {
            // Nothing was judged: each check can still run alone.
            tracing::warn!(%error, checks = group.len(), "a group of code checks could not take its attempts");
            drop(tx);
            run_alone(pool, group.into_iter().chain(later).collect());
            return false;
        }
    };

    let mut standing: Vec<Standing> = (0..group.len())
        .map(|_| Standing::Answer(Ok(TakenGuess::Unknown)))
        .collect();
    let mut writes = Writes::default();
    let mut users = HashSet::new();
    for row in &rows {
        let Some(n) = row
            .column::<i64>("n")
            .ok()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n < group.len())
        else {
            continue;
        };
        let guess = &mut group[n];
        let read = challenge_from_row(row)
            .and_then(|challenge| Ok((challenge, user_from_row(row)?.user)))
            .and_then(|(challenge, user)| {
                Ok((
                    challenge,
                    user,
                    row.column::<Option<String>>("stored_settings")?,
                ))
            });
        // Until judged, a check has written nothing: one that ends here leaves no trace, as
        // a check alone rolls back.
        standing[n] = match read {
            Err(error) => Standing::Answer(Err(error)),
            Ok((_, user, _)) if !users.insert(user.id) => Standing::Alone,
            Ok((challenge, user, stored)) => {
                let policy = guess.policy(stored.as_deref());
                if challenge.attempts > policy.max_code_attempts || !user.active {
                    Standing::Answer(Ok(TakenGuess::Unknown))
                } else {
                    Standing::Locked {
                        challenge,
                        user,
                        policy,
                    }
                }
            }
        };
    }

    let judged = judge(&mut tx, &mut group, standing, &mut writes).await;
    let outcome = match judged {
        Ok(standing) => match bind_all(sqlx::query(WRITES), writes.params())
            .execute(&mut *tx)
            .await
        {
            Ok(_) => tx.commit().await.map(|()| standing),
            Err(error) => Err(error),
        },
        Err(error) => Err(error),
    };
    let healthy = match outcome {
        Ok(standing) => {
            for (guess, standing) in group.into_iter().zip(standing) {
                match standing {
                    Standing::Answer(taken) => guess.answer(taken),
                    Standing::Alone => later.push(guess),
                    Standing::Locked { .. } | Standing::Right { .. } => guess.answer(Err(
                        StoreError::Corrupt("a code check of a group was left unjudged".into()),
                    )),
                }
            }
            true
        }
        Err(error) => {
            tracing::warn!(%error, checks = group.len(), "a group of code checks failed");
            let message = error.to_string();
            for guess in group {
                guess.answer(Err(StoreError::GroupNotCommitted(message.clone())));
            }
            false
        }
    };
    run_alone(pool, later);
    healthy
}

/// Reads the methods and counts of the locked checks, judges each, and claims the right
/// codes' time steps: every check's standing is then its answer, or `Alone`.
async fn judge(
    tx: &mut sqlx::Transaction<'_, Any>,
    group: &mut [Box<dyn GroupedGuess>],
    mut standing: Vec<Standing>,
    writes: &mut Writes,
) -> Result<Vec<Standing>, sqlx::Error> {
    let input: Vec<Vec<Param>> = standing
        .iter()
        .enumerate()
        .filter_map(|(n, standing)| match standing {
            Standing::Locked { user, policy, .. } => {
                let mut params = vec![i64::try_from(n).unwrap_or(i64::MAX).into()];
                params.extend(counts_params(user, policy, group[n].request()));
                Some(params)
            }
            _ => None,
        })
        .collect();
    let mut read: HashMap<usize, Vec<AnyRow>> = HashMap::new();
    if !input.is_empty() {
        let input = json_records(&["n", "user_id", "since", "context"], input);
        for row in bind_all(sqlx::query(&METHODS_AND_COUNTS), vec![input.into()])
            .fetch_all(&mut **tx)
            .await?
        {
            if let Some(n) = row
                .column::<i64>("n")
                .ok()
                .and_then(|n| usize::try_from(n).ok())
            {
                read.entry(n).or_default().push(row);
            }
        }
    }

    let mut claims = Vec::new();
    for (n, place) in standing.iter_mut().enumerate() {
        let (challenge, user, policy) = match std::mem::replace(place, Standing::Alone) {
            Standing::Locked {
                challenge,
                user,
                policy,
            } => (challenge, user, policy),
            other => {
                *place = other;
                continue;
            }
        };
        let guess = &mut group[n];
        let rows = read.remove(&n).unwrap_or_default();
        let counted = rows
            .iter()
            .map(MethodsAndCountsRow::read)
            .collect::<Result<Vec<_>, _>>()
            .and_then(MethodsAndCounts::from_rows);
        let checked = match counted {
            Ok(counted) => checked_user(user, counted),
            Err(error) => {
                // As a check alone would: nothing of it stands.
                *place = Standing::Answer(Err(error));
                continue;
            }
        };
        if !policy.guess_allowed(checked.recent_failures + 1) {
            let event = guess.refusal(checked.user.id, checked.recent_failures);
            writes.attempt(guess.request(), None);
            writes.event(&event);
            *place = Standing::Answer(Ok(TakenGuess::Refused {
                user: checked.user.id,
                policy,
            }));
            continue;
        }
        *place = match guess.verdict(&challenge, &checked, &policy) {
            Verdict::Later => {
                writes.attempt(guess.request(), None);
                writes
                    .reserved
                    .push(reserve_params(&checked, guess.request()));
                Standing::Answer(Ok(TakenGuess::Reserved {
                    challenge,
                    checked,
                    policy,
                }))
            }
            Verdict::Wrong { event } => {
                writes.attempt(guess.request(), None);
                writes
                    .reserved
                    .push(reserve_params(&checked, guess.request()));
                writes.event(&event);
                Standing::Answer(Ok(TakenGuess::Wrong {
                    user: checked.user.id,
                }))
            }
            Verdict::Right(right) => {
                if let Some((method, step)) = &right.spend {
                    claims.push(claim_params(method, *step, right.session.now));
                }
                Standing::Right {
                    challenge,
                    checked,
                    policy,
                    right,
                }
            }
        };
    }

    let claimed: HashSet<String> = if claims.is_empty() {
        HashSet::new()
    } else {
        let rows = bind_all(
            sqlx::query(CLAIM_STEPS),
            vec![json_records(CLAIM_KEYS, claims).into()],
        )
        .fetch_all(&mut **tx)
        .await?;
        rows.iter()
            .filter_map(|row| row.column::<String>("id").ok())
            .collect()
    };

    for (n, place) in standing.iter_mut().enumerate() {
        let (challenge, checked, policy, right) = match std::mem::replace(place, Standing::Alone) {
            Standing::Right {
                challenge,
                checked,
                policy,
                right,
            } => (challenge, checked, policy, right),
            other => {
                *place = other;
                continue;
            }
        };
        let request = group[n].request();
        let won = right
            .spend
            .as_ref()
            .is_none_or(|(method, _)| claimed.contains(method.as_str()));
        *place = if won {
            writes.attempt(request, Some(right.session.now));
            writes.touched.push(touch_params(&right.session));
            writes.opened.push(session_params(&right.session));
            writes.event(&right.event);
            let RightCode { spend, .. } = *right;
            Standing::Answer(Ok(TakenGuess::LoggedIn {
                challenge,
                checked,
                policy,
                spent: spend,
                carry: (),
            }))
        } else {
            // The step was spent by another login: the code counts as wrong.
            writes.attempt(request, None);
            writes.reserved.push(reserve_params(&checked, request));
            writes.event(&right.spent_event);
            Standing::Answer(Ok(TakenGuess::Wrong {
                user: checked.user.id,
            }))
        };
    }
    Ok(standing)
}

/// Runs each check alone, each on a task of its own.
fn run_alone(pool: &AnyPool, guesses: Vec<Box<dyn GroupedGuess>>) {
    for guess in guesses {
        tokio::spawn(guess.alone(pool.clone()));
    }
}

/// Rows of parameters as a JSON array of records with `keys`, for `json_to_recordset`.
fn json_records(keys: &[&str], rows: Vec<Vec<Param>>) -> String {
    let records: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|row| {
            let record: serde_json::Map<String, serde_json::Value> = keys
                .iter()
                .zip(row)
                .map(|(key, param)| {
                    let value = match param {
                        Param::Int(value) => value.into(),
                        Param::Text(value) => value.into(),
                        Param::Null => serde_json::Value::Null,
                    };
                    ((*key).to_owned(), value)
                })
                .collect();
            serde_json::Value::Object(record)
        })
        .collect();
    serde_json::Value::Array(records).to_string()
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

    #[test]
    fn records_carry_each_parameter_under_its_key_with_its_type() {
        let rows = vec![
            vec!["ada".into(), 7_i64.into(), Param::Null],
            vec!["bob".into(), (-1_i64).into(), "g\"1".into()],
        ];
        let records: serde_json::Value =
            serde_json::from_str(&json_records(RESERVE_KEYS, rows)).unwrap();
        assert_eq!(
            records,
            serde_json::json!([
                {"user_id": "ada", "at": 7, "guess_id": null},
                {"user_id": "bob", "at": -1, "guess_id": "g\"1"},
            ])
        );
        assert_eq!(json_records(RESERVE_KEYS, Vec::new()), "[]");
    }

    #[test]
    fn the_record_keys_match_the_parameters_of_the_statements_one_check_runs() {
        use super::super::row::parameter_count;
        use super::super::sessions::INSERT_SESSION;
        use super::super::two_factor::CLAIM_STEP;
        // INSERT_SESSION binds its sixth parameter twice (created and authenticated at).
        assert_eq!(SESSION_KEYS.len(), parameter_count(INSERT_SESSION));
        assert_eq!(EVENT_KEYS.len(), parameter_count(audit::INSERT));
        assert_eq!(CLAIM_KEYS.len(), parameter_count(CLAIM_STEP));
        assert_eq!(RESERVE_KEYS.len(), 3);
    }
}
