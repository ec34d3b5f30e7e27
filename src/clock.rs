//! Time as a value. Decisions take `now` as an argument; only the edges read the clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, the unit every stored instant uses (as FusionAuth's
/// `*Instant` fields do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(i64);

impl Instant {
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    pub fn now() -> Self {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Self(millis)
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    pub const fn seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    pub fn plus_seconds(self, seconds: i64) -> Self {
        Self(self.0.saturating_add(seconds.saturating_mul(1000)))
    }

    /// The civil date and time in UTC: (year, month, day, hour, minute, second, weekday 0=Sunday).
    fn civil(self) -> (i64, i64, i64, i64, i64, i64, i64) {
        let seconds = self.seconds();
        let days = seconds.div_euclid(86_400);
        let rest = seconds.rem_euclid(86_400);
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        let weekday = (days + 4).rem_euclid(7);
        (
            year,
            month,
            day,
            rest / 3600,
            rest % 3600 / 60,
            rest % 60,
            weekday,
        )
    }

    /// RFC 2822, as Twilio writes most dates: `Wed, 25 Nov 2026 20:44:52 +0000`.
    pub fn rfc2822(self) -> String {
        const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let (y, mo, d, h, mi, s, wd) = self.civil();
        format!(
            "{}, {d:02} {} {y:04} {h:02}:{mi:02}:{s:02} +0000",
            DAYS[wd as usize],
            MONTHS[(mo - 1) as usize]
        )
    }

    /// As people read it, the zone said: `2026-11-25 20:44:52 UTC`.
    pub fn utc_text(self) -> String {
        let (y, mo, d, h, mi, s, _) = self.civil();
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
    }

    /// ISO 8601 in UTC: `2026-11-25T20:44:52Z`.
    pub fn iso8601(self) -> String {
        let (y, mo, d, h, mi, s, _) = self.civil();
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_twilio_writes_them() {
        let instant = Instant::from_millis(1_795_639_492_000);
        assert_eq!(instant.rfc2822(), "Wed, 25 Nov 2026 20:44:52 +0000");
        assert_eq!(instant.iso8601(), "2026-11-25T20:44:52Z");
        assert_eq!(instant.utc_text(), "2026-11-25 20:44:52 UTC");
        assert_eq!(
            Instant::from_millis(0).rfc2822(),
            "Thu, 01 Jan 1970 00:00:00 +0000"
        );
        assert_eq!(
            Instant::from_millis(951_782_400_000).iso8601(),
            "2000-02-29T00:00:00Z"
        );
    }
}
