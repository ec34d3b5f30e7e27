#!/usr/bin/env python3
"""Writes the hand-made seed inputs of each fuzz target into fuzz/corpus/<target>/.

Run once to start a corpus (fuzz/run.sh and `cargo fuzz cmin` then grow and shrink it); the
seeds are realistic inputs, so the fuzzer starts from the shapes real clients send.
"""
import hashlib
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "corpus")

SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def write(target, items):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    for item in items:
        data = item.encode() if isinstance(item, str) else item
        # libFuzzer names corpus files by their SHA-1, so a seed and its rediscovery are one.
        with open(os.path.join(folder, hashlib.sha1(data).hexdigest()), "wb") as f:
            f.write(data)


write("phone", [
    "+1 303 555 1212", "+1 (303) 555-1212", "+13035551212", "+44 20 7946 0958",
    "+44 (20) 7946-0958", "+442079460958", "+33 1 42 68 53 00", "+49 30 901820",
    "+49 151 23456789", "+81 3-1234-5678", "+91 98765 43210", "+61 2 9374 4000",
    "+55 11 91234-5678", "+86 10 6552 9988", "+7 495 123-45-67", "+34 612 34 56 78",
    "+39 06 6982", "+27 21 123 4567", "+254 712 345678", "+353 1 234 5678",
    "+1 555", "+999 1234567", "+1 303 555 1212 3456 789", "303 555 1212", "+1 303-CALL-NOW",
    "", "+", "+1", "  +1 303 555 1212  ", "ann@example.com", "+1.303.555.1212",
    "+(1) 303 555 1212", "++1 303 555 1212", "+0 123 456 7890",
])

write("codes", [
    "123456", "123 456", "123-456", "12345678", "0000", "1234567890", "12345678901",
    "123", "", "12a456", "١٢٣٤٥٦", "QJD73-L6GR5", "qjd73 l6gr5", "QJD7316GR5", "QJD73-L6GR",
    "QJD73-L6GRU", "QJD73_L6GR5", "OOOOO-IIIII", "SHA1", "SHA256", "SHA-512", "HmacSHA1",
    "HmacSHA256", "hmacsha512", "MD5", " 287 082 ", "94287082",
])

write("base32_secret", [
    SECRET, SECRET.lower(), "gezd gnbv gy3t qojq gezd gnbv gy3t qojq", SECRET + "====",
    "GEZD-GNBV-GY3T-QOJQ-GEZD-GNBV-GY3T-QOJQ", "GEZDGNBVGY3TQOJQGEZDGNBV",
    "GEZDGNBVGY3TQOJQGEZDGNB1", "", "HBGUUSTGINMTIRKSIJ2G65DWMVXFGYZT",
    "JBSWY3DPEHPK3PXP", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "A" * 300,
    "8MJJfCY4ERBtotvenSc3", "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=", "%%%", "A" * 205,
    "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
])

write("otpauth_uri", [
    f"otpauth://totp/Acme:ann%40example.com?secret={SECRET}&issuer=Acme&digits=8&algorithm=SHA256",
    f"otpauth://totp/Acme:app?secret={SECRET}&issuer=Acme",
    f"otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=Example",
    f"otpauth://totp/ACME%20Co:john.doe@email.com?secret={SECRET}&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30",
    f"otpauth://totp/test-issuer:John%E2%80%99s%20Account%20Name?secret={SECRET}&issuer=test-issuer&algorithm=SHA1&digits=6&period=30",
    f"otpauth://totp/GitHub:octocat?secret={SECRET}&issuer=GitHub&period=60&algorithm=SHA512",
    f"otpauth://totp/alice?secret={SECRET}",
    f"otpauth://totp/?secret={SECRET}&period=15",
    f"otpauth://totp/Acme%3Aann?secret={SECRET}&period=120",
    f"otpauth://hotp/x?secret={SECRET}&counter=0", "otpauth://totp/x?issuer=y",
    "otpauth://totp/x", f"otpauth://totp/x?secret={SECRET}&digits=7",
    f"otpauth://totp/x?secret={SECRET}&period=0", f"otpauth://totp/x?secret={SECRET}&algorithm=MD5",
    f"otpauth://totp/x?secret={SECRET}&digits=99999999999", SECRET, "not base32!", "",
    f"otpauth://totp/FreeOTP:me?secret={SECRET}&algorithm=SHA256&digits=8&period=30&issuer=FreeOTP&image=https%3A%2F%2Fexample.com%2Fa.png",
])

