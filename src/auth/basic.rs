//! Basic credentials at forward-auth: a username and a secret that is an app password or the
//! account password, checked under the same password guard as a login's, so that a wrong one
//! counts against the same limits per account and address.

use super::{Logins, password_guard};
use crate::account_policy;
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::domain::{AppPassword, LoginId, Password, User};
use crate::limits::retry_after_seconds;
use crate::store::UserWithHash;

/// The account Basic credentials name, as looked up before they are checked: the rules may
/// depend on who it is (subjects), and so may which secret is worth comparing.
pub struct BasicAccount {
    login_id: LoginId,
    found: Option<UserWithHash>,
}

impl BasicAccount {
    /// The account, when there is one the login id may name.
    pub fn user(&self) -> Option<&User> {
        self.found.as_ref().map(|f| &f.user)
    }
}

/// What a rule asks of the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BasicAsks {
    /// The account password would do: it is compared (Argon2id) when the secret is no app
    /// password of the account.
    pub account_password: bool,
    /// Only an app password made with a second factor will do.
    pub second_factor: bool,
}

/// What the secret proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BasicProof {
    AccountPassword,
    AppPassword { id: String, two_factor: bool },
}

/// Why Basic credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BasicRefusal {
    /// Wrong, or right but not enough, or the account cannot log in: never told apart.
    Refused,
    /// Too many wrong passwords from this address: nothing was compared.
    Throttled { retry_after_seconds: i64 },
}

impl Logins {
    /// The account `login` names, read now; `None` when it is no login id at all (nothing
    /// counted: it names nobody, as a login's field error would say).
    pub async fn basic_account(&self, login: &str) -> anyhow::Result<Option<BasicAccount>> {
        let Ok(login_id) = LoginId::parse(login) else {
            return Ok(None);
        };
        let found = match self.user_store.user_by_login_id(&login_id).await? {
            // An unverified address the settings do not let log in names nobody.
            Some(found) if !self.may_log_in_with(&found.user, &login_id).await? => None,
            other => other,
        };
        Ok(Some(BasicAccount { login_id, found }))
    }

    /// Checks `secret` for `account` as a rule asks: an app password of the account first (a
    /// keyed digest and one read), then, where the rule takes it, the account password. The
    /// address's counters are taken before either is compared, as a login's are; a wrong or
    /// insufficient secret counts against the account too, a right one gives them back.
    /// Refusals are audited (`forward_auth.basic_refused`, for `site`).
    pub async fn check_basic(
        &self,
        account: &BasicAccount,
        secret: &str,
        asks: BasicAsks,
        site: &str,
        origin: &Origin,
        now: Instant,
    ) -> anyhow::Result<Result<BasicProof, BasicRefusal>> {
        let user = account.user();
        let key = password_guard::account_key(user.map(|u| u.id), &account.login_id);
        let counters =
            password_guard::address_counters(&self.password_guard, &key, origin.ip.as_deref(), now);
        let full = self.counter_store.take(&counters).await?;
        if let Some(retry_after_seconds) = full
            .iter()
            .map(|full| retry_after_seconds(now, full.room_at))
            .max()
        {
            self.record_basic_refusal(account, "throttled", None, site, origin, now)
                .await;
            return Ok(Err(BasicRefusal::Throttled {
                retry_after_seconds,
            }));
        }
        let app_password = match AppPassword::parse(secret) {
            Ok(parsed) => self
                .app_passwords
                .find(&parsed)
                .await?
                .filter(|found| user.is_some_and(|u| u.id == found.user_id)),
            Err(_) => None,
        };
        let proof = match (&app_password, &account.found) {
            (Some(found), _) if asks.second_factor && !found.two_factor => {
                // A right secret that is not enough: no guess, so not counted as one.
                self.counter_store.give_back(&counters).await?;
                self.record_basic_refusal(
                    account,
                    "one_factor_app_password",
                    Some(&found.id),
                    site,
                    origin,
                    now,
                )
                .await;
                return Ok(Err(BasicRefusal::Refused));
            }
            (Some(found), _) => Some(BasicProof::AppPassword {
                id: found.id.clone(),
                two_factor: found.two_factor,
            }),
            (None, stored) if asks.account_password && !asks.second_factor => {
                let right = match (Password::attempt(secret), stored) {
                    (Ok(password), Some(stored)) => {
                        self.hasher.verify(&password, &stored.password_hash).await?
                    }
                    // No account: the dummy, so that a miss costs what a wrong password does.
                    (Ok(password), None) => self.hasher.verify_dummy(&password).await?,
                    (Err(_), _) => crate::crypto::Verification::Wrong,
                };
                right.is_right().then_some(BasicProof::AccountPassword)
            }
            (None, _) => None,
        };
        let (Some(proof), Some(found)) = (proof, &account.found) else {
            let wrong = password_guard::account_counter(&self.password_guard, &key, now);
            self.counter_store
                .take(std::slice::from_ref(&wrong))
                .await?;
            let reason = if user.is_some() {
                "wrong_credentials"
            } else {
                "unknown_user"
            };
            self.record_basic_refusal(account, reason, None, site, origin, now)
                .await;
            return Ok(Err(BasicRefusal::Refused));
        };
        self.counter_store.give_back(&counters).await?;
        let app_id = match &proof {
            BasicProof::AppPassword { id, .. } => Some(id.as_str()),
            BasicProof::AccountPassword => None,
        };
        let barred = if !found.user.active {
            Some("inactive")
        } else if account_policy::awaits_first_verification(
            found.email_verification_required,
            &found.user,
        ) {
            Some("email_not_verified")
        } else if found.user.password_change_required && app_id.is_none() {
            Some("password_change_required")
        } else {
            None
        };
        if let Some(reason) = barred {
            self.record_basic_refusal(account, reason, app_id, site, origin, now)
                .await;
            return Ok(Err(BasicRefusal::Refused));
        }
        if let Some(record) = app_password {
            self.app_passwords.note_use(&record, now).await?;
        }
        Ok(Ok(proof))
    }

    async fn record_basic_refusal(
        &self,
        account: &BasicAccount,
        reason: &'static str,
        app_password: Option<&str>,
        site: &str,
        origin: &Origin,
        now: Instant,
    ) {
        metrics::counter!("tessera_basic_auth_refusals_total", "reason" => reason).increment(1);
        let mut event = AuditEvent::new(EventKind::BasicAuthRefused, Actor::Anonymous, origin, now)
            .detail("reason", reason)
            .detail("host", site);
        match account.user() {
            Some(user) => event = event.target(user.id),
            None => {
                let login_id = match &account.login_id {
                    LoginId::Username(name) => name.to_string(),
                    LoginId::Email(email) => email.to_string(),
                };
                event = event.detail("loginId", login_id);
            }
        }
        if let Some(id) = app_password {
            event = event.detail("appPasswordId", id);
        }
        tracing::info!(target: "security", reason, user = ?account.user().map(|u| u.id), "Basic credentials refused");
        // A failure to audit a refusal must not turn a 401 into a 500; it is logged instead.
        if let Err(error) = self.audit_store.record_event(&event).await {
            tracing::error!(%error, "cannot write audit event");
        }
    }
}
