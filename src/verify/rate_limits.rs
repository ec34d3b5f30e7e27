//! Rate limits of a Verify service (Twilio's `RateLimits` and their `Buckets`): a named limit
//! has buckets of at most `max` verifications per `interval` seconds, counted for each value a
//! verification gives the limit (`RateLimits={"end_user_ip": "…"}`).

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use serde_json::Value;

use super::Verify;
use super::{VerifyError, number_param, sid};
use crate::clock::Instant;
use crate::limits::Limit;
use crate::store::{BucketRecord, CappedInsert, Counter, RateLimitRecord, ServiceRecord};

/// Rate limits one service may have.
pub const MAX_RATE_LIMITS: i64 = 10;
/// Buckets one rate limit may have.
pub const MAX_BUCKETS: i64 = 10;
/// Verifications a bucket may allow in its window.
pub const BUCKET_MAXES: RangeInclusive<i64> = 1..=1_000_000;
/// A bucket's window, in seconds: a second to a day.
pub const BUCKET_INTERVALS: RangeInclusive<i64> = 1..=86_400;
const UNIQUE_NAME_CHARS: usize = 64;
const DESCRIPTION_CHARS: usize = 256;

/// A rate limit's `UniqueName`: 1 to 64 letters, digits, `_` or `-`.
pub fn check_unique_name(name: &str) -> Result<(), VerifyError> {
    let fine = !name.is_empty()
        && name.len() <= UNIQUE_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if fine {
        Ok(())
    } else {
        Err(VerifyError::InvalidUniqueName)
    }
}

/// A rate limit's description as it is kept: its first 256 characters.
pub fn description(raw: &str) -> String {
    raw.chars().take(DESCRIPTION_CHARS).collect()
}

/// A bucket's `Max` and `Interval`, as given.
#[derive(Debug, Default, Clone, Copy)]
pub struct BucketParams<'a> {
    pub max: Option<&'a str>,
    pub interval: Option<&'a str>,
}

impl BucketParams<'_> {
    /// The numbers given, each within its bounds; a new bucket (`required`) needs both.
    pub fn numbers(&self, required: bool) -> Result<(Option<i64>, Option<i64>), VerifyError> {
        let max = self
            .max
            .map(|raw| number_param("Max", raw, BUCKET_MAXES))
            .transpose()?;
        let interval = self
            .interval
            .map(|raw| number_param("Interval", raw, BUCKET_INTERVALS))
            .transpose()?;
        if required && (max.is_none() || interval.is_none()) {
            return Err(VerifyError::Missing(
                "Missing required parameters Max and Interval in the post body",
            ));
        }
        Ok((max, interval))
    }
}

/// The values a verification's `RateLimits` (a JSON object) gives each rate limit, by unique
/// name: a string counts as its text, anything else as its JSON.
pub fn counted_values(raw: &str) -> Result<BTreeMap<String, String>, VerifyError> {
    let values: BTreeMap<String, Value> =
        serde_json::from_str(raw).map_err(|_| VerifyError::Invalid {
            param: "RateLimits",
            message: "a JSON object of unique names and values".into(),
        })?;
    Ok(values
        .into_iter()
        .map(|(name, value)| {
            let value = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
            (name, value)
        })
        .collect())
}

/// A verification at `now` counted in one bucket for one value: at most `max` in any
/// `interval` seconds.
pub fn bucket_counter(bucket: &BucketRecord, value: &str, now: Instant) -> Counter {
    Counter::new(
        format!("verify:{}:{}:{value}", bucket.sid, bucket.interval * 1000),
        &Limit {
            max: bucket.max,
            window_seconds: bucket.interval,
        },
        now,
    )
}

impl Verify {
    pub async fn rate_limits(
        &self,
        service: &ServiceRecord,
    ) -> Result<Vec<RateLimitRecord>, VerifyError> {
        Ok(self.verify_store.rate_limits(&service.sid).await?)
    }

    pub async fn rate_limit(
        &self,
        service: &ServiceRecord,
        sid: &str,
    ) -> Result<RateLimitRecord, VerifyError> {
        self.rate_limits(service)
            .await?
            .into_iter()
            .find(|limit| limit.sid == sid)
            .ok_or(VerifyError::NoSuchResource)
    }

