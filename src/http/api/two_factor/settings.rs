//! The settings administrators keep through the API: the two-factor policy, the welcome step,
//! code delivery, the accounts, the security notices and forward-auth's access rules. Each is a document read whole (`GET`) and replaced whole
//! (`PUT`), so one pair of helpers serves them all.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::account_policy::AccountSettings;
use crate::audit::{Actor, Origin};
use crate::clock::Instant;
use crate::core::Core;
use crate::forward_auth::AccessRulesDocument;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiKeyAuth, RequestOrigin};
use crate::notices::NoticeSettings;
use crate::policy::TwoFactorPolicy;
use crate::verify::{
    Channel, DeliveryChange, DeliverySettings, Destination, SenderKind, TestMessage, TestOutcome,
    VerifyError,
};
use crate::welcome::WelcomeSettings;

/// A settings document: what `GET` answers, and what `PUT` replaces and answers as stored.
trait SettingsDocument: Sized {
    async fn read(core: &Core) -> Result<Self, ApiError>;

    async fn replace(
        self,
        core: &Core,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Self, ApiError>;
}

async fn read_settings<S: SettingsDocument>(state: &AppState) -> Result<Json<S>, ApiError> {
    Ok(Json(S::read(&state.core).await?))
}

async fn replace_settings<S: SettingsDocument>(
    state: &AppState,
    ApiKeyAuth(key): ApiKeyAuth,
    origin: &Origin,
    body: S,
) -> Result<Json<S>, ApiError> {
    let stored = body
        .replace(&state.core, Actor::ApiKey(key.id), origin, Instant::now())
        .await?;
    Ok(Json(stored))
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsBody {
    two_factor: TwoFactorPolicy,
}

impl SettingsDocument for SettingsBody {
    async fn read(core: &Core) -> Result<Self, ApiError> {
        Ok(Self {
            two_factor: core.two_factor.two_factor_policy().await?,
        })
    }

    async fn replace(
        self,
        core: &Core,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Self, ApiError> {
        core.two_factor
            .set_two_factor_policy(&self.two_factor, actor, origin, now)
            .await?;
        Ok(self)
    }
}

/// `GET /api/system/two-factor`: the two-factor settings in force.
#[utoipa::path(
    get, path = "/api/system/two-factor", tag = "administration",
    security(("apiKey" = [])),
    responses((status = 200, description = "The two-factor policy", body = SettingsBody))
)]
pub async fn settings(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
) -> Result<Json<SettingsBody>, ApiError> {
    read_settings(&state).await
}

/// `PUT /api/system/two-factor`: replaces them (absent fields take their defaults). Applies to
/// the next login on every node.
#[utoipa::path(
    put, path = "/api/system/two-factor", tag = "administration",
    security(("apiKey" = [])),
    request_body = SettingsBody,
    responses((status = 200, description = "The two-factor policy, as stored", body = SettingsBody))
)]
pub async fn update_settings(
    State(state): State<AppState>,
    key: ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<SettingsBody>,
) -> Result<Json<SettingsBody>, ApiError> {
    replace_settings(&state, key, &origin, body).await
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WelcomeBody {
    welcome: WelcomeSettings,
}

impl SettingsDocument for WelcomeBody {
    async fn read(core: &Core) -> Result<Self, ApiError> {
        Ok(Self {
            welcome: core.welcome.welcome_settings().await?,
        })
    }

    async fn replace(
        self,
        core: &Core,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Self, ApiError> {
        core.welcome
            .set_welcome_settings(&self.welcome, actor, origin, now)
            .await?;
        Ok(self)
    }
}

/// `GET /api/system/welcome`: the profile fields and terms the welcome step asks for.
#[utoipa::path(
    get, path = "/api/system/welcome", tag = "administration",
    security(("apiKey" = [])),
    responses((status = 200, description = "The welcome step: terms and required profile fields", body = WelcomeBody))
)]
pub async fn welcome_settings(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
) -> Result<Json<WelcomeBody>, ApiError> {
    read_settings(&state).await
}

/// `PUT /api/system/welcome`: a higher `termsVersion` asks every user to accept again.
#[utoipa::path(
    put, path = "/api/system/welcome", tag = "administration",
    security(("apiKey" = [])),
    request_body = WelcomeBody,
    responses((status = 200, description = "The welcome step: terms and required profile fields, as stored", body = WelcomeBody))
)]
pub async fn update_welcome_settings(
    State(state): State<AppState>,
    key: ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<WelcomeBody>,
) -> Result<Json<WelcomeBody>, ApiError> {
    replace_settings(&state, key, &origin, body).await
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountsBody {
    accounts: AccountSettings,
}

impl SettingsDocument for AccountsBody {
    async fn read(core: &Core) -> Result<Self, ApiError> {
        Ok(Self {
            accounts: core.addresses.account_settings().await?,
        })
    }

    async fn replace(
        self,
        core: &Core,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Self, ApiError> {
        let accounts = core
            .addresses
            .set_account_settings(self.accounts, actor, origin, now)
            .await?;
        Ok(Self { accounts })
    }
}

/// `GET /api/system/accounts`: whether an email address not yet verified may log in, and whether
/// people may make their own accounts (and with which email domains).
#[utoipa::path(
    get, path = "/api/system/accounts", tag = "administration",
    security(("apiKey" = [])),
    responses((status = 200, description = "The account settings", body = AccountsBody))
)]
pub async fn account_settings(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
) -> Result<Json<AccountsBody>, ApiError> {
    read_settings(&state).await
}

