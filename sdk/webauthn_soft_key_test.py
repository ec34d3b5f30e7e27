"""soft-webauthn, a third party's software authenticator (built on Yubico's `fido2`), against
Tessera's WebAuthn API.

Run from the repository root after `cargo build`:  python sdk/webauthn_soft_key_test.py
It starts its own Tessera with a public URL whose host is a domain name (WebAuthn needs one;
the browser's origin is claimed, never fetched), then plays the browser: the options of each
`start` turned from base64url into bytes for the device, its answers turned back. A security key
is registered (`general`) and finishes a password login's second factor; a passkey is registered
(`bootstrap`) and signs in alone; the security key is refused for that; a replay is refused.

soft-webauthn's device never sets the user-verified flag (it has no PIN); a passkey must verify
its user, so the passkey here is the same device with the flag set, as one with a PIN would,
its assertions signed again over the changed data."""

import base64
import json
import sys
import traceback

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2 import cbor
from fido2.utils import sha256
from soft_webauthn import SoftWebauthnDevice
from tessera_process import TesseraProcess

PASSWORD = "correct horse battery"
ORIGIN = "http://localhost"
RP_ID = "localhost"
USER_VERIFIED = 0x04


def b64decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64encode(data):
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def for_device(options):
    """The API's options (binary fields in base64url) as the device takes them: bytes."""
    options = json.loads(json.dumps(options))
    key = options["publicKey"]
    key["challenge"] = b64decode(key["challenge"])
    if "user" in key:
        key["user"]["id"] = b64decode(key["user"]["id"])
    for listed in ("excludeCredentials", "allowCredentials"):
        for credential in key.get(listed) or []:
            credential["id"] = b64decode(credential["id"])
    return options


def from_device(credential):
    """The device's `PublicKeyCredential` (bytes) as the API takes it: base64url."""
    response = {name: b64encode(value) for name, value in credential["response"].items() if value is not None}
    return {
        "id": b64encode(credential["rawId"]),
        "rawId": b64encode(credential["rawId"]),
        "type": credential["type"],
        "response": response,
        "clientExtensionResults": {},
    }


class VerifyingDevice(SoftWebauthnDevice):
    """The device with a PIN: its answers carry the user-verified flag."""

    def create(self, options, origin):
        made = super().create(options, origin)
        attestation = cbor.decode(made["response"]["attestationObject"])
        data = bytearray(attestation["authData"])
        data[32] |= USER_VERIFIED
        attestation["authData"] = bytes(data)
        made["response"]["attestationObject"] = cbor.encode(attestation)
        return made

    def get(self, options, origin):
        answer = super().get(options, origin)
        response = answer["response"]
        data = bytearray(response["authenticatorData"])
        data[32] |= USER_VERIFIED
        response["authenticatorData"] = bytes(data)
        signed = bytes(data) + sha256(response["clientDataJSON"])
        response["signature"] = self.private_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return answer


class Tessera(TesseraProcess):
    def __init__(self):
        super().__init__("tessera-webauthn-", TESSERA_PUBLIC_URL=ORIGIN)
        self.key = self.cli("api-key", "create", "--name", "webauthn").splitlines()[1].strip()
        self.api = self.listening

    def post(self, path, body, key=False):
        headers = {"Authorization": self.key} if key else {}
        return requests.post(self.api + path, json=body, headers=headers, timeout=30)

    def create_user(self, username):
        response = self.post("/api/user", {"user": {"username": username, "password": PASSWORD}}, key=True)
        assert response.status_code == 200, response.text
        return response.json()["user"]["id"]

    def register(self, user_id, device, workflow):
        started = self.post(
            "/api/webauthn/register/start",
            {"userId": user_id, "name": f"soft {workflow}", "workflow": workflow},
            key=True,
        )
        assert started.status_code == 200, started.text
        options = started.json()["options"]
        made = device.create(for_device(options), ORIGIN)
        done = self.post(
            "/api/webauthn/register/complete",
            {"userId": user_id, "credential": from_device(made), "origin": ORIGIN, "rpId": RP_ID},
            key=True,
        )
        assert done.status_code == 200, done.text
        return options, done.json()["credential"]

    def start(self, body):
        started = self.post("/api/webauthn/start", body)
        assert started.status_code == 200, started.text
        return started.json()["options"]

    def login(self, device, options, **extra):
        answer = from_device(device.get(for_device(options), ORIGIN))
        body = {"credential": answer, "origin": ORIGIN, "rpId": RP_ID, **extra}
        return answer, self.post("/api/webauthn/login", body)

    def amr(self, token):
        validated = requests.get(self.api + "/api/jwt/validate", headers={"Authorization": "Bearer " + token}, timeout=30)
        assert validated.status_code == 200, validated.text
        return validated.json()["jwt"]["amr"]


