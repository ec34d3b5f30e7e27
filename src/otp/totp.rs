use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha1::Sha1;
use sha2::{Sha256, Sha512};

use super::{OtpCode, TotpSecret};
use crate::domain::Invalid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    #[default]
    Sha1,
    Sha256,
    Sha512,
}

impl Algorithm {
    /// The name in an `otpauth://` URI.
    pub fn uri_name(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        }
    }

    /// The name FusionAuth's API uses (`HmacSHA1`).
    pub fn api_name(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "HmacSHA1",
            Algorithm::Sha256 => "HmacSHA256",
            Algorithm::Sha512 => "HmacSHA512",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        match raw.to_ascii_uppercase().trim_start_matches("HMAC") {
            "SHA1" | "SHA-1" => Ok(Algorithm::Sha1),
            "SHA256" | "SHA-256" => Ok(Algorithm::Sha256),
            "SHA512" | "SHA-512" => Ok(Algorithm::Sha512),
            _ => Err(Invalid::new(
                "[invalid]",
                format!("unknown algorithm {raw:?}; use SHA1, SHA256 or SHA512"),
            )),
        }
    }
}

/// HOTP (RFC 4226 §5.3): HMAC of the 8-byte big-endian counter, dynamic truncation to 31 bits,
/// then the last `digits` decimal digits.
pub fn hotp(key: &[u8], counter: u64, digits: u32, algorithm: Algorithm) -> u32 {
    fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
        let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key)
            .expect("HMAC takes keys of any length");
        mac.update(message);
        mac.finalize().into_bytes().to_vec()
    }
    let message = counter.to_be_bytes();
    let digest = match algorithm {
        Algorithm::Sha1 => mac::<Hmac<Sha1>>(key, &message),
        Algorithm::Sha256 => mac::<Hmac<Sha256>>(key, &message),
        Algorithm::Sha512 => mac::<Hmac<Sha512>>(key, &message),
    };
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let truncated = u32::from_be_bytes([
        digest[offset],
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]) & 0x7fff_ffff;
    truncated % 10u32.pow(digits)
}

/// How an authenticator makes its codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TotpParams {
    pub algorithm: Algorithm,
    /// 6 or 8.
    pub digits: u32,
    /// Seconds per step (RFC 6238 X); 30 by default.
    pub period: u32,
    /// Steps accepted either side of the current one, for clock drift and typing time.
    pub skew: u32,
}

impl Default for TotpParams {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::Sha1,
            digits: 6,
            period: 30,
            skew: 1,
        }
    }
}

impl TotpParams {
    pub fn new(algorithm: Algorithm, digits: u32, period: u32, skew: u32) -> Result<Self, Invalid> {
        if digits != 6 && digits != 8 {
            return Err(Invalid::new(
                "[invalid]",
                "an authenticator code has 6 or 8 digits",
            ));
        }
        if !(15..=120).contains(&period) {
            return Err(Invalid::new("[invalid]", "the period is 15 to 120 seconds"));
        }
        if skew > 3 {
            return Err(Invalid::new("[invalid]", "at most 3 steps of clock skew"));
        }
        Ok(Self {
            algorithm,
            digits,
            period,
            skew,
        })
    }

    /// RFC 6238 T = floor((unix time − T0) / X), with T0 = 0.
    pub fn step_at(&self, unix_seconds: i64) -> u64 {
        u64::try_from(unix_seconds.max(0)).unwrap_or(0) / u64::from(self.period)
    }

    pub fn code_at_step(&self, secret: &TotpSecret, step: u64) -> OtpCode {
        let value = hotp(secret.bytes(), step, self.digits, self.algorithm);
        OtpCode::from_digits(format!("{value:0width$}", width = self.digits as usize))
    }

    pub fn code_at(&self, secret: &TotpSecret, unix_seconds: i64) -> OtpCode {
        self.code_at_step(secret, self.step_at(unix_seconds))
    }

    /// The step whose code this is, looking `skew` steps either side of now and only at steps
    /// after `last_used` (a code once accepted never counts again, RFC 6238 §5.2).
    pub fn matching_step(
        &self,
        secret: &TotpSecret,
        code: &OtpCode,
        unix_seconds: i64,
        last_used: Option<u64>,
    ) -> Option<u64> {
        match self.step_match(secret, code, unix_seconds, last_used) {
            StepMatch::Fresh(step) => Some(step),
            StepMatch::Spent | StepMatch::None => None,
        }
    }

