//! Second factors that travel: codes sent to a phone (by text, call or WhatsApp) or an email
//! address through the verify engine — to enrol a phone or an address, to finish a login, or to
//! prove a method before it is removed.

use super::channels::{self, Offered};
use super::keys::CodeUse;
use super::{AFTER_A_FACTOR_CHANGE, TwoFactor};
use super::{TwoFactorError, preference};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::random;
use crate::domain::{Invalid, MethodId, MethodKind, PhoneNumber, RequestedMethod, UserId};
use crate::otp::TotpSecret;
use crate::policy::TwoFactorPolicy;
use crate::store::{MethodRecord, SessionRecord};
use crate::verify::{Channel, Destination, StartRequest, VerifyError};

/// The verify service Tessera's own second factors use.
pub const SERVICE: &str = "tessera";

pub(crate) fn login_context(challenge_hash: &str) -> String {
    format!("login:{challenge_hash}")
}

pub(crate) fn enroll_context(user: UserId) -> String {
    format!("enroll:{user}")
}

pub(crate) fn method_context(method: &MethodId) -> String {
    format!("method:{method}")
}

pub(crate) fn reauth_context(session_id: &str) -> String {
    format!("reauth:{session_id}")
}

pub(crate) fn phone_change_context(method: &MethodId) -> String {
    format!("change:{method}")
}

/// The kind of method a code sent by `channel` proves.
pub fn kind_of(channel: Channel) -> MethodKind {
    match channel {
        Channel::Sms | Channel::Call | Channel::Whatsapp => MethodKind::Phone,
        Channel::Email => MethodKind::Email,
    }
}

/// Where a method's codes go.
pub fn destination_of(method: &MethodRecord) -> Option<Destination> {
    match method.kind {
        MethodKind::Phone => method.mobile_phone.clone().map(Destination::Phone),
        MethodKind::Email => method.email.clone().map(Destination::Email),
        MethodKind::Authenticator => None,
    }
}

impl From<VerifyError> for TwoFactorError {
    fn from(error: VerifyError) -> Self {
        TwoFactorError::Delivery(error)
    }
}

impl TwoFactor {
    /// Sends the code that finishes a login to one of the user's phone or email methods: the
    /// one named, or else the preferred of those that receive codes; to a phone by the channel
    /// asked for, or else its own (`channels::channel_for`). Codes sent earlier in this login
    /// to other destinations stop working. Answers the method the code went to, and how.
    pub async fn send_login_code(
        &self,
        two_factor_id: &str,
        method_id: Option<&MethodId>,
        channel: Option<Channel>,
        origin: &Origin,
        now: Instant,
    ) -> Result<(MethodId, Channel), TwoFactorError> {
        self.refuse_code_if_key_required(two_factor_id, CodeUse::Sent, origin, now)
            .await?;
        let policy = self.two_factor_policy().await?;
        let challenge_hash = random::lookup_digest(two_factor_id);
        let challenge = self
            .two_factor_store
            .live_challenge(&challenge_hash, policy.max_code_attempts, now)
            .await?
            .ok_or(TwoFactorError::UnknownChallenge)?;
        let methods: Vec<MethodRecord> = self
            .two_factor_store
            .methods(challenge.user_id)
            .await?
            .into_iter()
            .filter(|m| policy.methods.allows(m.kind))
            .collect();
        let method = match method_id {
            Some(named) => methods.iter().find(|m| &m.id == named).ok_or_else(|| {
                TwoFactorError::field(
                    "methodId",
                    Invalid::new("[invalid]", "no such method for this login"),
                )
            })?,
            None => preference::preferred_for_sending(&methods).ok_or_else(|| {
                TwoFactorError::field(
                    "methodId",
                    Invalid::new(
                        "[blank]",
                        "this login has no method that receives codes; use the authenticator app or a recovery code",
                    ),
                )
            })?,
        };
        let (channel, destination) = self.route(method, channel, &policy).await?;
        let context = login_context(&challenge_hash);
        self.verify_store
            .cancel_context(&context, Some(destination.as_str()), now)
            .await?;
        self.verify
            .start_verification(
                &StartRequest {
                    service_id: SERVICE,
                    destination,
                    channel,
                    locale: None,
                    context: Some(context),
                    user: Some(challenge.user_id),
                    own_method: true,
                    origin,
                    service: None,
                },
                now,
            )
            .await?;
        Ok((method.id.clone(), channel))
    }

