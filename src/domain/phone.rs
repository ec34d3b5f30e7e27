use std::fmt;

use phonenumber::{Mode, ParseError};

use super::Invalid;

/// Longer than any real number written with spaces and punctuation; refused before parsing.
const MAX_INPUT_CHARS: usize = 40;
/// E.164's most digits, country code included.
const MAX_DIGITS: usize = 15;

/// A phone number in E.164 form (`+13035551212`), parsed and checked against the numbering
/// plan of its country by the `phonenumber` crate.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

/// The country whose national numbers (`303-555-1212`) a server reads without a country code:
/// `default_region` in the configuration, an ISO code its numbering plans know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(phonenumber::country::Id);

impl Region {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        raw.trim()
            .to_ascii_uppercase()
            .parse::<phonenumber::country::Id>()
            .map(Self)
            .map_err(|_| {
                Invalid::new(
                    "[invalid]",
                    format!("{raw:?} is not a country code of the numbering plans, like US or GB"),
                )
            })
    }

    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }
}

impl PhoneNumber {
    /// Accepts international forms (`+1 303 555 1212`, `+44 (20) 7946-0958`); the country code
    /// is required because a server has no single home country, unless it names one.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Self::parse_in(raw, None)
    }

    /// As `parse`, and a number without a country code is read as a national number of
    /// `home`, when there is one (`555-555-5555` in the United States).
    pub fn parse_in(raw: &str, home: Option<Region>) -> Result<Self, Invalid> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(Invalid::new("[blank]", "a phone number is required"));
        }
        if value.chars().count() > MAX_INPUT_CHARS {
            return Err(Invalid::new(
                "[tooLong]",
                "a phone number has at most 15 digits",
            ));
        }
        if let Some(bad) = value
            .chars()
            .find(|c| !(c.is_ascii_digit() || " +-().".contains(*c)))
        {
            return Err(Invalid::new(
                "[invalid]",
                format!(
                    "a phone number cannot contain {bad:?}; use digits, spaces and a leading +"
                ),
            ));
        }
        let national_of = match home {
            _ if value.starts_with('+') => None,
            Some(region) => Some(region.0),
            None => {
                return Err(Invalid::new(
                    "[invalid]",
                    "start the phone number with + and the country code, for example +1 303 555 1212",
                ));
            }
        };
        let parsed = phonenumber::parse(national_of, value).map_err(|error| {
            let why = match error {
                ParseError::InvalidCountryCode => "its country code does not exist",
                ParseError::TooShortAfterIdd | ParseError::TooShortNsn => {
                    "it is too short for a phone number"
                }
                ParseError::TooLong => "it is too long for a phone number",
                ParseError::NoNumber | ParseError::MalformedInteger(_) => {
                    "it is not a phone number"
                }
            };
            Invalid::new("[invalid]", format!("{value:?} is refused: {why}"))
        })?;
        if !parsed.is_valid() {
            let plan = match national_of {
                Some(region) => format!("the numbering plan of {}", region.as_ref()),
                None => "the numbering plan of its country".to_owned(),
            };
            return Err(Invalid::new(
                "[invalid]",
                format!("{value:?} is not a valid number in {plan}"),
            ));
        }
        let e164 = parsed.format().mode(Mode::E164).to_string();
        // Some countries' plans (Germany's) allow national numbers longer than E.164's 15
        // digits, which this type promises and the delivery providers expect.
        if e164.len() - 1 > MAX_DIGITS {
            return Err(Invalid::new(
                "[tooLong]",
                format!(
                    "{value:?} is refused: a phone number has at most {MAX_DIGITS} digits, country code included"
                ),
            ));
        }
        Ok(Self(e164))
    }

    pub fn e164(&self) -> &str {
        &self.0
    }

    /// The ISO code of the number's country (US, GB…), as its numbering plan says.
    pub fn region(&self) -> Option<String> {
        phonenumber::parse(None, &self.0)
            .ok()
            .and_then(|n| n.country().id())
            .map(|id| id.as_ref().to_owned())
    }

    /// The number as shown to someone who should recognise it but not learn it: the country
    /// code and the last four digits (`+1 •••• 1212`).
    pub fn masked(&self) -> String {
        let country_code = phonenumber::parse(None, &self.0)
            .map(|n| n.code().value().to_string())
            .unwrap_or_default();
        let digits = &self.0[1..];
        let tail = &digits[digits.len().saturating_sub(4)..];
        format!("+{country_code} •••• {tail}")
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_numbers_are_read_in_the_home_region_when_there_is_one() {
        let us = Region::parse("us").unwrap();
        assert_eq!(
            PhoneNumber::parse_in("303-555-5555", Some(us))
                .unwrap()
                .e164(),
            "+13035555555"
        );
        assert_eq!(
            PhoneNumber::parse_in("(303) 555-5555", Some(us))
                .unwrap()
                .region()
                .as_deref(),
            Some("US")
        );
        // An international form keeps its own country.
        let gb = PhoneNumber::parse_in("+44 20 7946 0958", Some(us)).unwrap();
        assert_eq!(gb.e164(), "+442079460958");
        let without_home = PhoneNumber::parse("303-555-5555").unwrap_err();
        assert!(
            without_home
                .message
                .contains("start the phone number with +")
        );
        // 555 is no area code: said in the home country's terms.
        let fictional = PhoneNumber::parse_in("555-555-5555", Some(us)).unwrap_err();
        assert!(
            fictional.message.contains("numbering plan of US"),
            "{}",
            fictional.message
        );
        assert!(Region::parse("XX").is_err());
    }

    #[test]
    fn international_forms_become_e164() {
        assert_eq!(
            PhoneNumber::parse("+1 (303) 555-1212").unwrap().e164(),
            "+13035551212"
        );
        assert_eq!(
            PhoneNumber::parse(" +44 20 7946 0958 ").unwrap().e164(),
            "+442079460958"
        );
    }

    #[test]
    fn a_number_its_country_allows_but_longer_than_e164_is_refused() {
        // Found by the `phone` fuzz target: Germany's plan accepts a 15-digit national number,
        // 17 digits with the country code.
        let error = PhoneNumber::parse("+49245046095544609").unwrap_err();
        assert!(
            error.message.contains("at most 15 digits"),
            "{}",
            error.message
        );
        assert_eq!(
            PhoneNumber::parse("+49 30 901820").unwrap().e164(),
            "+4930901820"
        );
    }

    #[test]
    fn a_number_without_country_code_says_how_to_write_it() {
        let error = PhoneNumber::parse("303 555 1212").unwrap_err();
        assert!(error.message.contains("country code"), "{}", error.message);
    }

    #[test]
    fn nonsense_is_refused_with_a_reason() {
        for bad in [
            "+1 555",
            "+999 1234567",
            "+1 303 555 1212 3456 789",
            "+1 303-CALL-NOW",
            "",
            "+1",
        ] {
            let error = PhoneNumber::parse(bad).unwrap_err();
            assert!(!error.message.is_empty(), "{bad}");
        }
    }

    #[test]
    fn a_number_knows_its_country_even_where_countries_share_a_code() {
        let region = |raw: &str| PhoneNumber::parse(raw).unwrap().region();
        assert_eq!(region("+1 303 555 1212").as_deref(), Some("US"));
        assert_eq!(region("+1 876 555 0100").as_deref(), Some("JM"));
        assert_eq!(region("+44 7400 123456").as_deref(), Some("GB"));
    }

    #[test]
    fn a_masked_number_keeps_country_code_and_last_four_digits() {
        let phone = PhoneNumber::parse("+1 303 555 1212").unwrap();
        assert_eq!(phone.masked(), "+1 •••• 1212");
        assert!(!format!("{phone:?}").contains("5551212"));
    }
}