/// `PUT /api/system/accounts`: replaces them (absent fields take their defaults). Applies to the
/// next login or sign-up on every node.
#[utoipa::path(
    put, path = "/api/system/accounts", tag = "administration",
    security(("apiKey" = [])),
    request_body = AccountsBody,
    responses(
        (status = 200, description = "The account settings, as stored (the domains of `registrationDomains` in lowercase, once each)", body = AccountsBody),
        (status = 400, description = "An entry of `accounts.registrationDomains` is not a domain name", body = crate::http::error::Errors),
    )
)]
pub async fn update_account_settings(
    State(state): State<AppState>,
    key: ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<AccountsBody>,
) -> Result<Json<AccountsBody>, ApiError> {
    replace_settings(&state, key, &origin, body).await
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NoticesBody {
    notices: NoticeSettings,
}

impl SettingsDocument for NoticesBody {
    async fn read(core: &Core) -> Result<Self, ApiError> {
        Ok(Self {
            notices: core.notices.settings().await?,
        })
    }

    async fn replace(
        self,
        core: &Core,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Self, ApiError> {
        core.notices
            .set_settings(&self.notices, actor, origin, now)
            .await?;
        Ok(self)
    }
}

/// `GET /api/system/notices`: which security notices are sent, by email and text, and the
/// operator's own texts.
#[utoipa::path(
    get, path = "/api/system/notices", tag = "administration",
    security(("apiKey" = [])),
    responses((status = 200, description = "The security notice settings", body = NoticesBody))
)]
pub async fn notice_settings(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
) -> Result<Json<NoticesBody>, ApiError> {
    read_settings(&state).await
}

/// `PUT /api/system/notices`: replaces them (absent fields take their defaults). A template
/// that is misnamed, too long, or lacks the `{link}` it must hold is refused with its key.
#[utoipa::path(
    put, path = "/api/system/notices", tag = "administration",
    security(("apiKey" = [])),
    request_body = NoticesBody,
    responses(
        (status = 200, description = "The security notice settings, as stored", body = NoticesBody),
        (status = 400, description = "A template is refused: the error names its key"),
    )
)]
pub async fn update_notice_settings(
    State(state): State<AppState>,
    key: ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<NoticesBody>,
) -> Result<Json<NoticesBody>, ApiError> {
    replace_settings(&state, key, &origin, body).await
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeliveryBody {
    delivery: DeliverySettings,
}

/// Secrets are write-only: they read as "set", and one left out of a replacement keeps its
/// value.
impl SettingsDocument for DeliveryBody {
    async fn read(core: &Core) -> Result<Self, ApiError> {
        let settings = core
            .delivery
            .delivery_settings()
            .await
            .map_err(ApiError::Internal)?;
        Ok(Self {
            delivery: settings.redacted(),
        })
    }

    async fn replace(
        self,
        core: &Core,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Self, ApiError> {
        let stored = core
            .delivery
            .change_delivery_settings(
                DeliveryChange::Whole(Box::new(self.delivery)),
                actor,
                origin,
                now,
            )
            .await?;
        Ok(Self { delivery: stored })
    }
}

/// `GET /api/system/delivery`: provider, sender, service, Twilio and fraud-guard settings in
/// force; secrets read as "set".
#[utoipa::path(
    get, path = "/api/system/delivery", tag = "administration",
    security(("apiKey" = [])),
    responses((status = 200, description = "The code delivery settings (secrets are never shown)", body = DeliveryBody))
)]
pub async fn delivery_settings(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
) -> Result<Json<DeliveryBody>, ApiError> {
    read_settings(&state).await
}

