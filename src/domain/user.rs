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
    /// When the address in force was proven the user's; `None` while it is not.
    pub email_verified_at: Option<Instant>,
    /// A new address the person asked for, in force once its link is opened.
    pub pending_email: Option<Email>,
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

    /// The address in force, once proven the user's: a login id, and where a reset link goes.
    pub fn verified_email(&self) -> Option<&Email> {
        self.email
            .as_ref()
            .filter(|_| self.email_verified_at.is_some())
    }

    /// The address a verification link proves now: the new one the person asked for, else the
    /// address in force while it is unverified.
    pub fn email_awaiting_verification(&self) -> Option<&Email> {
        self.pending_email.as_ref().or(self
            .email
            .as_ref()
            .filter(|_| self.email_verified_at.is_none()))
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

    fn user(email: Option<&str>, verified: bool, pending: Option<&str>) -> User {
        let address = |raw: &str| Email::parse(raw).unwrap();
        User {
            id: UserId::new(),
            username: Username::parse("ann").unwrap(),
            email: email.map(address),
            email_verified_at: verified.then(|| Instant::from_millis(1)),
            pending_email: pending.map(address),
            full_name: None,
            mobile_phone: None,
            roles: Roles::user(),
            active: true,
            two_factor_required: false,
            every_login: false,
            authy_migrated: false,
            password_change_required: false,
            terms_version_accepted: None,
            created_at: Instant::from_millis(0),
            updated_at: Instant::from_millis(0),
            password_changed_at: Instant::from_millis(0),
            last_login_at: None,
        }
    }

    #[test]
    fn an_address_awaits_its_link_until_verified_and_a_new_one_waits_beside_the_old() {
        let unverified = user(Some("a@example.com"), false, None);
        assert_eq!(unverified.verified_email(), None);
        assert_eq!(
            unverified.email_awaiting_verification().unwrap().as_str(),
            "a@example.com"
        );
        let verified = user(Some("a@example.com"), true, None);
        assert_eq!(verified.verified_email().unwrap().as_str(), "a@example.com");
        assert_eq!(verified.email_awaiting_verification(), None);
        let changing = user(Some("a@example.com"), true, Some("b@example.com"));
        assert_eq!(changing.verified_email().unwrap().as_str(), "a@example.com");
        assert_eq!(
            changing.email_awaiting_verification().unwrap().as_str(),
            "b@example.com"
        );
        let none = user(None, false, None);
        assert_eq!(none.verified_email(), None);
        assert_eq!(none.email_awaiting_verification(), None);
    }

    #[test]
    fn a_user_id_must_be_a_uuid() {
        assert!(UserId::parse("not-a-uuid").is_err());
        let id = UserId::new();
        assert_eq!(UserId::parse(&id.to_string()).unwrap(), id);
    }
}
