//! Storage on SQLite or PostgreSQL through sqlx's `Any` driver: one set of queries (written in
//! the SQL both understand, with `$n` parameters), one set of migrations per backend. On a
//! SQLite file the code check's transactions run whole on a thread of their own instead
//! (`sqlite_thread`), with the same statements.
//!
//! Rules every query here follows:
//! - instants are BIGINT milliseconds, ids TEXT, flags BOOLEAN;
//! - a transaction starts with a write, so SQLite takes its write lock up front and waits on
//!   `busy_timeout` instead of failing when it would have to upgrade a read lock;
//! - every "exactly once" is one conditional UPDATE, never a read then a write.

mod access_codes;
mod address_proofs;
mod api_keys;
mod app_passwords;
mod areas;
mod audit;
mod checkpoints;
mod code_check;
mod counters;
mod email_links;
mod factors;
mod groups;
mod import;
mod janitor;
mod messages;
mod names;
mod notices;
mod oidc;
mod oidc_exchange;
mod oidc_grants;
mod password_links;
mod row;
mod sessions;
mod settings;
mod sqlite_thread;
mod trusted_computers;
mod two_factor;
mod users;
mod verify;
mod verify_api;
mod verify_limits;
mod verify_totp;
mod webauthn;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyPool, Executor, Transaction};

pub use access_codes::{AccessCodeRecord, IssuedAccessCode, NewAccessCode};
pub use address_proofs::ProvenAddress;
pub use api_keys::ApiKeyRecord;
pub use app_passwords::{AppPasswordRecord, AppPasswords, NewAppPassword, StoredAppPassword};
pub use areas::{
    ApiKeyStore, AppPasswordStore, AuditStore, CounterStore, EmailLinkStore, GroupStore,
    MessageStore, NoticeStore, OidcStore, PasswordLinkStore, SessionStore, SettingStore,
    TwoFactorStore, UserStore, VerifyStore, WebauthnStore,
};
pub use code_check::{
    FinishStatements, FinishTransaction, GuessStatements, GuessTransaction, GuessWrites, MethodUse,
    MethodsAndCounts, PasswordStep, PasswordStepStatements, ReservedGuess, TakenAttempt,
};
pub use counters::{Counter, Full};
pub use email_links::{EmailLinkRecord, LinkVerification, NewEmailLink};
pub use groups::{MemberRecord, MembersChange, Membership};
pub use import::ImportedUser;
pub use janitor::SweepReport;
pub use notices::{DeviceSeen, LoggedEvent, NewNotice, NoticeRecord};
pub use oidc::{ClientRecord, CodeRecord, NewCode};
pub use oidc_exchange::{ExchangeRead, ExchangeWrites, Exchanged};
pub use oidc_grants::{ConsentRecord, GrantRecord, RefreshSpend, Withdrawn};
pub use password_links::{NewPasswordLink, PasswordLinkRecord};
pub use sessions::{NewSession, SessionRecord};
pub use trusted_computers::{NewTrust, TrustRecord};
pub use two_factor::{
    AddedMethod, ChallengeRecord, EnrolmentEvents, MethodRecord, NewChallenge, NewMethod,
    NewRecoveryCodes, RemovedFactors, Trusts,
};
pub use users::{
    EndSessions, Keep, NewUser, PasswordChange, PasswordSet, UserChanges, UserWithHash,
};
pub use verify::{AttemptResult, MessageRecord, NewMessage, NewVerification, VerificationRecord};
pub use verify_api::ServiceRecord;
pub use verify_limits::{BucketRecord, CappedInsert, RateLimitRecord};
pub use verify_totp::{ChallengeRow, EntityRecord, FactorRecord};
pub use webauthn::{
    CeremonyRecord, CredentialRecord, KeyAtLogin, KeyChange, NewCeremony, SessionProof,
    StoredCredential, UsedCredential,
};

use checkpoints::Checkpoints;
use code_check::CheckGroups;
use sqlite_thread::SqliteThread;

