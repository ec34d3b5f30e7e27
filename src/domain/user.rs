use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use super::{Email, FullName, Invalid, PhoneNumber, Username};
use crate::clock::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct UserId(Uuid);

impl UserId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Uuid::parse_str(raw.trim())
            .map(Self)
            .map_err(|_| Invalid::new("[invalid]", format!("{raw:?} is not a user id (a UUID)")))
    }
}

impl Default for UserId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Admin,
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }
}

impl FromStr for Role {
    type Err = Invalid;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw.trim() {
            "admin" => Ok(Role::Admin),
            "user" => Ok(Role::User),
            other => Err(Invalid::new(
                "[invalid]",
                format!("unknown role {other:?}; roles are \"admin\" and \"user\""),
            )),
        }
    }
}

/// A user's roles: a set, kept sorted, that always holds `user`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roles(Vec<Role>);

impl Roles {
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Self {
        let mut roles: Vec<Role> = roles.into_iter().chain([Role::User]).collect();
        roles.sort();
        roles.dedup();
        Self(roles)
    }

    pub fn user() -> Self {
        Self::new([])
    }

    pub fn admin() -> Self {
        Self::new([Role::Admin])
    }

    pub fn parse_list<S: AsRef<str>>(raw: &[S]) -> Result<Self, Invalid> {
        raw.iter()
            .map(|r| r.as_ref().parse())
            .collect::<Result<Vec<_>, _>>()
            .map(Self::new)
    }

    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|r| r.as_str()).collect()
    }

    /// Stored as a comma-separated list.
    pub fn to_stored(&self) -> String {
        self.names().join(",")
    }

    pub fn from_stored(raw: &str) -> Self {
        Self::new(raw.split(',').filter_map(|r| r.parse().ok()))
    }
}

/// A person who can log in. The password hash stays in the store; the entity never carries it.
#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub email: Option<Email>,
    pub full_name: Option<FullName>,
    pub mobile_phone: Option<PhoneNumber>,
    pub roles: Roles,
    pub active: bool,
    pub two_factor_required: bool,
    /// The user asked for a second factor at every login (no trusted computers).
    pub every_login: bool,
    /// Moved from Authy: the first login sends an SMS code at once.
    pub authy_migrated: bool,
    /// The password is temporary (set by an administrator): the next login with it asks for
    /// one of the user's own instead of opening a session.
    pub password_change_required: bool,
    pub terms_version_accepted: Option<i64>,
    pub created_at: Instant,
    pub updated_at: Instant,
    pub password_changed_at: Instant,
    pub last_login_at: Option<Instant>,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.roles.contains(Role::Admin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_always_include_user_and_round_trip_through_storage() {
        let roles = Roles::parse_list(&["admin", "admin"]).unwrap();
        assert_eq!(roles.names(), ["admin", "user"]);
        assert_eq!(Roles::from_stored(&roles.to_stored()), roles);
        assert_eq!(Roles::from_stored(""), Roles::user());
    }

    #[test]
    fn an_unknown_role_is_named_in_the_error() {
        let error = Roles::parse_list(&["root"]).unwrap_err();
        assert!(error.message.contains("root"));
    }

    #[test]
    fn a_user_id_must_be_a_uuid() {
        assert!(UserId::parse("not-a-uuid").is_err());
        let id = UserId::new();
        assert_eq!(UserId::parse(&id.to_string()).unwrap(), id);
    }
}
