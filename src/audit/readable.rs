//! The audit log as people read it: a sentence per kind of event that names users by their
//! usernames ("alice reset bob's two-factor: lost phone"), and the details as "key: value"
//! lines. Pure: the usernames come in with the events.

use std::collections::HashMap;

use serde_json::Value;

use super::details::detail_lines;
use super::sentences::{Party, say};
use super::{Actor, EventKind, StoredEvent};
use crate::domain::UserId;

/// Usernames by id, of the users some events name; a user deleted since is missing.
pub type Usernames = HashMap<UserId, String>;

/// An event as the admin console shows it.
#[derive(Debug, Clone)]
pub struct ReadableEvent {
    pub event: StoredEvent,
    /// What happened, in a sentence that names the users.
    pub sentence: String,
    /// Who acted, and on whose account, by name.
    pub actor: String,
    pub target: Option<String>,
    /// The details, a "key: value" line each.
    pub details: Vec<String>,
}

/// A user by their username; one deleted since by the name the event itself recorded
/// (`user.create` and `user.delete` keep it), else as "deleted user <id>".
fn user_party(id: UserId, recorded: Option<&str>, usernames: &Usernames) -> Party {
    let name = match (usernames.get(&id), recorded) {
        (Some(name), _) => name.clone(),
        (None, Some(name)) => name.to_owned(),
        (None, None) => format!("deleted user {id}"),
    };
    Party {
        user: Some(id),
        name,
    }
}

fn actor_party(stored: &str, usernames: &Usernames) -> Party {
    match Actor::parse(stored) {
        Some(Actor::User(id)) => user_party(id, None, usernames),
        Some(Actor::ApiKey(id)) => Party::named(format!("API key {id}")),
        Some(Actor::Cli) => Party::named("The command line"),
        Some(Actor::System) => Party::named("The server"),
        Some(Actor::Anonymous) => Party::named("Someone"),
        None => Party::named(stored),
    }
}

fn target_party(stored: &str, details: &Value, usernames: &Usernames) -> Party {
    match UserId::parse(stored) {
        Ok(id) => user_party(
            id,
            details.get("username").and_then(Value::as_str),
            usernames,
        ),
        Err(_) => Party::named(stored),
    }
}

/// An event with its sentence, names and details.
pub fn readable(event: StoredEvent, usernames: &Usernames) -> ReadableEvent {
    let actor = actor_party(&event.actor, usernames);
    let target = event
        .target
        .as_deref()
        .map(|stored| target_party(stored, &event.details, usernames));
    let sentence = match EventKind::parse(&event.event) {
        Some(kind) => say(kind, &actor, target.as_ref(), &event.details),
        // A name this version does not know (written by a newer one).
        None => format!("{}: {}", actor.name, event.event),
    };
    ReadableEvent {
        sentence,
        actor: actor.name,
        target: target.map(|t| t.name),
        details: detail_lines(&event.details),
        event,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stored(event: &str, actor: &str, target: Option<UserId>, details: Value) -> StoredEvent {
        StoredEvent {
            id: 1,
            insert_instant: 0,
            actor: actor.to_owned(),
            target: target.map(|id| id.to_string()),
            event: event.to_owned(),
            ip_address: None,
            user_agent: None,
            details,
        }
    }

    #[test]
    fn users_are_named_by_their_usernames_never_by_their_ids() {
        let (alice, bob) = (UserId::new(), UserId::new());
        let usernames = Usernames::from([(alice, "alice".to_owned()), (bob, "bob".to_owned())]);
        let event = stored(
            "two_factor.reset",
            &format!("user:{alice}"),
            Some(bob),
            json!({"reason": "lost phone"}),
        );
        let read = readable(event, &usernames);
        assert_eq!(read.sentence, "alice reset bob's two-factor: lost phone");
        assert_eq!(read.actor, "alice");
        assert_eq!(read.target.as_deref(), Some("bob"));
        assert_eq!(read.details, ["reason: lost phone"]);
    }

    #[test]
    fn a_user_deleted_since_keeps_the_name_the_event_recorded_or_shows_its_id() {
        let (alice, gone) = (UserId::new(), UserId::new());
        let usernames = Usernames::from([(alice, "alice".to_owned())]);
        let deleted = stored(
            "user.delete",
            &format!("user:{alice}"),
            Some(gone),
            json!({"username": "carl"}),
        );
        assert_eq!(
            readable(deleted, &usernames).sentence,
            "alice deleted the user carl"
        );
        let earlier = stored(
            "user.password_change",
            &format!("user:{gone}"),
            Some(gone),
            json!({}),
        );
        assert_eq!(
            readable(earlier, &usernames).sentence,
            format!("deleted user {gone} changed their password")
        );
    }

    #[test]
    fn actors_that_are_no_user_are_named_for_what_they_are() {
        let bob = UserId::new();
        let usernames = Usernames::from([(bob, "bob".to_owned())]);
        for (actor, said) in [
            ("api-key:ak_1", "API key ak_1 reset bob's two-factor"),
            ("cli", "The command line reset bob's two-factor"),
        ] {
            let event = stored("two_factor.reset", actor, Some(bob), json!({}));
            assert_eq!(readable(event, &usernames).sentence, said);
        }
    }
}
