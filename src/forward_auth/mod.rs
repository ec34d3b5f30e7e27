//! Forward-auth: a reverse proxy (Traefik, Caddy, nginx) asks about every request it is about to
//! pass on, and Tessera answers from its access rules (`access_rules`, read through its cache) and
//! the browser's session: let it through (with who it is), log in first, prove a second factor
//! first, or no. The login portal sends a browser back only to a site the rules name
//! (`portal.rs`).

pub mod basic;
pub mod portal;

use std::net::IpAddr;
use std::sync::Arc;

pub use crate::access_rules::{AccessRulesDocument, HttpMethod, Policy, RuleDocument, RuleError};
pub use basic::{BasicCredentials, Presented};
pub use portal::{ReturnRefusal, ReturnUrl};

use self::basic::Credential;
use crate::access_rules::rules::{self, AccessRules, Identity, Resource, Verdict};
use crate::access_rules::{RulesCache, rules_file};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::auth::{BasicProof, BasicRefusal, Logins, SteppedUpFor};
use crate::clock::Instant;
use crate::crypto::random::ProcessKey;
use crate::domain::{DomainPattern, GroupName, Host, User, UserId};
use crate::groups::Groups;
use crate::oidc::second_factor_given;
use crate::sessions::{RECENT_WEB_SESSION, Sessions};
use crate::store::{AuditStore, SessionRecord, SettingStore, Store, StoreError};
use crate::two_factor::TwoFactorError;

/// Where the portal is, and where it sends browsers back to over plain http.
#[derive(Debug, Clone)]
pub struct ForwardAuthSettings {
    /// The login portal's base URL, without a trailing slash.
    pub portal_url: String,
    pub allow_http: Vec<DomainPattern>,
    /// `forward_auth.access_rules_file`: the rules are kept there, not in the database.
    pub rules_file: Option<std::path::PathBuf>,
}

/// The decision of forward-auth, and the portal's way back.
#[derive(Clone)]
pub struct ForwardAuth {
    setting_store: SettingStore,
    /// A signed-in person's refusal.
    audit_store: AuditStore,
    /// The browser's session, looked up as the pages look it up.
    sessions: Sessions,
    /// Subjects by group, and the groups a site is told.
    groups: Groups,
    /// Step-up: a second factor proved in the same session.
    logins: Logins,
    rules: RulesCache,
    /// Each signed-in person's groups as read at most `RECENT_WEB_SESSION` ago.
    recent_groups: moka::future::Cache<UserId, Arc<Vec<GroupName>>>,
    /// Basic credentials verified at most `RECENT_WEB_SESSION` ago, by a digest of them under
    /// `basic_key`: a client sends them on every request, and neither an Argon2id hash nor a
    /// read per request is needed to know them again, while a revoked app password, a
    /// disabled account or a changed password counts on every node within a second. Only
    /// successes are kept.
    recent_basic: moka::future::Cache<[u8; 32], Arc<Proven>>,
    /// Made at the start, never kept: the cache holds no secret in clear, nor a digest that
    /// outlives the process.
    basic_key: ProcessKey,
    settings: Arc<ForwardAuthSettings>,
}

/// What Basic credentials proved: whose they are, and which secret it was.
struct Proven {
    user: User,
    credential: Credential,
}

/// A signed-in person, as a decision reads them.
struct Person {
    session: SessionRecord,
    user: User,
    groups: Arc<Vec<GroupName>>,
}

/// A request as the proxy reported it.
#[derive(Debug, Clone)]
pub struct ProxiedRequest {
    method: HttpMethod,
    /// The original URL, its dot segments resolved (`/public/../admin` is `/admin`) as the
    /// application behind the proxy will read it.
    url: url::Url,
    host: Host,
    client: Option<IpAddr>,
}

impl ProxiedRequest {
    /// The request of `method` to the absolute `url`, from `client`; or why the proxy's report
    /// does not read.
    pub fn parse(method: &str, url: &str, client: Option<IpAddr>) -> Result<Self, String> {
        let method = HttpMethod::parse(method).map_err(|e| e.message)?;
        let parsed =
            url::Url::parse(url).map_err(|e| format!("{url:?} is not an absolute URL ({e})"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("{url:?} is not an http or https URL"));
        }
        let host = Host::of(&parsed).ok_or_else(|| format!("{url:?} names no host"))?;
        Ok(Self {
            method,
            url: parsed,
            host,
            client,
        })
    }