    /// The channels a phone may hear its codes by now (`channels::phone_channels`).
    pub async fn phone_channels(
        &self,
        policy: &TwoFactorPolicy,
    ) -> Result<Vec<Channel>, TwoFactorError> {
        Ok(self.offered(policy).await?.phone_channels)
    }

    /// What a person may enrol and use now (`channels::Offered`).
    pub async fn offered(&self, policy: &TwoFactorPolicy) -> Result<Offered, TwoFactorError> {
        let carried = self.verify.carried_channels().await?;
        Ok(Offered::new(&policy.methods, &carried))
    }

    /// What a person may enrol and use now, under the settings in force.
    pub async fn offered_now(&self) -> Result<Offered, TwoFactorError> {
        let policy = self.two_factor_policy().await?;
        self.offered(&policy).await
    }

    /// How and where a code to `method` goes: by the channel asked for or its own.
    async fn route(
        &self,
        method: &MethodRecord,
        asked: Option<Channel>,
        policy: &TwoFactorPolicy,
    ) -> Result<(Channel, Destination), TwoFactorError> {
        // Only a phone chooses among channels: an address or an app needs no read of the
        // delivery settings here (the send reads them anyway).
        let offered = match method.kind {
            MethodKind::Phone => self.phone_channels(policy).await?,
            MethodKind::Authenticator | MethodKind::Email => Vec::new(),
        };
        let channel = channels::channel_for(method, asked, &offered).map_err(|e| {
            TwoFactorError::field(
                if asked.is_some() {
                    "channel"
                } else {
                    "methodId"
                },
                e,
            )
        })?;
        let destination = destination_of(method)
            .ok_or_else(|| anyhow::anyhow!("method {} has no destination", method.id))?;
        Ok((channel, destination))
    }

    /// Sends a code to a phone number or an address the user is enrolling; to a phone by the
    /// channel named, or else the first the server offers. Answers the channel.
    pub async fn send_enrollment_code(
        &self,
        user: UserId,
        method: RequestedMethod,
        destination: Destination,
        origin: &Origin,
        now: Instant,
    ) -> Result<Channel, TwoFactorError> {
        self.user_store
            .user(user)
            .await?
            .ok_or(TwoFactorError::UserNotFound)?;
        let policy = self.two_factor_policy().await?;
        let kind = method.kind;
        if !policy.methods.allows(kind) {
            return Err(TwoFactorError::field(
                "method",
                Invalid::new(
                    "[disabled]",
                    format!("the {kind} method is switched off on this server"),
                ),
            ));
        }
        let channel = match kind {
            MethodKind::Authenticator => {
                return Err(TwoFactorError::field(
                    "method",
                    Invalid::new(
                        "[invalid]",
                        "an authenticator needs no code sent; use its app",
                    ),
                ));
            }
            MethodKind::Email => Channel::Email,
            MethodKind::Phone => {
                let offered = self.phone_channels(&policy).await?;
                channels::channel_for_new_phone(method.channel, &offered)
                    .map_err(|e| TwoFactorError::field("method", e))?
            }
        };
        self.verify
            .start_verification(
                &StartRequest {
                    service_id: SERVICE,
                    destination,
                    channel,
                    locale: None,
                    context: Some(enroll_context(user)),
                    user: Some(user),
                    own_method: false,
                    origin,
                    service: None,
                },
                now,
            )
            .await?;
        Ok(channel)
    }

    /// The legacy enrolment: a code for `{mobilePhone, secret}`, which enabling with the same
    /// secret finds. The request need not name the user; when it does (a user's own call, or an
    /// API key's with `userId`) the send counts against that user's limit like any other.
    pub async fn send_legacy_enrollment_code(
        &self,
        user: Option<UserId>,
        destination: Destination,
        secret: &TotpSecret,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), TwoFactorError> {
        self.verify
            .start_verification(
                &StartRequest {
                    service_id: SERVICE,
                    destination,
                    channel: Channel::Sms,
                    locale: None,
                    context: Some(self.legacy_context(secret)),
                    user,
                    own_method: false,
                    origin,
                    service: None,
                },
                now,
            )
            .await?;
        Ok(())
    }

