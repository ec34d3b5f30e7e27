//! Properties of the parsers and the cryptography that every input must keep: arbitrary text
//! never panics a parser, what a parser accepts survives a round trip, and any change to a
//! signed token or a sealed secret is refused. `proptest` generates the inputs (256 cases per
//! property; a failure prints the smallest input that shows it).

use proptest::prelude::*;
use tessera::clock::Instant;
use tessera::crypto::cipher::SecretBox;
use tessera::crypto::{Claims, Keys, TokenError, TokenSigner};
use tessera::domain::{Email, PhoneNumber, Username};
use tessera::otp::{AccessCode, OtpCode, RecoveryCode, TotpSecret};
use tessera::two_factor::PresentedCode;

/// Text of the kinds a hostile client sends: any Unicode, and ASCII with separators.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,64}",
        "[+0-9 ()\\-.]{0,40}",
        "[0-9A-Za-z\\- ]{0,24}",
    ]
}

fn claims(exp: i64) -> Claims {
    Claims {
        iss: "tessera".into(),
        sub: "7b0c1c56-6b47-4bd4-a8a4-0f8f1c3b4e2a".into(),
        aud: None,
        exp,
        iat: exp - 3600,
        auth_time: exp - 3600,
        jti: "j".into(),
        sid: "s".into(),
        roles: vec!["user".into()],
        amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
        preferred_username: Some("ann".into()),
    }
}

proptest! {
    #[test]
    fn parsers_answer_every_input_without_panicking(raw in hostile_text()) {
        let _ = PhoneNumber::parse(&raw);
        let _ = Email::parse(&raw);
        let _ = Username::parse(&raw);
        let _ = OtpCode::parse(&raw);
        let _ = RecoveryCode::parse(&raw);
        let _ = AccessCode::parse(&raw);
        let _ = AccessCode::is_meant(&raw);
        let _ = PresentedCode::parse(&raw);
        let _ = TotpSecret::from_base32(&raw);
    }

    #[test]
    fn a_parsed_phone_number_is_its_own_canonical_form(
        raw in prop_oneof!["\\+[1-9][0-9 ]{6,16}", "\\+1 \\(303\\) 555-[0-9]{4}", "\\+44 20 7946 [0-9]{4}"],
    ) {
        if raw.starts_with("+1 (303)") || raw.starts_with("+44 20") {
            prop_assert!(PhoneNumber::parse(&raw).is_ok(), "{raw} is a valid number");
        }
        if let Ok(phone) = PhoneNumber::parse(&raw) {
            let again = PhoneNumber::parse(phone.e164()).expect("E.164 parses");
            prop_assert_eq!(again.e164(), phone.e164());
            prop_assert!(phone.e164().starts_with('+'));
            prop_assert!(phone.e164()[1..].bytes().all(|b| b.is_ascii_digit()));
            let masked = phone.masked();
            prop_assert!(!masked.contains(&phone.e164()[1..]), "{masked} shows the number");
        }
    }

    #[test]
    fn codes_keep_exactly_their_digits(digits in "[0-9]{4,10}", dash in 0usize..4) {
        let typed = format!("{}-{}", &digits[..dash.min(digits.len())], &digits[dash.min(digits.len())..]);
        let code = OtpCode::parse(&typed).expect("digits with a dash");
        prop_assert_eq!(code.as_str(), digits.as_str());
    }

    #[test]
    fn a_recovery_code_reads_back_from_its_display_however_it_is_typed(
        normalised in "[0-9A-HJKMNP-TV-Z]{10}",
        typing in proptest::collection::vec((any::<bool>(), 0u8..3, 0u8..4), 10),
    ) {
        let code = RecoveryCode::parse(&normalised).expect("Crockford's alphabet parses");
        prop_assert_eq!(code.normalised(), normalised.as_str());
        let shown = code.display();
        prop_assert_eq!(&shown, &format!("{}-{}", &normalised[..5], &normalised[5..]));
        let back = RecoveryCode::parse(&shown.to_lowercase()).expect("display parses");
        prop_assert_eq!(back.normalised(), code.normalised());
        let typed = typed_as_a_person_might(&normalised, &typing);
        let back = RecoveryCode::parse(&typed).expect("a typed code parses");
        prop_assert_eq!(back.normalised(), code.normalised(), "typed as {}", typed);
        // `RecoveryCode::looks_like` wants a letter: ten digits are read as a numeric code.
        if normalised.bytes().any(|b| b.is_ascii_alphabetic()) {
            prop_assert!(matches!(PresentedCode::parse(&shown), Ok(PresentedCode::Recovery(_))));
            prop_assert!(matches!(PresentedCode::parse(&typed), Ok(PresentedCode::Recovery(_))));
        }
    }

    #[test]
    fn an_access_code_reads_back_from_its_display_however_it_is_typed_and_is_no_other_code(
        normalised in "[0-9A-HJKMNP-TV-Z]{19}[A-HJKMNP-TV-Z]",
        typing in proptest::collection::vec((any::<bool>(), 0u8..3, 0u8..4), 20),
    ) {
        let code = AccessCode::parse(&normalised).expect("Crockford's alphabet parses");
        prop_assert_eq!(code.normalised(), normalised.as_str());
        let shown = code.display();
        let back = AccessCode::parse(&shown.to_lowercase()).expect("display parses");
        prop_assert_eq!(back.normalised(), code.normalised());
        let typed = typed_as_a_person_might(&normalised, &typing);
        let back = AccessCode::parse(&typed).expect("a typed code parses");
        prop_assert_eq!(back.normalised(), code.normalised(), "typed as {}", typed);
        for text in [&shown, &typed] {
            prop_assert!(AccessCode::is_meant(text), "{} is read as an access code", text);
            prop_assert!(!RecoveryCode::looks_like(text));
            prop_assert!(OtpCode::parse(text).is_err());
        }
    }

    #[test]
    fn a_totp_secret_survives_base32(bytes in proptest::collection::vec(any::<u8>(), 16..64)) {
        if let Ok(secret) = TotpSecret::from_bytes(bytes) {
            let text = secret.to_base32();
            let back = TotpSecret::from_base32(&text).expect("own base32 parses");
            prop_assert_eq!(back.to_base32(), text);
        }
    }

    #[test]
    fn a_token_with_any_byte_changed_is_refused(position in any::<prop::sample::Index>(), byte in 0x21u8..0x7f) {
        let signer = TokenSigner::new(&[7; 32]);
        let now = Instant::now();
        let token = signer.sign(&claims(now.seconds() + 3600));
        prop_assert!(signer.verify(&token, now).is_ok());
        let mut bytes = token.clone().into_bytes();
        let at = position.index(bytes.len());
        prop_assume!(bytes[at] != byte);
        bytes[at] = byte;
        let forged = String::from_utf8(bytes).unwrap();
        // Base64url has spare bits in its last character: a change there may decode to the same
        // bytes, and then the token is the same token.
        let same_token = forged.split('.').count() == 3
            && forged.split('.').zip(token.split('.')).all(|(a, b)| {
                use base64::Engine;
                let decode = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok();
                decode(a).is_some() && decode(a) == decode(b)
            });
        prop_assume!(!same_token);
        prop_assert!(signer.verify(&forged, now).is_err(), "forged token accepted");
    }

    #[test]
    fn a_token_is_refused_as_expired_from_its_expiry_on_and_not_before(
        exp in 1_000_000_000i64..4_000_000_000,
        age_seconds in 0i64..10 * 365 * 86_400,
        millis in 0i64..1000,
    ) {
        let signer = TokenSigner::new(&[7; 32]);
        let token = signer.sign(&claims(exp));
        // The signature is good: the same token verifies up to the last second before `exp`.
        let before = Instant::from_millis((exp - 1) * 1000 + millis);
        prop_assert!(signer.verify(&token, before).is_ok());
        let after = Instant::from_millis((exp + age_seconds) * 1000 + millis);
        prop_assert_eq!(signer.verify(&token, after), Err(TokenError::Expired));
    }

    #[test]
    fn arbitrary_tokens_are_refused_without_panicking(raw in hostile_text()) {
        let signer = TokenSigner::new(&[7; 32]);
        prop_assert!(signer.verify(&raw, Instant::now()).is_err());
    }

    #[test]
    fn a_sealed_secret_opens_only_unchanged_and_in_its_place(
        plaintext in proptest::collection::vec(any::<u8>(), 0..200),
        position in any::<prop::sample::Index>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let sealer = SecretBox::new(Keys::load_or_create(dir.path()).unwrap());
        let sealed = sealer.seal(&plaintext, "users/1/totp");
        prop_assert_eq!(sealer.open(&sealed, "users/1/totp").unwrap(), plaintext.clone());
        prop_assert!(sealer.open(&sealed, "users/2/totp").is_err(), "moved to another row");
        let mut damaged = sealed.clone();
        let mut chars: Vec<char> = damaged.ciphertext.chars().collect();
        let at = position.index(chars.len());
        chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
        damaged.ciphertext = chars.into_iter().collect();
        prop_assert!(sealer.open(&damaged, "users/1/totp").is_err(), "damaged ciphertext opened");
    }
}

