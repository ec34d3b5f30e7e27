//! Verify services of the Twilio-compatible API: an account's named settings for its codes
//! (length, custom codes, TOTP defaults), and the verifications started and finished through
//! them.

use std::ops::RangeInclusive;

use super::Verify;
use super::{
    Channel, Destination, ServiceOverride, StartRequest, Status, VerificationView, VerifyError,
    flag_param, number_param, sid,
};
use crate::audit::Origin;
use crate::clock::Instant;
use crate::store::ServiceRecord;

/// Digits of a service's codes.
pub const CODE_LENGTHS: RangeInclusive<i64> = 4..=10;
/// Seconds of one step of a service's TOTP factors.
pub const TOTP_TIME_STEPS: RangeInclusive<i64> = 20..=60;
/// Digits of a service's TOTP codes.
pub const TOTP_CODE_LENGTHS: RangeInclusive<i64> = 3..=8;
/// Steps before and after the current one that a TOTP code may come from.
pub const TOTP_SKEWS: RangeInclusive<i64> = 0..=2;
/// A service's name, and the name a verification may give instead.
const NAME_CHARS: usize = 30;

/// A service's parameters in a create or an update, as given; those left out stay as they are.
#[derive(Debug, Default, Clone, Copy)]
pub struct ServiceParams<'a> {
    pub friendly_name: Option<&'a str>,
    pub code_length: Option<&'a str>,
    pub do_not_share_warning_enabled: Option<&'a str>,
    pub custom_code_enabled: Option<&'a str>,
    pub totp_issuer: Option<&'a str>,
    pub totp_time_step: Option<&'a str>,
    pub totp_code_length: Option<&'a str>,
    pub totp_skew: Option<&'a str>,
}

impl ServiceParams<'_> {
    /// Sets what was given on `service`. The parameters are checked one after another, so the
    /// first wrong one is the one reported.
    fn apply_to(&self, service: &mut ServiceRecord) -> Result<(), VerifyError> {
        if let Some(name) = self.friendly_name {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > NAME_CHARS {
                return Err(VerifyError::Invalid {
                    param: "FriendlyName",
                    message: "1 to 30 characters".into(),
                });
            }
            service.friendly_name = name.to_owned();
        }
        if let Some(raw) = self.code_length {
            service.code_length = number_param("CodeLength", raw, CODE_LENGTHS)?;
        }
        if let Some(raw) = self.do_not_share_warning_enabled {
            service.do_not_share_warning_enabled = flag_param("DoNotShareWarningEnabled", raw)?;
        }
        if let Some(raw) = self.custom_code_enabled {
            service.custom_code_enabled = flag_param("CustomCodeEnabled", raw)?;
        }
        if let Some(issuer) = self.totp_issuer {
            service.totp_issuer = Some(issuer.trim().to_owned()).filter(|i| !i.is_empty());
        }
        if let Some(raw) = self.totp_time_step {
            service.totp_time_step = number_param("Totp.TimeStep", raw, TOTP_TIME_STEPS)?;
        }
        if let Some(raw) = self.totp_code_length {
            service.totp_code_length = number_param("Totp.CodeLength", raw, TOTP_CODE_LENGTHS)?;
        }
        if let Some(raw) = self.totp_skew {
            service.totp_skew = number_param("Totp.Skew", raw, TOTP_SKEWS)?;
        }
        Ok(())
    }
}

/// A verification asked of a service: where and how the code goes, and the service's options.
#[derive(Debug, Clone)]
pub struct ServiceVerification<'a> {
    pub destination: Destination,
    pub channel: Channel,
    pub locale: Option<&'a str>,
    /// `CustomCode`: sent instead of a random code, where the service allows it.
    pub custom_code: Option<&'a str>,
    /// `CustomFriendlyName`: the name the message gives instead of the service's.
    pub friendly_name: Option<&'a str>,
    /// `RateLimits`: a JSON object of the service's rate limit names and the values they count.
    pub rate_limits: Option<&'a str>,
}

