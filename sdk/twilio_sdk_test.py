"""The official `twilio` Python SDK, unchanged but for the Verify base URL, against Tessera.

Run from the repository root after `cargo build`:  python sdk/twilio_sdk_test.py
It starts its own Tessera on a free loopback port with a fresh data directory."""

import json
import re
import sys
import traceback
import urllib.request

from tessera_process import TesseraProcess
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

PHONE = "+13035551212"


class Tessera(TesseraProcess):
    def __init__(self):
        super().__init__("tessera-sdk-")
        # The outbox is read as an administrator: with an API key.
        self.key = self.cli("api-key", "create", "--name", "sdk").splitlines()[1].strip()

    def account(self):
        out = self.cli("verify-account", "create", "--name", "sdk")
        sid = re.search(r"Account SID: (AC[0-9a-f]{32})", out).group(1)
        token = re.search(r"Auth Token:\s+([0-9a-f]{32})", out).group(1)
        return sid, token

    def client(self, sid, token):
        client = Client(sid, token)
        client.verify.base_url = self.url
        return client

    def code_sent_to(self, to):
        request = urllib.request.Request(f"{self.url}/dev/outbox.json", headers={"Authorization": self.key})
        with urllib.request.urlopen(request) as response:
            messages = json.load(response)
        body = next(m for m in messages if m["to"] == to)["body"]
        digits = re.sub(r"\D", "", body)
        return digits[: len(digits) // 2] if "," in body else digits



def expect_error(code, call):
    try:
        call()
    except TwilioRestException as error:
        assert error.code == code, f"expected {code}, got {error.code}: {error.msg}"
        return error
    raise AssertionError(f"expected TwilioRestException {code}")


def test_service_verification_and_check(tessera, client):
    service = client.verify.v2.services.create(friendly_name="Acme SDK", code_length=7)
    assert service.sid.startswith("VA") and len(service.sid) == 34
    assert service.code_length == 7
    fetched = client.verify.v2.services(service.sid).fetch()
    assert fetched.friendly_name == "Acme SDK"
    updated = client.verify.v2.services(service.sid).update(friendly_name="Acme")
    assert updated.friendly_name == "Acme"
    assert any(s.sid == service.sid for s in client.verify.v2.services.list(limit=20))
    # Paging follows the server's own next_page_url.
    for name in ("Page A", "Page B", "Page C"):
        client.verify.v2.services.create(friendly_name=name)
    listed = client.verify.v2.services.list(page_size=2)
    assert len(listed) >= 4, len(listed)

    verification = client.verify.v2.services(service.sid).verifications.create(to=PHONE, channel="sms")
    assert verification.status == "pending" and verification.sid.startswith("VE")
    code = tessera.code_sent_to(PHONE)
    assert len(code) == 7
    wrong = client.verify.v2.services(service.sid).verification_checks.create(to=PHONE, code="0000000")
    assert wrong.status == "pending" and wrong.valid is False
    right = client.verify.v2.services(service.sid).verification_checks.create(verification_sid=verification.sid, code=code)
    assert right.status == "approved" and right.valid is True
    expect_error(20404, lambda: client.verify.v2.services(service.sid).verifications(verification.sid).fetch())


def test_cancel_and_custom_code(tessera, client):
    service = client.verify.v2.services.create(friendly_name="Custom", custom_code_enabled=True)
    verification = client.verify.v2.services(service.sid).verifications.create(
        to="sdk@example.com", channel="email", custom_code="8642"
    )
    assert tessera.code_sent_to("sdk@example.com") == "8642"
    canceled = client.verify.v2.services(service.sid).verifications(verification.sid).update(status="canceled")
    assert canceled.status == "canceled"


def test_errors_raise_the_same_exceptions_as_against_twilio(tessera, client):
    service = client.verify.v2.services.create(friendly_name="Errors")
    verifications = client.verify.v2.services(service.sid).verifications
    checks = client.verify.v2.services(service.sid).verification_checks
    expect_error(60200, lambda: verifications.create(to="not a number", channel="sms"))
    expect_error(60200, lambda: verifications.create(to=PHONE, channel="pigeon"))
    number = "+13035550190"
    for _ in range(5):
        verifications.create(to=number, channel="sms")
    expect_error(60203, lambda: verifications.create(to=number, channel="sms"))
    for _ in range(5):
        checks.create(to=number, code="000000")
    expect_error(60202, lambda: checks.create(to=number, code="000000"))
    expect_error(20404, lambda: client.verify.v2.services("VA" + "0" * 32).fetch())


def test_wrong_credentials_raise_20003(tessera, client):
    sid, _ = tessera.account()
    stranger = tessera.client(sid, "f" * 32)
    # (The SDK reports a failed list page as a plain TwilioException, against Twilio too; a
    # fetch raises the TwilioRestException with the code.)
    error = expect_error(20003, lambda: stranger.verify.v2.services.create(friendly_name="x"))
    assert error.status == 401


def totp(secret, offset=0, digits=6, step=30):
    import base64, hashlib, hmac, struct, time
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = struct.pack(">Q", int((time.time() + offset) // step))
    digest = hmac.new(key, counter, hashlib.sha1).digest()
    offset_byte = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset_byte:offset_byte + 4])[0] & 0x7FFFFFFF
    return str(value % 10 ** digits).zfill(digits)


def test_totp_factor_verified_then_challenged(tessera, client):
    service = client.verify.v2.services.create(friendly_name="Totp")
    identity = "ff483d1ff591898a9942916050d2ca3f"
    entity = client.verify.v2.services(service.sid).entities.create(identity=identity)
    assert entity.sid.startswith("YE")
    factor = client.verify.v2.services(service.sid).entities(identity).new_factors.create(
        friendly_name="Ann phone", factor_type="totp"
    )
    assert factor.sid.startswith("YF") and factor.status == "unverified"
    secret = factor.binding["secret"]
    assert factor.binding["uri"].startswith("otpauth://totp/Totp:Ann%20phone?secret=")
    verified = client.verify.v2.services(service.sid).entities(identity).factors(factor.sid).update(
        auth_payload=totp(secret)
    )
    assert verified.status == "verified"
    challenges = client.verify.v2.services(service.sid).entities(identity).challenges
    approved = challenges.create(factor_sid=factor.sid, auth_payload=totp(secret, 30))
    assert approved.sid.startswith("YC") and approved.status == "approved"
    replayed = challenges.create(factor_sid=factor.sid, auth_payload=totp(secret, 30))
    assert replayed.status == "pending", "a code is accepted once"
    for _ in range(4):
        challenges(replayed.sid).update(auth_payload="000000")
    expect_error(60308, lambda: challenges(replayed.sid).update(auth_payload="000000"))


def test_rate_limits_and_buckets(tessera, client):
    service = client.verify.v2.services.create(friendly_name="Limits")
    limits = client.verify.v2.services(service.sid).rate_limits
    limit = limits.create(unique_name="end_user_ip", description="per end-user IP")
    assert limit.sid.startswith("RK")
    expect_error(60208, lambda: limits.create(unique_name="end_user_ip"))
    bucket = limits(limit.sid).buckets.create(max=2, interval=60)
    assert bucket.sid.startswith("BL") and bucket.max == 2
    expect_error(60211, lambda: limits(limit.sid).buckets.create(max=5, interval=60))
    verifications = client.verify.v2.services(service.sid).verifications
    for number in ("+13035550121", "+13035550122"):
        verifications.create(to=number, channel="sms", rate_limits={"end_user_ip": "203.0.113.7"})
    expect_error(60203, lambda: verifications.create(to="+13035550123", channel="sms", rate_limits={"end_user_ip": "203.0.113.7"}))
    verifications.create(to="+13035550123", channel="sms", rate_limits={"end_user_ip": "198.51.100.1"})
    assert [b.sid for b in limits(limit.sid).buckets.list()] == [bucket.sid]
    limits(limit.sid).buckets(bucket.sid).delete()
    verifications.create(to="+13035550124", channel="sms", rate_limits={"end_user_ip": "203.0.113.7"})


def test_api_key_credentials(tessera, client):
    sid, _ = tessera.account()
    out = tessera.cli("verify-account", "key", "--account", sid, "--name", "ci")
    key = re.search(r"API key SID: (SK[0-9a-f]{32})", out).group(1)
    secret = re.search(r"Secret:\s+([0-9a-f]{32})", out).group(1)
    keyed = Client(key, secret, sid)
    keyed.verify.base_url = tessera.url
    service = keyed.verify.v2.services.create(friendly_name="Keyed")
    assert service.account_sid == sid
    wrong = Client(key, "0" * 32, sid)
    wrong.verify.base_url = tessera.url
    expect_error(20003, lambda: wrong.verify.v2.services(service.sid).fetch())


def main():
    tessera = Tessera()
    passed, failed = 0, 0
    try:
        sid, token = tessera.account()
        client = tessera.client(sid, token)
        for name, test in list(globals().items()):
            if name.startswith("test_") and callable(test):
                try:
                    test(tessera, client)
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
