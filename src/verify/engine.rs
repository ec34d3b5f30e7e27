use subtle::ConstantTimeEq;

use super::Verify;
use super::fraud::{self, Refusal};
use super::send_budget::{CountryStanding, Scope, SendParty, send_budgets};
use super::{
    Channel, DeliverySettings, Destination, Provider, SenderKind, Status, generate_code,
    message_text,
};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::delivery::twilio::{self, RemoteCheck};
use crate::delivery::{Delivered, SendError, message_context};
use crate::domain::{Invalid, UserId};
use crate::store::{Counter, NewMessage, NewVerification, StoreError, VerificationRecord};

const CODE_HASH_PURPOSE: &str = "verification-code";

/// A request to send a code.
#[derive(Debug, Clone)]
pub struct StartRequest<'a> {
    pub service_id: &'a str,
    pub destination: Destination,
    pub channel: Channel,
    pub locale: Option<String>,
    /// What the code is for inside Tessera (a login challenge, an enrolment); a pending code
    /// made for something else is canceled rather than resent.
    pub context: Option<String>,
    pub user: Option<UserId>,
    /// The destination is one of `user`'s enrolled methods: its sends have a budget of their
    /// own, which sends anyone else asks for cannot use up.
    pub own_method: bool,
    pub origin: &'a Origin,
    /// A Verify service of the Twilio-compatible API, with its own name, code length and
    /// custom code; `None` uses the delivery settings' service.
    pub service: Option<ServiceOverride>,
}

/// What a Verify service of the Twilio-compatible API sets for its codes.
#[derive(Debug, Clone)]
pub struct ServiceOverride {
    pub friendly_name: String,
    pub code_length: u32,
    /// The code to send instead of a random one (`CustomCode`, where the service allows it).
    pub custom_code: Option<String>,
}

/// A verification as callers see it.
#[derive(Debug, Clone)]
pub struct VerificationView {
    pub sid: String,
    pub service_id: String,
    pub to: String,
    pub channel: Channel,
    pub status: Status,
    pub send_attempts: Vec<(String, Channel, Instant)>,
    pub created_at: Instant,
    pub updated_at: Instant,
    pub expires_at: Instant,
}

#[derive(Debug, Clone)]
pub struct CheckOutcome {
    pub verification: VerificationView,
    pub approved: bool,
}