csv_header = "username,email,full_name,mobile_phone,roles,password_hash,totp_secrets,authy_migrated,two_factor_required,active"
write("import_csv", [
    "username,email,mobile_phone,authy_migrated\nann,ann@example.com,+1 303 555 1212,true\nbo,bo@example.com,+44 20 7946 0958,false\n",
    "username,email,mobile_phone,roles,authy_migrated\nann,ann@example.com,+1 303 555 1212,admin,true\nbad user,not-an-email,12,root,maybe\nbo,,,,\n",
    "username,email,mobile_phone,roles\nann,ann@example.com,+1 303 555 1212,admin\nbad user,not-an-email,12,root\n",
    "username,colour\nann,red\n",
    "username,email,mobile_phone,password_hash\nann,ann@example.com,,$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW\n"
    "bo,bo@example.com,,pbkdf2_sha256$260000$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
    csv_header + "\nann,ann@example.com,Ann Example,+1 303 555 1212,admin;user,,"
    + SECRET + ";otpauth://totp/Acme:ann?secret=" + SECRET + ",true,true,true\n",
    csv_header + "\n\"ann, jr\",ann@example.com,\"Ann \"\"A\"\" Example\",,,,,no,yes,1\n",
    "email\nann@example.com\n", "", "username\n", "username\nann\nann\n", "username\r\nann\r\nbo\r\n",
    "username,email\nann\n", "username,email\nann,a@b.c,extra\n",
])