    pub(crate) fn legacy_context(&self, secret: &TotpSecret) -> String {
        format!(
            "enroll-secret:{}",
            self.secrets
                .keyed_hash("legacy-enrollment", &secret.to_base32())
        )
    }

    /// Sends a code to one of the user's methods (to prove it before removing it).
    pub async fn send_method_code(
        &self,
        user: UserId,
        method_id: &MethodId,
        channel: Option<Channel>,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), TwoFactorError> {
        let context = method_context(method_id);
        self.send_to_method(user, method_id, channel, context, origin, now)
            .await
    }

    /// Sends a code for `context` to where one of the user's phone or email methods points, by
    /// the channel asked for or the method's own.
    async fn send_to_method(
        &self,
        user: UserId,
        method_id: &MethodId,
        channel: Option<Channel>,
        context: String,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), TwoFactorError> {
        let methods = self.two_factor_store.methods(user).await?;
        let method = methods.iter().find(|m| &m.id == method_id).ok_or_else(|| {
            TwoFactorError::field(
                "methodId",
                Invalid::new("[invalid]", "this user has no method with this id"),
            )
        })?;
        let policy = self.two_factor_policy().await?;
        let (channel, destination) = self.route(method, channel, &policy).await?;
        self.verify
            .start_verification(
                &StartRequest {
                    service_id: SERVICE,
                    destination,
                    channel,
                    locale: None,
                    context: Some(context),
                    user: Some(user),
                    own_method: true,
                    origin,
                    service: None,
                },
                now,
            )
            .await?;
        Ok(())
    }

    /// Sends a code to the new number of a phone method, by the channel asked for or the
    /// phone's own: the old number keeps working until the new one is confirmed with
    /// [`TwoFactor::change_method_phone`]. Answers the channel.
    pub async fn send_phone_change_code(
        &self,
        user: UserId,
        method_id: &MethodId,
        phone: PhoneNumber,
        channel: Option<Channel>,
        origin: &Origin,
        now: Instant,
    ) -> Result<Channel, TwoFactorError> {
        let method = self.phone_method_of(user, method_id).await?;
        let policy = self.two_factor_policy().await?;
        let offered = self.phone_channels(&policy).await?;
        let channel = channels::channel_for(&method, channel, &offered)
            .map_err(|e| TwoFactorError::field("channel", e))?;
        self.verify
            .start_verification(
                &StartRequest {
                    service_id: SERVICE,
                    destination: Destination::Phone(phone),
                    channel,
                    locale: None,
                    context: Some(phone_change_context(method_id)),
                    user: Some(user),
                    own_method: false,
                    origin,
                    service: None,
                },
                now,
            )
            .await?;
        Ok(channel)
    }