use crate::config::DatabaseUrl;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(
        "an in-memory SQLite database cannot be used: Tessera's connections could not share it \
         and it would vanish at exit; give a file (sqlite://PATH)"
    )]
    InMemory,
    #[error("{field} is already taken")]
    Duplicate { field: &'static str },
    /// The change was refused: it would not have kept what the caller asked to keep.
    #[error("refused: the change would leave no {0}")]
    NotKept(users::Keep),
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the SQLite thread has stopped")]
    ThreadGone,
    /// The shared commit of a group of jobs on the SQLite thread failed: none of them stands.
    #[error("database error: the group commit failed: {0}")]
    GroupNotCommitted(String),
}

/// The database: a cheap handle, cloned into every service's areas and every transaction.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    pool: AnyPool,
    /// SQLite only: one connection for the hot write transactions (see `connect`).
    writer: Option<AnyPool>,
    /// SQLite only: where the code check's transactions run whole (see `sqlite_thread`).
    sqlite_thread: Option<SqliteThread>,
    /// SQLite only: the thread that checkpoints the WAL (see `checkpoints`); it stops when the
    /// last handle of the store is dropped. `close` empties the log through it.
    checkpoints: Option<Checkpoints>,
    /// PostgreSQL only: where concurrent code checks share their statements (`code_check::group`).
    check_groups: Option<CheckGroups>,
    backend: Backend,
}

/// Whether `error`, or an error it came from, is a request's wait for a database connection
/// running out: the database is busy, not broken, and the request may be tried again (503, not
/// 500).
pub fn is_busy(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if matches!(
            error.downcast_ref::<sqlx::Error>(),
            Some(sqlx::Error::PoolTimedOut)
        ) {
            return true;
        }
        next = error.source();
    }
    false
}

/// A transaction that writes; on SQLite it holds the writers' connection.
pub(crate) struct WriteTx {
    pub(crate) tx: Transaction<'static, Any>,
}

impl WriteTx {
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.shared.backend)
            .finish()
    }
}

impl Store {
    /// Opens (and for SQLite, creates) the database. Nothing is migrated yet.
    pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.is_sqlite() {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let open_error = |source| StoreError::Open {
            url: url.to_string(),
            source,
        };
        let raw = match backend {
            // rwc: create the file when it is missing.
            Backend::Sqlite if !url.expose().contains('?') => format!("{}?mode=rwc", url.expose()),
            _ => url.expose().to_owned(),
        };
        if backend == Backend::Sqlite && is_in_memory(&raw) {
            return Err(StoreError::InMemory);
        }
        let options = AnyConnectOptions::from_str(&raw).map_err(open_error)?;
        let pool = open_pool(backend, &options, max_connections, READER_CACHE_KIB)
            .await
            .map_err(open_error)?;
        // SQLite admits one writer at a time, and makes the others sleep in its busy handler
        // (up to 100 ms a nap). Hot write transactions queue for one connection of their own
        // instead, whose page cache stays warm because no other connection's commit empties it.
        let (writer, sqlite_thread, checkpoints) = match backend {
            Backend::Sqlite => {
                let writer = open_pool(backend, &options, 1, WRITER_CACHE_KIB)
                    .await
                    .map_err(open_error)?;
                let file = SqliteConnectOptions::from_str(&raw).map_err(open_error)?;
                let checkpoints = Checkpoints::start(
                    file.get_filename(),
                    checkpoints::RESTART_AFTER_FRAMES,
                    checkpoints::EVERY,
                )?;
                let thread = SqliteThread::open(
                    file.get_filename(),
                    THREAD_CACHE_KIB,
                    writer.clone(),
                    checkpoints.long_log(),
                    sqlite_thread::TURN_HELD_AT_MOST,
                )?;
                (Some(writer), Some(thread), Some(checkpoints))
            }
            Backend::Postgres => (None, None, None),
        };
        let check_groups = (backend == Backend::Postgres).then(|| CheckGroups::start(pool.clone()));
        Ok(Self {
            shared: Arc::new(Shared {
                pool,
                writer,
                sqlite_thread,
                checkpoints,
                check_groups,
                backend,
            }),
        })
    }