/// `PUT /api/system/delivery`: replaces them; a secret left out or given as "set" keeps its
/// value (they are write-only). Applies to the next code sent, on every node.
#[utoipa::path(
    put, path = "/api/system/delivery", tag = "administration",
    security(("apiKey" = [])),
    request_body = DeliveryBody,
    responses((status = 200, description = "The code delivery settings (secrets are never shown), as stored", body = DeliveryBody))
)]
pub async fn update_delivery_settings(
    State(state): State<AppState>,
    key: ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<DeliveryBody>,
) -> Result<Json<DeliveryBody>, ApiError> {
    replace_settings(&state, key, &origin, body).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeliveryTestBody {
    /// The sender to try, whichever is in force: `outbox`, `twilio`, `smtp` or `webhook`.
    sender: SenderKind,
    /// A phone number with its country code, or an email address.
    to: String,
    /// `sms`, `call`, `whatsapp` or `email`; by default `email` for an address, `sms` for a
    /// number.
    channel: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryTestResponse {
    /// Whether the sender took the message.
    delivered: bool,
    /// What the sender answered (a mail server's queue id, a Twilio sid), when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
    /// Why the sender could not deliver it, in its own words.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// `POST /api/system/delivery/test`: a message with the text of a code, through one sender with
/// the settings in force, sent once and at once: the answer is the sender's outcome. Screened
/// and counted by the fraud guard as a code is, and audited (`delivery.test`).
#[utoipa::path(
    post, path = "/api/system/delivery/test", tag = "administration",
    security(("apiKey" = [])),
    request_body = DeliveryTestBody,
    responses(
        (status = 200, description = "The sender's outcome: delivered, or its error", body = DeliveryTestResponse),
        (status = 400, description = "The destination or channel is refused", body = crate::http::error::Errors),
        (status = 403, description = "The fraud guard refuses the destination", body = crate::http::error::Errors),
        (status = 429, description = "A send limit is reached", body = crate::http::error::Errors),
    )
)]
pub async fn test_delivery(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<DeliveryTestBody>,
) -> Result<Json<DeliveryTestResponse>, ApiError> {
    let destination =
        Destination::parse(&body.to).map_err(|e| ApiError::field("to", e.code, e.message))?;
    let channel = match body.channel.as_deref() {
        Some(name) => name.parse::<Channel>().map_err(|_| {
            ApiError::field(
                "channel",
                "[invalid]",
                format!("unknown channel {name:?}; use sms, call, whatsapp or email"),
            )
        })?,
        None => match destination {
            Destination::Email(_) => Channel::Email,
            Destination::Phone(_) => Channel::Sms,
        },
    };
    let test = TestMessage {
        sender: body.sender,
        destination,
        channel,
        actor: Actor::ApiKey(key.id),
        origin: &origin,
    };
    let outcome = state
        .core
        .verify
        .send_test_message(&test, Instant::now())
        .await
        .map_err(|error| match error {
            VerifyError::Invalid { message, .. } => {
                ApiError::field("channel", "[invalid]", message)
            }
            other => ApiError::from(other),
        })?;
    Ok(Json(match outcome {
        TestOutcome::Delivered { reference } => DeliveryTestResponse {
            delivered: true,
            reference,
            error: None,
        },
        TestOutcome::Failed { message } => DeliveryTestResponse {
            delivered: false,
            reference: None,
            error: Some(message),
        },
    }))
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessRulesBody {
    access_rules: AccessRulesDocument,
}

impl SettingsDocument for AccessRulesBody {
    async fn read(core: &Core) -> Result<Self, ApiError> {
        Ok(Self {
            access_rules: core.forward_auth.access_rules().await?,
        })
    }

    async fn replace(
        self,
        core: &Core,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<Self, ApiError> {
        let access_rules = core
            .forward_auth
            .set_access_rules(&self.access_rules, actor, origin, now)
            .await?;
        Ok(Self { access_rules })
    }
}

/// `GET /api/system/access-rules`: the rules reverse proxies' requests are decided by
/// (forward-auth), in order, and the default policy.
#[utoipa::path(
    get, path = "/api/system/access-rules", tag = "administration",
    security(("apiKey" = [])),
    responses((status = 200, description = "The access rules", body = AccessRulesBody))
)]
pub async fn access_rules(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
) -> Result<Json<AccessRulesBody>, ApiError> {
    read_settings(&state).await
}

/// `PUT /api/system/access-rules`: replaces them whole. A rule that does not read is refused
/// with its index and field (`accessRules.rules[2].networks[0]`), and nothing changes. Applies
/// on every node within a second.
#[utoipa::path(
    put, path = "/api/system/access-rules", tag = "administration",
    security(("apiKey" = [])),
    request_body = AccessRulesBody,
    responses(
        (status = 200, description = "The access rules, as stored", body = AccessRulesBody),
        (status = 400, description = "A rule that does not read, named by its index and field"),
        (status = 409, description = "The rules are kept in the file `forward_auth.access_rules_file` names: change them there"),
    )
)]
pub async fn update_access_rules(
    State(state): State<AppState>,
    key: ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<AccessRulesBody>,
) -> Result<Json<AccessRulesBody>, ApiError> {
    replace_settings(&state, key, &origin, body).await
}