    /// Replaces a phone method's number once the code sent to the new number is confirmed.
    #[allow(clippy::too_many_arguments)]
    pub async fn change_method_phone(
        &self,
        user: UserId,
        method_id: &MethodId,
        phone: &PhoneNumber,
        code: &str,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), TwoFactorError> {
        self.phone_method_of(user, method_id).await?;
        let context = phone_change_context(method_id);
        let pending = self.verify_store.pending_for_context(&context).await?;
        if !pending.iter().any(|v| v.destination == phone.e164()) {
            return Err(TwoFactorError::field(
                "mobilePhone",
                Invalid::new(
                    "[mismatch]",
                    "no code was sent to this number; ask for one first",
                ),
            ));
        }
        let code = match super::PresentedCode::parse(code)? {
            super::PresentedCode::Numeric(code) => code,
            super::PresentedCode::Recovery(_) => {
                return Err(TwoFactorError::field(
                    "code",
                    Invalid::new("[invalid]", "give the code sent to the new number"),
                ));
            }
        };
        let guess = self.count_guess(user, "phone_change", origin, now).await?;
        if self
            .verify
            .check_context(&context, Some(phone.e164()), code.as_str(), now)
            .await?
            .is_none()
        {
            return Err(self.wrong_guess(guess, origin, now).await);
        }
        self.right_guess(guess).await?;
        let event = AuditEvent::new(EventKind::PhoneChange, actor, origin, now)
            .target(user)
            .detail("methodId", method_id.as_str())
            .detail("to", phone.masked());
        // The method may have been removed since it was read: then nothing changed, and the
        // answer says so rather than 200.
        let changed = match self
            .two_factor_store
            .change_method_phone(user, method_id, phone, AFTER_A_FACTOR_CHANGE, &event)
            .await
        {
            Err(crate::store::StoreError::Duplicate { field }) => {
                return Err(TwoFactorError::field(
                    field,
                    Invalid::new("[duplicate]", "this phone number is already enrolled"),
                ));
            }
            other => other?,
        };
        if !changed {
            return Err(TwoFactorError::field(
                "methodId",
                Invalid::new("[invalid]", "this user has no phone method with this id"),
            ));
        }
        tracing::info!(target: "security", user = %user, method = %method_id, "verified phone changed");
        Ok(())
    }

    /// A person moves their phone method to a new number from their signed-in session: changed
    /// as `change_method_phone` does, and the session counts the code just proven as its
    /// second factor.
    pub async fn change_method_phone_in_session(
        &self,
        session: &SessionRecord,
        method_id: &MethodId,
        phone: &PhoneNumber,
        code: &str,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), TwoFactorError> {
        let user = session.user_id;
        self.change_method_phone(user, method_id, phone, code, Actor::User(user), origin, now)
            .await?;
        self.sessions
            .credit_second_factor(session, MethodKind::Phone.amr(), now)
            .await?;
        Ok(())
    }

    async fn phone_method_of(
        &self,
        user: UserId,
        method_id: &MethodId,
    ) -> Result<MethodRecord, TwoFactorError> {
        self.two_factor_store
            .methods(user)
            .await?
            .into_iter()
            .find(|m| &m.id == method_id && m.kind == MethodKind::Phone)
            .ok_or_else(|| {
                TwoFactorError::field(
                    "methodId",
                    Invalid::new("[invalid]", "this user has no phone method with this id"),
                )
            })
    }

    /// Sends a code for re-authenticating a session to one of the user's methods.
    pub async fn send_reauth_code(
        &self,
        user: UserId,
        session_id: &str,
        method_id: &MethodId,
        channel: Option<Channel>,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), TwoFactorError> {
        let context = reauth_context(session_id);
        self.send_to_method(user, method_id, channel, context, origin, now)
            .await
    }

    /// During a login that must enrol first: sends the code that proves a new phone or address.
    pub async fn send_enrollment_code_during_login(
        &self,
        two_factor_id: &str,
        method: RequestedMethod,
        destination: Destination,
        origin: &Origin,
        now: Instant,
    ) -> Result<Channel, TwoFactorError> {
        let pending = self
            .pending_login(two_factor_id, now)
            .await?
            .ok_or(TwoFactorError::UnknownChallenge)?;
        if !pending.must_enrol() {
            return Err(TwoFactorError::Forbidden(
                "this login must be finished with a code from a method already enrolled".into(),
            ));
        }
        self.refuse_code_if_key_required(two_factor_id, CodeUse::Enrolment, origin, now)
            .await?;
        self.send_enrollment_code(pending.user.id, method, destination, origin, now)
            .await
    }

    /// The user's first method with a phone (for the legacy `{userId}` send).
    pub async fn phone_method(&self, user: UserId) -> Result<MethodId, TwoFactorError> {
        self.two_factor_store
            .methods(user)
            .await?
            .into_iter()
            .find(|m| m.kind == MethodKind::Phone)
            .map(|m| m.id)
            .ok_or_else(|| {
                TwoFactorError::field(
                    "userId",
                    Invalid::new(
                        "[invalid]",
                        "this user has no phone method to send a code to",
                    ),
                )
            })
    }
}
