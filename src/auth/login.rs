use super::{Logins, password_guard};
use crate::account_policy::{self, AccountSettings};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::{PasswordHash, Verification, random};
use crate::domain::LoginType;
use crate::domain::{Channel, LoginId, Password, User, UserId};
use crate::key_policy::KeyKind;
use crate::limits::retry_after_seconds;
use crate::policy::TwoFactorPolicy;
use crate::policy::{Decision, LoginFacts, decide};
use crate::recovery::LinkIssued;
use crate::sessions::IssuedTokens;
use crate::store::{
    MethodRecord, NewChallenge, PasswordStep, PasswordStepStatements, StoreError, UserWithHash,
};
use crate::two_factor::{IssuedTrust, SETTINGS_KEY, TwoFactorError, policy_from_stored};
use crate::two_factor::{TwoFactor, preference};

#[derive(Debug, Clone)]
pub struct LoginRequest {
    pub login_id: LoginId,
    pub password: Password,
    pub application_id: Option<String>,
    pub login_type: LoginType,
    /// A `twoFactorTrustId` from an earlier login on this computer.
    pub trust_token: Option<String>,
    /// The browser's long-lived id cookie, which a trust given on the pages is bound to.
    pub browser_id: Option<String>,
    /// "Remember me" on the login page: the web session lives longer, its cookie past the
    /// browser's session. Kept with the challenge when a second factor is due.
    pub remember_me: bool,
}

/// What a right password leads to.
#[derive(Debug)]
pub enum LoginOutcome {
    /// Logged in. `trust`: the new token of the trusted computer that spared the second
    /// factor, which the client keeps in place of the one it sent (spent now).
    Complete {
        user: User,
        tokens: IssuedTokens,
        trust: Option<IssuedTrust>,
    },
    /// A second factor is due: finish with the `two_factor_id`. `methods` are the ones the user
    /// may use; empty means the user must enrol one first.
    SecondFactor {
        user: User,
        two_factor_id: String,
        methods: Vec<MethodRecord>,
        /// The method a code was already sent to, unasked (`sendCodeOnLogin`).
        code_sent_to: Option<crate::domain::MethodId>,
        /// How long the `two_factor_id` waits: longer when the user must enrol first.
        waits_seconds: i64,
    },
    /// The password is a temporary one an administrator set: no session and no second factor
    /// yet, but a one-time link to choose one's own, after which the login starts again.
    PasswordChangeRequired { user: User, link: LinkIssued },
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// No such user, or the wrong password: the two are never told apart.
    #[error("unknown user or wrong password")]
    WrongCredentials,
    /// The password was right but the account is disabled.
    #[error("the account is disabled")]
    Inactive,
    /// The password was right, but the account (a self-registration) waits for its address to
    /// be verified. A new link was sent to it (`sent_to`, masked), unless a send budget is full.
    #[error("the account's email address is not verified yet")]
    EmailNotVerified { sent_to: Option<String> },
    /// The password was right, but too many wrong second-factor codes came lately.
    #[error("too many wrong codes; try again in {retry_after_seconds} seconds")]
    TwoFactorBlocked { retry_after_seconds: i64 },
    /// Too many wrong passwords came from this address (for this account, or for any): the
    /// password was not compared.
    #[error(
        "too many wrong passwords from this address; try again in {retry_after_seconds} seconds"
    )]
    Throttled { retry_after_seconds: i64 },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<TwoFactorError> for LoginError {
    fn from(error: TwoFactorError) -> Self {
        match error {
            TwoFactorError::Internal(e) => LoginError::Internal(e),
            other => LoginError::Internal(anyhow::anyhow!("{other}")),
        }
    }
}

