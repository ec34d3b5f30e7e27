//! How long a web session lives: its absolute limit (longer when "Remember me" was ticked), its
//! inactivity timeout, and when a use of it is worth recording. Pure: the service reads and
//! writes, these decide.

use crate::clock::Instant;
use crate::domain::LoginType;
use crate::store::SessionRecord;

/// A web session's use is recorded at most this often: forward-auth asks about every request
/// of a page, and a write for each would cost more than the decision. An idle session may so
/// end up to this much before its timeout.
pub const ACTIVITY_RECORDED_EVERY_SECONDS: i64 = 60;

/// The configuration's `[session]` limits of web sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebSessionLimits {
    /// A session unused this long ends; 0: never for being idle.
    pub inactivity_seconds: i64,
    /// How long a session lives at most.
    pub absolute_seconds: i64,
    /// How long a remembered session lives; 0: "Remember me" is not offered.
    pub remember_me_seconds: i64,
}

impl WebSessionLimits {
    pub fn offers_remember_me(&self) -> bool {
        self.remember_me_seconds > 0
    }

    /// Whether a login that asked `remember_me` opens a remembered session: only where it is
    /// offered (a form sent to a server that stopped offering it is not).
    pub fn remembers(&self, remember_me: bool) -> bool {
        remember_me && self.offers_remember_me()
    }

    /// When a web session opened at `now` ends at the latest.
    pub fn expires_at(&self, remembered: bool, now: Instant) -> Instant {
        now.plus_seconds(if remembered {
            self.remember_me_seconds
        } else {
            self.absolute_seconds
        })
    }
}

/// Where a web session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Live,
    /// Logged out, or ended by someone.
    Ended,
    /// Past its absolute limit.
    Expired,
    /// Unused for longer than the inactivity timeout.
    Idle,
}

/// Whether a web session still stands at `now`. A remembered session is spared the inactivity
/// timeout: its holder asked to stay signed in across the nights and weekends that timeout is
/// shorter than; its absolute limit and a logout still end it.
pub fn standing(session: &SessionRecord, limits: &WebSessionLimits, now: Instant) -> Standing {
    if session.revoked_at.is_some() {
        Standing::Ended
    } else if now >= session.expires_at {
        Standing::Expired
    } else if !session.remembered
        && limits.inactivity_seconds > 0
        && now >= session.last_seen_at.plus_seconds(limits.inactivity_seconds)
    {
        Standing::Idle
    } else {
        Standing::Live
    }
}

/// Whether its holder could still use `session` at `now`: a web session that stands, or an API
/// session (renewed by its refresh token, so never idle) neither ended nor expired. The lists
/// of a person's sessions show only these.
pub fn still_usable(session: &SessionRecord, limits: &WebSessionLimits, now: Instant) -> bool {
    match session.kind {
        LoginType::Web => standing(session, limits, now) == Standing::Live,
        LoginType::Api => session.is_live(now),
    }
}

/// Whether a use of the session at `now` is to be recorded: its last recorded use is a minute
/// old (or in the future, after a clock moved back).
pub fn activity_due(session: &SessionRecord, now: Instant) -> bool {
    let since = now.millis() - session.last_seen_at.millis();
    !(0..ACTIVITY_RECORDED_EVERY_SECONDS * 1000).contains(&since)
}

