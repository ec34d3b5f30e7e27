//! The statements of a group's checks: each check asks through `GroupStatements` and waits;
//! when every check of the group waits, `answer_asks` runs one set-based statement for each
//! kind of question and hands each check its answer.
//!
//! The statements read their input from one JSON parameter each (`json_to_recordset`): the
//! `Any` driver binds no arrays.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::task::Poll;

use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

use super::super::super::audit;
use super::super::super::row::{Columns, Param, bind_all};
use super::super::super::sessions::{session_params, touch_params};
use super::super::super::two_factor::{METHOD_COLUMNS, challenge_from_row, claim_params};
use super::super::super::users::{COLUMNS as USER_COLUMNS, user_from_row};
use super::super::statements::{MethodsAndCountsRow, prefixed, reserve_params};
use super::super::{GuessStatements, GuessWrites, MethodsAndCounts, StoreError, TakenAttempt};
use crate::clock::Instant;
use crate::domain::{MethodId, UserId};

/// Locks each open challenge of the input and then their users, each in order, and reads them
/// with the challenge's attempts counting this one: the attempt is written with the group's
/// other writes (`WRITES`), one update of the challenge instead of two for a right code. A
/// challenge without a row: not open. `n`: the check's place in the group.
///
/// Each table is reached by `= ANY(ARRAY(…))` on its key: the planner guesses a hundred rows
/// from any `json_to_recordset` and would rather join those to a whole table, scanned, than
/// look each up (figures in BENCHMARKS.md, "Why the constants are what they are").
static TAKE_ATTEMPTS_LOCK_USERS: LazyLock<String> = LazyLock::new(|| {
    let user_columns = prefixed("u", USER_COLUMNS);
    format!(
        "WITH input AS (SELECT * FROM json_to_recordset($1::json) \
           AS input(n BIGINT, id_hash TEXT, now BIGINT, settings_key TEXT)), \
         locked AS (SELECT c.id_hash, c.user_id, c.login_type, c.application_id, c.expires_at, \
             c.attempts + 1 AS attempts, c.enrollment_code_hash, c.access_code_used_at, \
             c.remember_me \
           FROM login_challenges c \
           WHERE c.id_hash = ANY(ARRAY(SELECT id_hash FROM input)) AND c.completed_at IS NULL \
           ORDER BY c.id_hash FOR UPDATE) \
         SELECT input.n, locked.user_id, locked.login_type, locked.application_id, \
           locked.expires_at, locked.attempts, locked.enrollment_code_hash, \
           locked.access_code_used_at, locked.remember_me, \
           (SELECT value FROM settings WHERE key = input.settings_key) AS stored_settings, \
           {user_columns} \
         FROM locked JOIN input ON input.id_hash = locked.id_hash AND locked.expires_at > input.now \
         JOIN users u ON u.id = locked.user_id \
         WHERE u.id = ANY(ARRAY(SELECT user_id FROM locked)) \
         ORDER BY u.id FOR UPDATE OF u"
    )
});

/// `statements::METHODS_AND_COUNTS` for each user of the input, ordered by the check's place.
static METHODS_AND_COUNTS: LazyLock<String> = LazyLock::new(|| {
    let method_columns = prefixed("m", METHOD_COLUMNS);
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

/// Every other write of the group, as `GuessWrites::statements` writes them for one check:
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
         created_at, authenticated_at, expires_at, ip, user_agent, kind, last_seen_at, \
         remembered) \
       SELECT r.id, r.user_id, r.amr, r.application_id, r.refresh_hash, r.now, r.now, \
         r.expires_at, r.ip, r.user_agent, r.kind, r.now, r.remembered \
       FROM json_to_recordset($4::json) AS r(id TEXT, user_id TEXT, amr TEXT, \
         application_id TEXT, refresh_hash TEXT, now BIGINT, expires_at BIGINT, ip TEXT, \
         user_agent TEXT, kind TEXT, remembered BIGINT)) \
     INSERT INTO audit_events (at, actor, target, event, ip, user_agent, details, device) \
     SELECT r.at, r.actor, r.target, r.event, r.ip, r.user_agent, r.details, r.device \
     FROM json_to_recordset($5::json) AS r(n BIGINT, at BIGINT, actor TEXT, target TEXT, \
       event TEXT, ip TEXT, user_agent TEXT, details TEXT, device TEXT) \
     ORDER BY r.n";

