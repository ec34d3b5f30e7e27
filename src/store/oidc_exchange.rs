//! A code traded at `/oauth2/token`, in as few round trips as the backend allows: one statement
//! reads the client with the code, its session and its user (a join); the service's rules,
//! handed in as a function, decide on what it read; the store writes what they decided. On
//! SQLite the whole of it is one job of the SQLite thread (one hand-off, and a share of a group
//! commit, instead of a hand-off per statement); on PostgreSQL it is the read, then one
//! statement that spends the code and keeps the grant, its first refresh token and the event
//! only if the code was still unspent (two round trips instead of ten).

use std::sync::LazyLock;

use rusqlite::params_from_iter;
use sqlx::Row;

use super::oidc::{
    CLIENT_COLUMNS, CODE_COLUMNS, ClientRecord, CodeRecord, client_from_row, code_from_row,
};
use super::oidc_grants::{GRANT_COLUMNS, GrantRecord};
use super::row::{Columns, Param, Prefixed, SqliteRow, aliased, bind_all, sqlite_numbered};
use super::sessions::{COLUMNS as SESSION_COLUMNS, SessionRecord, session_from_row};
use super::users::{COLUMNS as USER_COLUMNS, user_from_row};
use super::{OidcStore, StoreError, audit, flag};
use crate::audit::AuditEvent;
use crate::clock::Instant;
use crate::domain::User;

/// What the exchange's statement read: the client asked for, and, when the code is one of that
/// client's, the code with the session it was granted from and its user (each `None` when gone).
#[derive(Debug, Clone, Default)]
pub struct ExchangeRead {
    pub client: Option<ClientRecord>,
    pub code: Option<CodeRecord>,
    pub session: Option<SessionRecord>,
    pub user: Option<User>,
}

/// What an exchange writes, as the service decided.
#[derive(Debug, Clone)]
pub enum ExchangeWrites {
    /// Spend the code (only while it is unspent and unexpired) and keep the grant, its first
    /// refresh token and the event with it.
    Trade {
        grant: GrantRecord,
        refresh_hash: String,
        event: AuditEvent,
    },
    /// Revoke a grant, with the event, unless it was revoked already.
    Revoke {
        grant_id: String,
        event: AuditEvent,
    },
    Nothing,
}

/// What the rules answered, and whether a trade's code was spent by this exchange (`false`:
/// another exchange spent it between the read and the write, which only PostgreSQL allows).
#[derive(Debug)]
pub struct Exchanged<T> {
    pub verdict: T,
    pub spent: bool,
}

static READ: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, {}, {}, {} FROM oidc_clients cl \
         LEFT JOIN oidc_codes c ON c.code_hash = $2 AND c.client_id = cl.client_id \
         LEFT JOIN sessions s ON s.id = c.session_id \
         LEFT JOIN users u ON u.id = c.user_id \
         WHERE cl.client_id = $1",
        aliased("cl", CLIENT_COLUMNS, "cl_"),
        aliased("c", CODE_COLUMNS, "c_"),
        aliased("s", SESSION_COLUMNS, "s_"),
        aliased("u", USER_COLUMNS, "u_"),
    )
});

const SPEND_CODE: &str = "UPDATE oidc_codes SET used_at = $2, grant_id = $3 \
     WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2";

static INSERT_GRANT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO oidc_grants ({GRANT_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)"
    )
});

const INSERT_REFRESH_TOKEN: &str =
    "INSERT INTO oidc_refresh_tokens (token_hash, grant_id, created_at) VALUES ($1, $2, $3)";

const REVOKE_GRANT: &str =
    "UPDATE oidc_grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";

