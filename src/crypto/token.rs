//! The JSON API's access tokens: JWTs signed with HMAC-SHA256 under the data directory's
//! signing key (`TokenSigner`), or, when the configuration says so, by the OpenID Connect keys
//! so that applications can verify them offline (`AccessTokenSigner::Published`). One set of
//! claims and one rule of expiry for both.
//!
//! Written here rather than with the `jsonwebtoken` crate because Tessera only ever signs and
//! checks its own tokens, and that crate's RustCrypto backend brings RSA and elliptic-curve
//! code into the build for nothing. Every header is Tessera's own, so no `alg` trickery can get
//! in: HS256 has one fixed header, and a published key verifies only with its own algorithm.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::oidc_keys::{Algorithm, KeyRing};
use crate::clock::Instant;

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;
/// Far above any token Tessera makes; longer input is refused before decoding.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Claims {
    pub iss: String,
    /// The user id.
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    pub jti: String,
    /// The server-side session this token belongs to: revoking it revokes the token.
    pub sid: String,
    pub roles: Vec<String>,
    /// Authentication methods used (RFC 8176): `pwd`, then `otp`, `sms`… for second factors.
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature is wrong")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
}

#[derive(Clone)]
pub struct TokenSigner {
    key: [u8; 32],
}

impl TokenSigner {
    pub fn new(key: &[u8; 32]) -> Self {
        Self { key: *key }
    }