impl Logins {
    /// Checks a password login, then asks the policy whether a second factor is due. Every path
    /// costs one Argon2id verification (a dummy one when the user does not exist), so the
    /// answer's timing does not tell who has an account.
    pub async fn login(
        &self,
        request: &LoginRequest,
        origin: &Origin,
        now: Instant,
    ) -> Result<LoginOutcome, LoginError> {
        let found = self.check_password(request, origin, now).await?;
        if found.user.password_change_required {
            let link = self
                .recovery
                .required_change_link(&found, origin, now)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            return Ok(LoginOutcome::PasswordChangeRequired {
                user: found.user,
                link,
            });
        }
        let user = found.user;
        let browser = request.browser_id.as_deref();
        let mut trusted = match &request.trust_token {
            // An account many wrong passwords came for lately gets no trusted computer's
            // pass: its owner gives the second factor, and nobody is locked out.
            Some(token) if !self.under_attack(user.id, request, now).await? => self
                .two_factor
                .presented_trust(user.id, token, browser, origin, now)
                .await?
                .is_some(),
            _ => false,
        };
        let two_factor_id = random::token(32);
        let (decided, trust) = loop {
            let decided = self
                .two_factor_store
                .after_password(AfterPassword {
                    user: user.clone(),
                    trusted,
                    login_type: request.login_type,
                    application_id: request.application_id.clone(),
                    remember_me: request.remember_me,
                    challenge_id_hash: random::lookup_digest(&two_factor_id),
                    defaults: self.two_factor.configured_policy().clone(),
                    origin: origin.clone(),
                    now,
                })
                .await
                .map_err(anyhow::Error::from)?;
            let (true, Some(token)) = (decided.spared_by_trust, &request.trust_token) else {
                break (decided, None);
            };
            // The trust is used: its token is spent for a new one. A login that lost the race
            // for it to another one is asked for its code, as if it had brought no trust.
            match self
                .two_factor
                .renew_trust(user.id, token, browser, now)
                .await?
            {
                Some(renewed) => break (decided, Some(renewed)),
                None => trusted = false,
            }
        };
        let Decided {
            policy,
            methods,
            recent_failures,
            decision,
            blocked,
            ..
        } = decided;
        let waits_seconds = policy.challenge_lifetime_seconds(&decision);
        let usable: Vec<MethodRecord> = match decision {
            Decision::Grant => {
                let mut amr = vec!["pwd".to_owned()];
                if trust.is_some() {
                    // The second factor was given on this computer within the trust period.
                    amr.push("trusted".to_owned());
                }
                let remembered = self
                    .sessions
                    .remembers(request.login_type, request.remember_me);
                let mut event =
                    AuditEvent::new(EventKind::LoginSuccess, Actor::User(user.id), origin, now)
                        .target(user.id)
                        .detail("amr", amr.clone())
                        .detail("loginType", request.login_type.as_str());
                if remembered {
                    event = event.detail("rememberMe", true);
                }
                let (session, refresh_token) = self.sessions.new_session(
                    user.id,
                    request.login_type,
                    amr,
                    request.application_id.clone(),
                    remembered,
                    origin,
                    now,
                );
                let tokens = self
                    .sessions
                    .open_session(&user, session, refresh_token, &event)
                    .await?;
                metrics::counter!("tessera_logins_total", "outcome" => "success").increment(1);
                tracing::info!(target: "security", user = %user.id, "login succeeded");
                return Ok(LoginOutcome::Complete {
                    user,
                    tokens,
                    trust,
                });
            }
            Decision::Challenge(kinds) => methods
                .into_iter()
                .filter(|m| kinds.contains(&m.kind))
                .collect(),
            Decision::Enroll => Vec::new(),
        };
        if blocked {
            // No challenge was opened.
            let event = AuditEvent::new(
                EventKind::TwoFactorBlocked,
                Actor::User(user.id),
                origin,
                now,
            )
            .target(user.id)
            .detail("recentFailures", recent_failures);
            self.audit_store
                .record_event(&event)
                .await
                .map_err(anyhow::Error::from)?;
            metrics::counter!("tessera_logins_total", "outcome" => "two_factor_blocked")
                .increment(1);
            return Err(LoginError::TwoFactorBlocked {
                retry_after_seconds: policy.failure_window_seconds,
            });
        }
        metrics::counter!("tessera_logins_total", "outcome" => "second_factor_due").increment(1);
        let mut code_sent_to = None;
        if let Some(method) =
            preference::sent_unasked(policy.send_code_on_login, user.authy_migrated, &usable)
        {
            // A user moved from Authy is told a text is on its way.
            let channel = user.authy_migrated.then_some(Channel::Sms);
            match self
                .two_factor
                .send_login_code(&two_factor_id, Some(&method.id), channel, origin, now)
                .await
            {
                Ok(_) => code_sent_to = Some(method.id.clone()),
                // The login goes on: the person can ask for the code again, or use another way.
                Err(error) => {
                    tracing::warn!(%error, "the code a login sends unasked could not be sent")
                }
            }
        }
        // Moved from Authy with a known phone: a text went out unasked this once.
        if user.authy_migrated {
            self.user_store
                .clear_authy_migrated(user.id)
                .await
                .map_err(anyhow::Error::from)?;
        }
        Ok(LoginOutcome::SecondFactor {
            user,
            two_factor_id,
            methods: usable,
            code_sent_to,
            waits_seconds,
        })
    }

