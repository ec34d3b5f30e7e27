use serde::{Deserialize, Serialize};

/// Where a login comes from: the web pages or an application calling the JSON API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoginType {
    Web,
    Api,
}

impl LoginType {
    pub fn as_str(self) -> &'static str {
        match self {
            LoginType::Web => "web",
            LoginType::Api => "api",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "web" => Some(LoginType::Web),
            "api" => Some(LoginType::Api),
            _ => None,
        }
    }
}