    pub fn method(&self) -> &HttpMethod {
        &self.method
    }

    /// The path and query the rules' path patterns see.
    fn path_and_query(&self) -> String {
        match self.url.query() {
            Some(query) => format!("{}?{query}", self.url.path()),
            None => self.url.path().to_owned(),
        }
    }
}

/// What to tell the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Let it through, telling the application who it is.
    Allow {
        user: String,
        groups: Vec<String>,
        name: String,
        email: String,
    },
    /// Let it through without a login.
    Bypass,
    /// No session: log in at the portal, which sends the browser back. `basic`: the rule takes
    /// Basic credentials, which a client that is no browser is asked for instead.
    LogIn {
        portal_url: String,
        basic: bool,
    },
    /// A session with one factor where the rule asks two: a code at the portal.
    StepUp {
        portal_url: String,
    },
    Deny,
    /// Basic credentials, on a rule that takes them, that do not read or are refused: ask the
    /// client for others (`why`, for people; it never tells which part was wrong).
    Challenge {
        why: &'static str,
    },
    /// Too many wrong passwords from this address lately: nothing was compared.
    Throttled {
        retry_after_seconds: i64,
    },
}

/// What a client whose Basic credentials are refused is told.
const REFUSED: &str = "the username or password is wrong, or is not enough for this site (it \
                       may ask for an app password)";

#[derive(Debug, thiserror::Error)]
pub enum ForwardAuthError {
    /// The document has problems, each naming its rule and field: nothing was written.
    #[error("the access rules have problems")]
    Invalid(Vec<RuleError>),
    /// The rules are kept in the file the configuration names: change them there.
    #[error("the access rules are kept in {0} (forward_auth.access_rules_file): change them there")]
    KeptInFile(String),
    /// The portal's way back is refused.
    #[error("{0}")]
    Refused(ReturnRefusal),
    /// Proving the second factor failed.
    #[error(transparent)]
    Code(TwoFactorError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for ForwardAuthError {
    fn from(error: StoreError) -> Self {
        Self::Internal(error.into())
    }
}

/// What the step-up page does for a way back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepUpAsk {
    /// The session has two factors already: straight back.
    Done(ReturnUrl),
    /// A code, for the site of `ReturnUrl`.
    Code(ReturnUrl),
}

impl ForwardAuth {
    pub fn new(
        store: Store,
        sessions: Sessions,
        groups: Groups,
        logins: Logins,
        rules: RulesCache,
        settings: ForwardAuthSettings,
    ) -> Self {
        Self {
            setting_store: store.settings(),
            audit_store: store.audit(),
            rules,
            recent_groups: moka::future::Cache::builder()
                .max_capacity(20_000)
                .time_to_live(RECENT_WEB_SESSION)
                .build(),
            recent_basic: moka::future::Cache::builder()
                .max_capacity(20_000)
                .time_to_live(RECENT_WEB_SESSION)
                .build(),
            basic_key: ProcessKey::new(),
            sessions,
            groups,
            logins,
            settings: Arc::new(settings),
        }
    }

    /// The answer to a proxied request, for the browser whose session cookie is
    /// `session_token`, or, where the rule takes them, the `Authorization` the client
    /// `presented` (Basic credentials decide alone: a session beside them is not looked at). A request let through is decided on the session and groups as the
    /// database said at most a second ago (`Sessions::recent_web_session`): no query and no
    /// digest per request, while a logout, a disabled account or a group left counts within a
    /// second. Any other answer is decided again on a fresh read, so that a login, a step-up
    /// or a group joined counts at once.
    pub async fn decide(
        &self,
        request: &ProxiedRequest,
        session_token: Option<&str>,
        presented: &Presented,
        origin: &Origin,
        now: Instant,
    ) -> anyhow::Result<Decision> {
        let rules = self.rules.rules(now).await?;
        let path = request.path_and_query();
        let resource = Resource {
            host: &request.host,
            path: &path,
            method: &request.method,
            client: request.client,
        };
        let anonymous = rules.decide(&resource, None);
        if let Verdict::Policy {
            policy: Policy::Bypass,
            ..
        } = anonymous
        {
            return Ok(Decision::Bypass);
        }
        let takes_basic = rules.takes_basic(anonymous);
        if takes_basic {
            match presented {
                Presented::Basic(credentials) => {
                    return self
                        .basic(&rules, &resource, anonymous, credentials, origin, now)
                        .await;
                }
                Presented::Malformed(why) => return Ok(Decision::Challenge { why }),
                Presented::Nothing => {}
            }
        }
        let Some(token) = session_token else {
            return Ok(self.anonymous(anonymous, takes_basic, request));
        };
        if let Some(person) = self.recent_person(token, now).await? {
            let (decision, _) = self.judge(&rules, &resource, request, &person);
            if matches!(decision, Decision::Allow { .. }) {
                return Ok(decision);
            }
        }
        self.sessions.forget_recent_web_session(token).await;
        let Some(person) = self.fresh_person(token, now).await? else {
            return Ok(self.anonymous(anonymous, takes_basic, request));
        };
        let (decision, rule) = self.judge(&rules, &resource, request, &person);
        if decision == Decision::Deny {
            // The path without its query, which may carry a secret.
            let user = person.user.id;
            let event = AuditEvent::new(EventKind::ForwardAuthDeny, Actor::User(user), origin, now)
                .target(user)
                .detail("host", request.host.as_str())
                .detail("path", request.url.path())
                .detail("rule", rule);
            if let Err(error) = self.audit_store.record_event(&event).await {
                tracing::error!(%error, "cannot write audit event");
            }
        }
        Ok(decision)
    }