    /// Begins a transaction that writes: on SQLite, on the writers' connection.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        Ok(WriteTx {
            tx: self.writes().begin().await?,
        })
    }

    /// Runs `statements` in one transaction, all or nothing: on SQLite as one job of the SQLite
    /// thread (one hand-off, and a share of a group commit, instead of a hand-off per
    /// statement), on PostgreSQL as one statement (`row::joined_writes`: one round trip instead
    /// of four for two writes). None may depend on another's writes.
    async fn write_together(
        &self,
        statements: Vec<(&'static str, Vec<row::Param>)>,
    ) -> Result<(), StoreError> {
        match &self.shared.sqlite_thread {
            Some(thread) => {
                thread
                    .run(move |connection| {
                        let tx = connection.savepoint()?;
                        for (sql, params) in statements {
                            tx.prepare_cached(&row::sqlite_numbered(sql))?
                                .execute(rusqlite::params_from_iter(params))?;
                        }
                        tx.commit()?;
                        Ok(())
                    })
                    .await
            }
            None => {
                let (sql, params) = row::joined_with_params(statements);
                row::bind_all(sqlx::query(&sql), params)
                    .execute(&self.shared.pool)
                    .await?;
                Ok(())
            }
        }
    }

    /// Where a hot write goes: on SQLite the writers' one connection, so writers queue in
    /// order instead of sleeping in SQLite's busy handler. Never used while holding a `WriteTx`.
    pub(crate) fn writes(&self) -> &AnyPool {
        if let Some(thread) = &self.shared.sqlite_thread {
            // The SQLite thread may be keeping the connection for jobs to come.
            thread.want_turn();
        }
        self.shared.writer.as_ref().unwrap_or(&self.shared.pool)
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.shared.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.shared.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.shared.pool).await?,
        }
        // What SQL cannot do: numbering plans (migration method_countries) and Unicode
        // normalisation, once (migration canonical_names).
        two_factor::fill_method_countries(&self.shared.pool).await?;
        names::canonicalise(self).await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.shared.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.shared.pool
    }

    /// A round trip to the database, for `/health`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.shared.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        if let Some(writer) = &self.shared.writer {
            writer.close().await;
        }
        self.shared.pool.close().await;
        if let Some(checkpoints) = &self.shared.checkpoints {
            checkpoints.empty_the_log().await;
        }
    }
}

/// An in-memory database lives in one connection's memory: no second connection could share it.
fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Turns a unique-constraint violation into the field it concerns. Both backends name the
/// column (SQLite) or the constraint (PostgreSQL, `users_<column>_key`) in the message.
fn classify_unique(error: sqlx::Error, fields: &[(&'static str, &str)]) -> StoreError {
    if let sqlx::Error::Database(db) = &error
        && db.is_unique_violation()
    {
        let message = db.message();
        let constraint = db.constraint().unwrap_or_default();
        for (field, column) in fields {
            if message.contains(column) || constraint.contains(column) {
                return StoreError::Duplicate { field };
            }
        }
    }
    StoreError::Database(error)
}

/// Flags are stored as 0 or 1 in both backends: the `Any` driver cannot read SQLite booleans.
fn flag(value: bool) -> i64 {
    i64::from(value)
}

/// SQLite's page cache per connection. A commit empties every other connection's cache, so a
/// reader's stays at SQLite's default; the writer's own commits leave its cache warm.
const READER_CACHE_KIB: u32 = 2_000;
const WRITER_CACHE_KIB: u32 = 16_384;
/// The SQLite thread's: big enough that a check finds its pages in it, no bigger, because
/// SQLite sweeps the whole cache at a commit that follows a page split and every page held
/// counts in the server's memory (figures in BENCHMARKS.md, "Why the constants are what they
/// are").
const THREAD_CACHE_KIB: u32 = 16_384;

async fn open_pool(
    backend: Backend,
    options: &AnyConnectOptions,
    max_connections: u32,
    cache_kib: u32,
) -> Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        // A SQLite connection cannot go stale; testing it would cost a hand-off to its thread
        // on every acquire. A PostgreSQL server can restart under us: test those.
        .test_before_acquire(backend == Backend::Postgres)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // WAL lets readers and one writer work at once; NORMAL sync in WAL mode
                    // survives a crash of the process (not of the OS) without losing commits.
                    // The WAL is checkpointed by a thread of its own (`checkpoints`).
                    conn.execute(
                        format!(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                             PRAGMA cache_size = -{cache_kib}; PRAGMA wal_autocheckpoint = 0;"
                        )
                        .as_str(),
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .connect_with(options.clone())
        .await
}
