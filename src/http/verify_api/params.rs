//! The form parameters of a request, as Twilio's SDKs send them (PascalCase names, dotted for
//! nested ones such as `Totp.Issuer`).

use std::ops::RangeInclusive;

use super::error::TwilioError;
use crate::verify::{flag_param, number_param};

/// Form parameters; unknown ones are ignored, as Twilio ignores them.
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(body: &[u8]) -> Self {
        Self(form_urlencoded::parse(body).into_owned().collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn flag(&self, name: &'static str) -> Result<Option<bool>, TwilioError> {
        Ok(self
            .get(name)
            .map(|raw| flag_param(name, raw))
            .transpose()?)
    }

    pub fn number(
        &self,
        name: &'static str,
        range: RangeInclusive<i64>,
    ) -> Result<Option<i64>, TwilioError> {
        Ok(self
            .get(name)
            .map(|raw| number_param(name, raw, range))
            .transpose()?)
    }
}
