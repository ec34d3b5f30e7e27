//! The form parameters of the Verify API, for the OpenAPI document. The handlers read the same
//! names from the body themselves (Twilio ignores parameters it does not know, and so do they).

use utoipa::ToSchema;

#[derive(ToSchema)]
#[schema(rename_all = "PascalCase")]
pub struct CreateServiceForm {
    /// 1 to 30 characters; named in the message.
    #[schema(min_length = 1, max_length = 30)]
    pub friendly_name: String,
    #[schema(minimum = 4, maximum = 10)]
    pub code_length: Option<i64>,
    pub do_not_share_warning_enabled: Option<bool>,
    pub custom_code_enabled: Option<bool>,
    #[schema(rename = "Totp.Issuer")]
    pub totp_issuer: Option<String>,
    #[schema(rename = "Totp.TimeStep", minimum = 20, maximum = 60)]
    pub totp_time_step: Option<i64>,
    #[schema(rename = "Totp.CodeLength", minimum = 3, maximum = 8)]
    pub totp_code_length: Option<i64>,
    #[schema(rename = "Totp.Skew", minimum = 0, maximum = 2)]
    pub totp_skew: Option<i64>,
}

#[derive(ToSchema)]
#[schema(rename_all = "PascalCase")]
pub struct UpdateServiceForm {
    #[schema(min_length = 1, max_length = 30)]
    pub friendly_name: Option<String>,
    #[schema(minimum = 4, maximum = 10)]
    pub code_length: Option<i64>,
    pub do_not_share_warning_enabled: Option<bool>,
    pub custom_code_enabled: Option<bool>,
    #[schema(rename = "Totp.Issuer")]
    pub totp_issuer: Option<String>,
    #[schema(rename = "Totp.TimeStep", minimum = 20, maximum = 60)]
    pub totp_time_step: Option<i64>,
    #[schema(rename = "Totp.CodeLength", minimum = 3, maximum = 8)]
    pub totp_code_length: Option<i64>,
    #[schema(rename = "Totp.Skew", minimum = 0, maximum = 2)]
    pub totp_skew: Option<i64>,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum ChannelName {
    Sms,
    Call,
    Email,
    Whatsapp,
}

#[derive(ToSchema)]
#[schema(rename_all = "PascalCase")]
pub struct CreateVerificationForm {
    /// An E.164 phone number, or an email address for the email channel.
    pub to: String,
    pub channel: ChannelName,
    /// 4 to 10 digits, when the service allows custom codes.
    #[schema(pattern = "^[0-9]{4,10}$")]
    pub custom_code: Option<String>,
    pub custom_friendly_name: Option<String>,
    pub locale: Option<String>,
    /// A JSON object of rate limit unique names and the values to count them by.
    pub rate_limits: Option<String>,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum VerificationStatusChange {
    Canceled,
    Approved,
}

#[derive(ToSchema)]
#[schema(rename_all = "PascalCase")]
pub struct UpdateVerificationForm {
    pub status: VerificationStatusChange,
}

#[derive(ToSchema)]
#[schema(rename_all = "PascalCase")]
pub struct VerificationCheckForm {
    pub code: String,
    /// The destination of a pending verification (or give its VerificationSid).
    pub to: Option<String>,
    pub verification_sid: Option<String>,
}

#[derive(ToSchema)]
#[schema(rename_all = "PascalCase")]
pub struct CreateEntityForm {
    /// The application's id of its user.
    pub identity: String,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum FactorTypeName {
    Totp,
}

#[derive(ToSchema)]
#[schema(rename_all = "PascalCase")]
pub struct CreateFactorForm {
    pub factor_type: FactorTypeName,
    pub friendly_name: String,
    /// A base32 key to use instead of a fresh one.
    #[schema(rename = "Binding.Secret")]
    pub binding_secret: Option<String>,
    /// sha1, sha256 or sha512.
    #[schema(rename = "Config.Alg")]
    pub config_alg: Option<String>,
    #[schema(rename = "Config.CodeLength", minimum = 3, maximum = 8)]
    pub config_code_length: Option<i64>,
    #[schema(rename = "Config.TimeStep", minimum = 20, maximum = 60)]
    pub config_time_step: Option<i64>,
    #[schema(rename = "Config.Skew", minimum = 0, maximum = 2)]
    pub config_skew: Option<i64>,
}

#[derive(ToSchema)]
#[schema(rename_all = "PascalCase")]
pub struct AuthPayloadForm {
    /// The code the authenticator app shows.
    pub auth_payload: String,
}

#[derive(ToSchema)]
#[schema(rename_all = "PascalCase")]
pub struct CreateChallengeForm {
    pub factor_sid: String,
    /// The code, to answer at once.
    pub auth_payload: Option<String>,
}

#[derive(ToSchema)]
#[schema(rename_all = "PascalCase")]
pub struct CreateRateLimitForm {
    /// Letters, digits, `_` or `-`, at most 64.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub unique_name: String,
    pub description: Option<String>,
}

#[derive(ToSchema)]
#[schema(rename_all = "PascalCase")]
pub struct UpdateRateLimitForm {
    pub description: Option<String>,
}

#[derive(ToSchema)]
#[schema(rename_all = "PascalCase")]
pub struct CreateBucketForm {
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub max: i64,
    /// Seconds.
    #[schema(minimum = 1, maximum = 86_400)]
    pub interval: i64,
}

#[derive(ToSchema)]
#[schema(rename_all = "PascalCase")]
pub struct UpdateBucketForm {
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub max: Option<i64>,
    #[schema(minimum = 1, maximum = 86_400)]
    pub interval: Option<i64>,
}