/// The keys of each JSON record, in the order of the parameters one check's statements bind.
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
    "kind",
    "remembered",
];
const EVENT_KEYS: &[&str] = &[
    "at",
    "actor",
    "target",
    "event",
    "ip",
    "user_agent",
    "details",
    "device",
];
const CLAIM_KEYS: &[&str] = &["id", "step", "at"];

/// A question a check of the group waits on.
enum Ask {
    Take {
        id_hash: String,
        now: Instant,
        settings_key: &'static str,
    },
    Counts {
        user: UserId,
        since: Instant,
        context: String,
    },
    Claim {
        method: MethodId,
        step: u64,
        now: Instant,
    },
}

enum Answered {
    Taken(Box<Result<Option<TakenAttempt>, StoreError>>),
    Counts(Result<MethodsAndCounts, StoreError>),
    Claimed(bool),
}

/// What the group's checks ask and are answered, by their place in the group, and what those
/// that committed write.
pub(super) struct Batch {
    asks: Vec<Option<Ask>>,
    answers: Vec<Option<Answered>>,
    /// Checks that share a challenge or a user with an earlier check of the group: they took
    /// no attempt here, and run alone once the group has committed, so that one user's guesses
    /// count one after another.
    deferred: Vec<bool>,
    challenges: HashSet<String>,
    users: HashSet<UserId>,
    writes: Writes,
}

pub(super) type SharedBatch = Arc<Mutex<Batch>>;

