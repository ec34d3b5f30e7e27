//! The audit log, filtered by event, user and day, as a page and as CSV.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Administrator, EventRow, event_rows};
use crate::audit::{AuditFilter, EventKind};
use crate::clock::Instant;
use crate::http::AppState;
use crate::http::web::{Chrome, Cookies, internal};

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    chrome: Chrome,
    tab: &'static str,
    notice: Option<String>,
    error: Option<String>,
    event_names: Vec<&'static str>,
    event: String,
    user: String,
    since: String,
    until: String,
    rows: Vec<EventRow>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    event: Option<String>,
    user: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

/// Midnight UTC of a `YYYY-MM-DD` day, in epoch milliseconds.
fn day_start(raw: &str) -> Option<i64> {
    let mut parts = raw.trim().split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * m + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some((era * 146_097 + day_of_era - 719_468) * 86_400_000)
}

/// The filter of the page's fields but the user, which the service finds by name or id.
fn audit_filter(query: &AuditQuery, limit: i64) -> AuditFilter {
    AuditFilter {
        kind: query.event.as_deref().and_then(EventKind::parse),
        since: query
            .since
            .as_deref()
            .and_then(day_start)
            .map(Instant::from_millis),
        until: query
            .until
            .as_deref()
            .and_then(day_start)
            .map(|start| Instant::from_millis(start + 86_400_000)),
        limit,
        ..AuditFilter::default()
    }
}

pub async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Administrator(admin): Administrator,
    Query(query): Query<AuditQuery>,
) -> Response {
    let events = match state
        .core
        .admin
        .readable_audit_log(query.user.as_deref(), &audit_filter(&query, 200))
        .await
    {
        Ok(events) => events,
        Err(error) => return internal(&state, &headers, error),
    };
    let cookies = Cookies::new(&state, &headers);
    let chrome = cookies.chrome(&state, Some(&admin));
    cookies.page(
        StatusCode::OK,
        &AuditPage {
            chrome,
            tab: "audit",
            notice: None,
            error: None,
            event_names: EventKind::ALL.iter().map(|k| k.as_str()).collect(),
            event: query.event.clone().unwrap_or_default(),
            user: query.user.clone().unwrap_or_default(),
            since: query.since.clone().unwrap_or_default(),
            until: query.until.clone().unwrap_or_default(),
            rows: event_rows(events),
        },
    )
}

pub async fn audit_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    _admin: Administrator,
    Query(query): Query<AuditQuery>,
) -> Response {
    let csv = match state
        .core
        .admin
        .audit_log_csv(query.user.as_deref(), &audit_filter(&query, 100_000))
        .await
    {
        Ok(csv) => csv,
        Err(error) => return internal(&state, &headers, error),
    };
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit-log.csv\"",
            ),
        ],
        csv,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::day_start;

    #[test]
    fn a_day_is_read_as_its_utc_midnight() {
        assert_eq!(day_start("1970-01-01"), Some(0));
        assert_eq!(day_start("2026-11-25"), Some(1_795_564_800_000));
        assert_eq!(day_start("2024-02-29"), Some(1_709_164_800_000));
        for bad in ["", "2026-13-01", "26-1-1x", "2026-11-25-1"] {
            assert_eq!(day_start(bad), None, "{bad}");
        }
    }
}