    /// The answer to a request without a session (nor Basic credentials).
    fn anonymous(&self, verdict: Verdict, basic: bool, request: &ProxiedRequest) -> Decision {
        match verdict {
            Verdict::Policy {
                policy: Policy::Deny,
                ..
            } => Decision::Deny,
            _ => Decision::LogIn {
                portal_url: self.portal("/login", request.url.as_str()),
                basic,
            },
        }
    }

    /// The answer to Basic credentials, on a rule that takes them (for `anonymous`, the
    /// verdict without a person). Credentials verified within the last second are known again
    /// by their digest alone; otherwise the account is read, the rule that applies to it
    /// chosen, and the secret checked as that rule asks (`Logins::check_basic`: the password
    /// guard, an Argon2id hash only where the account password would do).
    async fn basic(
        &self,
        rules: &AccessRules,
        resource: &Resource<'_>,
        anonymous: Verdict,
        credentials: &BasicCredentials,
        origin: &Origin,
        now: Instant,
    ) -> anyhow::Result<Decision> {
        let key = self.basic_key.digest(&[
            credentials.login().as_bytes(),
            credentials.secret().as_bytes(),
        ]);
        if let Some(proven) = self.recent_basic.get(&key).await {
            let groups = self
                .recent_groups
                .try_get_with(proven.user.id, self.groups_of(proven.user.id))
                .await
                .map_err(|e| anyhow::anyhow!("{e:#}"))?;
            let (policy, rule) =
                policy_for(rules, resource, Some((&proven.user, &groups)), anonymous);
            if rules.takes_basic(rule) && basic::accepts(policy, proven.credential) {
                return Ok(allow(&proven.user, &groups));
            }
            // Not enough here: checked again below, counted as any refusal is.
        }
        let Some(account) = self.logins.basic_account(credentials.login()).await? else {
            return Ok(Decision::Challenge { why: REFUSED });
        };
        let groups = match account.user() {
            Some(user) => {
                let groups = self.groups_of(user.id).await?;
                self.recent_groups.insert(user.id, groups.clone()).await;
                groups
            }
            None => Arc::default(),
        };
        let (policy, rule) = policy_for(
            rules,
            resource,
            account.user().map(|user| (user, &groups)),
            anonymous,
        );
        if !rules.takes_basic(rule) {
            // The rule for this person (by the subjects) takes no Basic credentials.
            return Ok(Decision::Challenge { why: REFUSED });
        }
        let checked = self
            .logins
            .check_basic(
                &account,
                credentials.secret(),
                basic::asks(policy),
                resource.host.as_str(),
                origin,
                now,
            )
            .await?;
        let proof = match checked {
            Ok(proof) => proof,
            Err(BasicRefusal::Refused) => return Ok(Decision::Challenge { why: REFUSED }),
            Err(BasicRefusal::Throttled {
                retry_after_seconds,
            }) => {
                return Ok(Decision::Throttled {
                    retry_after_seconds,
                });
            }
        };
        let Some(user) = account.user() else {
            return Ok(Decision::Challenge { why: REFUSED });
        };
        let credential = match proof {
            BasicProof::AccountPassword => Credential::AccountPassword,
            BasicProof::AppPassword { two_factor, .. } => Credential::AppPassword { two_factor },
        };
        if !basic::accepts(policy, credential) {
            return Ok(Decision::Challenge { why: REFUSED });
        }
        self.recent_basic
            .insert(
                key,
                Arc::new(Proven {
                    user: user.clone(),
                    credential,
                }),
            )
            .await;
        Ok(allow(user, &groups))
    }

