//! The resources of the Verify API as Twilio writes them (snake_case, ISO 8601 dates, `null` for
//! what Tessera does not do), typed so that the OpenAPI document describes exactly what is sent.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::BASE;
use crate::store::{
    BucketRecord, ChallengeRow, EntityRecord, FactorRecord, RateLimitRecord, ServiceRecord,
};
use crate::verify::{Status, VerificationView};

/// Twilio's error body, as its SDKs read it.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyErrorBody {
    /// Twilio's error code (20003, 20404, 60200, 60202, 60203…).
    pub code: u32,
    pub message: String,
    pub more_info: String,
    /// The HTTP status, repeated.
    pub status: u16,
}

type Links = BTreeMap<&'static str, String>;

#[derive(Debug, Serialize, ToSchema)]
pub struct PushSettings {
    pub include_date: bool,
    pub apn_credential_sid: Option<String>,
    pub fcm_credential_sid: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSettings {
    pub issuer: String,
    pub time_step: i64,
    pub code_length: i64,
    pub skew: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceResource {
    pub sid: String,
    pub account_sid: String,
    pub friendly_name: String,
    pub code_length: i64,
    pub lookup_enabled: bool,
    pub psd2_enabled: bool,
    pub skip_sms_to_landlines: bool,
    pub dtmf_input_required: bool,
    pub tts_name: Option<String>,
    pub do_not_share_warning_enabled: bool,
    pub custom_code_enabled: bool,
    pub push: PushSettings,
    pub totp: TotpSettings,
    pub default_template_sid: Option<String>,
    pub verify_event_subscription_enabled: bool,
    pub date_created: String,
    pub date_updated: String,
    pub url: String,
    #[schema(value_type = BTreeMap<String, String>)]
    pub links: Links,
}

pub fn service_json(service: &ServiceRecord) -> ServiceResource {
    let url = format!("{BASE}/v2/Services/{}", service.sid);
    let links = [
        ("verification_checks", "VerificationCheck"),
        ("verifications", "Verifications"),
        ("rate_limits", "RateLimits"),
        ("messaging_configurations", "MessagingConfigurations"),
        ("entities", "Entities"),
        ("webhooks", "Webhooks"),
        ("access_tokens", "AccessTokens"),
    ]
    .into_iter()
    .map(|(name, path)| (name, format!("{url}/{path}")))
    .collect();
    ServiceResource {
        sid: service.sid.clone(),
        account_sid: service.account_sid.clone(),
        friendly_name: service.friendly_name.clone(),
        code_length: service.code_length,
        lookup_enabled: false,
        psd2_enabled: false,
        skip_sms_to_landlines: false,
        dtmf_input_required: false,
        tts_name: None,
        do_not_share_warning_enabled: service.do_not_share_warning_enabled,
        custom_code_enabled: service.custom_code_enabled,
        push: PushSettings {
            include_date: false,
            apn_credential_sid: None,
            fcm_credential_sid: None,
        },
        totp: TotpSettings {
            issuer: service
                .totp_issuer
                .clone()
                .unwrap_or_else(|| service.friendly_name.clone()),
            time_step: service.totp_time_step,
            code_length: service.totp_code_length,
            skew: service.totp_skew,
        },
        default_template_sid: None,
        verify_event_subscription_enabled: false,
        date_created: service.created_at.iso8601(),
        date_updated: service.updated_at.iso8601(),
        url,
        links,
    }
}

/// Paging, as Twilio's list answers carry it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageMeta {
    pub page: i64,
    pub page_size: i64,
    pub first_page_url: String,
    pub previous_page_url: Option<String>,
    pub url: String,
    pub next_page_url: Option<String>,
    pub key: String,
}

impl PageMeta {
    /// The one page of a list that is never paged.
    pub fn single(url: String, key: &str) -> Self {
        Self {
            page: 0,
            page_size: 50,
            first_page_url: url.clone(),
            previous_page_url: None,
            url,
            next_page_url: None,
            key: key.to_owned(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServicePage {
    pub services: Vec<ServiceResource>,
    pub meta: PageMeta,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SendCodeAttempt {
    pub attempt_sid: String,
    pub channel: String,
    pub time: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationResource {
    pub sid: String,
    pub service_sid: String,
    pub account_sid: String,
    pub to: String,
    /// sms, call, email or whatsapp.
    pub channel: String,
    /// pending, approved, canceled, max_attempts_reached, deleted, failed or expired.
    pub status: String,
    pub valid: bool,
    #[schema(value_type = Object)]
    pub lookup: Value,
    pub amount: Option<String>,
    pub payee: Option<String>,
    pub send_code_attempts: Vec<SendCodeAttempt>,
    #[schema(value_type = Option<Object>)]
    pub sna: Option<Value>,
    pub date_created: String,
    pub date_updated: String,
    pub url: String,
}

pub fn verification_json(service: &ServiceRecord, view: &VerificationView) -> VerificationResource {
    VerificationResource {
        sid: view.sid.clone(),
        service_sid: service.sid.clone(),
        account_sid: service.account_sid.clone(),
        to: view.to.clone(),
        channel: view.channel.as_str().to_owned(),
        status: view.status.as_str().to_owned(),
        valid: view.status == Status::Approved,
        lookup: Value::Object(Default::default()),
        amount: None,
        payee: None,
        send_code_attempts: view
            .send_attempts
            .iter()
            .map(|(sid, channel, at)| SendCodeAttempt {
                attempt_sid: sid.clone(),
                channel: channel.as_str().to_owned(),
                time: at.iso8601(),
            })
            .collect(),
        sna: None,
        date_created: view.created_at.iso8601(),
        date_updated: view.updated_at.iso8601(),
        url: format!(
            "{BASE}/v2/Services/{}/Verifications/{}",
            service.sid, view.sid
        ),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationCheckResource {
    pub sid: String,
    pub service_sid: String,
    pub account_sid: String,
    pub to: String,
    pub channel: String,
    pub status: String,
    /// Whether this check approved the verification.
    pub valid: bool,
    pub amount: Option<String>,
    pub payee: Option<String>,
    pub sna_attempts_error_codes: Vec<Value>,
    pub date_created: String,
    pub date_updated: String,
}

pub fn check_json(
    service: &ServiceRecord,
    view: &VerificationView,
    approved: bool,
) -> VerificationCheckResource {
    VerificationCheckResource {
        sid: view.sid.clone(),
        service_sid: service.sid.clone(),
        account_sid: service.account_sid.clone(),
        to: view.to.clone(),
        channel: view.channel.as_str().to_owned(),
        status: view.status.as_str().to_owned(),
        valid: approved,
        amount: None,
        payee: None,
        sna_attempts_error_codes: Vec::new(),
        date_created: view.created_at.iso8601(),
        date_updated: view.updated_at.iso8601(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntityResource {
    pub sid: String,
    pub identity: String,
    pub account_sid: String,
    pub service_sid: String,
    pub date_created: String,
    pub date_updated: String,
    pub url: String,
    #[schema(value_type = BTreeMap<String, String>)]
    pub links: Links,
}

pub fn entity_json(service: &ServiceRecord, entity: &EntityRecord) -> EntityResource {
    let url = format!(
        "{BASE}/v2/Services/{}/Entities/{}",
        service.sid, entity.identity
    );
    let links = [
        ("factors", "Factors"),
        ("challenges", "Challenges"),
        ("new_factors", "NewFactors"),
    ]
    .into_iter()
    .map(|(name, path)| (name, format!("{url}/{path}")))
    .collect();
    EntityResource {
        sid: entity.sid.clone(),
        identity: entity.identity.clone(),
        account_sid: service.account_sid.clone(),
        service_sid: service.sid.clone(),
        date_created: entity.created_at.iso8601(),
        date_updated: entity.created_at.iso8601(),
        url,
        links,
    }
}

/// The key of a new factor, shown once at its creation.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactorBinding {
    /// Base32.
    pub secret: String,
    /// An `otpauth://totp/…` URI for a QR code.
    pub uri: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FactorSettings {
    pub alg: String,
    pub skew: i64,
    pub code_length: i64,
    pub time_step: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FactorResource {
    pub sid: String,
    pub account_sid: String,
    pub service_sid: String,
    pub entity_sid: String,
    pub identity: String,
    pub binding: Option<FactorBinding>,
    pub date_created: String,
    pub date_updated: String,
    pub friendly_name: String,
    /// unverified or verified.
    pub status: String,
    pub factor_type: String,
    pub config: FactorSettings,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    pub url: String,
}

pub fn factor_json(
    service: &ServiceRecord,
    identity: &str,
    factor: &FactorRecord,
    binding: Option<FactorBinding>,
) -> FactorResource {
    FactorResource {
        sid: factor.sid.clone(),
        account_sid: service.account_sid.clone(),
        service_sid: service.sid.clone(),
        entity_sid: factor.entity_sid.clone(),
        identity: identity.to_owned(),
        binding,
        date_created: factor.created_at.iso8601(),
        date_updated: factor.updated_at.iso8601(),
        friendly_name: factor.friendly_name.clone(),
        status: factor.status.clone(),
        factor_type: "totp".into(),
        config: FactorSettings {
            alg: factor.algorithm.clone(),
            skew: factor.skew,
            code_length: factor.code_length,
            time_step: factor.time_step,
        },
        metadata: None,
        url: format!(
            "{BASE}/v2/Services/{}/Entities/{identity}/Factors/{}",
            service.sid, factor.sid
        ),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChallengeResource {
    pub sid: String,
    pub account_sid: String,
    pub service_sid: String,
    pub entity_sid: String,
    pub identity: String,
    pub factor_sid: String,
    pub date_created: String,
    pub date_updated: String,
    pub date_responded: Option<String>,
    pub expiration_date: String,
    /// pending, expired, approved or denied.
    pub status: String,
    pub responded_reason: String,
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub hidden_details: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    pub factor_type: String,
    pub url: String,
    #[schema(value_type = BTreeMap<String, String>)]
    pub links: Links,
}

pub fn challenge_json(
    service: &ServiceRecord,
    identity: &str,
    entity_sid: &str,
    challenge: &ChallengeRow,
) -> ChallengeResource {
    let url = format!(
        "{BASE}/v2/Services/{}/Entities/{identity}/Challenges/{}",
        service.sid, challenge.sid
    );
    ChallengeResource {
        sid: challenge.sid.clone(),
        account_sid: service.account_sid.clone(),
        service_sid: service.sid.clone(),
        entity_sid: entity_sid.to_owned(),
        identity: identity.to_owned(),
        factor_sid: challenge.factor_sid.clone(),
        date_created: challenge.created_at.iso8601(),
        date_updated: challenge.updated_at.iso8601(),
        date_responded: (challenge.status == "approved").then(|| challenge.updated_at.iso8601()),
        expiration_date: challenge.expires_at.iso8601(),
        status: challenge.status.clone(),
        responded_reason: challenge.responded_reason.clone(),
        details: None,
        hidden_details: None,
        metadata: None,
        factor_type: "totp".into(),
        links: [("notifications", format!("{url}/Notifications"))]
            .into_iter()
            .collect(),
        url,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RateLimitResource {
    pub sid: String,
    pub service_sid: String,
    pub account_sid: String,
    pub unique_name: String,
    pub description: Option<String>,
    pub date_created: String,
    pub date_updated: String,
    pub url: String,
    #[schema(value_type = BTreeMap<String, String>)]
    pub links: Links,
}

pub fn rate_limit_json(service: &ServiceRecord, limit: &RateLimitRecord) -> RateLimitResource {
    let url = format!(
        "{BASE}/v2/Services/{}/RateLimits/{}",
        service.sid, limit.sid
    );
    RateLimitResource {
        sid: limit.sid.clone(),
        service_sid: service.sid.clone(),
        account_sid: service.account_sid.clone(),
        unique_name: limit.unique_name.clone(),
        description: limit.description.clone(),
        date_created: limit.created_at.iso8601(),
        date_updated: limit.updated_at.iso8601(),
        links: [("buckets", format!("{url}/Buckets"))]
            .into_iter()
            .collect(),
        url,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RateLimitPage {
    pub rate_limits: Vec<RateLimitResource>,
    pub meta: PageMeta,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BucketResource {
    pub sid: String,
    pub rate_limit_sid: String,
    pub service_sid: String,
    pub account_sid: String,
    pub max: i64,
    /// Seconds.
    pub interval: i64,
    pub date_created: String,
    pub date_updated: String,
    pub url: String,
}

pub fn bucket_json(service: &ServiceRecord, bucket: &BucketRecord) -> BucketResource {
    BucketResource {
        sid: bucket.sid.clone(),
        rate_limit_sid: bucket.rate_limit_sid.clone(),
        service_sid: service.sid.clone(),
        account_sid: service.account_sid.clone(),
        max: bucket.max,
        interval: bucket.interval,
        date_created: bucket.created_at.iso8601(),
        date_updated: bucket.updated_at.iso8601(),
        url: format!(
            "{BASE}/v2/Services/{}/RateLimits/{}/Buckets/{}",
            service.sid, bucket.rate_limit_sid, bucket.sid
        ),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BucketPage {
    pub buckets: Vec<BucketResource>,
    pub meta: PageMeta,
}
