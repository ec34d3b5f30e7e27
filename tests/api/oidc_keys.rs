//! OpenID Connect's signing keys: a rotation makes new tokens carry the new key's id while the
//! tokens signed before still verify; a key is retired only once its tokens can have expired
//! (or by force), and leaves the JWKS; a client registered for ES256 gets ES256 tokens. Every
//! signature is checked here with `ring` against the published JWKS, apart from Tessera's own
//! verification.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::{Value, json};
use tessera::audit::{Actor, Origin};
use tessera::clock::Instant;
use tessera::crypto::oidc_keys::Algorithm;
use tessera::oidc::{ClientSettings, ClientUpdate, RetireError};

use crate::helpers::{TestApp, spawn_app};
use crate::oidc::{REDIRECT, client, code_form, param, sign_in, trade, userinfo};
use crate::web::Browser;

/// The JWKS the server publishes now.
pub(crate) async fn jwks(app: &TestApp) -> Value {
    app.client
        .get(app.url("/oauth2/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn decoded(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// A token's header and claims, if its signature verifies with the key of the JWKS its `kid`
/// names: what an application does offline, with nothing of Tessera's.
pub(crate) fn verified_by(jwks: &Value, token: &str) -> Option<(Value, Value)> {
    let (input, signed) = token.rsplit_once('.')?;
    let (header, claims) = input.split_once('.')?;
    let header = decoded(header);
    let key = jwks["keys"]
        .as_array()?
        .iter()
        .find(|k| k["kid"] == header["kid"])?;
    let bytes = |name: &str| URL_SAFE_NO_PAD.decode(key[name].as_str().unwrap()).unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signed).ok()?;
    let verified = match (header["alg"].as_str()?, key["kty"].as_str()?) {
        ("RS256", "RSA") => RsaPublicKeyComponents {
            n: bytes("n"),
            e: bytes("e"),
        }
        .verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            input.as_bytes(),
            &signature,
        ),
        ("ES256", "EC") => {
            let point = [vec![4u8], bytes("x"), bytes("y")].concat();
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(input.as_bytes(), &signature)
        }
        _ => return None,
    };
    verified.ok()?;
    Some((header, decoded(claims)))
}

/// Signs `name` in to `client_id` in a browser of their own and trades the code: the tokens.
async fn tokens_for(app: &TestApp, client_id: &str, secret: &str, name: &str) -> Value {
    let mut browser = Browser::new();
    let back = sign_in(app, &mut browser, client_id, name).await;
    let code = param(&back, "code").unwrap();
    let (status, tokens) = trade(app, client_id, Some(secret), &code_form(&code)).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

fn kid_of(token: &str) -> String {
    decoded(token.split('.').next().unwrap())["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn rotate(app: &TestApp, algorithms: &[Algorithm]) {
    app.core
        .oidc
        .rotate_keys(algorithms, Actor::Cli, &Origin::default(), Instant::now())
        .await
        .unwrap();
}

async fn retire(app: &TestApp, kid: &str, force: bool) -> Result<(), RetireError> {
    app.core
        .oidc
        .retire_keys(
            &[kid.to_owned()],
            force,
            Actor::Cli,
            &Origin::default(),
            Instant::now(),
        )
        .await
        .map(|_| ())
}

#[tokio::test]
async fn after_a_rotation_new_tokens_carry_the_new_key_and_those_signed_before_still_verify() {
    let app = spawn_app().await;
    let secret = client(&app, "wiki", false).await.unwrap();
    app.create_user("ann", json!({"email": "ann@example.com"}))
        .await;
    let before = tokens_for(&app, "wiki", &secret, "ann").await;
    let old_kid = kid_of(before["id_token"].as_str().unwrap());

    rotate(&app, &Algorithm::ALL).await;
    let published = jwks(&app).await;
    assert_eq!(
        published["keys"].as_array().unwrap().len(),
        4,
        "the old keys stay published"
    );
    let after = tokens_for(&app, "wiki", &secret, "ann").await;
    let new_kid = kid_of(after["id_token"].as_str().unwrap());
    assert_ne!(new_kid, old_kid);
    for tokens in [&before, &after] {
        let (header, claims) = verified_by(&published, tokens["id_token"].as_str().unwrap())
            .expect("the ID token verifies with the JWKS");
        assert_eq!(header["alg"], "RS256");
        assert_eq!(claims["aud"], "wiki");
        let (status, person) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
        assert_eq!(status, 200, "{person}");
    }

    match retire(&app, &old_kid, false).await {
        Err(RetireError::TooRecent {
            keys,
            longest_token_seconds,
        }) => {
            assert_eq!(keys.len(), 1);
            assert_eq!(keys[0].0, old_kid);
            assert!(keys[0].1 > Instant::now().seconds());
            assert_eq!(longest_token_seconds, 3600);
        }
        other => panic!("a key that signed a moment ago stays: {other:?}"),
    }
    assert!(verified_by(&jwks(&app).await, before["id_token"].as_str().unwrap()).is_some());
    assert!(
        matches!(
            retire(&app, &new_kid, true).await,
            Err(RetireError::Signing(_))
        ),
        "the key that signs is never retired, not even by force"
    );

    retire(&app, &old_kid, true).await.unwrap();
    let published = jwks(&app).await;
    assert!(
        published["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["kid"] != old_kid.as_str()),
        "{published}"
    );
    assert!(verified_by(&published, before["id_token"].as_str().unwrap()).is_none());
    let (status, _) = userinfo(&app, before["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 401, "a token of a retired key no longer verifies");
    let (status, _) = userinfo(&app, after["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_client_registered_for_es256_gets_tokens_that_verify_with_the_published_p256_key() {
    let app = spawn_app().await;
    let settings = ClientSettings {
        client_id: Some("tool".into()),
        name: "Tool".into(),
        confidential: true,
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: vec![],
        scopes: None,
        allowed_groups: vec![],
        requires_second_factor: false,
        first_party: true,
        access_token_seconds: None,
        id_token_seconds: None,
        refresh_token_seconds: None,
        id_token_signed_response_alg: Some("ES256".into()),
    };
    let (view, secret) = app
        .core
        .oidc
        .create_client(&settings, Actor::Cli, &Origin::default(), Instant::now())
        .await
        .unwrap();
    assert_eq!(view.id_token_signed_response_alg, "ES256");
    app.create_user("ann", json!({})).await;
    let tokens = tokens_for(&app, "tool", &secret.unwrap().0, "ann").await;
    let published = jwks(&app).await;
    for token in ["id_token", "access_token"] {
        let (header, claims) = verified_by(&published, tokens[token].as_str().unwrap())
            .unwrap_or_else(|| panic!("the {token} verifies with the JWKS"));
        assert_eq!(header["alg"], "ES256", "{token}");
        assert_eq!(claims["aud"], "tool");
    }
    let (status, _) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);

    // A change of its settings that does not name the algorithm keeps it.
    let update = ClientUpdate {
        client_id: None,
        confidential: None,
        name: "Tool, renamed".into(),
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: vec![],
        scopes: None,
        allowed_groups: vec![],
        requires_second_factor: false,
        first_party: true,
        access_token_seconds: None,
        id_token_seconds: None,
        refresh_token_seconds: None,
        id_token_signed_response_alg: None,
    };
    let kept = app
        .core
        .oidc
        .update_client(
            "tool",
            &update,
            Actor::Cli,
            &Origin::default(),
            Instant::now(),
        )
        .await
        .unwrap();
    assert_eq!(kept.id_token_signed_response_alg, "ES256");
    let changed = ClientUpdate {
        id_token_signed_response_alg: Some("RS256".into()),
        ..update
    };
    let view = app
        .core
        .oidc
        .update_client(
            "tool",
            &changed,
            Actor::Cli,
            &Origin::default(),
            Instant::now(),
        )
        .await
        .unwrap();
    assert_eq!(view.id_token_signed_response_alg, "RS256");

    let discovery: Value = app
        .client
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(["RS256", "ES256"])
    );

    let mut unknown = settings.clone();
    unknown.client_id = Some("other".into());
    unknown.id_token_signed_response_alg = Some("none".into());
    let refused = app
        .core
        .oidc
        .create_client(&unknown, Actor::Cli, &Origin::default(), Instant::now())
        .await
        .map(|(view, _)| view);
    assert!(
        matches!(&refused, Err(tessera::oidc::OidcError::Invalid(fields))
            if fields.iter().any(|f| f.field == "idTokenSignedResponseAlg")),
        "{refused:?}"
    );
}
