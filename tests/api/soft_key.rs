//! A software security key for the tests: a P-256 key pair (ring) that answers a registration's
//! options with a `none` attestation, as a browser would hand it to the server: the CBOR
//! attestation object (authData: rpIdHash, flags UP|UV|AT, counter, AAGUID zero, credential id,
//! COSE EC2 key) and the client data JSON, both base64url; and answers an assertion's options
//! with authenticator data carrying the counter it is told, signed with ES256. Like a real
//! authenticator, it keeps the user handle of a registration that asks for a resident key (a
//! passkey) and returns it with its assertions; one made `without_verification` never sets
//! the UV flag (a key without a PIN or biometric). Given a `Packed` attestation (`attested.rs`
//! makes them), it answers registrations with a `packed` statement and that model's AAGUID.

use std::cell::{Cell, RefCell};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::TestApp;

pub const ORIGIN: &str = "http://tessera.test";
pub const RP_ID: &str = "tessera.test";

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub struct SoftKey {
    pub credential_id: Vec<u8>,
    key: EcdsaKeyPair,
    /// Whether it verifies the person (the UV flag); a test may switch it.
    pub verifies: Cell<bool>,
    /// The user handle it returns with its assertions: a resident key's, or one a test makes
    /// it claim.
    pub user_handle: RefCell<Option<Vec<u8>>>,
    /// How it attests its registrations: `none` without.
    pub attestation: RefCell<Option<Packed>>,
}

/// A `packed` attestation: the model's AAGUID, the certificate chain (attestation certificate
/// first, DER) and the signature of its key over authData and the client data's hash.
pub struct Packed {
    pub aaguid: [u8; 16],
    pub chain: Vec<Vec<u8>>,
    pub sign: Signer,
}

/// Signs with the attestation certificate's key.
pub type Signer = Box<dyn Fn(&[u8]) -> Vec<u8>>;

/// What a registration's answer is made with; a test changes one part to make it wrong.
pub struct Making {
    pub origin: String,
    pub rp_id: String,
    pub kind: String,
}

impl Default for Making {
    fn default() -> Self {
        Self {
            origin: ORIGIN.into(),
            rp_id: RP_ID.into(),
            kind: "webauthn.create".into(),
        }
    }
}