/// A service before its parameters apply.
fn new_service(account: &str, now: Instant) -> ServiceRecord {
    ServiceRecord {
        sid: sid("VA"),
        account_sid: account.to_owned(),
        friendly_name: String::new(),
        code_length: 6,
        do_not_share_warning_enabled: false,
        custom_code_enabled: false,
        totp_issuer: None,
        totp_time_step: 30,
        totp_code_length: 6,
        totp_skew: 1,
        created_at: now,
        updated_at: now,
    }
}

/// The code a verification asks to send instead of a random one: only where the service
/// enables custom codes, and only 4 to 10 digits.
fn custom_code(service: &ServiceRecord, code: Option<&str>) -> Result<Option<String>, VerifyError> {
    match code {
        Some(_) if !service.custom_code_enabled => Err(VerifyError::Unsupported("CustomCode")),
        Some(code)
            if !(4..=10).contains(&code.len()) || !code.chars().all(|c| c.is_ascii_digit()) =>
        {
            Err(VerifyError::Invalid {
                param: "CustomCode",
                message: "4 to 10 digits".into(),
            })
        }
        other => Ok(other.map(str::to_owned)),
    }
}

impl Verify {
    pub async fn create_verify_service(
        &self,
        account: &str,
        params: &ServiceParams<'_>,
        now: Instant,
    ) -> Result<ServiceRecord, VerifyError> {
        let mut service = new_service(account, now);
        params.apply_to(&mut service)?;
        self.verify_store.save_service(&service).await?;
        Ok(service)
    }

    /// A service of this account; another account's is not found.
    pub async fn verify_service(
        &self,
        account: &str,
        sid: &str,
    ) -> Result<ServiceRecord, VerifyError> {
        self.verify_store
            .service(account, sid)
            .await?
            .ok_or(VerifyError::NoSuchResource)
    }

    /// One page of the account's services (pages count from 0), and whether more follow.
    pub async fn verify_services(
        &self,
        account: &str,
        page_size: i64,
        page: i64,
    ) -> Result<(Vec<ServiceRecord>, bool), VerifyError> {
        let mut services = self
            .verify_store
            .services(account, page_size + 1, page * page_size)
            .await?;
        let more = services.len() as i64 > page_size;
        services.truncate(page_size as usize);
        Ok((services, more))
    }

    pub async fn update_verify_service(
        &self,
        account: &str,
        sid: &str,
        params: &ServiceParams<'_>,
        now: Instant,
    ) -> Result<ServiceRecord, VerifyError> {
        let mut service = self.verify_service(account, sid).await?;
        params.apply_to(&mut service)?;
        service.updated_at = now;
        self.verify_store.save_service(&service).await?;
        Ok(service)
    }

    pub async fn delete_verify_service(&self, account: &str, sid: &str) -> Result<(), VerifyError> {
        if self.verify_store.delete_service(account, sid).await? {
            Ok(())
        } else {
            Err(VerifyError::NoSuchResource)
        }
    }

    /// Sends a code for a service: its custom code and its rate limits are checked first, then
    /// the engine's own rules apply (as for every code Tessera sends).
    pub async fn start_service_verification(
        &self,
        service: &ServiceRecord,
        request: ServiceVerification<'_>,
        origin: &Origin,
        now: Instant,
    ) -> Result<VerificationView, VerifyError> {
        let custom_code = custom_code(service, request.custom_code)?;
        self.apply_rate_limits(service, request.rate_limits, now)
            .await?;
        let friendly_name = request
            .friendly_name
            .map(|name| name.trim().chars().take(NAME_CHARS).collect())
            .filter(|name: &String| !name.is_empty())
            .unwrap_or_else(|| service.friendly_name.clone());
        let start = StartRequest {
            service_id: &service.sid,
            destination: request.destination,
            channel: request.channel,
            locale: request.locale.map(str::to_owned),
            context: None,
            user: None,
            own_method: false,
            origin,
            service: Some(ServiceOverride {
                friendly_name,
                code_length: service.code_length as u32,
                custom_code,
            }),
        };
        self.start_verification(&start, now).await
    }

