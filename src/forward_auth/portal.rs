//! The login portal's way back (`rd`): where a browser sent to log in by a proxy may be sent
//! back to, as pure rules. Only a site a rule names (or the configuration allows over http),
//! over https unless the configuration allows http for it: never an open redirect.

use crate::domain::{DomainPattern, Host};

use crate::access_rules::AccessRules;

/// The longest address kept as a way back.
const MAX_URL_CHARS: usize = 4096;

/// An address the portal may send a browser back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnUrl {
    url: url::Url,
    host: Host,
}

impl ReturnUrl {
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    pub fn host(&self) -> &Host {
        &self.host
    }
}

/// Why a way back was refused, in words for the login page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReturnRefusal {
    #[error("it is not a complete web address")]
    NotAnAddress,
    #[error("it is not an http or https address")]
    NotTheWeb,
    #[error("it carries a username or password")]
    Credentials,
    #[error("{0} is not a site this server protects")]
    NotProtected(Host),
    #[error("{0} is not reached over https")]
    PlainHttp(Host),
}

/// `raw` as a way back, if a rule names its host's domain (or `allow_http` does) and it is
/// https (or http for a domain of `allow_http`).
pub fn return_url(
    raw: &str,
    rules: &AccessRules,
    allow_http: &[DomainPattern],
) -> Result<ReturnUrl, ReturnRefusal> {
    let raw = raw.trim();
    // An absolute address only: `//evil.example` and `/path` do not parse without a base.
    let url = (raw.len() <= MAX_URL_CHARS)
        .then(|| url::Url::parse(raw).ok())
        .flatten()
        .ok_or(ReturnRefusal::NotAnAddress)?;
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        _ => return Err(ReturnRefusal::NotTheWeb),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ReturnRefusal::Credentials);
    }
    let host = Host::of(&url).ok_or(ReturnRefusal::NotAnAddress)?;
    let named = |list: &[DomainPattern]| list.iter().any(|d| d.matches(&host));
    if !(rules.protects(&host) || named(allow_http)) {
        return Err(ReturnRefusal::NotProtected(host));
    }
    if !https && !named(allow_http) {
        return Err(ReturnRefusal::PlainHttp(host));
    }
    Ok(ReturnUrl { url, host })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access_rules::AccessRulesDocument;

    fn rules() -> AccessRules {
        let document: AccessRulesDocument = serde_json::from_value(serde_json::json!({
            "rules": [
                {"domain": ["app.example.com", "*.apps.example.com"], "policy": "one_factor"},
                {"policy": "deny"}
            ]
        }))
        .unwrap();
        AccessRules::compile(&document).unwrap()
    }

    fn check(raw: &str, allow_http: &[&str]) -> Result<String, ReturnRefusal> {
        let allow: Vec<DomainPattern> = allow_http
            .iter()
            .map(|d| DomainPattern::parse(d).unwrap())
            .collect();
        return_url(raw, &rules(), &allow).map(|url| url.as_str().to_owned())
    }

    #[test]
    fn an_https_address_of_a_protected_site_is_kept() {
        assert_eq!(
            check("https://app.example.com/wiki?page=1#top", &[]).as_deref(),
            Ok("https://app.example.com/wiki?page=1#top")
        );
        assert!(check("https://grafana.apps.example.com:8443/", &[]).is_ok());
    }

    #[test]
    fn anywhere_else_is_refused_whatever_it_looks_like() {
        for raw in [
            "https://evil.example/",
            "https://app.example.com.evil.example/",
            "https://evilapp.example.com/",
            "https://apps.example.com/",
        ] {
            assert!(
                matches!(check(raw, &[]), Err(ReturnRefusal::NotProtected(_))),
                "{raw}"
            );
        }
        for raw in [
            "//evil.example",
            "/local/path",
            "evil.example",
            "",
            "https://",
        ] {
            assert_eq!(check(raw, &[]), Err(ReturnRefusal::NotAnAddress), "{raw}");
        }
        for raw in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "ftp://app.example.com/",
        ] {
            assert_eq!(check(raw, &[]), Err(ReturnRefusal::NotTheWeb), "{raw}");
        }
        assert_eq!(
            check("https://user:pw@app.example.com/", &[]),
            Err(ReturnRefusal::Credentials)
        );
        assert!(matches!(
            check("https://app.example.com@evil.example/", &[]),
            Err(ReturnRefusal::Credentials)
        ));
    }

    #[test]
    fn plain_http_is_kept_only_for_a_domain_the_configuration_allows_it_for() {
        assert!(matches!(
            check("http://app.example.com/", &[]),
            Err(ReturnRefusal::PlainHttp(_))
        ));
        assert!(check("http://app.example.com/", &["app.example.com"]).is_ok());
        assert!(check("http://intranet.test/", &["*.intranet.test"]).is_err());
        assert!(check("http://a.intranet.test/", &["*.intranet.test"]).is_ok());
    }
}