/// `code` as a person might type it: per character (lower case?, a look-alike for 0 or 1: none,
/// O/I or O/L, then a separator: none, a dash or a space).
fn typed_as_a_person_might(code: &str, typing: &[(bool, u8, u8)]) -> String {
    let mut typed = String::new();
    for (c, (lower, look_alike, separator)) in code.chars().zip(typing) {
        let c = match (c, look_alike) {
            ('0', 1 | 2) => 'O',
            ('1', 1) => 'I',
            ('1', 2) => 'L',
            (c, _) => c,
        };
        typed.push(if *lower { c.to_ascii_lowercase() } else { c });
        match separator {
            1 => typed.push('-'),
            2 => typed.push(' '),
            _ => {}
        }
    }
    typed
}

/// Not a property (its codes come from the operating system's generator, not from proptest):
/// the codes Tessera hands out are ten characters of the alphabet, shown with a dash, and
/// read back as themselves.
#[test]
fn generated_recovery_codes_read_back_from_their_display() {
    for _ in 0..256 {
        let code = RecoveryCode::generate();
        let normalised = code.normalised().to_owned();
        assert_eq!(normalised.len(), 10, "{normalised}");
        assert!(
            normalised
                .bytes()
                .all(|b| b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&b)),
            "{normalised}"
        );
        let shown = code.display();
        assert_eq!(shown.len(), 11, "{shown}");
        assert!(
            RecoveryCode::looks_like(&shown),
            "{shown} is read as a recovery code, not a numeric one"
        );
        let back = RecoveryCode::parse(&shown.to_lowercase()).expect("display parses");
        assert_eq!(back.normalised(), normalised);
    }
}