    /// A new rate limit, unless the service has one of this name or as many as it may.
    pub async fn create_rate_limit(
        &self,
        service: &ServiceRecord,
        unique_name: &str,
        description: Option<&str>,
        now: Instant,
    ) -> Result<RateLimitRecord, VerifyError> {
        check_unique_name(unique_name)?;
        let limit = RateLimitRecord {
            sid: sid("RK"),
            service_sid: service.sid.clone(),
            unique_name: unique_name.to_owned(),
            description: description.map(self::description),
            created_at: now,
            updated_at: now,
        };
        match self
            .verify_store
            .insert_rate_limit(&limit, MAX_RATE_LIMITS)
            .await?
        {
            CappedInsert::Inserted => Ok(limit),
            CappedInsert::Full => Err(VerifyError::TooManyRateLimits),
            CappedInsert::Duplicate => Err(VerifyError::DuplicateRateLimit),
        }
    }

    /// Sets a rate limit's description; without one, the limit stays as it is.
    pub async fn update_rate_limit(
        &self,
        service: &ServiceRecord,
        sid: &str,
        description: Option<&str>,
        now: Instant,
    ) -> Result<RateLimitRecord, VerifyError> {
        let limit = self.rate_limit(service, sid).await?;
        let description = description.map(self::description);
        self.verify_store
            .update_rate_limit(
                &limit.sid,
                description.as_deref().or(limit.description.as_deref()),
                now,
            )
            .await?;
        self.rate_limit(service, &limit.sid).await
    }

    /// Deletes a rate limit with its buckets.
    pub async fn delete_rate_limit(
        &self,
        service: &ServiceRecord,
        sid: &str,
    ) -> Result<(), VerifyError> {
        let limit = self.rate_limit(service, sid).await?;
        self.verify_store.delete_rate_limit(&limit.sid).await?;
        Ok(())
    }

    pub async fn buckets(
        &self,
        service: &ServiceRecord,
        limit_sid: &str,
    ) -> Result<Vec<BucketRecord>, VerifyError> {
        let limit = self.rate_limit(service, limit_sid).await?;
        Ok(self.verify_store.buckets(&limit.sid).await?)
    }

    pub async fn bucket(
        &self,
        service: &ServiceRecord,
        limit_sid: &str,
        sid: &str,
    ) -> Result<BucketRecord, VerifyError> {
        self.buckets(service, limit_sid)
            .await?
            .into_iter()
            .find(|bucket| bucket.sid == sid)
            .ok_or(VerifyError::NoSuchResource)
    }

    /// A new bucket, unless the rate limit has one of this interval or as many as it may.
    pub async fn create_bucket(
        &self,
        service: &ServiceRecord,
        limit_sid: &str,
        params: &BucketParams<'_>,
        now: Instant,
    ) -> Result<BucketRecord, VerifyError> {
        let limit = self.rate_limit(service, limit_sid).await?;
        let (max, interval) = params.numbers(true)?;
        let bucket = BucketRecord {
            sid: sid("BL"),
            rate_limit_sid: limit.sid,
            max: max.unwrap_or(1),
            interval: interval.unwrap_or(60),
            created_at: now,
            updated_at: now,
        };
        match self
            .verify_store
            .insert_bucket(&bucket, MAX_BUCKETS)
            .await?
        {
            CappedInsert::Inserted => Ok(bucket),
            CappedInsert::Full => Err(VerifyError::TooManyBuckets),
            CappedInsert::Duplicate => Err(VerifyError::DuplicateBucket),
        }
    }

    /// Changes a bucket's `Max` or `Interval`; what is not given stays as it is.
    pub async fn update_bucket(
        &self,
        service: &ServiceRecord,
        limit_sid: &str,
        sid: &str,
        params: &BucketParams<'_>,
        now: Instant,
    ) -> Result<BucketRecord, VerifyError> {
        let current = self.bucket(service, limit_sid, sid).await?;
        let (max, interval) = params.numbers(false)?;
        // The update fails when the rate limit has another bucket of the new interval (its
        // intervals are unique in the database); that is the failure this answer names.
        self.verify_store
            .update_bucket(
                &current.sid,
                max.unwrap_or(current.max),
                interval.unwrap_or(current.interval),
                now,
            )
            .await
            .map_err(|_| VerifyError::DuplicateBucket)?;
        self.bucket(service, limit_sid, &current.sid).await
    }

    pub async fn delete_bucket(
        &self,
        service: &ServiceRecord,
        limit_sid: &str,
        sid: &str,
    ) -> Result<(), VerifyError> {
        let bucket = self.bucket(service, limit_sid, sid).await?;
        self.verify_store.delete_bucket(&bucket.sid).await?;
        Ok(())
    }

