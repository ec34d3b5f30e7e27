//! The access rules, as pure values: the document an administrator writes (`access_rules`),
//! parsed into rules whose matchers exist only when valid, and the match: the first rule whose
//! every matcher fits the request decides, else the default policy.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

pub use super::matchers::{HttpMethod, Network, PathPattern, Subject};
use crate::domain::{DomainPattern, FieldError, GroupName, Host, Invalid, Username};

/// Where the document is kept.
pub const SETTINGS_KEY: &str = "access_rules";

/// Most rules a document may hold, and most entries a matcher's list may hold.
const MAX_RULES: usize = 500;
const MAX_ENTRIES: usize = 100;

/// What a rule asks of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Let it through without a login.
    Bypass,
    /// A session: the password (or whatever the login asked).
    OneFactor,
    /// A session that gave a second factor.
    TwoFactor,
    /// Never.
    Deny,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bypass => "bypass",
            Self::OneFactor => "one_factor",
            Self::TwoFactor => "two_factor",
            Self::Deny => "deny",
        }
    }
}

/// The document as stored and as the API, the CLI and the console show it. Every matcher of a
/// rule is optional; an empty list matches anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessRulesDocument {
    /// The policy of a request no rule matches: `deny` unless set.
    #[serde(default = "default_policy")]
    pub default_policy: Policy,
    /// The rules, in order: the first that matches decides.
    #[serde(default)]
    pub rules: Vec<RuleDocument>,
}

fn default_policy() -> Policy {
    Policy::Deny
}

impl Default for AccessRulesDocument {
    fn default() -> Self {
        Self {
            default_policy: default_policy(),
            rules: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleDocument {
    /// Domains (`app.example.com`) or every name under one (`*.example.com`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domain: Vec<String>,
    /// Regular expressions over the path and query, anchored only as written (`^/admin(/|$)`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<String>,
    /// HTTP methods (`GET`, `POST`…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// The client's networks (`10.0.0.0/8`; an address is a network of one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<String>,
    /// `user:NAME` or `group:NAME`; a signed-in person who is any of them. A rule with subjects
    /// never matches a request without a session: the person logs in first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject: Vec<String>,
    pub policy: Policy,
    /// Whether a client without a browser may send `Authorization: Basic` instead of a session:
    /// the username and the account password (`one_factor` only) or an app password. Only for
    /// a `one_factor` or `two_factor` rule.
    #[serde(
        default,
        rename = "basicAuth",
        alias = "basic_auth",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub basic_auth: bool,
}

/// One rule, parsed.
#[derive(Debug, Clone)]
struct Rule {
    domains: Vec<DomainPattern>,
    paths: Vec<PathPattern>,
    methods: Vec<HttpMethod>,
    networks: Vec<Network>,
    subjects: Vec<Subject>,
    policy: Policy,
    basic_auth: bool,
}

/// The rules of one version of the document, ready to match.
#[derive(Debug, Clone)]
pub struct AccessRules {
    default_policy: Policy,
    rules: Vec<Rule>,
}

/// The request as the proxy reported it.
#[derive(Debug, Clone)]
pub struct Resource<'a> {
    pub host: &'a Host,
    /// The path and query, dot segments resolved.
    pub path: &'a str,
    pub method: &'a HttpMethod,
    /// The client's address; `None` matches no network.
    pub client: Option<IpAddr>,
}

/// The signed-in person, for the rules with subjects.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    pub username: &'a Username,
    pub groups: &'a [GroupName],
}

/// What the rules say of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// `rule`: the index of the rule that matched; `None` for the default policy.
    Policy { policy: Policy, rule: Option<usize> },
    /// A rule would match but for its subjects, and the request has no session: who it is
    /// decides, so the person logs in first.
    Identify { rule: usize },
}