    /// The answer for a signed-in person, with the rule that gave it.
    fn judge(
        &self,
        rules: &AccessRules,
        resource: &Resource<'_>,
        request: &ProxiedRequest,
        person: &Person,
    ) -> (Decision, Option<usize>) {
        let Person {
            session,
            user,
            groups,
        } = person;
        let who = Identity {
            username: &user.username,
            groups,
        };
        let (policy, rule) = match rules.decide(resource, Some(&who)) {
            Verdict::Policy { policy, rule } => (policy, rule),
            // Only a request without a session is asked who it is.
            Verdict::Identify { rule } => (Policy::OneFactor, Some(rule)),
        };
        let allow = || allow(user, groups);
        let decision = match policy {
            Policy::Bypass | Policy::OneFactor => allow(),
            Policy::TwoFactor if second_factor_given(&session.amr) => allow(),
            Policy::TwoFactor => Decision::StepUp {
                portal_url: self.portal("/forward-auth/step-up", request.url.as_str()),
            },
            Policy::Deny => Decision::Deny,
        };
        (decision, rule)
    }

    /// The person behind a cookie, and their groups, as read at most a second ago.
    async fn recent_person(&self, token: &str, now: Instant) -> anyhow::Result<Option<Person>> {
        let Some((session, user)) = self.sessions.recent_web_session(token, now).await? else {
            return Ok(None);
        };
        let groups = self
            .recent_groups
            .try_get_with(user.id, self.groups_of(user.id))
            .await
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        Ok(Some(Person {
            session,
            user,
            groups,
        }))
    }

    /// The person behind a cookie, read now; their groups are remembered for the next second.
    async fn fresh_person(&self, token: &str, now: Instant) -> anyhow::Result<Option<Person>> {
        let Some((session, user)) = self.sessions.web_session(token, now).await? else {
            return Ok(None);
        };
        let groups = self.groups_of(user.id).await?;
        self.recent_groups.insert(user.id, groups.clone()).await;
        Ok(Some(Person {
            session,
            user,
            groups,
        }))
    }

    async fn groups_of(&self, user: UserId) -> anyhow::Result<Arc<Vec<GroupName>>> {
        Ok(Arc::new(
            self.groups
                .groups_of(user)
                .await
                .map_err(|e| anyhow::anyhow!("{e:#}"))?
                .into_iter()
                .map(|group| group.name)
                .collect(),
        ))
    }

    /// `{portal}{page}?rd={original}`.
    fn portal(&self, page: &str, original: &str) -> String {
        let rd: String = form_urlencoded::byte_serialize(original.as_bytes()).collect();
        format!("{}{page}?rd={rd}", self.settings.portal_url)
    }

    /// `raw` as a way back from the portal: a site the rules name, over https unless the
    /// configuration allows http for it.
    pub async fn return_to(&self, raw: &str, now: Instant) -> Result<ReturnUrl, ForwardAuthError> {
        let rules = self.rules.rules(now).await?;
        portal::return_url(raw, &rules, &self.settings.allow_http)
            .map_err(ForwardAuthError::Refused)
    }

    /// What the step-up page asks of `session` before it sends the browser back to `rd`.
    pub async fn step_up_question(
        &self,
        session: &SessionRecord,
        rd: &str,
        now: Instant,
    ) -> Result<StepUpAsk, ForwardAuthError> {
        let back = self.return_to(rd, now).await?;
        Ok(if second_factor_given(&session.amr) {
            StepUpAsk::Done(back)
        } else {
            StepUpAsk::Code(back)
        })
    }

    /// The session proves a second factor with `code` for the site of `rd` (checked again),
    /// and may go back there.
    pub async fn step_up(
        &self,
        session: &SessionRecord,
        rd: &str,
        code: &str,
        origin: &Origin,
        now: Instant,
    ) -> Result<ReturnUrl, ForwardAuthError> {
        let back = match self.step_up_question(session, rd, now).await? {
            StepUpAsk::Done(back) => return Ok(back),
            StepUpAsk::Code(back) => back,
        };
        self.logins
            .step_up(
                session,
                SteppedUpFor::Site(back.host().as_str()),
                code,
                origin,
                now,
            )
            .await
            .map_err(ForwardAuthError::Code)?;
        Ok(back)
    }