fn lock(batch: &Mutex<Batch>) -> MutexGuard<'_, Batch> {
    // A check that panicked left nothing half-done here: each change is one assignment.
    batch.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Batch {
    pub(super) fn shared(size: usize) -> SharedBatch {
        Arc::new(Mutex::new(Self {
            asks: (0..size).map(|_| None).collect(),
            answers: (0..size).map(|_| None).collect(),
            deferred: vec![false; size],
            challenges: HashSet::new(),
            users: HashSet::new(),
            writes: Writes::default(),
        }))
    }

    pub(super) fn deferred(batch: &SharedBatch) -> Vec<bool> {
        lock(batch).deferred.clone()
    }

    /// Writes what the committed checks wrote, as one statement.
    pub(super) async fn write(
        batch: &SharedBatch,
        tx: &mut Transaction<'_, Any>,
    ) -> Result<(), sqlx::Error> {
        let writes = std::mem::take(&mut lock(batch).writes);
        bind_all(sqlx::query(WRITES), writes.params())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

/// A check's statements inside its group.
pub(super) struct GroupStatements {
    place: usize,
    batch: SharedBatch,
    /// The challenge whose attempt was taken.
    id_hash: String,
}

impl GroupStatements {
    pub(super) fn new(place: usize, batch: SharedBatch) -> Self {
        Self {
            place,
            batch,
            id_hash: String::new(),
        }
    }

    /// Asks, and waits until `answer_asks` has answered.
    async fn ask(&self, ask: Ask) -> Answered {
        lock(&self.batch).asks[self.place] = Some(ask);
        std::future::poll_fn(|_| match lock(&self.batch).answers[self.place].take() {
            Some(answered) => Poll::Ready(answered),
            None => Poll::Pending,
        })
        .await
    }
}

fn out_of_turn() -> StoreError {
    StoreError::Corrupt("a code check of a group was answered out of turn".into())
}

impl GuessStatements for GroupStatements {
    async fn take_attempt(
        &mut self,
        id_hash: &str,
        now: Instant,
        settings_key: &'static str,
    ) -> Result<Option<TakenAttempt>, StoreError> {
        let ask = Ask::Take {
            id_hash: id_hash.to_owned(),
            now,
            settings_key,
        };
        match self.ask(ask).await {
            Answered::Taken(taken) => {
                id_hash.clone_into(&mut self.id_hash);
                *taken
            }
            _ => Err(out_of_turn()),
        }
    }

    async fn methods_and_counts(
        &mut self,
        user: UserId,
        since: Instant,
        context: &str,
    ) -> Result<MethodsAndCounts, StoreError> {
        let ask = Ask::Counts {
            user,
            since,
            context: context.to_owned(),
        };
        match self.ask(ask).await {
            Answered::Counts(counts) => counts,
            _ => Err(out_of_turn()),
        }
    }

    async fn claim_step(
        &mut self,
        method: &MethodId,
        step: u64,
        now: Instant,
    ) -> Result<bool, StoreError> {
        let ask = Ask::Claim {
            method: method.clone(),
            step,
            now,
        };
        match self.ask(ask).await {
            Answered::Claimed(claimed) => Ok(claimed),
            _ => Err(out_of_turn()),
        }
    }

    async fn commit(self, writes: GuessWrites) -> Result<(), StoreError> {
        lock(&self.batch).writes.add(&self.id_hash, writes);
        Ok(())
    }

    async fn rollback(self) -> Result<(), StoreError> {
        // Nothing of the check was written: the group writes only what was committed.
        Ok(())
    }
}

/// Runs what the checks of the group wait on, one statement for each kind of question, and
/// answers each. False when no check asked anything.
pub(super) async fn answer_asks(
    batch: &SharedBatch,
    tx: &mut Transaction<'_, Any>,
) -> Result<bool, sqlx::Error> {
    let asked: Vec<(usize, Ask)> = lock(batch)
        .asks
        .iter_mut()
        .enumerate()
        .filter_map(|(place, ask)| ask.take().map(|ask| (place, ask)))
        .collect();
    if asked.is_empty() {
        return Ok(false);
    }
    let (mut takes, mut counts, mut claims) = (Vec::new(), Vec::new(), Vec::new());
    for (place, ask) in asked {
        match ask {
            Ask::Take {
                id_hash,
                now,
                settings_key,
            } => takes.push((place, id_hash, now, settings_key)),
            Ask::Counts {
                user,
                since,
                context,
            } => counts.push((place, user, since, context)),
            Ask::Claim { method, step, now } => claims.push((place, method, step, now)),
        }
    }
    let mut answered = Vec::new();
    if !takes.is_empty() {
        answered.extend(take_attempts(batch, tx, takes).await?);
    }
    if !counts.is_empty() {
        answered.extend(read_counts(tx, counts).await?);
    }
    if !claims.is_empty() {
        answered.extend(claim_steps(tx, claims).await?);
    }
    let mut batch = lock(batch);
    for (place, answer) in answered {
        batch.answers[place] = Some(answer);
    }
    Ok(true)
}

/// The place of a row's check, from its `n` column, if it is one of `size` places.
fn place_of(row: &AnyRow, size: usize) -> Option<usize> {
    row.column::<i64>("n")
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n < size)
}

fn index(place: usize) -> Param {
    i64::try_from(place).unwrap_or(i64::MAX).into()
}

async fn take_attempts(
    batch: &SharedBatch,
    tx: &mut Transaction<'_, Any>,
    takes: Vec<(usize, String, Instant, &'static str)>,
) -> Result<Vec<(usize, Answered)>, sqlx::Error> {
    let size = lock(batch).asks.len();
    let mut answered = Vec::new();
    let mut input = Vec::new();
    {
        let mut batch = lock(batch);
        for (place, id_hash, now, settings_key) in takes {
            // The statement takes one attempt per challenge.
            if !batch.challenges.insert(id_hash.clone()) {
                batch.deferred[place] = true;
                answered.push((place, Answered::Taken(Box::new(Err(deferred())))));
                continue;
            }
            input.push(vec![
                index(place),
                id_hash.into(),
                now.millis().into(),
                settings_key.into(),
            ]);
            // Without a row below, the challenge is not open (or its user is gone).
            answered.push((place, Answered::Taken(Box::new(Ok(None)))));
        }
    }
    let input = json_records(&["n", "id_hash", "now", "settings_key"], input);
    let rows = bind_all(sqlx::query(&TAKE_ATTEMPTS_LOCK_USERS), vec![input.into()])
        .fetch_all(&mut **tx)
        .await?;
    let mut batch = lock(batch);
    for row in &rows {
        let Some(place) = place_of(row, size) else {
            continue;
        };
        let taken = challenge_from_row(row).and_then(|challenge| {
            Ok(TakenAttempt {
                challenge,
                user: user_from_row(row)?.user,
                stored_settings: row.column("stored_settings")?,
            })
        });
        let taken = match taken {
            Ok(taken) if !batch.users.insert(taken.user.id) => {
                batch.deferred[place] = true;
                Err(deferred())
            }
            Ok(taken) => Ok(Some(taken)),
            Err(error) => Err(error),
        };
        if let Some(slot) = answered.iter_mut().find(|(at, _)| *at == place) {
            slot.1 = Answered::Taken(Box::new(taken));
        }
    }
    Ok(answered)
}

/// The answer of a deferred check's first statement: its transaction ends there, and the group
/// runs it again alone.
fn deferred() -> StoreError {
    StoreError::GroupNotCommitted("deferred until the group has committed".into())
}

async fn read_counts(
    tx: &mut Transaction<'_, Any>,
    counts: Vec<(usize, UserId, Instant, String)>,
) -> Result<Vec<(usize, Answered)>, sqlx::Error> {
    let places: Vec<usize> = counts.iter().map(|(place, ..)| *place).collect();
    let input = counts
        .into_iter()
        .map(|(place, user, since, context)| {
            vec![
                index(place),
                user.to_string().into(),
                since.millis().into(),
                context.into(),
            ]
        })
        .collect();
    let input = json_records(&["n", "user_id", "since", "context"], input);
    let mut read: HashMap<usize, Vec<AnyRow>> = HashMap::new();
    for row in bind_all(sqlx::query(&METHODS_AND_COUNTS), vec![input.into()])
        .fetch_all(&mut **tx)
        .await?
    {
        if let Some(place) = place_of(&row, usize::MAX) {
            read.entry(place).or_default().push(row);
        }
    }
    Ok(places
        .into_iter()
        .map(|place| {
            let rows = read.remove(&place).unwrap_or_default();
            let counted = rows
                .iter()
                .map(MethodsAndCountsRow::read)
                .collect::<Result<Vec<_>, _>>()
                .and_then(MethodsAndCounts::from_rows);
            (place, Answered::Counts(counted))
        })
        .collect())
}

async fn claim_steps(
    tx: &mut Transaction<'_, Any>,
    claims: Vec<(usize, MethodId, u64, Instant)>,
) -> Result<Vec<(usize, Answered)>, sqlx::Error> {
    let input = claims
        .iter()
        .map(|(_, method, step, now)| claim_params(method, *step, *now))
        .collect();
    let rows = bind_all(
        sqlx::query(CLAIM_STEPS),
        vec![json_records(CLAIM_KEYS, input).into()],
    )
    .fetch_all(&mut **tx)
    .await?;
    let claimed: HashSet<String> = rows
        .iter()
        .filter_map(|row| row.column::<String>("id").ok())
        .collect();
    Ok(claims
        .into_iter()
        .map(|(place, method, ..)| (place, Answered::Claimed(claimed.contains(method.as_str()))))
        .collect())
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
    /// What one check committed, with the attempt it took from `id_hash`.
    fn add(&mut self, id_hash: &str, writes: GuessWrites) {
        self.attempted.push(vec![
            id_hash.into(),
            writes
                .complete_challenge
                .map_or(Param::Null, |at| at.millis().into()),
        ]);
        if let Some(reserve) = &writes.reserve {
            self.reserved.push(reserve_params(reserve));
        }
        if let Some(session) = &writes.login {
            self.touched.push(touch_params(session));
            self.opened.push(session_params(session));
        }
        if let Some(event) = &writes.event {
            self.events.push(audit::event_params(event));
        }
    }

    fn params(self) -> Vec<Param> {
        let mut events = self.events;
        for (n, event) in events.iter_mut().enumerate() {
            event.insert(0, index(n));
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
        use super::super::super::super::row::parameter_count;
        use super::super::super::super::sessions::INSERT_SESSION;
        use super::super::super::super::two_factor::CLAIM_STEP;
        use super::super::super::statements::RESERVE_GUESS;
        // INSERT_SESSION binds its sixth parameter twice (created and authenticated at).
        assert_eq!(SESSION_KEYS.len(), parameter_count(INSERT_SESSION));
        assert_eq!(EVENT_KEYS.len(), parameter_count(audit::INSERT));
        assert_eq!(CLAIM_KEYS.len(), parameter_count(CLAIM_STEP));
        assert_eq!(RESERVE_KEYS.len(), parameter_count(RESERVE_GUESS));
    }
}
