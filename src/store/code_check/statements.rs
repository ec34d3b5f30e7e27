//! The statements of a code check one at a time, shared by the SQLite thread and a PostgreSQL
//! connection, with their parameters and the decoders of what they read.

use std::sync::LazyLock;

use super::super::StoreError;
use super::super::audit;
use super::super::row::{Columns, Param, sqlite_numbered};
use super::super::sessions::{INSERT_SESSION, TOUCH_LAST_LOGIN, session_params, touch_params};
use super::super::two_factor::{CLAIM_STEP, METHOD_COLUMNS, MethodRecord, method_from_row};
use super::super::users::COLUMNS as USER_COLUMNS;
pub(super) use super::super::webauthn::{
    SPEND_SECOND_FACTOR, USE_CREDENTIAL, second_factor_params, use_params,
};
use super::{GuessWrites, MethodUse, MethodsAndCounts, ReservedGuess};
use crate::audit::AuditEvent;
use crate::clock::Instant;
use crate::domain::UserId;

/// Takes an attempt from a challenge that is neither expired nor completed, and reads the
/// settings stored under `$3` in the same statement.
pub(super) const TAKE_ATTEMPT: &str = "UPDATE login_challenges SET attempts = attempts + 1 \
     WHERE id_hash = $1 AND completed_at IS NULL AND expires_at > $2 \
     RETURNING user_id, login_type, application_id, expires_at, attempts, \
       enrollment_code_hash, access_code_used_at, remember_me, \
       (SELECT value FROM settings WHERE key = $3) AS stored_settings";

pub(super) static READ_USER: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"));

/// PostgreSQL: `TAKE_ATTEMPT` and `READ_USER` as one statement (one round trip fewer), with the
/// user's row locked: the lock makes this user's guesses count one after another (SQLite's
/// write lock already does). The challenge is locked by the update before the user by the
/// join, the order of every check. No row: no open challenge, or its user is gone.
pub(super) static TAKE_ATTEMPT_LOCK_USER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH taken AS ({TAKE_ATTEMPT}) SELECT taken.*, {} \
         FROM taken JOIN users u ON u.id = taken.user_id FOR UPDATE OF u",
        prefixed("u", USER_COLUMNS)
    )
});

/// The user's methods (none: one row of NULLs), their failures since `$2`, and how many codes
/// for `$3` are pending, in one query.
pub(super) static METHODS_AND_COUNTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT (SELECT COUNT(*) FROM two_factor_failures WHERE user_id = $1 AND at > $2) \
           AS recent_failures, \
         (SELECT COUNT(*) FROM verifications WHERE context = $3 AND status = 'pending') \
           AS codes_sent, {} \
         FROM (SELECT 1 AS anchor) AS anchor \
         LEFT JOIN two_factor_methods m ON m.user_id = $1 \
         ORDER BY m.created_at, m.id",
        prefixed("m", METHOD_COLUMNS)
    )
});

pub(super) const READ_SETTING: &str = "SELECT value FROM settings WHERE key = $1";

/// The kinds of the user's WebAuthn credentials, each once.
pub(super) const SECURITY_KEYS: &str =
    "SELECT DISTINCT kind FROM webauthn_credentials WHERE user_id = $1";

pub(super) const RESERVE_GUESS: &str =
    "INSERT INTO two_factor_failures (user_id, at, guess_id) VALUES ($1, $2, $3)";
pub(super) const RELEASE_GUESS: &str = "DELETE FROM two_factor_failures WHERE guess_id = $1";
pub(super) const COMPLETE_CHALLENGE: &str =
    "UPDATE login_challenges SET completed_at = $2 WHERE id_hash = $1 AND completed_at IS NULL";

/// Spends the access code `$2` of the user `$1` unless it expired by `$3`: the id of the code
/// spent, or no row.
pub(super) const SPEND_ACCESS_CODE: &str = "DELETE FROM access_codes \
     WHERE user_id = $1 AND code_hash = $2 AND expires_at > $3 RETURNING id";

/// A challenge let through by an access code at `$2`, waiting at least until `$3` for an
/// enrolment.
pub(super) const OPEN_ENROLMENT: &str = "UPDATE login_challenges SET access_code_used_at = $2, \
     expires_at = CASE WHEN expires_at < $3 THEN $3 ELSE expires_at END \
     WHERE id_hash = $1 AND completed_at IS NULL";

/// The same statements with SQLite's numbered parameters, for the SQLite thread.
pub(super) struct Numbered {
    pub(super) take_attempt: String,
    pub(super) read_user: String,
    pub(super) methods_and_counts: String,
    pub(super) read_setting: String,
    pub(super) release_guess: String,
    pub(super) complete_challenge: String,
    pub(super) claim_step: String,
    pub(super) mark_used: String,
    pub(super) spend_access_code: String,
    pub(super) open_enrolment: String,
    pub(super) record_event: String,
    pub(super) spend_key_ceremony: String,
    pub(super) use_key: String,
    pub(super) security_keys: String,
}