impl SoftKey {
    pub fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .expect("a P-256 key");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .expect("the key reads");
        let mut credential_id = vec![0u8; 32];
        rng.fill(&mut credential_id).expect("random bytes");
        Self {
            credential_id,
            key,
            verifies: Cell::new(true),
            user_handle: RefCell::new(None),
            attestation: RefCell::new(None),
        }
    }

    /// A key that only tests presence: its answers never carry the UV flag.
    pub fn without_verification() -> Self {
        let key = Self::new();
        key.verifies.set(false);
        key
    }

    fn flags(&self) -> u8 {
        if self.verifies.get() { UP | UV } else { UP }
    }

    /// The `credential` of `register/complete` for `options` (`{publicKey: …}`).
    pub fn register(&self, options: &Value) -> Value {
        self.register_with(options, &Making::default())
    }

    pub fn register_with(&self, options: &Value, making: &Making) -> Value {
        let challenge = options["publicKey"]["challenge"]
            .as_str()
            .expect("a challenge");
        let client_data = json!({
            "type": making.kind,
            "challenge": challenge,
            "origin": making.origin,
            "crossOrigin": false,
        })
        .to_string();
        let attestation = self.attestation_object(&making.rp_id, client_data.as_bytes());
        let public_key = &options["publicKey"];
        if public_key["authenticatorSelection"]["residentKey"] == "required" {
            let user = public_key["user"]["id"].as_str().expect("a user id");
            let handle = URL_SAFE_NO_PAD.decode(user).expect("base64url");
            *self.user_handle.borrow_mut() = Some(handle);
        }
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&attestation),
                "clientDataJSON": b64(client_data.as_bytes()),
            },
            "clientExtensionResults": {},
        })
    }

    /// The `credential` of `/api/webauthn/assert` for `options`, signing counter `counter`.
    pub fn assert(&self, options: &Value, counter: u32) -> Value {
        self.assert_with(
            options,
            counter,
            &Making {
                kind: "webauthn.get".into(),
                ..Making::default()
            },
        )
    }

    pub fn assert_with(&self, options: &Value, counter: u32, making: &Making) -> Value {
        let challenge = options["publicKey"]["challenge"]
            .as_str()
            .expect("a challenge");
        let client_data = json!({
            "type": making.kind,
            "challenge": challenge,
            "origin": making.origin,
            "crossOrigin": false,
        })
        .to_string();
        let mut auth_data = Sha256::digest(making.rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags());
        auth_data.extend_from_slice(&counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(client_data.as_bytes()));
        let signature = self
            .key
            .sign(&SystemRandom::new(), &signed)
            .expect("a signature");
        let mut answer = json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(client_data.as_bytes()),
                "signature": b64(signature.as_ref()),
            },
            "clientExtensionResults": {},
        });
        if let Some(handle) = self.user_handle.borrow().as_deref() {
            answer["response"]["userHandle"] = json!(b64(handle));
        }
        answer
    }

    fn attestation_object(&self, rp_id: &str, client_data: &[u8]) -> Vec<u8> {
        let point = self.key.public_key().as_ref();
        assert_eq!(point.len(), 65, "an uncompressed P-256 point");
        let mut cose = Vec::new();
        map(&mut cose, 5);
        int(&mut cose, 1); // kty: EC2
        int(&mut cose, 2);
        int(&mut cose, 3); // alg: ES256
        int(&mut cose, -7);
        int(&mut cose, -1); // crv: P-256
        int(&mut cose, 1);
        int(&mut cose, -2); // x
        bytes(&mut cose, &point[1..33]);
        int(&mut cose, -3); // y
        bytes(&mut cose, &point[33..65]);

        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags() | AT);
        auth_data.extend_from_slice(&0u32.to_be_bytes());
        let packed = self.attestation.borrow();
        auth_data.extend_from_slice(&packed.as_ref().map_or([0u8; 16], |p| p.aaguid));
        auth_data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&cose);

        let mut object = Vec::new();
        map(&mut object, 3);
        text(&mut object, "fmt");
        match packed.as_ref() {
            None => {
                text(&mut object, "none");
                text(&mut object, "attStmt");
                map(&mut object, 0);
            }
            Some(packed) => {
                let mut signed = auth_data.clone();
                signed.extend_from_slice(&Sha256::digest(client_data));
                text(&mut object, "packed");
                text(&mut object, "attStmt");
                map(&mut object, 3);
                text(&mut object, "alg");
                int(&mut object, -7);
                text(&mut object, "sig");
                bytes(&mut object, &(packed.sign)(&signed));
                text(&mut object, "x5c");
                head(&mut object, 4, packed.chain.len() as u64);
                for certificate in &packed.chain {
                    bytes(&mut object, certificate);
                }
            }
        }
        text(&mut object, "authData");
        bytes(&mut object, &auth_data);
        object
    }
}

/// A CBOR head: major type and length (RFC 8949 §3).
fn head(out: &mut Vec<u8>, major: u8, length: u64) {
    let major = major << 5;
    match length {
        0..=23 => out.push(major | length as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, length as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(length as u16).to_be_bytes());
        }
        _ => {
            out.push(major | 26);
            out.extend_from_slice(&(length as u32).to_be_bytes());
        }
    }
}

fn int(out: &mut Vec<u8>, value: i64) {
    if value >= 0 {
        head(out, 0, value as u64);
    } else {
        head(out, 1, (-1 - value) as u64);
    }
}

fn bytes(out: &mut Vec<u8>, value: &[u8]) {
    head(out, 2, value.len() as u64);
    out.extend_from_slice(value);
}

fn text(out: &mut Vec<u8>, value: &str) {
    head(out, 3, value.len() as u64);
    out.extend_from_slice(value.as_bytes());
}

fn map(out: &mut Vec<u8>, pairs: u64) {
    head(out, 5, pairs);
}

/// A user named `name`, made through the API: their id.
pub async fn user(app: &TestApp, name: &str) -> String {
    app.create_user(name, json!({})).await["id"]
        .as_str()
        .expect("an id")
        .to_owned()
}

/// Registers `key` for `user_id` through the API in `workflow` (`general`: a security key,
/// `bootstrap`: a passkey): the registration's options and `register/complete`'s answer.
pub async fn register_through_api(
    app: &TestApp,
    user_id: &str,
    key: &SoftKey,
    workflow: &str,
) -> (Value, Value) {
    let response = app
        .with_key(Method::POST, "/api/webauthn/register/start")
        .json(&json!({"userId": user_id, "name": "My key", "workflow": workflow}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let options = response.json::<Value>().await.expect("JSON")["options"].clone();
    let response = app
        .with_key(Method::POST, "/api/webauthn/register/complete")
        .json(
            &json!({"userId": user_id, "credential": key.register(&options),
                      "origin": ORIGIN, "rpId": RP_ID}),
        )
        .send()
        .await
        .expect("sent");
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "{body}");
    (options, body)
}
