//! What administrators do to other users' accounts, with a reason where one is due: reset the
//! second factor, issue a one-time access code, set the phone number, unlock, end sessions,
//! find users. Every
//! action is audited with the administrator as actor. Also what they read: a user with their
//! methods and latest events, and the audit log.

use crate::accounts::{AccountError, FieldError};
use crate::audit::{
    Actor, AuditEvent, AuditFilter, EventKind, Origin, ReadableEvent, StoredEvent, Usernames,
    readable,
};
use crate::clock::Instant;
use crate::crypto::random;
use crate::domain::{Group, Invalid, LoginId, PhoneNumber, Reason, Region, User, UserId};
use crate::otp::AccessCode;
use crate::sessions::Sessions;
use crate::store::{
    AccessCodeRecord, AuditStore, GroupStore, IssuedAccessCode, MethodRecord, NewAccessCode,
    RemovedFactors, SessionRecord, SessionStore, Store, TrustRecord, TwoFactorStore, UserStore,
};
use crate::two_factor::{AFTER_A_FACTOR_CHANGE, access_code_digest};

/// How long an access code lets its user in: a day for the administrator to reach them and for
/// them to use it, and no longer than a lost phone needs.
pub const ACCESS_CODE_HOURS: i64 = 24;

/// Events of a user that the admin console shows with them.
const USER_EVENTS_SHOWN: i64 = 20;

/// A user's phone numbers as the console tells them. A number is verified when one of the
/// user's phone methods (codes by text, call or WhatsApp) holds it: it was confirmed by a code
/// when the method was enrolled or changed (or set by an administrator, with a reason, on the
/// user's behalf), and it is where codes go. The profile's number (`mobilePhone` of the user, in the API) is only
/// what was typed or imported; held by no method, it is not verified. After a reset of the
/// second factor the profile keeps its number and no method holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phones {
    /// The numbers the user's phone methods send codes to, each once, in the methods' order.
    pub verified: Vec<PhoneNumber>,
    /// The profile's number, when no phone method holds it.
    pub unverified: Option<PhoneNumber>,
}

impl Phones {
    pub fn of(profile: Option<&PhoneNumber>, methods: &[MethodRecord]) -> Self {
        let mut verified: Vec<PhoneNumber> = Vec::new();
        for number in methods.iter().filter_map(|m| m.mobile_phone.as_ref()) {
            if !verified.contains(number) {
                verified.push(number.clone());
            }
        }
        let unverified = profile.filter(|p| !verified.contains(p)).cloned();
        Self {
            verified,
            unverified,
        }
    }
}

/// A user as the admin console shows them: their methods, phone numbers, trusted computers,
/// live sessions and latest events.
#[derive(Debug, Clone)]
pub struct UserOverview {
    pub user: User,
    pub methods: Vec<MethodRecord>,
    pub phones: Phones,
    pub trusted_computers: Vec<TrustRecord>,
    /// Newest first, with where each came from (IP address, user agent).
    pub sessions: Vec<(SessionRecord, Option<String>, Option<String>)>,
    /// Newest first.
    pub events: Vec<ReadableEvent>,
    /// The access code issued for the user, unused and unexpired.
    pub access_code: Option<AccessCodeRecord>,
    /// The user's groups by name, with when they joined each.
    pub memberships: Vec<(Group, Instant)>,
    /// The groups the user is not in, by name: those the page offers to add them to.
    pub other_groups: Vec<Group>,
}

/// An access code just issued: the code, to show once and never again, and when it ends.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    /// Its public id, which its events name.
    pub id: String,
    pub code: AccessCode,
    pub expires_at: Instant,
    /// An unused code of the user's was replaced.
    pub replaced: bool,
}

fn reason_field(raw: &str) -> Result<Reason, AccountError> {
    Reason::parse(raw).map_err(|e| AccountError::Invalid(vec![FieldError::new("reason", e)]))
}

/// What administrators do to other users' second factors and sessions, and what they read.
#[derive(Clone)]
pub struct Administration {
    audit_store: AuditStore,
    group_store: GroupStore,
    session_store: SessionStore,
    two_factor_store: TwoFactorStore,
    user_store: UserStore,
    /// Where phone numbers typed without a country code are read (`default_region`).
    home_region: Option<Region>,
    /// A user's sessions as their holder could still use them.
    sessions: Sessions,
}