    /// The access rules document in force (the default, which denies everything, until one is
    /// stored).
    pub async fn access_rules(&self) -> Result<AccessRulesDocument, ForwardAuthError> {
        if let Some(path) = self.rules.file() {
            let path = path.clone();
            let read = tokio::task::spawn_blocking(move || rules_file::load(&path))
                .await
                .map_err(anyhow::Error::from)?;
            return Ok(read.map_err(|problems| anyhow::anyhow!(problems))?.1);
        }
        let stored = self.setting_store.setting(rules::SETTINGS_KEY).await?;
        Ok(stored
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default())
    }

    /// Whether the rules are kept in a file, where only an edit of the file changes them.
    pub fn rules_file(&self) -> Option<&std::path::PathBuf> {
        self.rules.file()
    }

    /// Replaces the access rules once every rule reads; they apply on this node at once and on
    /// every other within a second (`cache.rs`).
    pub async fn set_access_rules(
        &self,
        document: &AccessRulesDocument,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<AccessRulesDocument, ForwardAuthError> {
        if let Some(path) = self.rules.file() {
            return Err(ForwardAuthError::KeptInFile(path.display().to_string()));
        }
        let compiled = AccessRules::compile(document).map_err(ForwardAuthError::Invalid)?;
        let text = serde_json::to_string(document).map_err(anyhow::Error::from)?;
        let event = AuditEvent::new(EventKind::SettingsChange, actor, origin, now)
            .detail("key", rules::SETTINGS_KEY)
            .detail("defaultPolicy", document.default_policy.as_str())
            .detail("rules", document.rules.len());
        self.setting_store
            .put_setting(rules::SETTINGS_KEY, &text, &event)
            .await?;
        self.rules.replace(text, compiled, now).await;
        Ok(document.clone())
    }
}

/// Let through, telling the application who it is.
fn allow(user: &User, groups: &[GroupName]) -> Decision {
    Decision::Allow {
        user: user.username.to_string(),
        groups: groups.iter().map(ToString::to_string).collect(),
        name: user
            .full_name
            .as_ref()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default(),
        email: user
            .email
            .as_ref()
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default(),
    }
}

/// The policy for `person` (a user and their groups), and the verdict that gave it; without a
/// person, `anonymous`'s, where a rule asking who it is counts as `one_factor` (whoever it is
/// must at least prove an account).
fn policy_for(
    rules: &AccessRules,
    resource: &Resource<'_>,
    person: Option<(&User, &Arc<Vec<GroupName>>)>,
    anonymous: Verdict,
) -> (Policy, Verdict) {
    let verdict = match person {
        Some((user, groups)) => rules.decide(
            resource,
            Some(&Identity {
                username: &user.username,
                groups,
            }),
        ),
        None => anonymous,
    };
    let policy = match verdict {
        Verdict::Policy { policy, .. } => policy,
        Verdict::Identify { .. } => Policy::OneFactor,
    };
    (policy, verdict)
}

#[cfg(test)]
mod tests {
    use super::ProxiedRequest;

    #[test]
    fn a_proxied_request_reads_its_url_as_the_application_will() {
        let request = ProxiedRequest::parse(
            "get",
            "https://App.Example.com:8443/public/../admin?x=1",
            None,
        )
        .unwrap();
        assert_eq!(request.host.as_str(), "app.example.com");
        assert_eq!(request.path_and_query(), "/admin?x=1");
        assert_eq!(request.method.as_str(), "GET");
        let encoded =
            ProxiedRequest::parse("GET", "https://a.example.com/p/%2e%2e/admin", None).unwrap();
        assert_eq!(encoded.path_and_query(), "/admin");
    }

    #[test]
    fn a_report_that_does_not_read_says_why() {
        for (method, url, said) in [
            ("GET", "/relative", "not an absolute URL"),
            ("GET", "ftp://a.example.com/", "not an http or https URL"),
            ("G ET", "https://a.example.com/", "not an HTTP method"),
        ] {
            let error = ProxiedRequest::parse(method, url, None).unwrap_err();
            assert!(error.contains(said), "{url}: {error}");
        }
    }
}