    /// What this code is among the steps `skew` either side of now: the code of a step after
    /// `last_used`, or only of a step at or before it (spent), or of none. Every candidate is
    /// compared, in constant time, so the timing does not tell which one matched.
    pub fn step_match(
        &self,
        secret: &TotpSecret,
        code: &OtpCode,
        unix_seconds: i64,
        last_used: Option<u64>,
    ) -> StepMatch {
        if code.len() != self.digits as usize {
            return StepMatch::None;
        }
        let now = self.step_at(unix_seconds);
        let mut fresh = None;
        let mut spent = false;
        for step in now.saturating_sub(u64::from(self.skew))..=now + u64::from(self.skew) {
            let matches = self.code_at_step(secret, step).matches(code);
            let after_last_used = last_used.is_none_or(|used| step > used);
            if matches && after_last_used && fresh.is_none() {
                fresh = Some(step);
            }
            spent |= matches && !after_last_used;
        }
        match (fresh, spent) {
            (Some(step), _) => StepMatch::Fresh(step),
            (None, true) => StepMatch::Spent,
            (None, false) => StepMatch::None,
        }
    }
}

/// What a code is to an authenticator at a moment (`TotpParams::step_match`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepMatch {
    /// The code of this step, later than the last one used: it may count once.
    Fresh(u64),
    /// Only the code of a step already used, or of one before it: it cannot count again.
    Spent,
    /// The code of no step near now.
    None,
}