def test_a_security_key_finishes_a_password_login(tessera, ctx):
    options, credential = tessera.register(ctx["user"], ctx["key"], "general")
    assert options["publicKey"]["rp"]["id"] == RP_ID, options
    assert credential["discoverable"] is False, credential
    login = tessera.post("/api/login", {"loginId": "ann", "password": PASSWORD})
    assert login.status_code == 242, login.text
    challenge = login.json()
    assert [m["method"] for m in challenge["methods"]] == ["webauthn"], challenge
    two_factor_id = challenge["twoFactorId"]
    options = tessera.start({"twoFactorId": two_factor_id, "workflow": "general"})
    allowed = [c["id"] for c in options["publicKey"]["allowCredentials"]]
    assert allowed == [credential["credentialId"]], options
    _, done = tessera.login(ctx["key"], options, twoFactorId=two_factor_id)
    assert done.status_code == 200, done.text
    assert tessera.amr(done.json()["token"]) == ["pwd", "hwk", "mfa"]
    # The login is finished: its twoFactorId is spent.
    _, again = tessera.login(ctx["key"], options, twoFactorId=two_factor_id)
    assert again.status_code == 404, again.text


def test_a_passkey_signs_in_alone(tessera, ctx):
    options, credential = tessera.register(ctx["user"], ctx["passkey"], "bootstrap")
    selection = options["publicKey"]["authenticatorSelection"]
    assert selection["residentKey"] == "required" and selection["userVerification"] == "required", options
    assert credential["discoverable"] is True, credential
    options = tessera.start({"workflow": "bootstrap"})
    assert not options["publicKey"].get("allowCredentials"), options
    answer, done = tessera.login(ctx["passkey"], options)
    assert done.status_code == 200, done.text
    assert done.json()["user"]["username"] == "ann", done.text
    assert tessera.amr(done.json()["token"]) == ["hwk", "user", "mfa"]
    # The same answer again: its challenge is spent.
    replay = tessera.post("/api/webauthn/login", {"credential": answer, "origin": ORIGIN, "rpId": RP_ID})
    assert replay.status_code == 400, replay.text
    assert "credential.response.clientDataJSON" in replay.json()["fieldErrors"], replay.text


def test_a_security_key_does_not_sign_in_alone(tessera, ctx):
    # soft-webauthn returns its user handle whatever the key: the server still knows a
    # security key from a passkey, and a passkey must verify its user.
    options = tessera.start({"workflow": "bootstrap", "loginId": "ann"})
    _, refused = tessera.login(ctx["key"], options)
    assert refused.status_code == 400, refused.text
    assert list(refused.json()["fieldErrors"]) == ["credential.id"], refused.text


def main():
    tessera = Tessera()
    passed, failed = 0, 0
    try:
        ctx = {"user": tessera.create_user("ann"), "key": SoftWebauthnDevice(), "passkey": VerifyingDevice()}
        for name, test in list(globals().items()):
            if name.startswith("test_") and callable(test):
                try:
                    test(tessera, ctx)
                    passed += 1
                    print(f"ok - {name}")
                except Exception:
                    failed += 1
                    print(f"not ok - {name}")
                    traceback.print_exc()
    finally:
        tessera.stop()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
