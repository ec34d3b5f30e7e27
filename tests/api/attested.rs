//! Authenticator makers for the tests: a root certificate, as an operator puts it in
//! `webauthn.attestation_roots_file`, and the attestation certificates of its models, which
//! sign a soft key's `packed` attestation as a real key's batch certificate does.

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use openssl::x509::extension::{BasicConstraints, KeyUsage};
use openssl::x509::{X509, X509Builder, X509Name, X509NameBuilder, X509NameRef};

use crate::soft_key::Packed;

/// A maker of authenticators: its root certificate and key.
pub struct Maker {
    key: PKey<Private>,
    root: X509,
}

fn p256() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
    PKey::from_ec_key(EcKey::generate(&group).expect("a key")).expect("a key")
}

fn name(entries: &[(&str, &str)]) -> X509Name {
    let mut name = X509NameBuilder::new().expect("a name");
    for (field, value) in entries {
        name.append_entry_by_text(field, value).expect("an entry");
    }
    name.build()
}

/// A certificate of `subject` for `key`, issued by `issuer` (signed with `signer`), valid from
/// yesterday to tomorrow.
fn certificate(
    subject: &X509NameRef,
    key: &PKey<Private>,
    issuer: &X509NameRef,
    signer: &PKey<Private>,
    ca: bool,
) -> X509 {
    let mut cert = X509Builder::new().expect("a builder");
    cert.set_version(2).expect("v3");
    let serial = BigNum::from_u32(rand_serial()).expect("a serial");
    cert.set_serial_number(&Asn1Integer::from_bn(&serial).expect("a serial"))
        .expect("a serial");
    cert.set_subject_name(subject).expect("a subject");
    cert.set_issuer_name(issuer).expect("an issuer");
    cert.set_pubkey(key).expect("a key");
    let yesterday = Asn1Time::from_unix(time_now() - 86_400).expect("a time");
    cert.set_not_before(&yesterday).expect("not before");
    cert.set_not_after(&Asn1Time::days_from_now(1).expect("a time"))
        .expect("not after");
    let mut constraints = BasicConstraints::new();
    constraints.critical();
    if ca {
        constraints.ca();
        let usage = KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()
            .expect("a usage");
        cert.append_extension(usage).expect("a usage");
    }
    cert.append_extension(constraints.build().expect("constraints"))
        .expect("constraints");
    cert.sign(signer, MessageDigest::sha256()).expect("signed");
    cert.build()
}

fn time_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

fn rand_serial() -> u32 {
    (time_now() as u32) ^ std::process::id().rotate_left(16) ^ 0x5eed
}

impl Maker {
    pub fn new(maker: &str) -> Self {
        let key = p256();
        let subject = name(&[("CN", &format!("{maker} Root CA"))]);
        let root = certificate(&subject, &key, &subject, &key, true);
        Self { key, root }
    }

    /// The root certificate, as PEM.
    pub fn root_pem(&self) -> String {
        String::from_utf8(self.root.to_pem().expect("PEM")).expect("text")
    }

    /// A `packed` attestation of the model `aaguid`: an attestation certificate this maker
    /// signed, with the subject WebAuthn asks of one, and its key's signatures.
    pub fn attest(&self, aaguid: &str) -> Packed {
        let key = p256();
        let subject = name(&[
            ("C", "SE"),
            ("O", "Test Maker"),
            ("OU", "Authenticator Attestation"),
            ("CN", "Test Batch"),
        ]);
        let leaf = certificate(&subject, &key, self.root.subject_name(), &self.key, false);
        let aaguid = uuid::Uuid::parse_str(aaguid).expect("an AAGUID");
        Packed {
            aaguid: *aaguid.as_bytes(),
            chain: vec![leaf.to_der().expect("DER")],
            sign: Box::new(move |data: &[u8]| {
                let mut signer = Signer::new(MessageDigest::sha256(), &key).expect("a signer");
                signer.update(data).expect("signed");
                signer.sign_to_vec().expect("a signature")
            }),
        }
    }
}
