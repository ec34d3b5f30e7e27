//! The details of an event as "key: value" lines, for people: never a JSON blob.

use serde_json::Value;

use super::sentences::words;

/// The details as "key: value" lines, by key: nested objects as
/// "key › inner: value", lists joined by commas, times (`…At` in epoch milliseconds) in UTC.
pub fn detail_lines(details: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    if let Value::Object(map) = details {
        for (key, value) in map {
            push_lines(&words(key), key, value, &mut lines);
        }
    }
    lines
}

fn push_lines(label: &str, key: &str, value: &Value, lines: &mut Vec<String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (inner, value) in map {
                push_lines(&format!("{label} › {}", words(inner)), inner, value, lines);
            }
        }
        other => lines.push(format!("{label}: {}", plain(key, other))),
    }
}

fn plain(key: &str, value: &Value) -> String {
    match value {
        Value::Null => "none".into(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Number(n) => match n.as_i64() {
            Some(millis) if key.ends_with("At") => utc(millis),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "none".into(),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Object(_) => format!("({})", detail_lines(item).join(", ")),
                other => plain(key, other),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(_) => "none".into(),
    }
}

/// Epoch milliseconds as "2026-11-25 14:03:05 UTC".
fn utc(millis: i64) -> String {
    crate::clock::Instant::from_millis(millis).utc_text()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn details_read_as_key_and_value_lines() {
        assert_eq!(
            detail_lines(&json!({"reason": "lost phone", "global": true, "sessions": 2})),
            ["global: yes", "reason: lost phone", "sessions: 2"]
        );
        assert_eq!(
            detail_lines(&json!({"amr": ["pwd", "otp"], "recentFailures": 3})),
            ["amr: pwd, otp", "recent failures: 3"]
        );
        assert!(detail_lines(&json!({})).is_empty());
    }

    #[test]
    fn nested_details_and_lists_of_records_read_without_json() {
        let lines = detail_lines(&json!({
            "key": "two_factor",
            "value": {"trustDays": 30, "methods": {"sms": false}},
            "collisions": [{"field": "username", "userIds": ["a", "b"]}],
        }));
        assert_eq!(
            lines,
            [
                "collisions: (field: username, user ids: a, b)",
                "key: two_factor",
                "value › methods › sms: no",
                "value › trust days: 30",
            ]
        );
        assert!(lines.iter().all(|line| !line.contains(['{', '"'])));
    }

    #[test]
    fn times_read_as_utc_dates() {
        assert_eq!(
            detail_lines(&json!({"spentAt": 1_795_564_800_000_i64 + 3_723_000})),
            ["spent at: 2026-11-25 01:02:03 UTC"]
        );
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_709_164_800_000), "2024-02-29 00:00:00 UTC");
    }
}