/// Characters escaped in URI parts: everything but unreserved ones.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `otpauth://totp/Issuer:account?secret=…&issuer=…&algorithm=…&digits=…&period=…` (Key Uri
/// Format). A colon inside the issuer or account would break the label, so it is dropped.
pub fn otpauth_uri(
    issuer: &str,
    account: &str,
    secret: &TotpSecret,
    params: &TotpParams,
) -> String {
    let issuer = issuer.replace(':', "");
    let account = account.replace(':', "");
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm={}&digits={}&period={}",
        utf8_percent_encode(&issuer, URI_COMPONENT),
        utf8_percent_encode(&account, URI_COMPONENT),
        secret.to_base32(),
        utf8_percent_encode(&issuer, URI_COMPONENT),
        params.algorithm.uri_name(),
        params.digits,
        params.period
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_SHA1: &[u8] = b"12345678901234567890";
    const SEED_SHA256: &[u8] = b"12345678901234567890123456789012";
    const SEED_SHA512: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    #[test]
    fn hotp_matches_rfc_4226_appendix_d() {
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, code) in expected.into_iter().enumerate() {
            assert_eq!(hotp(SEED_SHA1, counter as u64, 6, Algorithm::Sha1), code);
        }
    }

    #[test]
    fn totp_matches_every_row_of_rfc_6238_appendix_b() {
        let rows: [(i64, u64, &str, &str, &str); 6] = [
            (59, 0x1, "94287082", "46119246", "90693936"),
            (1111111109, 0x23523EC, "07081804", "68084774", "25091201"),
            (1111111111, 0x23523ED, "14050471", "67062674", "99943326"),
            (1234567890, 0x273EF07, "89005924", "91819424", "93441116"),
            (2000000000, 0x3F940AA, "69279037", "90698825", "38618901"),
            (20000000000, 0x27BC86AA, "65353130", "77737706", "47863826"),
        ];
        for (time, step, sha1, sha256, sha512) in rows {
            for (algorithm, seed, code) in [
                (Algorithm::Sha1, SEED_SHA1, sha1),
                (Algorithm::Sha256, SEED_SHA256, sha256),
                (Algorithm::Sha512, SEED_SHA512, sha512),
            ] {
                let params = TotpParams::new(algorithm, 8, 30, 1).unwrap();
                let secret = TotpSecret::from_bytes(seed.to_vec()).unwrap();
                assert_eq!(params.step_at(time), step);
                assert_eq!(
                    params.code_at(&secret, time).as_str(),
                    code,
                    "{algorithm:?} at {time}"
                );
                // Six-digit codes are the last six digits.
                let six = TotpParams::new(algorithm, 6, 30, 1).unwrap();
                assert_eq!(six.code_at(&secret, time).as_str(), &code[2..]);
            }
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_not_further() {
        let params = TotpParams::default();
        let secret = TotpSecret::generate();
        let now = 1_700_000_000;
        let step = params.step_at(now);
        for offset in [-1i64, 0, 1] {
            let code = params.code_at(&secret, now + offset * 30);
            assert_eq!(
                params.matching_step(&secret, &code, now, None),
                Some((step as i64 + offset) as u64)
            );
        }
        for offset in [-2i64, 2] {
            let code = params.code_at(&secret, now + offset * 30);
            assert_eq!(params.matching_step(&secret, &code, now, None), None);
        }
    }

    #[test]
    fn a_step_already_used_and_the_ones_before_it_are_refused() {
        let params = TotpParams::default();
        let secret = TotpSecret::generate();
        let now = 1_700_000_000;
        let step = params.step_at(now);
        let code = params.code_at(&secret, now);
        assert_eq!(params.matching_step(&secret, &code, now, Some(step)), None);
        assert_eq!(
            params.matching_step(&secret, &code, now, Some(step + 1)),
            None
        );
        assert_eq!(
            params.matching_step(&secret, &code, now, Some(step - 1)),
            Some(step)
        );
        let previous = params.code_at(&secret, now - 30);
        assert_eq!(
            params.matching_step(&secret, &previous, now, Some(step - 1)),
            None
        );
    }

    #[test]
    fn a_code_of_the_last_used_step_or_one_before_it_near_now_is_spent() {
        let params = TotpParams::default();
        let secret = TotpSecret::generate();
        let now = 1_700_000_000;
        let step = params.step_at(now);
        let code = params.code_at(&secret, now);
        let previous = params.code_at(&secret, now - 30);
        assert_eq!(
            params.step_match(&secret, &code, now, Some(step)),
            StepMatch::Spent
        );
        assert_eq!(
            params.step_match(&secret, &previous, now, Some(step)),
            StepMatch::Spent,
            "a step before the last used one is spent too"
        );
        assert_eq!(
            params.step_match(&secret, &code, now, Some(step - 1)),
            StepMatch::Fresh(step)
        );
        assert_eq!(
            params.step_match(&secret, &code, now, None),
            StepMatch::Fresh(step)
        );
        // Beyond the skew a spent step's code is no code at all.
        let older = params.code_at(&secret, now - 60);
        assert_eq!(
            params.step_match(&secret, &older, now, Some(step)),
            StepMatch::None
        );
        assert_eq!(
            params.step_match(&secret, &code, now + 60, Some(step)),
            StepMatch::None,
            "the spent step's code, two steps on"
        );
    }

    #[test]
    fn a_code_of_the_wrong_length_never_matches() {
        let params = TotpParams::default();
        let secret = TotpSecret::generate();
        let eight = TotpParams::new(Algorithm::Sha1, 8, 30, 1)
            .unwrap()
            .code_at(&secret, 0);
        assert_eq!(params.matching_step(&secret, &eight, 0, None), None);
    }

    #[test]
    fn only_sensible_parameters_are_accepted() {
        assert!(TotpParams::new(Algorithm::Sha1, 7, 30, 1).is_err());
        assert!(TotpParams::new(Algorithm::Sha1, 6, 5, 1).is_err());
        assert!(TotpParams::new(Algorithm::Sha1, 6, 30, 9).is_err());
        assert_eq!(Algorithm::parse("HmacSHA256").unwrap(), Algorithm::Sha256);
        assert_eq!(Algorithm::parse("sha512").unwrap(), Algorithm::Sha512);
        assert!(Algorithm::parse("md5").is_err());
    }

    #[test]
    fn the_otpauth_uri_carries_issuer_account_and_settings() {
        let secret = TotpSecret::from_bytes(SEED_SHA1.to_vec()).unwrap();
        let uri = otpauth_uri(
            "Acme Corp",
            "ann@example.com",
            &secret,
            &TotpParams::default(),
        );
        assert_eq!(
            uri,
            "otpauth://totp/Acme%20Corp:ann%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Acme%20Corp&algorithm=SHA1&digits=6&period=30"
        );
        assert!(
            otpauth_uri("a:b", "c:d", &secret, &TotpParams::default())
                .starts_with("otpauth://totp/ab:cd?")
        );
    }

    /// `oathtool` is a prerequisite of `cargo test` (README, as for the API tests): without it
    /// this test fails rather than pass having compared nothing.
    #[test]
    fn codes_agree_with_oathtool() {
        let output = std::process::Command::new("oathtool")
            .args([
                "--totp",
                "-b",
                "--now",
                "2026-01-01 00:00:00 UTC",
                "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
            ])
            .output()
            .expect("oathtool must be installed (apt-get install oathtool)");
        assert!(
            output.status.success(),
            "oathtool failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let theirs = String::from_utf8(output.stdout).unwrap();
        let secret = TotpSecret::from_bytes(SEED_SHA1.to_vec()).unwrap();
        let ours = TotpParams::default().code_at(&secret, 1_767_225_600);
        assert_eq!(theirs.trim(), ours.as_str());
    }
}