    /// Whether `login_id` may log `user` in: the settings are read only for an unverified
    /// address typed as the login id.
    pub(super) async fn may_log_in_with(
        &self,
        user: &User,
        login_id: &LoginId,
    ) -> Result<bool, LoginError> {
        if !account_policy::unverified_login_id(user, login_id) {
            return Ok(true);
        }
        let stored = self
            .setting_store
            .setting(account_policy::SETTINGS_KEY)
            .await
            .map_err(anyhow::Error::from)?;
        let settings = AccountSettings::from_stored(stored.as_deref());
        Ok(account_policy::may_log_in_with(&settings, user, login_id))
    }

    /// Whether the account's wrong passwords from anywhere reached the guard's limit lately.
    async fn under_attack(
        &self,
        user: UserId,
        request: &LoginRequest,
        now: Instant,
    ) -> Result<bool, LoginError> {
        let account = password_guard::account_key(Some(user), &request.login_id);
        let counter = password_guard::account_counter(&self.password_guard, &account, now);
        let wrong = self
            .counter_store
            .count(&counter)
            .await
            .map_err(anyhow::Error::from)?;
        Ok(password_guard::under_attack(&self.password_guard, wrong))
    }

    /// The first factor: the user, when the password is right and the account active. The
    /// check is counted against the password guard's limits for this address before the
    /// password is compared, and counts only when the password was wrong.
    async fn check_password(
        &self,
        request: &LoginRequest,
        origin: &Origin,
        now: Instant,
    ) -> Result<UserWithHash, LoginError> {
        let found = self
            .user_store
            .user_by_login_id(&request.login_id)
            .await
            .map_err(anyhow::Error::from)?;
        // An unverified address the settings do not let log in goes on as an unknown login id:
        // the dummy hash, the same answer, the same counters.
        let (found, unverified) = match found {
            Some(found) if !self.may_log_in_with(&found.user, &request.login_id).await? => {
                (None, Some(found.user))
            }
            other => (other, None),
        };
        let account =
            password_guard::account_key(found.as_ref().map(|f| f.user.id), &request.login_id);
        let stored = found.as_ref().map(|f| &f.password_hash);
        let right = match self
            .compare_guarded(&account, &request.password, stored, origin, now)
            .await?
        {
            Guarded::Throttled {
                retry_after_seconds,
            } => {
                self.record_failure(
                    found.as_ref().map(|f| &f.user),
                    "throttled",
                    request,
                    origin,
                    now,
                )
                .await;
                return Err(LoginError::Throttled {
                    retry_after_seconds,
                });
            }
            Guarded::Compared(verdict) => verdict,
        };
        if !right.is_right() {
            let reason = match (&found, &unverified) {
                (Some(_), _) => "wrong_password",
                (None, Some(_)) => "unverified_email",
                (None, None) => "unknown_user",
            };
            self.record_failure(
                found.as_ref().map(|f| &f.user).or(unverified.as_ref()),
                reason,
                request,
                origin,
                now,
            )
            .await;
            return Err(LoginError::WrongCredentials);
        }
        let Some(found) = found else {
            return Err(LoginError::WrongCredentials);
        };
        let verdict = right;
        let user = &found.user;
        if !user.active {
            self.record_failure(Some(user), "inactive", request, origin, now)
                .await;
            return Err(LoginError::Inactive);
        }
        if account_policy::awaits_first_verification(found.email_verification_required, user) {
            self.record_failure(Some(user), "email_not_verified", request, origin, now)
                .await;
            return Err(LoginError::EmailNotVerified {
                sent_to: self.link_again(user, origin, now).await,
            });
        }
        if verdict == Verification::RightButOutdated {
            let hash = self
                .hasher
                .hash(&request.password)
                .await
                .map_err(anyhow::Error::from)?;
            let event = AuditEvent::new(EventKind::PasswordRehash, Actor::System, origin, now)
                .target(user.id);
            self.user_store
                .rehash_password(user.id, &hash, &event)
                .await
                .map_err(anyhow::Error::from)?;
            // A link made now is bound to the hash in force.
            return Ok(UserWithHash {
                user: found.user,
                password_hash: hash,
                email_verification_required: found.email_verification_required,
            });
        }
        Ok(found)
    }

