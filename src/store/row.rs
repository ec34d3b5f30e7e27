//! Rows and parameters that both ways of reaching the database understand: sqlx's `Any` driver
//! everywhere, and the SQLite thread (`sqlite_thread`) on the code check's hot path. One
//! decoder per record and one parameter list per statement, whichever runs the statement.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Row};

use super::StoreError;

/// A value a column can be read as, by either driver.
pub(super) trait Column:
    for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any> + rusqlite::types::FromSql
{
}

impl Column for String {}
impl Column for Option<String> {}
impl Column for i64 {}
impl Column for Option<i64> {}

/// A row whose columns are read by name.
pub(super) trait Columns {
    fn column<T: Column>(&self, name: &str) -> Result<T, StoreError>;
}

impl Columns for AnyRow {
    fn column<T: Column>(&self, name: &str) -> Result<T, StoreError> {
        Ok(self.try_get::<T, _>(name)?)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn column<T: Column>(&self, name: &str) -> Result<T, StoreError> {
        Ok(self.get::<_, T>(name)?)
    }
}

/// One bound parameter.
#[derive(Debug, Clone)]
pub(super) enum Param {
    Int(i64),
    Text(String),
    Null,
}

impl From<i64> for Param {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}

impl From<String> for Param {
    fn from(value: String) -> Self {
        Self::Text(value)
    }
}

impl From<&str> for Param {
    fn from(value: &str) -> Self {
        Self::Text(value.to_owned())
    }
}

impl From<Option<String>> for Param {
    fn from(value: Option<String>) -> Self {
        value.map_or(Self::Null, Self::Text)
    }
}

impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Self::Int(value) => ValueRef::Integer(*value),
            Self::Text(value) => ValueRef::Text(value.as_bytes()),
            Self::Null => ValueRef::Null,
        }))
    }
}

/// Binds `params` in order to a sqlx query.
pub(super) fn bind_all<'q>(
    mut query: Query<'q, Any, AnyArguments<'q>>,
    params: Vec<Param>,
) -> Query<'q, Any, AnyArguments<'q>> {
    for param in params {
        query = match param {
            Param::Int(value) => query.bind(value),
            Param::Text(value) => query.bind(value),
            Param::Null => query.bind(None::<String>),
        };
    }
    query
}

/// The statement as SQLite's own numbered parameters (`?2`), which bind by number whatever
/// order they appear in; SQLite would number `$2` by first appearance instead.
pub(super) fn sqlite_numbered(sql: &str) -> String {
    sql.replace('$', "?")
}