pub(super) static NUMBERED: LazyLock<Numbered> = LazyLock::new(|| Numbered {
    take_attempt: sqlite_numbered(TAKE_ATTEMPT),
    read_user: sqlite_numbered(&READ_USER),
    methods_and_counts: sqlite_numbered(&METHODS_AND_COUNTS),
    read_setting: sqlite_numbered(READ_SETTING),
    release_guess: sqlite_numbered(RELEASE_GUESS),
    complete_challenge: sqlite_numbered(COMPLETE_CHALLENGE),
    claim_step: sqlite_numbered(CLAIM_STEP),
    mark_used: sqlite_numbered(MARK_USED),
    spend_access_code: sqlite_numbered(SPEND_ACCESS_CODE),
    open_enrolment: sqlite_numbered(OPEN_ENROLMENT),
    record_event: sqlite_numbered(audit::INSERT),
    spend_key_ceremony: sqlite_numbered(SPEND_SECOND_FACTOR),
    use_key: sqlite_numbered(USE_CREDENTIAL),
    security_keys: sqlite_numbered(SECURITY_KEYS),
});

/// A method's last use moves to `$2`; a phone's channel to `$3` when one is given.
pub(super) const MARK_USED: &str = "UPDATE two_factor_methods SET last_used_at = $2, \
     channel = COALESCE($3, channel) WHERE id = $1";

pub(super) fn mark_used_params(used: &MethodUse, at: Instant) -> Vec<Param> {
    vec![
        used.method.as_str().into(),
        at.millis().into(),
        used.channel.map(|c| c.as_str().to_owned()).into(),
    ]
}

/// `columns` ("a, b") with each column prefixed by `table`.
pub(super) fn prefixed(table: &str, columns: &str) -> String {
    columns
        .split(',')
        .map(|column| format!("{table}.{}", column.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn take_attempt_params(
    id_hash: &str,
    now: Instant,
    settings_key: &'static str,
) -> Vec<Param> {
    vec![id_hash.into(), now.millis().into(), settings_key.into()]
}

pub(super) fn counts_params(user: UserId, since: Instant, context: &str) -> Vec<Param> {
    vec![
        user.to_string().into(),
        since.millis().into(),
        context.into(),
    ]
}

pub(super) fn complete_params(id_hash: &str, at: Instant) -> Vec<Param> {
    vec![id_hash.into(), at.millis().into()]
}

pub(super) fn spend_params(user: UserId, code_hash: &str, at: Instant) -> Vec<Param> {
    vec![
        user.to_string().into(),
        code_hash.into(),
        at.millis().into(),
    ]
}

pub(super) fn open_enrolment_params(id_hash: &str, at: Instant, until: Instant) -> Vec<Param> {
    vec![id_hash.into(), at.millis().into(), until.millis().into()]
}

/// The access code's use, with the id of the code spent.
pub(super) fn spent_event(event: &AuditEvent, id: String) -> Vec<Param> {
    audit::event_params(&event.clone().detail("accessCodeId", id))
}

pub(super) fn reserve_params(reserve: &ReservedGuess) -> Vec<Param> {
    vec![
        reserve.user.to_string().into(),
        reserve.at.millis().into(),
        reserve.guess_id.as_str().into(),
    ]
}

impl GuessWrites {
    /// The writes as statements, in the order of the parameters the group's records carry
    /// (`group::Writes`): completion, reservation, last login, session, event. `id_hash`: the
    /// challenge the check took its attempt from.
    pub(super) fn statements(&self, id_hash: &str) -> Vec<(&'static str, Vec<Param>)> {
        let mut statements = Vec::new();
        if let Some(at) = self.complete_challenge {
            statements.push((COMPLETE_CHALLENGE, complete_params(id_hash, at)));
        }
        if let Some(reserve) = &self.reserve {
            statements.push((RESERVE_GUESS, reserve_params(reserve)));
        }
        if let Some(session) = &self.login {
            statements.push((TOUCH_LAST_LOGIN, touch_params(session)));
            statements.push((INSERT_SESSION, session_params(session)));
        }
        if let Some(event) = &self.event {
            statements.push((audit::INSERT, audit::event_params(event)));
        }
        statements
    }
}

/// One row of `METHODS_AND_COUNTS`: the counts repeat on every row; no method, one row of NULLs.
pub(super) struct MethodsAndCountsRow {
    recent_failures: i64,
    codes_sent: i64,
    method: Option<MethodRecord>,
}

impl MethodsAndCountsRow {
    pub(super) fn read(row: &impl Columns) -> Result<Self, StoreError> {
        Ok(Self {
            recent_failures: row.column("recent_failures")?,
            codes_sent: row.column("codes_sent")?,
            method: match row.column::<Option<String>>("id")? {
                Some(_) => Some(method_from_row(row)?),
                None => None,
            },
        })
    }
}

impl MethodsAndCounts {
    pub(super) fn from_rows(rows: Vec<MethodsAndCountsRow>) -> Result<Self, StoreError> {
        let first = rows.first().ok_or_else(|| {
            StoreError::Corrupt("the methods-and-counts query read no row".into())
        })?;
        let (recent_failures, codes_sent) = (first.recent_failures, first.codes_sent);
        Ok(Self {
            recent_failures,
            codes_sent: codes_sent > 0,
            methods: rows.into_iter().filter_map(|row| row.method).collect(),
        })
    }
}