    /// A new link for a self-registered account whose owner logs in before verifying (the first
    /// may have expired or never arrived): the right password proves it is theirs, and the send
    /// budgets bound how often. Answers where it went, masked; a refusal is logged.
    async fn link_again(&self, user: &User, origin: &Origin, now: Instant) -> Option<String> {
        match self
            .addresses
            .send_registration_link(user, origin, now)
            .await
        {
            Ok(to) => Some(crate::domain::Destination::Email(to).masked()),
            Err(error) => {
                tracing::warn!(%error, user = %user.id, "cannot send a new link to verify a registration");
                None
            }
        }
    }

    /// Compares a password with the stored hash (the dummy hash when no user was found) under
    /// the password guard: the address's counters are taken before the comparison and refuse
    /// it when full; a wrong password also counts against the account's own counter, and a
    /// right one gives the address's back. Every check of a password a person types passes here.
    pub(super) async fn compare_guarded(
        &self,
        account: &str,
        password: &Password,
        stored: Option<&PasswordHash>,
        origin: &Origin,
        now: Instant,
    ) -> anyhow::Result<Guarded> {
        let counters = password_guard::address_counters(
            &self.password_guard,
            account,
            origin.ip.as_deref(),
            now,
        );
        let full = self.counter_store.take(&counters).await?;
        if let Some(retry_after_seconds) = full
            .iter()
            .map(|full| retry_after_seconds(now, full.room_at))
            .max()
        {
            return Ok(Guarded::Throttled {
                retry_after_seconds,
            });
        }
        let verdict = match stored {
            Some(stored) => self.hasher.verify(password, stored).await?,
            None => self.hasher.verify_dummy(password).await?,
        };
        if verdict.is_right() {
            self.counter_store.give_back(&counters).await?;
        } else {
            let wrong = password_guard::account_counter(&self.password_guard, account, now);
            self.counter_store
                .take(std::slice::from_ref(&wrong))
                .await?;
        }
        Ok(Guarded::Compared(verdict))
    }

    async fn record_failure(
        &self,
        user: Option<&User>,
        reason: &'static str,
        request: &LoginRequest,
        origin: &Origin,
        now: Instant,
    ) {
        metrics::counter!("tessera_logins_total", "outcome" => reason).increment(1);
        let login_id = match &request.login_id {
            LoginId::Username(name) => name.to_string(),
            LoginId::Email(email) => email.to_string(),
        };
        let mut event = AuditEvent::new(EventKind::LoginFailure, Actor::Anonymous, origin, now)
            .detail("reason", reason)
            .detail("loginId", login_id);
        if let Some(user) = user {
            event = event.target(user.id);
        }
        tracing::info!(target: "security", reason, user = ?user.map(|u| u.id), "login failed");
        // A failure to audit a failure must not turn a 404 into a 500; it is logged instead.
        if let Err(error) = self.audit_store.record_event(&event).await {
            tracing::error!(%error, "cannot write audit event");
        }
    }
}

