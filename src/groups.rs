//! Groups of users: made, renamed, deleted, their members added and removed; the groups of a
//! user, for the claims of a token and the two-factor settings (`policy.rs`,
//! `required_for_groups`). The console, the API and the CLI call these flows.

use serde::Deserialize;

use crate::access_rules::{RulesCache, Subject};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::domain::{
    FieldError, Group, GroupId, GroupName, Invalid, LoginId, UserId, parse_description,
};
use crate::store::{
    GroupStore, MemberRecord, MembersChange, Membership, Store, StoreError, UserStore,
};
use crate::two_factor::{TwoFactor, TwoFactorError};

/// The field a group's name is refused under, as the API names it.
pub const NAME_FIELD: &str = "group.name";

/// Groups and their members.
#[derive(Clone)]
pub struct Groups {
    group_store: GroupStore,
    /// A member added by username (the console, the CLI) is looked up here.
    user_store: UserStore,
    /// The two-factor settings, which a group's deletion must not leave naming it.
    two_factor: TwoFactor,
    /// Forward-auth's access rules, which name groups by name: a rename or a deletion must not
    /// leave a rule naming a group that is no longer there.
    access_rules: RulesCache,
}

#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("no such group")]
    GroupNotFound,
    #[error("no such user: {0}")]
    UserNotFound(String),
    /// The two-factor settings name the group: deleting it would quietly change who must use a
    /// second factor.
    #[error(
        "the two-factor settings require a second factor of the members of “{0}” \
         (requiredForGroups or webauthn.phishingResistantForGroups): take the group out of \
         them first"
    )]
    InTwoFactorSettings(String),
    /// An access rule names the group (by name): renaming or deleting it would stop the rule
    /// matching its members, and a deny rule would let them through.
    #[error(
        "the access rules name “{group}” ({place}): change that rule first, or it would stop \
         applying to the group's members"
    )]
    NamedByAccessRules { group: String, place: String },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for GroupError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Duplicate { field: "name" } => GroupError::Invalid(vec![FieldError::new(
                NAME_FIELD,
                Invalid::new("[duplicate]", "another group already has this name"),
            )]),
            StoreError::Duplicate { field: "id" } => GroupError::Invalid(vec![FieldError::new(
                "groupId",
                Invalid::new("[duplicate]", "a group with this id already exists"),
            )]),
            other => GroupError::Internal(other.into()),
        }
    }
}

impl From<TwoFactorError> for GroupError {
    fn from(error: TwoFactorError) -> Self {
        GroupError::Internal(anyhow::anyhow!(error))
    }
}

/// A group as a client sends it (FusionAuth's `group`, with a description of ours).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupFields {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

impl GroupFields {
    /// The name and description, or every refused field.
    fn parse(&self) -> Result<(GroupName, Option<String>), GroupError> {
        let name = GroupName::parse(self.name.as_deref().unwrap_or_default())
            .map_err(|e| FieldError::new(NAME_FIELD, e));
        let description = parse_description(self.description.as_deref().unwrap_or_default())
            .map_err(|e| FieldError::new("group.description", e));
        match (name, description) {
            (Ok(name), Ok(description)) => Ok((name, description)),
            (name, description) => Err(GroupError::Invalid(
                [name.err(), description.err()]
                    .into_iter()
                    .flatten()
                    .collect(),
            )),
        }
    }
}

impl Groups {
    pub fn new(store: Store, two_factor: TwoFactor, access_rules: RulesCache) -> Self {
        Self {
            group_store: store.groups(),
            user_store: store.users(),
            two_factor,
            access_rules,
        }
    }

    /// Refused when an access rule names `name`.
    async fn not_named_by_rules(&self, name: &GroupName, now: Instant) -> Result<(), GroupError> {
        let subject = Subject::Group(name.clone());
        match self.access_rules.naming(&subject, now).await? {
            Some(place) => Err(GroupError::NamedByAccessRules {
                group: name.to_string(),
                place,
            }),
            None => Ok(()),
        }
    }