/// Refusals in Twilio Verify's terms: each has its Twilio error code and HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{message}")]
    Invalid {
        param: &'static str,
        message: String,
    },
    #[error("too many codes were sent to this destination; wait before asking again")]
    MaxSendAttempts,
    #[error("too many wrong codes; ask for a new one")]
    MaxCheckAttempts,
    #[error("no pending verification")]
    NotFound,
    /// A service, rate limit or bucket of the Twilio-compatible API that the account does not
    /// have, or a verification of it that is no longer pending.
    #[error("The requested resource was not found")]
    NoSuchResource,
    #[error("too many attempts on this challenge")]
    ChallengeAttempts,
    /// Too many wrong codes for a factor in a row, across its challenges.
    #[error("too many wrong codes for this factor in a row; try again in {minutes} minutes")]
    FactorLocked { minutes: i64 },
    #[error("{}", .0.message())]
    Refused(Refusal),
    #[error("too many codes were asked for {scope}; wait before asking again")]
    RateLimited { scope: &'static str },
    #[error("{message}")]
    Delivery { code: Option<u32>, message: String },
    /// A parameter the call needs is missing; the text names it.
    #[error("{0}")]
    Missing(&'static str),
    /// The service does not offer this (`CustomCode` where the service does not enable it).
    #[error("Service does not support this feature: {0}")]
    Unsupported(&'static str),
    /// A bucket of one of the service's rate limits is full for the value the request named.
    #[error("Max send attempts reached: rate limit {name} allows {max} per {interval} s")]
    BucketFull {
        name: String,
        max: i64,
        interval: i64,
    },
    #[error("Invalid UniqueName: letters, digits, _ or -, at most 64")]
    InvalidUniqueName,
    #[error("Max rate limits reached for this service")]
    TooManyRateLimits,
    #[error("A rate limit with this UniqueName already exists")]
    DuplicateRateLimit,
    #[error("Max buckets reached for this rate limit")]
    TooManyBuckets,
    #[error("A bucket with this Interval already exists")]
    DuplicateBucket,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl VerifyError {
    /// Twilio's error code for this refusal.
    pub fn twilio_code(&self) -> u32 {
        match self {
            VerifyError::Invalid { .. } | VerifyError::Missing(_) => 60200,
            VerifyError::MaxSendAttempts
            | VerifyError::RateLimited { .. }
            | VerifyError::BucketFull { .. } => 60203,
            VerifyError::Unsupported(_) => 60204,
            VerifyError::TooManyRateLimits => 60207,
            VerifyError::DuplicateRateLimit => 60208,
            VerifyError::InvalidUniqueName => 60209,
            VerifyError::TooManyBuckets => 60210,
            VerifyError::DuplicateBucket => 60211,
            VerifyError::MaxCheckAttempts => 60202,
            VerifyError::NotFound | VerifyError::NoSuchResource => 20404,
            // Twilio documents no code of its own for this: the nearest is the challenge's.
            VerifyError::ChallengeAttempts | VerifyError::FactorLocked { .. } => 60308,
            VerifyError::Refused(Refusal::Prefix(_) | Refusal::PremiumRate) => 60410,
            VerifyError::Refused(Refusal::Country(_)) => 60605,
            VerifyError::Refused(Refusal::Landline) => 60205,
            VerifyError::Delivery { code, .. } => code.unwrap_or(60200),
            VerifyError::Internal(_) => 20500,
        }
    }
}

impl From<StoreError> for VerifyError {
    fn from(error: StoreError) -> Self {
        VerifyError::Internal(error.into())
    }
}

impl Verify {
    /// Sends a code: a new verification, or the same code again when one is pending for the
    /// destination. Screened by the fraud guard and the send limits first; delivered at once
    /// when possible (so a refused number is reported now), else queued.
    pub async fn start_verification(
        &self,
        request: &StartRequest<'_>,
        now: Instant,
    ) -> Result<VerificationView, VerifyError> {
        let mut settings = self.delivery.delivery_settings().await?;
        if let Some(own) = &request.service {
            settings.service.friendly_name = own.friendly_name.clone();
            settings.service.code_length = own.code_length;
        }
        let settings = settings;
        let service = &settings.service;
        if !request.destination.accepts(request.channel) {
            return Err(VerifyError::Invalid {
                param: "Channel",
                message: format!(
                    "the {} channel cannot reach {}",
                    request.channel,
                    request.destination.masked()
                ),
            });
        }
        if !service.channels.allows(request.channel) {
            return Err(VerifyError::Invalid {
                param: "Channel",
                message: format!(
                    "the {} channel is switched off on this server",
                    request.channel
                ),
            });
        }
        if let Err(refusal) =
            fraud::screen(&settings.fraud_guard, &request.destination, request.channel)
        {
            self.audit_refusal(request, &refusal.message(), now).await;
            return Err(VerifyError::Refused(refusal));
        }
        self.check_send_limits(&settings, request, now).await?;

        let destination = request.destination.as_str();
        self.verify_store
            .expire_verifications(request.service_id, destination, now)
            .await?;
        let locale = request
            .locale
            .clone()
            .unwrap_or_else(|| service.default_locale.clone());
        // Twice at most: a concurrent start may create the verification between our look and
        // our insert, and then we resend its code.
        for _ in 0..2 {
            let pending = self
                .verify_store
                .pending_verification(request.service_id, destination)
                .await?;
            let pending = match pending {
                Some(p) if p.context != request.context => {
                    self.verify_store
                        .transition_verification(&p.id, "pending", "canceled", now)
                        .await?;
                    None
                }
                other => other,
            };
            let send_id = sid("VL");
            let (verification_id, message) = match &pending {
                Some(existing) => {
                    let code = match &existing.code {
                        Some(sealed) => String::from_utf8(
                            self.secrets
                                .open(sealed, &code_context(&existing.id))
                                .map_err(anyhow::Error::from)?,
                        )
                        .map_err(anyhow::Error::from)?,
                        None => String::new(),
                    };
                    let message =
                        self.new_message(&settings, &existing.id, request, &locale, &code);
                    let updated = self
                        .verify_store
                        .add_send(
                            &existing.id,
                            request.channel.as_str(),
                            service.max_send_attempts,
                            &send_id,
                            Some(&message),
                            now,
                        )
                        .await?;
                    if updated.is_none() {
                        self.audit_refusal(request, "send limit of the verification", now)
                            .await;
                        return Err(VerifyError::MaxSendAttempts);
                    }
                    (existing.id.clone(), message)
                }
                None => {
                    let id = sid("VE");
                    let code = match (
                        settings.provider,
                        request.service.as_ref().and_then(|s| s.custom_code.clone()),
                    ) {
                        (Provider::Builtin, Some(custom)) => custom,
                        (Provider::Builtin, None) => generate_code(service.code_length),
                        (Provider::TwilioVerify, _) => String::new(),
                    };
                    let message = self.new_message(&settings, &id, request, &locale, &code);
                    let builtin = settings.provider == Provider::Builtin;
                    let new = NewVerification {
                        id: id.clone(),
                        service_id: request.service_id.to_owned(),
                        destination: destination.to_owned(),
                        channel: request.channel.as_str().to_owned(),
                        provider: provider_name(settings.provider).to_owned(),
                        code_hash: builtin
                            .then(|| self.secrets.keyed_hash(CODE_HASH_PURPOSE, &code)),
                        code: builtin
                            .then(|| self.secrets.seal(code.as_bytes(), &code_context(&id))),
                        locale: locale.clone(),
                        context: request.context.clone(),
                        expires_at: now.plus_seconds(service.code_ttl_seconds),
                    };
                    if !self
                        .verify_store
                        .create_verification(&new, &send_id, Some(&message), now)
                        .await?
                    {
                        continue;
                    }
                    (id, message)
                }
            };
            self.audit_send(request, &verification_id, now).await;
            return match self.delivery.deliver_message_now(&message.id, now).await? {
                Some(Delivered::Failed { code, message }) => {
                    self.verify_store
                        .transition_verification(&verification_id, "pending", "failed", now)
                        .await?;
                    Err(VerifyError::Delivery { code, message })
                }
                _ => self.view(&verification_id).await,
            };
        }
        Err(VerifyError::Internal(anyhow::anyhow!(
            "a verification for this destination keeps changing; try again"
        )))
    }

    /// Checks a code against the pending verification for a destination (or with this sid).
    /// Each check is counted before the comparison; an approval happens once.
    pub async fn check_verification(
        &self,
        service_id: &str,
        target: &VerificationTarget,
        code: &str,
        now: Instant,
    ) -> Result<CheckOutcome, VerifyError> {
        if !(4..=10).contains(&code.len()) || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(VerifyError::Invalid {
                param: "Code",
                message: "a code has 4 to 10 digits".into(),
            });
        }
        let settings = self.delivery.delivery_settings().await?;
        let record = match target {
            VerificationTarget::Sid(sid) => self.verify_store.verification(sid).await?,
            VerificationTarget::To(destination) => {
                self.verify_store
                    .expire_verifications(service_id, destination.as_str(), now)
                    .await?;
                self.verify_store
                    .pending_verification(service_id, destination.as_str())
                    .await?
            }
        }
        .filter(|v| v.service_id == service_id && v.status == "pending")
        .ok_or(VerifyError::NotFound)?;
        self.check_record(&settings, &record, code, now).await
    }

    /// Checks a code against the pending verifications made for a context (a login
    /// challenge), only those to `destination` when one is named: the first that approves wins.
    pub(crate) async fn check_context(
        &self,
        context: &str,
        destination: Option<&str>,
        code: &str,
        now: Instant,
    ) -> Result<Option<CheckOutcome>, VerifyError> {
        let settings = self.delivery.delivery_settings().await?;
        let pending = self.verify_store.pending_for_context(context).await?;
        for record in pending
            .into_iter()
            .filter(|r| destination.is_none_or(|d| d == r.destination))
        {
            match self.check_record(&settings, &record, code, now).await {
                Ok(outcome) if outcome.approved => return Ok(Some(outcome)),
                Ok(_) | Err(VerifyError::NotFound | VerifyError::MaxCheckAttempts) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(None)
    }

    async fn check_record(
        &self,
        settings: &DeliverySettings,
        record: &VerificationRecord,
        code: &str,
        now: Instant,
    ) -> Result<CheckOutcome, VerifyError> {
        if record.expires_at <= now {
            self.verify_store
                .transition_verification(&record.id, "pending", "expired", now)
                .await?;
            return Err(VerifyError::NotFound);
        }
        let max = settings.service.max_check_attempts;
        let Some(record) = self
            .verify_store
            .reserve_check(&record.id, max, now)
            .await?
        else {
            // Out of checks, or no longer pending: a concurrent check approved it (or it was
            // canceled) since it was read, and then it is gone, as for any later check.
            return Err(
                if self
                    .verify_store
                    .transition_verification(&record.id, "pending", "max_attempts_reached", now)
                    .await?
                {
                    VerifyError::MaxCheckAttempts
                } else {
                    VerifyError::NotFound
                },
            );
        };
        let right = if record.provider == provider_name(Provider::TwilioVerify) {
            let Some(remote) = record.provider_ref.as_deref() else {
                return Err(VerifyError::Delivery {
                    code: None,
                    message: "the code has not been sent yet; try again in a moment".into(),
                });
            };
            match twilio::check_verification(
                &self.http,
                &settings.twilio,
                settings.timeout_seconds,
                remote,
                code,
            )
            .await
            {
                RemoteCheck::Approved => true,
                RemoteCheck::Pending => false,
                RemoteCheck::NotFound => {
                    self.verify_store
                        .transition_verification(&record.id, "pending", "expired", now)
                        .await?;
                    return Err(VerifyError::NotFound);
                }
                RemoteCheck::MaxAttempts => {
                    self.verify_store
                        .transition_verification(&record.id, "pending", "max_attempts_reached", now)
                        .await?;
                    return Err(VerifyError::MaxCheckAttempts);
                }
                RemoteCheck::Failed(SendError::Permanent { code, message }) => {
                    return Err(VerifyError::Delivery { code, message });
                }
                RemoteCheck::Failed(SendError::Transient(message)) => {
                    return Err(VerifyError::Delivery {
                        code: None,
                        message,
                    });
                }
            }
        } else {
            let presented = self.secrets.keyed_hash(CODE_HASH_PURPOSE, code);
            record
                .code_hash
                .as_deref()
                .is_some_and(|stored| bool::from(stored.as_bytes().ct_eq(presented.as_bytes())))
        };
        // Exhausting the attempts shows at the next check (60202), as with Twilio.
        let approved = right
            && self
                .verify_store
                .approve_verification(&record.id, now)
                .await?;
        let verification = self.view(&record.id).await?;
        // A check that raced the approving one (the same code twice, or a wrong code) would
        // otherwise answer `status: approved` for an approval it did not make, and a client
        // reading the status would count two. It answers as a check after the approval does:
        // the verification is gone.
        if !approved && verification.status == Status::Approved {
            return Err(VerifyError::NotFound);
        }
        Ok(CheckOutcome {
            verification,
            approved,
        })
    }

    pub async fn verification_view(&self, sid: &str) -> Result<VerificationView, VerifyError> {
        self.view(sid).await
    }

    async fn view(&self, id: &str) -> Result<VerificationView, VerifyError> {
        let record = self
            .verify_store
            .verification(id)
            .await?
            .ok_or(VerifyError::NotFound)?;
        let sends = self
            .verify_store
            .verification_sends(id)
            .await?
            .into_iter()
            .filter_map(|(sid, channel, at)| channel.parse().ok().map(|c| (sid, c, at)))
            .collect();
        Ok(VerificationView {
            sid: record.id.clone(),
            service_id: record.service_id.clone(),
            to: record.destination.clone(),
            channel: record.channel.parse().unwrap_or(Channel::Sms),
            status: Status::parse(&record.status).unwrap_or(Status::Failed),
            send_attempts: sends,
            created_at: record.created_at,
            updated_at: record.updated_at,
            expires_at: record.expires_at,
        })
    }

    fn new_message(
        &self,
        settings: &DeliverySettings,
        verification_id: &str,
        request: &StartRequest<'_>,
        locale: &str,
        code: &str,
    ) -> NewMessage {
        let id = sid("MM");
        let (sender, body) = match settings.provider {
            // Twilio Verify writes its own message; the body carries only the locale.
            Provider::TwilioVerify => ("twilio_verify", locale.to_owned()),
            Provider::Builtin => (
                sender_name(settings.sender),
                message_text(&settings.service, request.channel, locale, code),
            ),
        };
        NewMessage {
            body: self.secrets.seal(body.as_bytes(), &message_context(&id)),
            idempotency_key: format!("{verification_id}:{id}"),
            id,
            verification_id: Some(verification_id.to_owned()),
            sender: sender.to_owned(),
            channel: request.channel.as_str().to_owned(),
            destination: request.destination.as_str().to_owned(),
            subject: None,
        }
    }

    /// The shared limits: per user, per client IP, per country, overall and per destination,
    /// taken all at once or not at all.
    pub(super) async fn check_send_limits(
        &self,
        settings: &DeliverySettings,
        request: &StartRequest<'_>,
        now: Instant,
    ) -> Result<(), VerifyError> {
        let guard = &settings.fraud_guard;
        if !guard.enabled {
            return Ok(());
        }
        let country = match &request.destination {
            Destination::Phone(phone) => match phone.region() {
                Some(region) => {
                    // A Verify API service sends to its own users, about whom this server's
                    // enrolled numbers say nothing: its sends take the ordinary budget.
                    let known = request.service.is_some()
                        || !guard.allowed_countries.is_empty()
                        || self
                            .two_factor_store
                            .has_enrolled_number_in(&region)
                            .await?;
                    Some(CountryStanding { region, known })
                }
                None => None,
            },
            Destination::Email(_) => None,
        };
        let budgets = send_budgets(
            guard,
            &SendParty {
                service_id: request.service_id,
                destination: request.destination.as_str(),
                user: request.user,
                ip: request.origin.ip.as_deref(),
                own_method: request.own_method,
                country,
            },
        );
        let counters: Vec<Counter> = budgets.iter().map(|b| b.counter(now)).collect();
        let full = self.counter_store.take(&counters).await?;
        let Some(first) = full.first() else {
            return Ok(());
        };
        let scope = budgets[first.position].scope;
        self.audit_refusal(request, &format!("send limit for {}", scope.words()), now)
            .await;
        Err(match scope {
            Scope::Destination => VerifyError::MaxSendAttempts,
            other => VerifyError::RateLimited {
                scope: other.words(),
            },
        })
    }

    async fn audit_send(&self, request: &StartRequest<'_>, verification_id: &str, now: Instant) {
        let actor = request.user.map(Actor::User).unwrap_or(Actor::Anonymous);
        let mut event = AuditEvent::new(EventKind::CodeSent, actor, request.origin, now)
            .detail("channel", request.channel.as_str())
            .detail("to", request.destination.masked())
            .detail("verificationSid", verification_id);
        if let Some(user) = request.user {
            event = event.target(user);
        }
        if let Err(error) = self.audit_store.record_event(&event).await {
            tracing::error!(%error, "cannot write audit event");
        }
    }

    pub(super) async fn audit_refusal(
        &self,
        request: &StartRequest<'_>,
        reason: &str,
        now: Instant,
    ) {
        metrics::counter!("tessera_codes_refused_total").increment(1);
        tracing::info!(target: "security", to = %request.destination.masked(), reason, "code refused");
        let actor = request.user.map(Actor::User).unwrap_or(Actor::Anonymous);
        let mut event = AuditEvent::new(EventKind::CodeRefused, actor, request.origin, now)
            .detail("channel", request.channel.as_str())
            .detail("to", request.destination.masked())
            .detail("reason", reason);
        if let Some(user) = request.user {
            event = event.target(user);
        }
        if let Err(error) = self.audit_store.record_event(&event).await {
            tracing::error!(%error, "cannot write audit event");
        }
    }
}

/// Which verification a check is for.
#[derive(Debug, Clone)]
pub enum VerificationTarget {
    To(Destination),
    Sid(String),
}

/// A Twilio-style sid: two letters and 32 hex digits.
pub fn sid(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

fn code_context(verification_id: &str) -> String {
    format!("verification:{verification_id}")
}

fn provider_name(provider: Provider) -> &'static str {
    match provider {
        Provider::Builtin => "builtin",
        Provider::TwilioVerify => "twilio_verify",
    }
}

pub(super) fn sender_name(sender: SenderKind) -> &'static str {
    match sender {
        SenderKind::Outbox => "outbox",
        SenderKind::Twilio => "twilio",
        SenderKind::Smtp => "smtp",
        SenderKind::Webhook => "webhook",
    }
}

impl From<Invalid> for VerifyError {
    fn from(invalid: Invalid) -> Self {
        VerifyError::Invalid {
            param: "To",
            message: invalid.message,
        }
    }
}