impl AccessRules {
    /// Every rule parsed, or every problem, each naming its rule and field.
    pub fn compile<'d>(document: &'d AccessRulesDocument) -> Result<Self, Vec<RuleError>> {
        let mut errors = Vec::new();
        if document.rules.len() > MAX_RULES {
            errors.push(RuleError::new(
                "rules".into(),
                format!("at most {MAX_RULES} rules"),
            ));
            return Err(errors);
        }
        let mut rules = Vec::with_capacity(document.rules.len());
        for (index, rule) in document.rules.iter().enumerate() {
            let mut list = |field: &str, entries: &'d [String]| {
                if entries.len() > MAX_ENTRIES {
                    errors.push(RuleError::new(
                        format!("rules[{index}].{field}"),
                        format!("at most {MAX_ENTRIES} entries"),
                    ));
                }
                entries
                    .iter()
                    .enumerate()
                    .map(|(at, raw)| (format!("rules[{index}].{field}[{at}]"), raw.as_str()))
                    .collect::<Vec<_>>()
            };
            let domain = list("domain", &rule.domain);
            let path = list("path", &rule.path);
            let methods = list("methods", &rule.methods);
            let networks = list("networks", &rule.networks);
            let subject = list("subject", &rule.subject);
            if rule.basic_auth && !matches!(rule.policy, Policy::OneFactor | Policy::TwoFactor) {
                errors.push(RuleError::new(
                    format!("rules[{index}].basicAuth"),
                    format!(
                        "a {} rule takes no credentials: Basic authentication is for a \
                         one_factor or two_factor rule",
                        rule.policy.as_str()
                    ),
                ));
            }
            rules.push(Rule {
                domains: parse_all(&domain, DomainPattern::parse, &mut errors),
                paths: parse_all(&path, PathPattern::parse, &mut errors),
                methods: parse_all(&methods, HttpMethod::parse, &mut errors),
                networks: parse_all(&networks, Network::parse, &mut errors),
                subjects: parse_all(&subject, Subject::parse, &mut errors),
                policy: rule.policy,
                basic_auth: rule.basic_auth,
            });
        }
        if errors.is_empty() {
            Ok(Self {
                default_policy: document.default_policy,
                rules,
            })
        } else {
            Err(errors)
        }
    }

    /// Where a rule names `subject` (`rules[2].subject[0]`, compared as `fits` compares), or
    /// `None`. Renaming such a user or group would stop the rule matching them silently, and a
    /// deny rule would fail open: the services that rename ask this first.
    pub fn naming(&self, subject: &Subject) -> Option<String> {
        self.rules.iter().enumerate().find_map(|(index, rule)| {
            rule.subjects
                .iter()
                .position(|s| s.same_as(subject))
                .map(|at| format!("rules[{index}].subject[{at}]"))
        })
    }

    /// Rules that let nothing through: what a stored document that no longer reads stands for.
    pub fn deny_all() -> Self {
        Self {
            default_policy: Policy::Deny,
            rules: Vec::new(),
        }
    }

    /// The first rule that matches decides; a rule with subjects is passed over for a signed-in
    /// person who is none of them, and asks a request without a session to log in.
    pub fn decide(&self, resource: &Resource<'_>, who: Option<&Identity<'_>>) -> Verdict {
        for (index, rule) in self.rules.iter().enumerate() {
            if !rule.fits_request(resource) {
                continue;
            }
            if rule.subjects.is_empty() {
                return Verdict::Policy {
                    policy: rule.policy,
                    rule: Some(index),
                };
            }
            match who {
                None => return Verdict::Identify { rule: index },
                Some(who)
                    if rule
                        .subjects
                        .iter()
                        .any(|s| s.fits(who.username, who.groups)) =>
                {
                    return Verdict::Policy {
                        policy: rule.policy,
                        rule: Some(index),
                    };
                }
                Some(_) => {}
            }
        }
        Verdict::Policy {
            policy: self.default_policy,
            rule: None,
        }
    }

    /// Whether the rule of `verdict` lets a client without a browser send Basic credentials
    /// (the default policy never does).
    pub fn takes_basic(&self, verdict: Verdict) -> bool {
        let rule = match verdict {
            Verdict::Policy { rule, .. } => rule,
            Verdict::Identify { rule } => Some(rule),
        };
        rule.and_then(|index| self.rules.get(index))
            .is_some_and(|rule| rule.basic_auth)
    }

    /// Whether a rule names the host's domain (a rule for every domain names none): where the
    /// login portal may send a browser back to.
    pub fn protects(&self, host: &Host) -> bool {
        self.rules
            .iter()
            .flat_map(|rule| &rule.domains)
            .any(|domain| domain.matches(host))
    }
}

impl Rule {
    fn fits_request(&self, resource: &Resource<'_>) -> bool {
        let any = |empty: bool, hit: bool| empty || hit;
        any(
            self.domains.is_empty(),
            self.domains.iter().any(|d| d.matches(resource.host)),
        ) && any(
            self.methods.is_empty(),
            self.methods.contains(resource.method),
        ) && any(
            self.networks.is_empty(),
            resource
                .client
                .is_some_and(|ip| self.networks.iter().any(|n| n.contains(ip))),
        ) && any(
            self.paths.is_empty(),
            self.paths.iter().any(|p| p.matches(resource.path)),
        )
    }
}