    /// Counts a verification in the buckets of each rate limit its `RateLimits` names (names
    /// the service has no limit of count nowhere); a bucket over its `max` refuses it.
    pub(super) async fn apply_rate_limits(
        &self,
        service: &ServiceRecord,
        rate_limits: Option<&str>,
        now: Instant,
    ) -> Result<(), VerifyError> {
        let Some(raw) = rate_limits else {
            return Ok(());
        };
        let values = counted_values(raw)?;
        let limits = self.verify_store.rate_limits(&service.sid).await?;
        let mut counted = Vec::new();
        for (name, value) in values {
            let Some(limit) = limits.iter().find(|l| l.unique_name == name) else {
                continue;
            };
            for bucket in self.verify_store.buckets(&limit.sid).await? {
                let counter = bucket_counter(&bucket, &value, now);
                counted.push((name.clone(), bucket, counter));
            }
        }
        let counters: Vec<Counter> = counted.iter().map(|(_, _, c)| c.clone()).collect();
        let full = self.counter_store.take(&counters).await?;
        match full.first() {
            Some(first) => {
                let (name, bucket, _) = &counted[first.position];
                Err(VerifyError::BucketFull {
                    name: name.clone(),
                    max: bucket.max,
                    interval: bucket.interval,
                })
            }
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_are_short_plain_words() {
        for fine in ["end_user_ip", "phone-1", "A", &"x".repeat(64)] {
            assert!(check_unique_name(fine).is_ok(), "{fine}");
        }
        for bad in ["", "with space", "ünï", "a.b", &"x".repeat(65)] {
            assert!(
                matches!(check_unique_name(bad), Err(VerifyError::InvalidUniqueName)),
                "{bad}"
            );
        }
        assert_eq!(description(&"é".repeat(300)).chars().count(), 256);
    }

    fn bucket(max: Option<&'static str>, interval: Option<&'static str>) -> BucketParams<'static> {
        BucketParams { max, interval }
    }

    #[test]
    fn a_new_bucket_needs_both_numbers_within_their_bounds() {
        assert_eq!(
            bucket(Some("5"), Some("60")).numbers(true).unwrap(),
            (Some(5), Some(60))
        );
        assert!(matches!(
            bucket(Some("5"), None).numbers(true),
            Err(VerifyError::Missing(_))
        ));
        assert_eq!(
            bucket(None, Some("86400")).numbers(false).unwrap(),
            (None, Some(86_400))
        );
        for (max, interval, param) in [
            ("0", "60", "Max"),
            ("1000001", "60", "Max"),
            ("5", "86401", "Interval"),
            ("5", "0", "Interval"),
        ] {
            let error = bucket(Some(max), Some(interval))
                .numbers(false)
                .unwrap_err();
            assert!(
                matches!(error, VerifyError::Invalid { param: p, .. } if p == param),
                "{max} {interval}"
            );
        }
        // A wrong number is reported before a missing one.
        assert!(matches!(
            bucket(Some("many"), None).numbers(true),
            Err(VerifyError::Invalid { param: "Max", .. })
        ));
    }

    #[test]
    fn rate_limit_values_count_as_text() {
        let values = counted_values(r#"{"ip": "10.0.0.1", "user": 42, "flag": true}"#).unwrap();
        assert_eq!(values["ip"], "10.0.0.1");
        assert_eq!(values["user"], "42");
        assert_eq!(values["flag"], "true");
        for bad in ["", "[1]", "{\"ip\": }", "\"ip\""] {
            assert!(
                matches!(
                    counted_values(bad),
                    Err(VerifyError::Invalid {
                        param: "RateLimits",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_bucket_counts_each_value_apart_over_its_interval() {
        let bucket = BucketRecord {
            sid: "BL1".into(),
            rate_limit_sid: "RK1".into(),
            max: 3,
            interval: 60,
            created_at: Instant::from_millis(0),
            updated_at: Instant::from_millis(0),
        };
        let now = Instant::from_millis(125_500);
        let counter = bucket_counter(&bucket, "10.0.0.1", now);
        assert_eq!(counter.key, "verify:BL1:60000:10.0.0.1");
        assert_eq!(
            (counter.max, counter.window_millis, counter.at),
            (3, 60_000, now)
        );
        assert_ne!(bucket_counter(&bucket, "10.0.0.2", now).key, counter.key);
    }
}