json_rows = [
    [{"username": "ann"}, {"username": "ANN"}],
    {"users": [{"username": "a"}]},
    [{"username": "a"}, {"username": "b", "isRoot": True}],
    [{"username": "a", "authyMigrated": True}],
    [{"username": "a", "authyMigrated": True, "mobilePhone": "+1 303 555 1212"}],
    {"users": [{"username": "ann", "email": "ann@example.com", "fullName": "Ann Example",
                "mobilePhone": "+44 20 7946 0958", "roles": ["admin"],
                "passwordHash": "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
                "totpSecrets": [f"otpauth://totp/Acme:app?secret={SECRET}&issuer=Acme"],
                "twoFactorRequired": True, "active": False}]},
    [{"username": "bo", "passwordHash": "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"}],
    [{"username": "cy", "passwordHash": "pbkdf2_sha256$260000$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}],
    [{"username": "dee", "totpSecrets": [SECRET, "nope"]}],
    [], {"users": []}, [1, "x", None], {"users": {"username": "a"}},
]
write("import_json", [json.dumps(r) for r in json_rows] + ["{", "", "[{\"username\": \"a\"}] trailing"])

write("password_hash", [
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
    "$argon2i$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
    "$argon2id$v=19$m=4294967295,t=4294967295,p=255$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ", "$argon2id$", "$argon2",
    "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
    "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
    "$2y$ab$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
    "pbkdf2_sha256$260000$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "pbkdf2_sha256$0$salt$AAAA", "pbkdf2_sha256$99999999999$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "pbkdf2_sha256$1$$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "md5$abc", "", "!no-password",
    # Found by fuzzing: 60 bytes with a two-byte character across the end of the bcrypt cost.
    "$2a$1\u00e9" + "a" * 53,
])

# The first byte picks the request type (see json_bodies.rs: index modulo 17).
bodies = [
    (0, {"user": {"username": "ann", "email": "ann@example.com", "password": "correct horse battery", "mobilePhone": "+13035551212"}}),
    (0, {"user": {"username": "ann"}, "sendSetPasswordEmail": False}),
    (1, {"twoFactorId": "YkQY5Gsyo4RlfmDciBGRmvfj3RmatUqrbjoIZ19fmw4", "code": "915187", "trustComputer": True, "ipAddress": "192.168.1.42"}),
    (2, {"code": "435612", "method": "authenticator", "secret": "8MJJfCY4ERBtotvenSc3"}),
    (2, {"code": "435612", "method": "sms", "mobilePhone": "+13035551212"}),
    (2, {"code": "435612", "method": "authenticator", "secretBase32Encoded": "HBGUUSTGINMTIRKSIJ2G65DWMVXFGYZT"}),
    (3, {"code": "123456", "methodId": "2KSZ"}), (3, {}),
    (4, {"userId": "00000000-0000-0000-0000-000000000000", "twoFactorTrustId": "x", "action": "login"}),
    (5, {"loginPolicy": "Required"}), (6, {"methodId": "KLRT"}),
    (7, {"userId": "00000000-0000-0000-0000-000000000000"}), (7, {"mobilePhone": "+13035551212", "secret": "8MJJfCY4ERBtotvenSc3"}),
    (8, {"enabled": True}), (9, {"provider": "twilio"}), (10, {"mobilePhone": "+442079460958", "code": "123456"}),
    (11, {"refreshToken": "abc", "token": "def"}), (12, {"global": True, "refreshToken": "abc"}),
    (13, {"loginId": "ann@example.com", "password": "correct horse battery"}),
    (13, {"loginId": "ann", "password": "x", "isRoot": True}), (13, {"loginId": 5}),
    (14, {"reason": "left the company"}), (15, {"mobilePhone": "+13035551212"}), (16, {}),
]
write("json_bodies", [bytes([i]) + json.dumps(b).encode() for i, b in bodies]
      + [b"\x00", b"\x0d{", b"\x0d{} []", b"\x0d[]", b"\x0dnull"])

def answer(status, body):
    return struct.pack(">H", status - 100) + body.encode()

def error(code, status, message):
    return json.dumps({"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status})

write("twilio_answers", [
    answer(201, json.dumps({"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued", "to": "+13035551212", "body": "Your code is 123456"})),
    answer(201, json.dumps({"sid": "CA0123456789abcdef0123456789abcdef", "status": "queued", "to": "+13035551212"})),
    answer(201, json.dumps({"sid": "VE0123456789abcdef0123456789abcdef", "service_sid": "VA0123", "account_sid": "AC0123", "to": "+13035551212", "channel": "sms", "status": "pending", "valid": False})),
    answer(200, json.dumps({"sid": "VE0123", "status": "approved", "valid": True})),
    answer(200, json.dumps({"sid": "VE0123", "status": "pending", "valid": False})),
    answer(200, "approved"), answer(200, "pending"), answer(200, "max_attempts_reached"),
    answer(404, error(20404, 404, "The requested resource was not found")),
    answer(429, error(60202, 429, "Max check attempts reached")),
    answer(400, error(60200, 400, "Invalid parameter: To")), answer(400, error(21211, 400, "Invalid 'To' Phone Number")),
    answer(400, error(21614, 400, "not a mobile number")), answer(403, error(60605, 403, "geo permission")),
    answer(400, error(21610, 400, "unsubscribed")), answer(403, error(60410, 403, "fraud")),
    answer(429, error(60203, 429, "Max send attempts reached")), answer(401, error(20003, 401, "Authenticate")),
    answer(500, "<html><body>Bad gateway</body></html>"), answer(503, ""), answer(200, ""), answer(200, "{}"),
    answer(200, json.dumps({"sid": 5})), answer(400, json.dumps({"code": -1})), answer(400, json.dumps({"code": 99999999999})),
])

write("verify_form", [
    "To=%2B13035551212&Channel=sms", "To=ann%40example.com&Channel=email&Locale=fr",
    "To=%2B442079460958&Channel=call&CustomCode=123456", "To=%2B13035551212&Channel=whatsapp",
    "VerificationSid=VE0123&Code=123456", "To=%2B13035551212&Code=12345678",
    "FriendlyName=My+Service&CodeLength=6&DoNotShareWarningEnabled=true&CustomCodeEnabled=false",
    "FriendlyName=x&Totp.Issuer=Acme&Totp.TimeStep=30&Totp.CodeLength=6&Totp.Skew=1",
    "UniqueName=end_user_ip&Description=Limit+on+end+user+IP+Address", "Max=10&Interval=60",
    "To=%2B13035551212&Channel=sms&RateLimits=%7B%22end_user_ip%22%3A%22127.0.0.1%22%7D",
    "RateLimits=%7B%22a%22%3A1%2C%22b%22%3Atrue%7D", "RateLimits=nope", "Status=canceled", "Enabled=maybe",
    "CodeLength=99999999999999999999", "", "=", "&&&", "To", "%ZZ=%",
])

write("access_token", [
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2ln",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..", "a.b.c", "a.b", "a.b.c.d", "", "ann", "...",
    "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIn0.",
])

toml_file = """listen = "127.0.0.1:9011"
public_url = "https://login.example.com"
database_url = "sqlite://tessera.db"
data_dir = "/var/lib/tessera"
product_name = "Acme Login"
organization = "Acme"
log_format = "json"
log_level = "info,tessera=debug"
max_body_bytes = 1048576

[database]
max_connections = 10

[argon2]
memory_kib = 19456
iterations = 2
parallelism = 1
max_concurrent = 4

[tokens]
access_ttl_seconds = 3600
refresh_ttl_seconds = 2592000
"""
write("config", [
    toml_file, toml_file + "\0TESSERA_LISTEN=0.0.0.0:8080\nTESSERA_TOKENS__ACCESS_TTL_SECONDS=60",
    "\0TESSERA_LISTEN=127.0.0.1:9011\nTESSERA_PUBLIC_URL=https://login.example.com",
    "\0TESSERA_DATABASE_URL=postgres://tessera:secret@db/tessera\nTESSERA_LOG_FORMAT=json",
    "\0TESSERA_TOKENS__ACCESS_TTL_SECONDS=3600\nTESSERA_TOKENS__REFRESH_TTL_SECONDS=-1",
    "\0TESSERA_ARGON2__MEMORY_KIB=4294967295\nTESSERA_ARGON2__MAX_CONCURRENT=0",
    "\0TESSERA_=x", "\0TESSERA_A__B__C__D=1", "\0TESSERA_LISTEN__X=1", "OTHER=1", "",
    "listen = [", "listen = 5", "[tokens]\naccess_ttl_seconds = 9223372036854775807",
    "[two_factor]\nunknown = 1", "[delivery]\nprovider = \"twilio\"", "max_body_bytes = -1",
    "log_level = \"[\"", "product_name = \"a:b\"",
])