    pub fn sign(&self, claims: &Claims) -> String {
        // Claims hold only strings and integers; serialising them cannot fail.
        let payload = serde_json::to_vec(claims).unwrap_or_default();
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(HEADER),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = self.mac(signing_input.as_bytes()).finalize().into_bytes();
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// Checks shape, signature and expiry. Whether the session still stands is the caller's
    /// question (it needs the store).
    pub fn verify(&self, token: &str, now: Instant) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        if URL_SAFE_NO_PAD.decode(header).ok().as_deref() != Some(HEADER.as_bytes()) {
            return Err(TokenError::Malformed);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        let signing_input_len = header.len() + 1 + payload.len();
        self.mac(&token.as_bytes()[..signing_input_len])
            .verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let claims = serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
        unexpired(claims, now)
    }

    fn mac(&self, input: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .expect("HMAC takes keys of any length");
        mac.update(input);
        mac
    }
}

/// The claims of a token whose signature held, if it has not expired.
fn unexpired(claims: Claims, now: Instant) -> Result<Claims, TokenError> {
    if claims.exp <= now.seconds() {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

/// The `typ` of the JSON API's access tokens signed by the published keys (RFC 9068): no ID
/// token or client's access token, signed by the same keys, passes for one.
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// How the JSON API's access tokens are signed and verified.
#[derive(Clone)]
pub enum AccessTokenSigner {
    /// HS256 under the data directory's signing key: only Tessera verifies them.
    Hs256(TokenSigner),
    /// The newest OpenID Connect key of `algorithm`, with its `kid`: anyone verifies them
    /// against the JWKS. HS256 tokens still verify, so that the ones issued before a switch
    /// live out their time.
    Published {
        keys: KeyRing,
        algorithm: Algorithm,
        hs256: TokenSigner,
    },
}

impl From<TokenSigner> for AccessTokenSigner {
    fn from(signer: TokenSigner) -> Self {
        AccessTokenSigner::Hs256(signer)
    }
}

impl AccessTokenSigner {
    pub fn sign(&self, claims: &Claims) -> String {
        match self {
            AccessTokenSigner::Hs256(signer) => signer.sign(claims),
            AccessTokenSigner::Published {
                keys, algorithm, ..
            } => {
                // Claims hold only strings and integers; serialising them cannot fail.
                let value = serde_json::to_value(claims).unwrap_or_default();
                keys.keys()
                    .sign_typed(*algorithm, ACCESS_TOKEN_TYPE, &value)
            }
        }
    }

    /// Checks shape, signature and expiry, as `TokenSigner::verify`.
    pub fn verify(&self, token: &str, now: Instant) -> Result<Claims, TokenError> {
        match self {
            AccessTokenSigner::Hs256(signer) => signer.verify(token, now),
            AccessTokenSigner::Published { keys, hs256, .. } => {
                if has_hs256_header(token) {
                    return hs256.verify(token, now);
                }
                let value = keys.keys().verify_typed(token, ACCESS_TOKEN_TYPE).map_err(
                    |error| match error {
                        super::oidc_keys::JwsError::Malformed => TokenError::Malformed,
                        super::oidc_keys::JwsError::BadSignature => TokenError::BadSignature,
                    },
                )?;
                let claims = serde_json::from_value(value).map_err(|_| TokenError::Malformed)?;
                unexpired(claims, now)
            }
        }
    }
}

fn has_hs256_header(token: &str) -> bool {
    token
        .split('.')
        .next()
        .and_then(|header| URL_SAFE_NO_PAD.decode(header).ok())
        .is_some_and(|header| header == HEADER.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            iss: "http://localhost".into(),
            sub: "user-1".into(),
            aud: None,
            exp,
            iat: 0,
            auth_time: 0,
            jti: "j".into(),
            sid: "s".into(),
            roles: vec!["user".into()],
            amr: vec!["pwd".into()],
            preferred_username: None,
        }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let signer = TokenSigner::new(&[7; 32]);
        let token = signer.sign(&claims(100));
        assert_eq!(
            signer.verify(&token, Instant::from_millis(99_000)).unwrap(),
            claims(100)
        );
        assert_eq!(
            signer.verify(&token, Instant::from_millis(100_000)),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn a_token_from_another_key_or_altered_is_refused() {
        let token = TokenSigner::new(&[7; 32]).sign(&claims(100));
        let other = TokenSigner::new(&[8; 32]);
        assert_eq!(
            other.verify(&token, Instant::from_millis(0)),
            Err(TokenError::BadSignature)
        );

        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        let mut forged = claims(100);
        forged.roles = vec!["admin".into()];
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let signer = TokenSigner::new(&[7; 32]);
        assert_eq!(
            signer.verify(&parts.join("."), Instant::from_millis(0)),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn a_published_signer_signs_with_a_kid_and_still_takes_hs256_tokens_from_before() {
        let dir = tempfile::tempdir().unwrap();
        let keys = KeyRing::open(dir.path()).unwrap();
        let hs256 = TokenSigner::new(&[7; 32]);
        let signer = AccessTokenSigner::Published {
            keys: keys.clone(),
            algorithm: Algorithm::Es256,
            hs256: hs256.clone(),
        };
        let now = Instant::from_millis(0);
        let token = signer.sign(&claims(100));
        let header: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["typ"], ACCESS_TOKEN_TYPE);
        assert_eq!(header["kid"], keys.keys().current_kid(Algorithm::Es256));
        assert_eq!(signer.verify(&token, now), Ok(claims(100)));
        assert_eq!(
            signer.verify(&token, Instant::from_millis(100_000)),
            Err(TokenError::Expired)
        );
        let before = hs256.sign(&claims(100));
        assert_eq!(signer.verify(&before, now), Ok(claims(100)));
        assert_eq!(
            AccessTokenSigner::from(hs256).verify(&token, now),
            Err(TokenError::Malformed),
            "an HS256 server does not take them"
        );
        // An ID token, signed by the same keys, is no access token.
        let id_token = keys.keys().sign(
            Algorithm::Es256,
            &serde_json::to_value(claims(100)).unwrap(),
        );
        assert_eq!(signer.verify(&id_token, now), Err(TokenError::Malformed));
        let mut forged: Vec<&str> = token.split('.').collect();
        let other = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(999)).unwrap());
        forged[1] = &other;
        assert_eq!(
            signer.verify(&forged.join("."), now),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn an_unsigned_or_garbled_token_is_malformed() {
        let signer = TokenSigner::new(&[7; 32]);
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(100)).unwrap());
        for bad in [
            format!("{none_header}.{body}."),
            "a.b".into(),
            "a.b.c.d".into(),
            "".into(),
            "x".repeat(10_000),
        ] {
            assert_eq!(
                signer.verify(&bad, Instant::from_millis(0)),
                Err(TokenError::Malformed)
            );
        }
    }
}