    /// Makes a group, with the id given or a new one.
    pub async fn create(
        &self,
        id: Option<GroupId>,
        fields: &GroupFields,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Group, GroupError> {
        let (name, description) = fields.parse()?;
        let group = Group {
            id: id.unwrap_or_default(),
            name,
            description,
            created_at: now,
            updated_at: now,
        };
        let event = AuditEvent::new(EventKind::GroupCreate, actor, origin, now)
            .detail("groupId", group.id.to_string())
            .detail("name", group.name.as_str());
        self.group_store.create_group(&group, &event).await?;
        Ok(group)
    }

    /// Gives the group the name and description sent (a description left out is cleared).
    pub async fn update(
        &self,
        id: GroupId,
        fields: &GroupFields,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Group, GroupError> {
        let (name, description) = fields.parse()?;
        let before = self.group(id).await?;
        if name.key() != before.name.key() {
            // Both ways: a rule for the old name would lose the members, one for the new name
            // would take them in.
            self.not_named_by_rules(&before.name, now).await?;
            self.not_named_by_rules(&name, now).await?;
        }
        let changed = Group {
            name,
            description,
            updated_at: now,
            ..before.clone()
        };
        let event = AuditEvent::new(EventKind::GroupUpdate, actor, origin, now)
            .detail("groupId", id.to_string())
            .detail("from", before.name.as_str())
            .detail("name", changed.name.as_str());
        self.group_store
            .update_group(&changed, &event)
            .await?
            .ok_or(GroupError::GroupNotFound)
    }

    /// Deletes the group and its memberships; refused while the two-factor settings name it.
    pub async fn delete(
        &self,
        id: GroupId,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), GroupError> {
        let group = self.group(id).await?;
        let policy = self.two_factor.two_factor_policy().await?;
        if policy.required_for_groups.contains(&id)
            || policy.webauthn.phishing_resistant_for_groups.contains(&id)
        {
            return Err(GroupError::InTwoFactorSettings(group.name.to_string()));
        }
        self.not_named_by_rules(&group.name, now).await?;
        let event = AuditEvent::new(EventKind::GroupDelete, actor, origin, now)
            .detail("groupId", id.to_string())
            .detail("name", group.name.as_str());
        if !self.group_store.delete_group(id, &event).await? {
            return Err(GroupError::GroupNotFound);
        }
        Ok(())
    }

    /// Every group by name, with how many members each has.
    pub async fn groups(&self) -> Result<Vec<(Group, i64)>, GroupError> {
        Ok(self.group_store.groups_with_counts().await?)
    }

    pub async fn group(&self, id: GroupId) -> Result<Group, GroupError> {
        self.group_store
            .group(id)
            .await?
            .ok_or(GroupError::GroupNotFound)
    }

    /// A group by its id or its name (any case), as an operator types it.
    pub async fn find(&self, id_or_name: &str) -> Result<Group, GroupError> {
        if let Ok(id) = GroupId::parse(id_or_name)
            && let Some(group) = self.group_store.group(id).await?
        {
            return Ok(group);
        }
        let Ok(name) = GroupName::parse(id_or_name) else {
            return Err(GroupError::GroupNotFound);
        };
        self.group_store
            .group_by_name(&name)
            .await?
            .ok_or(GroupError::GroupNotFound)
    }

    /// The ids of the groups named (by name or id), in order; an unknown one is refused under
    /// `field`.
    pub async fn ids_named(
        &self,
        names: &[String],
        field: &str,
    ) -> Result<Vec<GroupId>, GroupError> {
        let mut ids = Vec::new();
        for name in names {
            match self.find(name).await {
                Ok(group) if !ids.contains(&group.id) => ids.push(group.id),
                Ok(_) => {}
                Err(GroupError::GroupNotFound) => {
                    return Err(GroupError::Invalid(vec![FieldError::new(
                        field,
                        Invalid::new("[invalid]", format!("there is no group “{name}”")),
                    )]));
                }
                Err(other) => return Err(other),
            }
        }
        Ok(ids)
    }

    /// The groups the user is a member of, by name: one query. What a token's `groups` claim
    /// and a client's allowed groups read.
    pub async fn groups_of(&self, user: UserId) -> Result<Vec<Group>, GroupError> {
        Ok(self
            .group_store
            .memberships_of(user)
            .await?
            .into_iter()
            .map(|(group, _)| group)
            .collect())
    }

    /// The user's groups with when they joined each.
    pub async fn memberships_of(&self, user: UserId) -> Result<Vec<(Group, Instant)>, GroupError> {
        Ok(self.group_store.memberships_of(user).await?)
    }

    /// The group and its members, by username (the console's page of a group).
    pub async fn group_with_members(
        &self,
        id: GroupId,
    ) -> Result<(Group, Vec<MemberRecord>), GroupError> {
        let group = self.group(id).await?;
        Ok((group, self.group_store.members_of(id).await?))
    }

    /// The members of the group, by username.
    pub async fn members_of(&self, group: GroupId) -> Result<Vec<MemberRecord>, GroupError> {
        self.group(group).await?;
        Ok(self.group_store.members_of(group).await?)
    }

    /// Memberships of a group, of a user, or both: a page and the count of all.
    pub async fn search_members(
        &self,
        group: Option<GroupId>,
        user: Option<UserId>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Membership>, i64), GroupError> {
        Ok(self
            .group_store
            .search_members(group, user, limit.clamp(1, 500), offset.max(0))
            .await?)
    }

    /// Adds each user to each group: all or none (an unknown group or user adds nobody). A
    /// member already there stays as they were.
    pub async fn add_members(
        &self,
        changes: &[(GroupId, Vec<UserId>)],
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Vec<Membership>, GroupError> {
        let event = AuditEvent::new(EventKind::GroupMemberAdd, actor, origin, now);
        done(self.group_store.add_members(changes, &event).await?)
    }

    /// Adds the user with this username or email to the group (the console and the CLI).
    pub async fn add_member_named(
        &self,
        group: GroupId,
        login_id: &str,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Membership, GroupError> {
        let user = self.user_named(login_id).await?;
        let added = self
            .add_members(&[(group, vec![user])], actor, origin, now)
            .await?;
        added
            .into_iter()
            .next()
            .ok_or_else(|| GroupError::Internal(anyhow::anyhow!("no membership came back")))
    }

    /// Removes each user from each group; users who are no members are passed over.
    pub async fn remove_members(
        &self,
        changes: &[(GroupId, Vec<UserId>)],
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Vec<Membership>, GroupError> {
        let event = AuditEvent::new(EventKind::GroupMemberRemove, actor, origin, now);
        done(self.group_store.remove_members(changes, &event).await?)
    }

    /// Removes the user with this username or email from the group (the CLI).
    pub async fn remove_member_named(
        &self,
        group: GroupId,
        login_id: &str,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<bool, GroupError> {
        let user = self.user_named(login_id).await?;
        let removed = self
            .remove_members(&[(group, vec![user])], actor, origin, now)
            .await?;
        Ok(!removed.is_empty())
    }

    async fn user_named(&self, login_id: &str) -> Result<UserId, GroupError> {
        let unknown = || GroupError::UserNotFound(login_id.trim().to_owned());
        let login = LoginId::parse(login_id).map_err(|_| unknown())?;
        Ok(self
            .user_store
            .user_by_login_id(&login)
            .await?
            .ok_or_else(unknown)?
            .user
            .id)
    }
}

fn done(change: MembersChange) -> Result<Vec<Membership>, GroupError> {
    match change {
        MembersChange::Done(memberships) => Ok(memberships),
        MembersChange::UnknownGroup(_) => Err(GroupError::GroupNotFound),
        MembersChange::UnknownUser(user) => Err(GroupError::UserNotFound(user.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refused_field_of_a_group_is_named() {
        let fields = GroupFields {
            name: Some("  ".into()),
            description: Some("a\u{0}b".into()),
        };
        let Err(GroupError::Invalid(errors)) = fields.parse() else {
            panic!("refused")
        };
        let codes: Vec<&str> = errors.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, ["[blank]group.name", "[invalid]group.description"]);
        let fields = GroupFields {
            name: Some(" Sales ".into()),
            description: None,
        };
        let (name, description) = fields.parse().unwrap();
        assert_eq!((name.as_str(), description), ("Sales", None));
    }

    #[test]
    fn a_duplicate_name_is_said_under_the_name_field() {
        let GroupError::Invalid(errors) = GroupError::from(StoreError::Duplicate { field: "name" })
        else {
            panic!("a field error")
        };
        assert_eq!(errors[0].code, "[duplicate]group.name");
    }
}
