//! The sentences of groups: made, renamed, deleted, and their members.

use serde_json::Value;

use super::{number, text};
use crate::audit::EventKind;

/// `kind`, one of the group events, said with `a` acting and `t` the member.
pub(super) fn say(kind: EventKind, a: &str, t: &str, details: &Value) -> String {
    let group = |key: &str| match text(details, key) {
        Some(name) => format!("the group “{name}”"),
        None => "a group".to_owned(),
    };
    match kind {
        EventKind::GroupCreate if super::flag(details, "imported") => {
            format!("{a} made {} while importing users", group("name"))
        }
        EventKind::GroupCreate => format!("{a} created {}", group("name")),
        EventKind::GroupUpdate => match (text(details, "from"), text(details, "name")) {
            (Some(from), Some(name)) if from != name => {
                format!("{a} renamed the group “{from}” to “{name}”")
            }
            _ => format!("{a} changed the description of {}", group("name")),
        },
        EventKind::GroupDelete => {
            let said = format!("{a} deleted {}", group("name"));
            match number(details, "members") {
                Some(0) => format!("{said}, which had no members"),
                Some(1) => format!("{said} and its one membership"),
                Some(n) => format!("{said} and its {n} memberships"),
                None => said,
            }
        }
        EventKind::GroupMemberAdd => format!("{a} added {t} to {}", group("group")),
        EventKind::GroupMemberRemove => format!("{a} removed {t} from {}", group("group")),
        _ => format!("{a} changed {}", group("name")),
    }
}
