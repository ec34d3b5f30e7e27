//! The sentences of groups and their members.

use serde_json::json;

use super::tests::{said, user};
use super::*;

#[test]
fn a_group_change_names_the_group_and_what_became_of_it() {
    let alice = user("alice");
    assert_eq!(
        said(
            EventKind::GroupCreate,
            &alice,
            None,
            json!({"groupId": "g1", "name": "Sales"})
        ),
        "alice created the group “Sales”"
    );
    assert_eq!(
        said(
            EventKind::GroupCreate,
            &Party::named("cli"),
            None,
            json!({"name": "Sales", "imported": true})
        ),
        "cli made the group “Sales” while importing users"
    );
    assert_eq!(
        said(
            EventKind::GroupUpdate,
            &alice,
            None,
            json!({"from": "Sales", "name": "Sales EMEA"})
        ),
        "alice renamed the group “Sales” to “Sales EMEA”"
    );
    assert_eq!(
        said(
            EventKind::GroupUpdate,
            &alice,
            None,
            json!({"from": "Sales", "name": "Sales"})
        ),
        "alice changed the description of the group “Sales”"
    );
    assert_eq!(
        said(
            EventKind::GroupDelete,
            &alice,
            None,
            json!({"name": "Sales", "members": 3})
        ),
        "alice deleted the group “Sales” and its 3 memberships"
    );
    assert_eq!(
        said(
            EventKind::GroupDelete,
            &alice,
            None,
            json!({"name": "Sales", "members": 0})
        ),
        "alice deleted the group “Sales”, which had no members"
    );
}

#[test]
fn a_membership_names_the_member_and_the_group() {
    let (alice, bob) = (user("alice"), user("bob"));
    assert_eq!(
        said(
            EventKind::GroupMemberAdd,
            &alice,
            Some(&bob),
            json!({"groupId": "g1", "group": "Sales"})
        ),
        "alice added bob to the group “Sales”"
    );
    assert_eq!(
        said(
            EventKind::GroupMemberRemove,
            &alice,
            Some(&bob),
            json!({"groupId": "g1", "group": "Sales"})
        ),
        "alice removed bob from the group “Sales”"
    );
}
