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

/// A row of the SQLite thread, with its column names read once: rusqlite finds a column by
/// name by asking SQLite for each column's name in turn, so a record of n columns read by name
/// costs about n²/2 of those calls (figures in BENCHMARKS.md, "Why the constants are what they
/// are").
pub(super) struct SqliteRow<'a, 'stmt> {
    row: &'a rusqlite::Row<'stmt>,
    names: Vec<&'a str>,
}

impl<'a, 'stmt> SqliteRow<'a, 'stmt> {
    pub(super) fn new(row: &'a rusqlite::Row<'stmt>) -> Self {
        Self {
            row,
            names: row.as_ref().column_names(),
        }
    }
}

impl Columns for SqliteRow<'_, '_> {
    fn column<T: Column>(&self, name: &str) -> Result<T, StoreError> {
        // SQLite's names are case-insensitive, as rusqlite's own lookup is.
        let index = self
            .names
            .iter()
            .position(|column| column.eq_ignore_ascii_case(name))
            .ok_or_else(|| rusqlite::Error::InvalidColumnName(name.to_owned()))?;
        Ok(self.row.get::<_, T>(index)?)
    }
}

/// A row's columns behind a prefix (`c_`): the tables of a join, their columns aliased apart
/// (`aliased`), each read by its table's own decoder.
pub(super) struct Prefixed<'r, R> {
    pub(super) row: &'r R,
    pub(super) prefix: &'static str,
}

impl<R: Columns> Columns for Prefixed<'_, R> {
    fn column<T: Column>(&self, name: &str) -> Result<T, StoreError> {
        self.row.column(&format!("{}{name}", self.prefix))
    }
}

/// `columns` of the table aliased `table`, each named behind `prefix`: `c.x AS c_x, …`.
pub(super) fn aliased(table: &str, columns: &str, prefix: &str) -> String {
    columns
        .split(',')
        .map(str::trim)
        .map(|column| format!("{table}.{column} AS {prefix}{column}"))
        .collect::<Vec<_>>()
        .join(", ")
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

/// `sql` with each parameter `$n` renumbered `$(n + by)`, to join statements into one.
pub(super) fn renumbered(sql: &str, by: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '$' {
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
            digits.push(d);
            chars.next();
        }
        match digits.parse::<usize>() {
            Ok(n) => out.push_str(&(n + by).to_string()),
            Err(_) => out.push_str(&digits),
        }
    }
    out
}

/// PostgreSQL: statements that write, each with how many parameters it binds, joined into one
/// statement of data-modifying CTEs, their parameters numbered on from each other's: one round
/// trip, all or nothing like any single statement. All of them see one snapshot, so none may
/// depend on another's writes.
pub(super) fn joined_writes(statements: &[(&str, usize)]) -> String {
    let mut offset = 0;
    let mut parts = Vec::new();
    for (sql, params) in statements {
        parts.push(renumbered(sql, offset));
        offset += params;
    }
    let last = parts.pop().unwrap_or_default();
    if parts.is_empty() {
        return last;
    }
    let ctes: Vec<String> = parts
        .iter()
        .enumerate()
        .map(|(index, sql)| format!("w{index} AS ({sql})"))
        .collect();
    format!("WITH {} {last}", ctes.join(", "))
}

/// `statements` with their parameters as one statement (`joined_writes`) and its parameters.
pub(super) fn joined_with_params(statements: Vec<(&str, Vec<Param>)>) -> (String, Vec<Param>) {
    let shapes: Vec<(&str, usize)> = statements
        .iter()
        .map(|(sql, params)| (*sql, params.len()))
        .collect();
    let sql = joined_writes(&shapes);
    (sql, statements.into_iter().flat_map(|(_, p)| p).collect())
}

/// The highest parameter number in `sql`: how many values it binds.
#[cfg(test)]
pub(super) fn parameter_count(sql: &str) -> usize {
    sql.split('$')
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<usize>().ok()
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sqlite_row_reads_columns_by_name_in_any_order_and_refuses_an_unknown_one() {
        let connection = rusqlite::Connection::open_in_memory().unwrap();
        let mut statement = connection
            .prepare("SELECT 'ada' AS name, 36 AS age, NULL AS phone")
            .unwrap();
        let mut rows = statement.query([]).unwrap();
        let row = SqliteRow::new(rows.next().unwrap().unwrap());
        assert_eq!(row.column::<i64>("age").unwrap(), 36);
        assert_eq!(row.column::<String>("name").unwrap(), "ada");
        assert_eq!(row.column::<String>("NAME").unwrap(), "ada");
        assert_eq!(row.column::<Option<String>>("phone").unwrap(), None);
        assert!(row.column::<String>("email").is_err());
        assert!(
            row.column::<i64>("name").is_err(),
            "a text is not read as a number"
        );
    }

    #[test]
    fn aliased_columns_are_read_back_behind_their_prefix() {
        assert_eq!(
            aliased("c", "id, \n    name", "c_"),
            "c.id AS c_id, c.name AS c_name"
        );
        let connection = rusqlite::Connection::open_in_memory().unwrap();
        let mut statement = connection
            .prepare("SELECT 1 AS id, 'x' AS c_name, 2 AS c_id")
            .unwrap();
        let mut rows = statement.query([]).unwrap();
        let row = SqliteRow::new(rows.next().unwrap().unwrap());
        let prefixed = Prefixed {
            row: &row,
            prefix: "c_",
        };
        assert_eq!(prefixed.column::<i64>("id").unwrap(), 2);
        assert_eq!(prefixed.column::<String>("name").unwrap(), "x");
    }

    #[test]
    fn joined_writes_number_each_statements_parameters_after_the_ones_before() {
        let joined = joined_writes(&[
            ("INSERT INTO a (x, y) VALUES ($1, $2)", 2),
            ("UPDATE b SET z = $1", 1),
            ("INSERT INTO c (w) VALUES ($1)", 1),
        ]);
        assert_eq!(
            joined,
            "WITH w0 AS (INSERT INTO a (x, y) VALUES ($1, $2)), w1 AS (UPDATE b SET z = $3) \
             INSERT INTO c (w) VALUES ($4)"
        );
    }

    #[test]
    fn one_write_is_joined_to_nothing() {
        assert_eq!(
            joined_writes(&[("INSERT INTO a (x) VALUES ($1)", 1)]),
            "INSERT INTO a (x) VALUES ($1)"
        );
    }

    #[test]
    fn renumbering_shifts_every_parameter_and_nothing_else() {
        assert_eq!(
            renumbered("UPDATE t SET a = $2, b = '$' WHERE id = $1 AND c < $12", 3),
            "UPDATE t SET a = $5, b = '$' WHERE id = $4 AND c < $15"
        );
        assert_eq!(parameter_count("VALUES ($1, $2, $6, $6, $9)"), 9);
        assert_eq!(parameter_count("SELECT 1"), 0);
    }

    #[test]
    fn sqlite_numbering_keeps_the_numbers() {
        assert_eq!(
            sqlite_numbered("SET a = $2 WHERE id = $1"),
            "SET a = ?2 WHERE id = ?1"
        );
    }
}