/// PostgreSQL: the trade as one statement, each insert made from the row the spend returned,
/// so that nothing is kept unless the code was unspent. Parameters: `SPEND_CODE`'s, then the
/// grant's after its id, the refresh token's digest, the event's.
static TRADE_JOINED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH spent AS ({SPEND_CODE} RETURNING code_hash), \
         grant_kept AS (INSERT INTO oidc_grants ({GRANT_COLUMNS}) \
           SELECT $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL FROM spent), \
         token_kept AS (INSERT INTO oidc_refresh_tokens (token_hash, grant_id, created_at) \
           SELECT $13, $3, $2 FROM spent), \
         event_kept AS (INSERT INTO audit_events \
           (at, actor, target, event, ip, user_agent, details, device) \
           SELECT $14, $15, $16, $17, $18, $19, $20, $21 FROM spent) \
         SELECT COUNT(*) AS spent FROM spent"
    )
});

/// The statements with SQLite's numbered parameters, for the SQLite thread.
struct Numbered {
    read: String,
    spend_code: String,
    insert_grant: String,
    insert_refresh_token: String,
    revoke_grant: String,
    record_event: String,
}

static NUMBERED: LazyLock<Numbered> = LazyLock::new(|| Numbered {
    read: sqlite_numbered(&READ),
    spend_code: sqlite_numbered(SPEND_CODE),
    insert_grant: sqlite_numbered(&INSERT_GRANT),
    insert_refresh_token: sqlite_numbered(INSERT_REFRESH_TOKEN),
    revoke_grant: sqlite_numbered(REVOKE_GRANT),
    record_event: sqlite_numbered(audit::INSERT),
});

impl OidcStore {
    /// Reads the client `client_id` with its code `code_hash` (and the code's session and
    /// user), lets `decide` (the service's rules) judge what was read, and writes what it
    /// decided, all on one connection: on SQLite in one transaction, on PostgreSQL the trade in
    /// one statement that keeps nothing unless it spent the code (of many exchanges of one code
    /// at once, one gets the grant).
    pub async fn exchange_code<T, D>(
        &self,
        client_id: &str,
        code_hash: &str,
        decide: D,
    ) -> Result<Exchanged<T>, StoreError>
    where
        T: Send + 'static,
        D: FnOnce(ExchangeRead) -> (ExchangeWrites, T) + Send + 'static,
    {
        let read_params: Vec<Param> = vec![client_id.into(), code_hash.into()];
        let code_hash = code_hash.to_owned();
        if let Some(thread) = &self.store.shared.sqlite_thread {
            let exchanged = thread
                .run(move |connection| {
                    let tx = connection.savepoint()?;
                    let read = {
                        let mut statement = tx.prepare_cached(&NUMBERED.read)?;
                        let mut rows = statement.query(params_from_iter(read_params))?;
                        match rows.next()? {
                            Some(row) => read_from_row(&SqliteRow::new(row))?,
                            None => ExchangeRead::default(),
                        }
                    };
                    let (writes, verdict) = decide(read);
                    let execute = |sql: &str, params: Vec<Param>| -> Result<usize, StoreError> {
                        Ok(tx.prepare_cached(sql)?.execute(params_from_iter(params))?)
                    };
                    let written = match &writes {
                        ExchangeWrites::Trade {
                            grant,
                            refresh_hash,
                            event,
                        } => {
                            let spent = execute(
                                &NUMBERED.spend_code,
                                spend_params(&code_hash, grant, event.at),
                            )? == 1;
                            if spent {
                                execute(&NUMBERED.insert_grant, grant_params(grant))?;
                                execute(
                                    &NUMBERED.insert_refresh_token,
                                    vec![
                                        refresh_hash.as_str().into(),
                                        grant.id.as_str().into(),
                                        event.at.millis().into(),
                                    ],
                                )?;
                                execute(&NUMBERED.record_event, audit::event_params(event))?;
                            }
                            spent.then_some(event)
                        }
                        ExchangeWrites::Revoke { grant_id, event } => {
                            let params = vec![grant_id.as_str().into(), event.at.millis().into()];
                            let revoked = execute(&NUMBERED.revoke_grant, params)? == 1;
                            if revoked {
                                execute(&NUMBERED.record_event, audit::event_params(event))?;
                            }
                            revoked.then_some(event)
                        }
                        ExchangeWrites::Nothing => None,
                    };
                    tx.commit()?;
                    // Counted as written, as `audit::record` does.
                    if let Some(event) = written {
                        crate::audit::metrics::count(event);
                    }
                    let spent = matches!(writes, ExchangeWrites::Trade { .. }) && written.is_some();
                    Ok(Exchanged { verdict, spent })
                })
                .await?;
            return Ok(exchanged);
        }
        let row = bind_all(sqlx::query(&READ), read_params)
            .fetch_optional(self.store.pool())
            .await?;
        let read = row
            .map(|row| read_from_row(&row))
            .transpose()?
            .unwrap_or_default();
        let (writes, verdict) = decide(read);
        let spent = match writes {
            ExchangeWrites::Trade {
                grant,
                refresh_hash,
                event,
            } => {
                let mut params = spend_params(&code_hash, &grant, event.at);
                params.extend(grant_params(&grant).into_iter().skip(1));
                params.push(refresh_hash.into());
                params.extend(audit::event_params(&event));
                let row = bind_all(sqlx::query(&TRADE_JOINED), params)
                    .fetch_one(self.store.writes())
                    .await?;
                let spent = row.try_get::<i64, _>("spent")? == 1;
                if spent {
                    crate::audit::metrics::count(&event);
                }
                spent
            }
            ExchangeWrites::Revoke { grant_id, event } => {
                self.revoke_grant(&grant_id, &event).await?;
                false
            }
            ExchangeWrites::Nothing => false,
        };
        Ok(Exchanged { verdict, spent })
    }
}