    /// A pending verification of this service. Finished ones are soft-deleted, as Twilio's
    /// are: they, and one that cannot be read, are not found.
    pub async fn pending_service_verification(
        &self,
        service: &ServiceRecord,
        sid: &str,
        now: Instant,
    ) -> Result<VerificationView, VerifyError> {
        let view = self
            .verification_view(sid)
            .await
            .map_err(|_| VerifyError::NoSuchResource)?;
        if view.service_id != service.sid
            || view.status != Status::Pending
            || view.expires_at <= now
        {
            return Err(VerifyError::NoSuchResource);
        }
        Ok(view)
    }

    /// Cancels or approves (`status`) a pending verification of this service.
    pub async fn finish_service_verification(
        &self,
        service: &ServiceRecord,
        sid: &str,
        status: Option<&str>,
        now: Instant,
    ) -> Result<VerificationView, VerifyError> {
        self.pending_service_verification(service, sid, now).await?;
        let status = match status {
            Some("canceled") => Status::Canceled,
            Some("approved") => Status::Approved,
            _ => {
                return Err(VerifyError::Invalid {
                    param: "Status",
                    message: "canceled or approved".into(),
                });
            }
        };
        if !self
            .verify_store
            .transition_verification(sid, Status::Pending.as_str(), status.as_str(), now)
            .await?
        {
            return Err(VerifyError::NoSuchResource);
        }
        self.verification_view(sid).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_left_out_keep_the_service_as_it_is() {
        let mut service = new_service("AC1", Instant::from_millis(0));
        let before = service.clone();
        ServiceParams::default().apply_to(&mut service).unwrap();
        assert_eq!(service, before);
        let params = ServiceParams {
            friendly_name: Some("  Acme  "),
            code_length: Some("8"),
            custom_code_enabled: Some("TRUE"),
            totp_issuer: Some(" "),
            totp_skew: Some("0"),
            ..ServiceParams::default()
        };
        params.apply_to(&mut service).unwrap();
        assert_eq!(service.friendly_name, "Acme");
        assert_eq!(service.code_length, 8);
        assert!(service.custom_code_enabled);
        assert_eq!(service.totp_issuer, None);
        assert_eq!(service.totp_skew, 0);
    }

    #[test]
    fn the_first_wrong_parameter_is_the_one_reported() {
        let mut service = new_service("AC1", Instant::from_millis(0));
        let params = ServiceParams {
            friendly_name: Some(&"x".repeat(31)),
            code_length: Some("11"),
            ..ServiceParams::default()
        };
        let error = params.apply_to(&mut service).unwrap_err();
        assert!(matches!(
            error,
            VerifyError::Invalid {
                param: "FriendlyName",
                ..
            }
        ));
        let params = ServiceParams {
            code_length: Some("11"),
            totp_time_step: Some("10"),
            ..ServiceParams::default()
        };
        let error = params.apply_to(&mut service).unwrap_err();
        assert!(matches!(
            error,
            VerifyError::Invalid {
                param: "CodeLength",
                ..
            }
        ));
    }

    #[test]
    fn a_custom_code_needs_a_service_that_takes_them() {
        let mut service = new_service("AC1", Instant::from_millis(0));
        assert_eq!(custom_code(&service, None).unwrap(), None);
        assert!(matches!(
            custom_code(&service, Some("1234")),
            Err(VerifyError::Unsupported("CustomCode"))
        ));
        service.custom_code_enabled = true;
        assert_eq!(
            custom_code(&service, Some("1234")).unwrap().as_deref(),
            Some("1234")
        );
        for bad in ["123", "12345678901", "12a4"] {
            assert!(
                matches!(
                    custom_code(&service, Some(bad)),
                    Err(VerifyError::Invalid {
                        param: "CustomCode",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }
}