/// What the password guard let through, and what the hasher said of it.
pub(super) enum Guarded {
    /// The address is past one of its limits: the password was not compared.
    Throttled {
        retry_after_seconds: i64,
    },
    Compared(Verification),
}

/// The step after a right password, run by the store with its reads: the settings in force,
/// the user's methods and recent failures, the policy's decision, and the challenge opened in
/// the same step when a code is due and the user may still try.
struct AfterPassword {
    user: User,
    trusted: bool,
    login_type: LoginType,
    application_id: Option<String>,
    /// Kept with the challenge, for the session its code opens.
    remember_me: bool,
    /// The digest of the `twoFactorId` the challenge is opened under.
    challenge_id_hash: String,
    defaults: TwoFactorPolicy,
    origin: Origin,
    now: Instant,
}

struct Decided {
    policy: TwoFactorPolicy,
    methods: Vec<MethodRecord>,
    /// The user's failed codes within the policy's window.
    recent_failures: i64,
    decision: Decision,
    /// Too many recent failures: no challenge was opened.
    blocked: bool,
    /// The login is granted because of the trusted computer, and would be challenged without.
    spared_by_trust: bool,
}

impl PasswordStep for AfterPassword {
    type Output = Decided;

    async fn run<S: PasswordStepStatements>(
        self,
        mut statements: S,
    ) -> Result<Decided, StoreError> {
        let stored = statements.read_setting(SETTINGS_KEY).await?;
        let policy = policy_from_stored(stored.as_deref(), self.defaults);
        let read = statements
            .methods_and_counts(self.user.id, policy.failure_window_start(self.now))
            .await?;
        let enrolled: Vec<_> = read.methods.iter().map(|m| m.kind).collect();
        // One indexed read, and only when the settings name groups.
        let groups = if policy.names_groups() {
            statements.group_ids(self.user.id).await?
        } else {
            Vec::new()
        };
        let blocked = policy.challenges_blocked(read.recent_failures);
        let kinds = statements.security_keys(self.user.id).await?;
        let (allowed, forbidden): (Vec<_>, Vec<_>) = kinds
            .iter()
            .partition(|k| policy.webauthn.allows(KeyKind::of(k)));
        let facts = LoginFacts {
            login_type: self.login_type,
            is_admin: self.user.is_admin(),
            user_requires_two_factor: self.user.two_factor_required,
            groups: &groups,
            enrolled: &enrolled,
            security_keys: !allowed.is_empty(),
            forbidden_keys: !forbidden.is_empty(),
            must_use_key: policy.webauthn.must_use_key(self.user.is_admin(), &groups),
            trusted_computer: self.trusted,
            two_factor_blocked: blocked,
            user_wants_every_login: self.user.every_login,
        };
        let decision = decide(&policy, &facts);
        let spared_by_trust = decision == Decision::Grant
            && self.trusted
            && decide(
                &policy,
                &LoginFacts {
                    trusted_computer: false,
                    ..facts
                },
            ) != Decision::Grant;
        let challenge = (decision != Decision::Grant && !blocked).then(|| NewChallenge {
            remember_me: self.remember_me,
            ..TwoFactor::new_challenge(
                self.challenge_id_hash,
                &self.user,
                self.login_type,
                self.application_id,
                policy.challenge_lifetime_seconds(&decision),
                &self.origin,
                self.now,
            )
        });
        statements.finish(challenge).await?;
        Ok(Decided {
            policy,
            methods: read.methods,
            recent_failures: read.recent_failures,
            decision,
            blocked,
            spared_by_trust,
        })
    }
}