/// The session cookie's `Max-Age`: a remembered session's cookie outlives the browser's session,
/// as long as the session does; any other's is gone when the browser closes (none).
pub fn cookie_max_age(remembered: bool, expires_at: Instant, now: Instant) -> Option<i64> {
    remembered.then(|| ((expires_at.millis() - now.millis()) / 1000).max(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;

    const LIMITS: WebSessionLimits = WebSessionLimits {
        inactivity_seconds: 3600,
        absolute_seconds: 12 * 3600,
        remember_me_seconds: 30 * 86_400,
    };
    const OPENED: Instant = Instant::from_millis(1_700_000_000_000);

    fn session(remembered: bool) -> SessionRecord {
        SessionRecord {
            id: "s1".into(),
            user_id: UserId::new(),
            kind: LoginType::Web,
            amr: vec!["pwd".into()],
            application_id: None,
            created_at: OPENED,
            authenticated_at: OPENED,
            expires_at: LIMITS.expires_at(remembered, OPENED),
            revoked_at: None,
            last_seen_at: OPENED,
            remembered,
        }
    }

    fn at(seconds: i64) -> Instant {
        OPENED.plus_seconds(seconds)
    }

    #[test]
    fn a_session_used_within_the_inactivity_timeout_stands_until_its_absolute_limit() {
        let mut used = session(false);
        assert_eq!(standing(&used, &LIMITS, at(3599)), Standing::Live);
        for hour in 1..12 {
            used.last_seen_at = at(hour * 3600 - 60);
            assert_eq!(standing(&used, &LIMITS, at(hour * 3600)), Standing::Live);
        }
        used.last_seen_at = at(12 * 3600 - 1);
        assert_eq!(standing(&used, &LIMITS, at(12 * 3600)), Standing::Expired);
    }

    #[test]
    fn a_session_unused_for_the_inactivity_timeout_is_idle_unless_the_timeout_is_off() {
        let idle = session(false);
        assert_eq!(standing(&idle, &LIMITS, at(3600)), Standing::Idle);
        let off = WebSessionLimits {
            inactivity_seconds: 0,
            ..LIMITS
        };
        assert_eq!(standing(&idle, &off, at(11 * 3600)), Standing::Live);
        assert_eq!(standing(&idle, &off, at(12 * 3600)), Standing::Expired);
    }

    #[test]
    fn a_remembered_session_lives_its_whole_length_idle_or_not() {
        let remembered = session(true);
        assert_eq!(remembered.expires_at, at(30 * 86_400));
        assert_eq!(
            standing(&remembered, &LIMITS, at(30 * 86_400 - 1)),
            Standing::Live
        );
        assert_eq!(
            standing(&remembered, &LIMITS, at(30 * 86_400)),
            Standing::Expired
        );
    }

    #[test]
    fn an_idle_web_session_is_no_longer_usable_but_an_api_session_is_never_idle() {
        let web = session(false);
        assert!(still_usable(&web, &LIMITS, at(3599)));
        assert!(!still_usable(&web, &LIMITS, at(3600)), "idle");
        let api = SessionRecord {
            kind: LoginType::Api,
            ..session(false)
        };
        assert!(still_usable(&api, &LIMITS, at(3600)));
        assert!(!still_usable(&api, &LIMITS, at(12 * 3600)), "expired");
    }

    #[test]
    fn an_ended_session_is_ended_whatever_its_times() {
        let mut ended = session(true);
        ended.revoked_at = Some(at(1));
        assert_eq!(standing(&ended, &LIMITS, at(2)), Standing::Ended);
    }

    #[test]
    fn remember_me_counts_only_where_it_is_offered_and_sets_the_cookie_s_age() {
        assert!(LIMITS.remembers(true) && !LIMITS.remembers(false));
        let not_offered = WebSessionLimits {
            remember_me_seconds: 0,
            ..LIMITS
        };
        assert!(!not_offered.remembers(true));
        assert_eq!(
            cookie_max_age(true, LIMITS.expires_at(true, OPENED), OPENED),
            Some(30 * 86_400)
        );
        assert_eq!(
            cookie_max_age(false, LIMITS.expires_at(false, OPENED), OPENED),
            None
        );
    }

    #[test]
    fn a_use_is_recorded_once_a_minute_and_after_the_clock_went_back() {
        let used = session(false);
        assert!(!activity_due(&used, OPENED));
        assert!(!activity_due(&used, at(59)));
        assert!(activity_due(&used, at(60)));
        assert!(activity_due(&used, at(-1)));
    }
}