impl Administration {
    pub fn new(store: Store, home_region: Option<Region>, sessions: Sessions) -> Self {
        Self {
            home_region,
            sessions,
            audit_store: store.audit(),
            group_store: store.groups(),
            session_store: store.sessions(),
            two_factor_store: store.two_factor(),
            user_store: store.users(),
        }
    }
}

impl Administration {
    /// Removes every second factor (methods, security keys, passkeys) and recovery code of the
    /// user and forgets their trusted computers, in one transaction whose event counts what
    /// went: their next login starts over (enrolment where policy requires it). The way back
    /// for a person whose only key is lost.
    pub async fn reset_two_factor(
        &self,
        user: UserId,
        reason: &str,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<RemovedFactors, AccountError> {
        let reason = reason_field(reason)?;
        self.user_store
            .user(user)
            .await?
            .ok_or(AccountError::UserNotFound)?;
        let event = AuditEvent::new(EventKind::TwoFactorReset, actor, origin, now)
            .target(user)
            .detail("reason", reason.as_str());
        let removed = self
            .two_factor_store
            .remove_all_methods(user, AFTER_A_FACTOR_CHANGE, &event)
            .await?;
        tracing::info!(target: "security", user = %user, methods = removed.methods, keys = removed.keys, "two-factor reset by an administrator");
        Ok(removed)
    }

    /// A one-time access code for a user who lost their second factor: it stands in for a code
    /// once, within `ACCESS_CODE_HOURS`, at the step after the password (`two_factor::access`).
    /// Only its digest is stored; a new one replaces the user's earlier one. The user must be
    /// active: a deactivated account would not be let in.
    pub async fn issue_access_code(
        &self,
        user: UserId,
        reason: &str,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<IssuedCode, AccountError> {
        let reason = reason_field(reason)?;
        self.active_user(user).await?;
        let code = AccessCode::generate();
        let new = NewAccessCode {
            id: random::public_id("ac_"),
            user,
            code_hash: access_code_digest(&code),
            expires_at: now.plus_seconds(ACCESS_CODE_HOURS * 3600),
        };
        let event = AuditEvent::new(EventKind::AccessCodeIssue, actor, origin, now)
            .target(user)
            .detail("reason", reason.as_str())
            .detail("accessCodeId", new.id.as_str())
            .detail("expirationInstant", new.expires_at.millis());
        match self
            .two_factor_store
            .issue_access_code(&new, &event)
            .await?
        {
            IssuedAccessCode::Stored { replaced } => {
                tracing::info!(target: "security", user = %user, id = %new.id, "one-time access code issued by an administrator");
                Ok(IssuedCode {
                    id: new.id,
                    code,
                    expires_at: new.expires_at,
                    replaced,
                })
            }
            // Deleted or deactivated since it was read.
            IssuedAccessCode::NoActiveUser => Err(self
                .active_user(user)
                .await
                .err()
                .unwrap_or(AccountError::UserNotFound)),
        }
    }

    /// Revokes the user's unused access code: how many were revoked (0 or 1).
    pub async fn revoke_access_code(
        &self,
        user: UserId,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<u64, AccountError> {
        self.user_store
            .user(user)
            .await?
            .ok_or(AccountError::UserNotFound)?;
        let event = AuditEvent::new(EventKind::AccessCodeRevoke, actor, origin, now).target(user);
        let revoked = self
            .two_factor_store
            .revoke_access_code(user, &event)
            .await?;
        Ok(u64::from(revoked.is_some()))
    }

    /// The user, refused unless they exist and are active.
    async fn active_user(&self, user: UserId) -> Result<User, AccountError> {
        let found = self
            .user_store
            .user(user)
            .await?
            .ok_or(AccountError::UserNotFound)?;
        if !found.active {
            return Err(AccountError::Invalid(vec![FieldError::new(
                "userId",
                Invalid::new(
                    "[inactive]",
                    "this account is deactivated: reactivate it first, or the code would not let anyone in",
                ),
            )]));
        }
        Ok(found)
    }

    /// Sets (or removes) the user's verified phone on their behalf: the profile number and the
    /// number of their phone methods (which go when the number is removed). A user without a
    /// phone method gets the profile number alone, which stays unverified (`Phones`) until a
    /// method holds it.
    pub async fn set_verified_phone(
        &self,
        user: UserId,
        phone: Option<&str>,
        reason: &str,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<User, AccountError> {
        let reason = reason_field(reason)?;
        let phone = phone
            .map(|raw| PhoneNumber::parse_in(raw, self.home_region))
            .transpose()
            .map_err(|e| AccountError::Invalid(vec![FieldError::new("mobilePhone", e)]))?;
        let event = AuditEvent::new(EventKind::PhoneChange, actor, origin, now)
            .target(user)
            .detail("reason", reason.as_str())
            .detail(
                "to",
                phone
                    .as_ref()
                    .map(|p| p.masked())
                    .unwrap_or_else(|| "none".into()),
            );
        if !self
            .user_store
            .set_verified_phone(user, phone.as_ref(), AFTER_A_FACTOR_CHANGE, &event)
            .await?
        {
            return Err(AccountError::UserNotFound);
        }
        self.user_store
            .user(user)
            .await?
            .ok_or(AccountError::UserNotFound)
    }

    /// Lets new challenges open again for a user blocked by too many wrong codes.
    pub async fn unlock(
        &self,
        user: UserId,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<u64, AccountError> {
        self.user_store
            .user(user)
            .await?
            .ok_or(AccountError::UserNotFound)?;
        let event = AuditEvent::new(EventKind::UserUnlock, actor, origin, now).target(user);
        Ok(self
            .user_store
            .clear_two_factor_failures(user, &event)
            .await?)
    }

    /// Ends every session of the user.
    pub async fn revoke_sessions(
        &self,
        user: UserId,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<u64, AccountError> {
        self.user_store
            .user(user)
            .await?
            .ok_or(AccountError::UserNotFound)?;
        let event = AuditEvent::new(EventKind::Logout, actor, origin, now)
            .target(user)
            .detail("global", true);
        Ok(self
            .session_store
            .revoke_user_sessions(user, &event)
            .await?)
    }

    pub async fn user_overview(
        &self,
        user: UserId,
        now: Instant,
    ) -> Result<UserOverview, AccountError> {
        let found = self
            .user_store
            .user(user)
            .await?
            .ok_or(AccountError::UserNotFound)?;
        let events = AuditFilter {
            target: Some(user.to_string()),
            limit: USER_EVENTS_SHOWN,
            ..AuditFilter::default()
        };
        let events = self.audit_store.audit_events(&events).await?;
        let methods = self.two_factor_store.methods(user).await?;
        let memberships = self.group_store.memberships_of(user).await?;
        let other_groups = self
            .group_store
            .groups_with_counts()
            .await?
            .into_iter()
            .map(|(group, _)| group)
            .filter(|group| memberships.iter().all(|(joined, _)| joined.id != group.id))
            .collect();
        Ok(UserOverview {
            memberships,
            other_groups,
            phones: Phones::of(found.mobile_phone.as_ref(), &methods),
            user: found,
            methods,
            trusted_computers: self.two_factor_store.trusts(user, now).await?,
            sessions: self.sessions.live_sessions(user, now).await?,
            events: self.readable(events).await?,
            access_code: self.two_factor_store.live_access_code(user, now).await?,
        })
    }

    /// The audit log's events that pass the filter, newest first.
    pub async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<StoredEvent>, AccountError> {
        Ok(self.audit_store.audit_events(filter).await?)
    }

    /// The events that pass the filter, newest first, as people read them: a sentence each,
    /// users by their usernames. `user` (a username, an email or a user id) keeps the events
    /// on that user's account.
    pub async fn readable_audit_log(
        &self,
        user: Option<&str>,
        filter: &AuditFilter,
    ) -> Result<Vec<ReadableEvent>, AccountError> {
        let Some(filter) = self.narrowed(user, filter).await? else {
            return Ok(Vec::new());
        };
        let events = self.audit_store.audit_events(&filter).await?;
        self.readable(events).await
    }

    /// `filter` kept to the events on `user`'s account (a username, an email or an id);
    /// `None` when `user` names nobody.
    async fn narrowed(
        &self,
        user: Option<&str>,
        filter: &AuditFilter,
    ) -> Result<Option<AuditFilter>, AccountError> {
        let Some(raw) = user.map(str::trim).filter(|raw| !raw.is_empty()) else {
            return Ok(Some(filter.clone()));
        };
        let id = match UserId::parse(raw) {
            Ok(id) => Some(id),
            Err(_) => match LoginId::parse(raw) {
                Ok(login_id) => self
                    .user_store
                    .user_by_login_id(&login_id)
                    .await?
                    .map(|found| found.user.id),
                Err(_) => None,
            },
        };
        Ok(id.map(|id| AuditFilter {
            target: Some(id.to_string()),
            ..filter.clone()
        }))
    }

    /// Events with the usernames of the users they name, as they are now.
    async fn readable(&self, events: Vec<StoredEvent>) -> Result<Vec<ReadableEvent>, AccountError> {
        let ids: std::collections::HashSet<UserId> = events
            .iter()
            .flat_map(|e| {
                let actor = match Actor::parse(&e.actor) {
                    Some(Actor::User(id)) => Some(id),
                    _ => None,
                };
                let target = e.target.as_deref().and_then(|t| UserId::parse(t).ok());
                [actor, target]
            })
            .flatten()
            .collect();
        let ids: Vec<UserId> = ids.into_iter().collect();
        let usernames: Usernames = self.user_store.usernames(&ids).await?.into_iter().collect();
        Ok(events
            .into_iter()
            .map(|event| readable(event, &usernames))
            .collect())
    }

    /// The events `filter` finds, as CSV, one per line, newest first; `user` as in
    /// `readable_audit_log`.
    pub async fn audit_log_csv(
        &self,
        user: Option<&str>,
        filter: &AuditFilter,
    ) -> Result<String, AccountError> {
        let events = match self.narrowed(user, filter).await? {
            Some(filter) => self.audit_store.audit_events(&filter).await?,
            None => Vec::new(),
        };
        let rows = events.into_iter().map(|e| {
            [
                e.id.to_string(),
                e.insert_instant.to_string(),
                e.actor,
                e.target.unwrap_or_default(),
                e.event,
                e.ip_address.unwrap_or_default(),
                e.user_agent.unwrap_or_default(),
                e.details.to_string(),
            ]
        });
        crate::spreadsheet::write(
            &[
                "id",
                "time",
                "actor",
                "target",
                "event",
                "ip",
                "user_agent",
                "details",
            ],
            rows,
        )
        .map_err(|error| AccountError::Other(error.into()))
    }

    pub async fn search_users(
        &self,
        prefix: &str,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<User>, i64), AccountError> {
        Ok(self
            .user_store
            .search_users(prefix.trim(), limit, offset)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MethodId, MethodKind};

    fn phone(raw: &str) -> PhoneNumber {
        PhoneNumber::parse(raw).unwrap()
    }

    fn method(kind: MethodKind, number: Option<&str>) -> MethodRecord {
        MethodRecord {
            id: MethodId::generate(),
            user_id: UserId::new(),
            kind,
            name: None,
            secret: None,
            totp: None,
            mobile_phone: number.map(phone),
            email: None,
            last_used_step: None,
            created_at: Instant::from_millis(0),
            last_used_at: None,
            sends_code_on_login: false,
            channel: None,
        }
    }

    #[test]
    fn a_number_is_verified_only_when_a_phone_method_holds_it() {
        let profile = phone("+13035550177");
        let app = method(MethodKind::Authenticator, None);
        let enrolled = Phones::of(
            Some(&profile),
            &[app.clone(), method(MethodKind::Phone, Some("+13035550177"))],
        );
        assert_eq!(enrolled.verified, vec![profile.clone()]);
        assert_eq!(enrolled.unverified, None);

        // Each number once, in the methods' order.
        let numbers = ["+13035550179", "+13035550177", "+13035550179"];
        let phones: Vec<MethodRecord> = numbers
            .iter()
            .map(|n| method(MethodKind::Phone, Some(n)))
            .collect();
        assert_eq!(
            Phones::of(None, &phones).verified,
            vec![phone("+13035550179"), phone("+13035550177")]
        );

        // After a reset, or typed in the profile and never confirmed by a code.
        let reset = Phones::of(Some(&profile), &[]);
        assert!(reset.verified.is_empty());
        assert_eq!(reset.unverified, Some(profile.clone()));
        let app_only = Phones::of(Some(&profile), std::slice::from_ref(&app));
        assert_eq!(app_only.unverified, Some(profile.clone()));

        // The methods' number is the verified one, whatever the profile says.
        let elsewhere = Phones::of(
            Some(&profile),
            &[method(MethodKind::Phone, Some("+13035550178"))],
        );
        assert_eq!(elsewhere.verified, vec![phone("+13035550178")]);
        assert_eq!(elsewhere.unverified, Some(profile));

        let nothing = Phones::of(None, &[app]);
        assert_eq!(
            nothing,
            Phones {
                verified: vec![],
                unverified: None
            }
        );
    }
}