fn parse_all<T>(
    entries: &[(String, &str)],
    parse: fn(&str) -> Result<T, Invalid>,
    errors: &mut Vec<RuleError>,
) -> Vec<T> {
    entries
        .iter()
        .filter_map(|(field, raw)| match parse(raw) {
            Ok(value) => Some(value),
            Err(invalid) => {
                errors.push(RuleError::new(field.clone(), invalid.message));
                None
            }
        })
        .collect()
}

/// A problem of the document: the field (`rules[2].networks[0]`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub field: String,
    pub message: String,
}

impl RuleError {
    fn new(field: String, message: String) -> Self {
        Self { field, message }
    }

    /// As the API names it: under the body's `accessRules`.
    pub fn field_error(&self) -> FieldError {
        FieldError::new(
            &format!("accessRules.{}", self.field),
            Invalid::new("[invalid]", self.to_string()),
        )
    }
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(document: serde_json::Value) -> AccessRules {
        AccessRules::compile(&serde_json::from_value(document).unwrap()).unwrap()
    }

    fn errors(document: serde_json::Value) -> Vec<String> {
        AccessRules::compile(&serde_json::from_value(document).unwrap())
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    struct Ask {
        host: &'static str,
        path: &'static str,
        method: &'static str,
        client: Option<&'static str>,
    }

    const GET: Ask = Ask {
        host: "app.example.com",
        path: "/",
        method: "GET",
        client: Some("203.0.113.7"),
    };

    fn verdict(rules: &AccessRules, ask: Ask, who: Option<(&str, &[&str])>) -> Verdict {
        let host = Host::of(&url::Url::parse(&format!("https://{}/", ask.host)).unwrap()).unwrap();
        let method = HttpMethod::parse(ask.method).unwrap();
        let resource = Resource {
            host: &host,
            path: ask.path,
            method: &method,
            client: ask.client.map(|c| c.parse().unwrap()),
        };
        let username = who.map(|(name, _)| Username::parse(name).unwrap());
        let groups: Vec<GroupName> = who
            .map(|(_, groups)| {
                groups
                    .iter()
                    .map(|g| GroupName::parse(g).unwrap())
                    .collect()
            })
            .unwrap_or_default();
        let identity = username.as_ref().map(|username| Identity {
            username,
            groups: &groups,
        });
        rules.decide(&resource, identity.as_ref())
    }

    fn policy(verdict: Verdict) -> Policy {
        match verdict {
            Verdict::Policy { policy, .. } => policy,
            Verdict::Identify { .. } => panic!("asks who it is: {verdict:?}"),
        }
    }

    #[test]
    fn each_bad_entry_is_named_by_its_rule_and_field() {
        let found = errors(json!({"rules": [
            {"policy": "bypass"},
            {"domain": ["ok.example.com", "*"], "policy": "deny"},
            {"networks": ["10.0.0/8"], "path": ["^/(admin"], "methods": ["GE T"],
             "subject": ["bob", "user:", "group:a;b"], "policy": "two_factor"}
        ]}));
        assert_eq!(found.len(), 7, "{found:#?}");
        assert!(found[0].starts_with("rules[1].domain[1]: \"*\" is not a domain"));
        assert!(
            found.contains(
                &"rules[2].networks[0]: \"10.0.0/8\" is not a network (CIDR, such as \
                  10.0.0.0/8) or an address"
                    .to_owned()
            ),
            "{found:#?}"
        );
        assert!(
            found.iter().any(
                |e| e.starts_with("rules[2].path[0]: \"^/(admin\" is not a regular expression")
            )
        );
        assert!(
            found
                .iter()
                .any(|e| e.starts_with("rules[2].methods[0]: \"GE T\" is not an HTTP method"))
        );
        assert!(found.iter().any(|e| e.starts_with(
            "rules[2].subject[0]: \"bob\" is not a subject: write user:NAME or group:NAME"
        )));
        assert!(found.iter().any(|e| e.starts_with(
            "rules[2].subject[1]: \"user:\" is not a subject: a username is required"
        )));
        assert!(
            found
                .iter()
                .any(|e| e.starts_with("rules[2].subject[2]: \"group:a;b\" is not a subject"))
        );
    }

    #[test]
    fn an_unknown_policy_or_field_does_not_read() {
        for document in [
            json!({"rules": [{"policy": "two-factor"}]}),
            json!({"rules": [{"domains": ["a.example.com"], "policy": "deny"}]}),
            json!({"rules": [{"domain": ["a.example.com"]}]}),
            json!({"default": "deny"}),
        ] {
            assert!(
                serde_json::from_value::<AccessRulesDocument>(document.clone()).is_err(),
                "{document}"
            );
        }
    }

    #[test]
    fn no_rule_matching_leaves_the_default_policy_which_is_deny_unless_set() {
        assert_eq!(
            verdict(&rules(json!({})), GET, None),
            Verdict::Policy {
                policy: Policy::Deny,
                rule: None
            }
        );
        let open = rules(json!({"defaultPolicy": "one_factor",
                                "rules": [{"domain": ["other.example.com"], "policy": "bypass"}]}));
        assert_eq!(
            verdict(&open, GET, None),
            Verdict::Policy {
                policy: Policy::OneFactor,
                rule: None
            }
        );
    }

    #[test]
    fn the_first_rule_that_matches_decides() {
        let ordered = rules(json!({"rules": [
            {"domain": ["app.example.com"], "path": ["^/public/"], "policy": "bypass"},
            {"domain": ["*.example.com"], "policy": "two_factor"},
            {"domain": ["app.example.com"], "policy": "deny"}
        ]}));
        assert_eq!(
            verdict(
                &ordered,
                Ask {
                    path: "/public/logo.png",
                    ..GET
                },
                None
            ),
            Verdict::Policy {
                policy: Policy::Bypass,
                rule: Some(0)
            }
        );
        assert_eq!(
            verdict(&ordered, GET, None),
            Verdict::Policy {
                policy: Policy::TwoFactor,
                rule: Some(1)
            },
            "the later deny never gets a say"
        );
    }

    #[test]
    fn domains_match_exactly_or_every_name_under_a_wildcard() {
        let wild = rules(json!({"rules": [{"domain": ["*.example.com"], "policy": "bypass"}]}));
        for (host, expected) in [
            ("a.example.com", Policy::Bypass),
            ("a.b.example.com", Policy::Bypass),
            ("example.com", Policy::Deny),
            ("evilexample.com", Policy::Deny),
            ("a.example.com.evil.example", Policy::Deny),
        ] {
            assert_eq!(
                policy(verdict(&wild, Ask { host, ..GET }, None)),
                expected,
                "{host}"
            );
        }
    }

    #[test]
    fn a_path_regex_is_anchored_only_as_written_and_sees_the_query() {
        let anchored = rules(json!({"rules": [{"path": ["^/admin(/|$)"], "policy": "bypass"}]}));
        let loose = rules(json!({"rules": [{"path": ["/admin"], "policy": "bypass"}]}));
        let query = rules(
            json!({"rules": [{"path": ["[?&]debug=1"], "policy": "deny"}],
                                 "defaultPolicy": "bypass"}),
        );
        for (path, anchored_says, loose_says) in [
            ("/admin", Policy::Bypass, Policy::Bypass),
            ("/admin/users", Policy::Bypass, Policy::Bypass),
            ("/administrator", Policy::Deny, Policy::Bypass),
            ("/x/admin", Policy::Deny, Policy::Bypass),
        ] {
            assert_eq!(
                policy(verdict(&anchored, Ask { path, ..GET }, None)),
                anchored_says,
                "{path}"
            );
            assert_eq!(
                policy(verdict(&loose, Ask { path, ..GET }, None)),
                loose_says,
                "{path}"
            );
        }
        assert_eq!(
            policy(verdict(
                &query,
                Ask {
                    path: "/a?x=2&debug=1",
                    ..GET
                },
                None
            )),
            Policy::Deny
        );
        assert_eq!(
            policy(verdict(
                &query,
                Ask {
                    path: "/a?x=2",
                    ..GET
                },
                None
            )),
            Policy::Bypass
        );
    }

    #[test]
    fn methods_match_whatever_their_case_in_the_document() {
        let writes = rules(
            json!({"rules": [{"methods": ["post", "DELETE"], "policy": "deny"}],
                                  "defaultPolicy": "bypass"}),
        );
        assert_eq!(
            policy(verdict(
                &writes,
                Ask {
                    method: "POST",
                    ..GET
                },
                None
            )),
            Policy::Deny
        );
        assert_eq!(
            policy(verdict(
                &writes,
                Ask {
                    method: "DELETE",
                    ..GET
                },
                None
            )),
            Policy::Deny
        );
        assert_eq!(policy(verdict(&writes, GET, None)), Policy::Bypass);
    }

    #[test]
    fn networks_match_the_client_address_and_an_unknown_client_matches_none() {
        let office = rules(
            json!({"rules": [{"networks": ["10.0.0.0/8", "2001:db8::1"], "policy": "bypass"}]}),
        );
        for (client, expected) in [
            (Some("10.20.30.40"), Policy::Bypass),
            (Some("::ffff:10.1.2.3"), Policy::Bypass),
            (Some("2001:db8::1"), Policy::Bypass),
            (Some("11.0.0.1"), Policy::Deny),
            (None, Policy::Deny),
        ] {
            assert_eq!(
                policy(verdict(&office, Ask { client, ..GET }, None)),
                expected,
                "{client:?}"
            );
        }
    }

    #[test]
    fn subjects_match_any_of_their_users_or_groups_and_ask_an_anonymous_request_to_log_in() {
        let admins = rules(json!({"rules": [
            {"domain": ["app.example.com"], "subject": ["user:Bob", "group:Admins"], "policy": "two_factor"},
            {"domain": ["app.example.com"], "policy": "one_factor"}
        ]}));
        assert_eq!(verdict(&admins, GET, None), Verdict::Identify { rule: 0 });
        assert_eq!(
            verdict(&admins, GET, Some(("bob", &[]))),
            Verdict::Policy {
                policy: Policy::TwoFactor,
                rule: Some(0)
            },
            "a username's case does not count"
        );
        assert_eq!(
            policy(verdict(&admins, GET, Some(("carol", &["admins"])))),
            Policy::TwoFactor
        );
        assert_eq!(
            verdict(&admins, GET, Some(("dave", &["staff"]))),
            Verdict::Policy {
                policy: Policy::OneFactor,
                rule: Some(1)
            },
            "someone the subjects do not name goes on to the next rule"
        );
    }

    #[test]
    fn basic_authentication_is_the_matching_rule_s_to_allow_and_only_a_login_rule_s() {
        let some = rules(json!({"defaultPolicy": "one_factor", "rules": [
            {"domain": ["app.example.com"], "path": ["^/dav/"], "policy": "two_factor", "basicAuth": true},
            {"domain": ["app.example.com"], "path": ["^/api/"], "subject": ["group:bots"], "policy": "one_factor", "basic_auth": true},
            {"domain": ["app.example.com"], "policy": "one_factor"}
        ]}));
        let takes =
            |path: &'static str| some.takes_basic(verdict(&some, Ask { path, ..GET }, None));
        assert!(takes("/dav/file.txt"));
        assert!(
            takes("/api/x"),
            "asked who it is, by a rule that takes Basic"
        );
        assert!(!takes("/"), "a rule without basicAuth ignores it");
        let other = Ask {
            host: "other.example.com",
            ..GET
        };
        assert!(
            !some.takes_basic(verdict(&some, other, None)),
            "the default policy never takes it"
        );
        let document: AccessRulesDocument = serde_json::from_value(
            json!({"rules": [{"policy": "two_factor", "basic_auth": true}]}),
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&document).unwrap()["rules"][0],
            json!({"policy": "two_factor", "basicAuth": true}),
            "written as the API spells it, and left out when false"
        );
        assert_eq!(
            errors(json!({"rules": [
                {"policy": "one_factor", "basicAuth": true},
                {"policy": "bypass", "basicAuth": true},
                {"policy": "deny", "basicAuth": false},
                {"policy": "deny", "basicAuth": true}
            ]})),
            [
                "rules[1].basicAuth: a bypass rule takes no credentials: Basic authentication \
                 is for a one_factor or two_factor rule",
                "rules[3].basicAuth: a deny rule takes no credentials: Basic authentication is \
                 for a one_factor or two_factor rule",
            ]
        );
    }

    #[test]
    fn only_rules_that_name_a_domain_protect_it() {
        let some = rules(json!({"rules": [
            {"policy": "one_factor"},
            {"domain": ["*.example.com"], "policy": "one_factor"}
        ]}));
        let host = |h: &str| Host::of(&url::Url::parse(&format!("https://{h}/")).unwrap()).unwrap();
        assert!(some.protects(&host("app.example.com")));
        assert!(!some.protects(&host("evil.example")));
        assert!(!rules(json!({"rules": [{"policy": "bypass"}]})).protects(&host("evil.example")));
    }
}