fn spend_params(code_hash: &str, grant: &GrantRecord, now: Instant) -> Vec<Param> {
    vec![
        code_hash.into(),
        now.millis().into(),
        grant.id.as_str().into(),
    ]
}

/// `INSERT_GRANT`'s parameters, the grant's id first.
fn grant_params(grant: &GrantRecord) -> Vec<Param> {
    vec![
        grant.id.as_str().into(),
        grant.client_id.as_str().into(),
        grant.user.to_string().into(),
        grant.session_id.as_str().into(),
        grant.scope.as_str().into(),
        grant.auth_time.millis().into(),
        serde_json::to_string(&grant.amr)
            .unwrap_or_else(|_| "[]".into())
            .into(),
        flag(grant.offline).into(),
        grant.created_at.millis().into(),
        grant.expires_at.millis().into(),
    ]
}

/// The row of `READ`: each table's columns behind its alias, the outer-joined ones absent when
/// their id is NULL.
fn read_from_row(row: &impl Columns) -> Result<ExchangeRead, StoreError> {
    let part = |prefix| Prefixed { row, prefix };
    let present = |column: &str| -> Result<bool, StoreError> {
        Ok(row.column::<Option<String>>(column)?.is_some())
    };
    Ok(ExchangeRead {
        client: Some(client_from_row(&part("cl_"))?),
        code: if present("c_client_id")? {
            Some(code_from_row(&part("c_"))?)
        } else {
            None
        },
        session: if present("s_id")? {
            Some(session_from_row(&part("s_"))?)
        } else {
            None
        },
        user: if present("u_id")? {
            Some(user_from_row(&part("u_"))?.user)
        } else {
            None
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::row::parameter_count;

    #[test]
    fn the_joined_trade_binds_what_the_three_inserts_and_the_spend_bind() {
        let grant = GrantRecord {
            id: "gr_1".into(),
            client_id: "app".into(),
            user: crate::domain::UserId::new(),
            session_id: "s".into(),
            scope: "openid".into(),
            auth_time: Instant::from_millis(0),
            amr: vec![],
            offline: false,
            created_at: Instant::from_millis(0),
            expires_at: Instant::from_millis(1),
            revoked_at: None,
        };
        let bound = spend_params("h", &grant, Instant::from_millis(0)).len()
            + grant_params(&grant).len()
            - 1
            + 1
            + parameter_count(audit::INSERT);
        assert_eq!(parameter_count(&TRADE_JOINED), bound);
        assert_eq!(parameter_count(&INSERT_GRANT), grant_params(&grant).len());
    }
}
