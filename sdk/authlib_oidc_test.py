"""Authlib, a widely used Python OAuth 2.0 / OpenID Connect client, against Tessera's provider.

Run from the repository root after `cargo build`:  python sdk/authlib_oidc_test.py
It starts its own Tessera on a free loopback port with a fresh data directory, registers
clients and a user with the CLI, and plays the person's browser with `requests` (the login
form and its CSRF token, the redirects), the application with authlib: discovery read from
`server_metadata_url`, the authorization URL with PKCE S256, the code traded at the token
endpoint (client_secret_basic, client_secret_post, none), the ID token validated against the
published key set, userinfo read with the access token, and the refusals as authlib raises
them. The redirect URIs are never served: the browser stops at the redirect and hands its
`Location` to the application."""

import html
import json
import os
import re
import sys
import time
import traceback
import warnings
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from tessera_process import TesseraProcess
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.base_client.sync_app import BaseApp, OAuth2Mixin
from authlib.integrations.base_client.sync_openid import OpenIDMixin
from authlib.integrations.requests_client import OAuth2Session

with warnings.catch_warnings():
    # authlib.jose is deprecated in favour of joserfc (which authlib's OIDC client itself now
    # uses, below); it is still the JOSE API most applications call, so both are exercised.
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt
    from authlib.jose.errors import BadSignatureError, JoseError

# authlib refuses plain http unless told: Tessera listens on loopback here.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

PASSWORD = "correct horse battery"
# Nothing listens there: the browser stops at the redirect.
REDIRECT = "http://127.0.0.1:9/callback"
OTHER_REDIRECT = "http://127.0.0.1:9/other-callback"
SCOPE = "openid profile email"


class Tessera(TesseraProcess):
    def __init__(self):
        super().__init__("tessera-authlib-")

    def create_user(self, username, email, name):
        out = self.cli(
            "user", "create", "--username", username, "--email", email, "--email-verified", "--name", name,
            input=PASSWORD + "\n",
        )
        return re.search(r"created user \S+ \(([0-9a-f-]{36})\)", out).group(1)

    def create_client(self, client_id, *redirects, public=False, alg=None):
        args = ["oidc", "client", "create", "--name", f"The {client_id} app", "--client-id", client_id, "--first-party"]
        for uri in redirects or (REDIRECT,):
            args += ["--redirect-uri", uri]
        if public:
            args.append("--public")
        if alg:
            args += ["--id-token-alg", alg]
        out = self.cli(*args)
        document = out.split("\nclient secret: ")[0]
        view = json.loads(document)
        assert view["clientId"] == client_id and view["confidential"] != public, view
        assert view["idTokenSignedResponseAlg"] == (alg or "RS256"), view
        secret = re.search(r"^client secret: (\S+)$", out, re.M)
        assert (secret is None) == public, out
        return secret.group(1) if secret else None


class RelyingParty(OAuth2Mixin, OpenIDMixin, BaseApp):
    """authlib's application client, as its Flask, Django and Starlette integrations build it
    (discovery from `server_metadata_url`, the key set from `jwks_uri`, `parse_id_token`),
    without a web framework: the application's session is this test's variables."""

    client_cls = OAuth2Session

    def __init__(self, **kwargs):
        super().__init__(framework=None, **kwargs)


class Browser:
    """The person's browser: follows Tessera's redirects, fills in the login form, and stops at
    the first redirect that leaves Tessera (to the application)."""

    def __init__(self, tessera):
        self.tessera = tessera
        self.http = requests.Session()

    def sign_in(self, url, username, password=PASSWORD):
        """Opens an authorization URL; answers the URL the browser was sent back to."""
        logged_in = False
        for _ in range(10):
            response = self.http.get(url, allow_redirects=False)
            if response.status_code in (302, 303, 307):
                url = urljoin(url, response.headers["Location"])
                if not url.startswith(self.tessera.url + "/"):
                    return url
                continue
            assert response.status_code == 200, f"{url}: {response.status_code} {response.text[:500]}"
            # The way back to the application after a login is a page that moves on by itself
            # (a redirect would be held to the login form's CSP form-action 'self').
            refresh = re.search(r'<meta http-equiv="refresh" content="0;url=([^"]+)">', response.text)
            if refresh:
                assert urlsplit(url).path == "/oauth2/continue", url
                url = html.unescape(refresh.group(1))
                if not url.startswith(self.tessera.url + "/"):
                    return url
                continue
            assert urlsplit(url).path == "/login" and not logged_in, f"unexpected page {url}: {response.text[:500]}"
            csrf = re.search(r'name="csrf" value="([^"]+)"', response.text).group(1)
            posted = self.http.post(
                self.tessera.url + "/login",
                data={"csrf": csrf, "username": username, "password": password},
                allow_redirects=False,
            )
            assert posted.status_code in (302, 303), f"login: {posted.status_code} {posted.text[:500]}"
            logged_in = True
            url = urljoin(url, posted.headers["Location"])
        raise AssertionError("too many redirects")


def query(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class Flow:
    """One sign-in of an application (one OAuth2Session), as authlib runs it."""

    def __init__(self, ctx, client_id, secret, method, redirect_uri=REDIRECT):
        self.ctx = ctx
        self.metadata = ctx.rp.load_server_metadata()
        self.session = OAuth2Session(
            client_id,
            secret,
            scope=SCOPE,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method=method,
        )
        self.client_id = client_id
        self.verifier = generate_token(48)
        self.nonce = generate_token(20)

    def authorization_url(self):
        url, self.state = self.session.create_authorization_url(
            self.metadata["authorization_endpoint"], code_verifier=self.verifier, nonce=self.nonce
        )
        return url

    def callback(self, browser=None, username="ann"):
        """The browser signs in and comes back: the URL with the code."""
        back = (browser or Browser(self.ctx.tessera)).sign_in(self.authorization_url(), username)
        assert back.startswith(self.session.redirect_uri + "?"), back
        params = query(back)
        assert params["state"] == self.state, params
        assert params["iss"] == self.metadata["issuer"], params
        return back

    def fetch_token(self, callback, **kwargs):
        kwargs.setdefault("code_verifier", self.verifier)
        return self.session.fetch_token(
            self.metadata["token_endpoint"], authorization_response=callback, **kwargs
        )


class Context:
    def __init__(self, tessera):
        self.tessera = tessera
        self.rp = RelyingParty(server_metadata_url=tessera.url + "/.well-known/openid-configuration")
        self.user_id = tessera.create_user("ann", "ann@example.com", "Ann Example")
        self.secret = tessera.create_client("web", REDIRECT, OTHER_REDIRECT)
        tessera.create_client("spa", public=True)


def expect_oauth_error(code, call):
    try:
        call()
    except OAuthError as error:
        assert error.error == code, f"expected {code}, got {error.error}: {error.description}"
        return error
    raise AssertionError(f"expected OAuthError {code}")


def validate_id_token(ctx, flow, token, alg="RS256"):
    """The ID token, checked as authlib's OIDC client does (parse_id_token: the key set from
    jwks_uri, the signature, iss, aud, exp, iat, nonce), and again with authlib.jose."""
    rp = ctx.rp
    rp.client_id = flow.client_id
    claims = rp.parse_id_token(token, nonce=flow.nonce)
    assert claims["iss"] == ctx.tessera.url
    assert claims["aud"] == flow.client_id
    assert claims["sub"] == ctx.user_id
    assert claims["nonce"] == flow.nonce
    assert claims["preferred_username"] == "ann"
    assert claims["email"] == "ann@example.com" and claims["email_verified"] is True
    assert claims["name"] == "Ann Example"
    assert claims["amr"] == ["pwd"] and claims["acr"] == "pwd", claims
    assert abs(claims["auth_time"] - time.time()) < 120

    # The same token with authlib.jose: the key set imported, the signature and the claims.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        key_set = JsonWebKey.import_key_set(requests.get(flow.metadata["jwks_uri"]).json())
        options = {
            "iss": {"essential": True, "value": ctx.tessera.url},
            "aud": {"essential": True, "value": flow.client_id},
            "nonce": {"essential": True, "value": flow.nonce},
            "exp": {"essential": True},
            "sub": {"essential": True},
        }
        decoded = jwt.decode(token["id_token"], key_set, claims_options=options)
        decoded.validate(leeway=60)
        assert decoded.header["alg"] == alg and decoded.header["kid"], decoded.header
        assert dict(decoded) == dict(claims)
        # Someone else's nonce is refused by both.
        forged = jwt.decode(token["id_token"], key_set, claims_options={**options, "nonce": {"essential": True, "value": "other"}})
        try:
            forged.validate(leeway=60)
            raise AssertionError("authlib.jose took a foreign nonce")
        except JoseError:
            pass
        # A token whose payload was changed does not verify.
        head, body, signature = token["id_token"].split(".")
        tampered = ".".join([head, body[:-4] + ("AAAA" if body[-4:] != "AAAA" else "BBBB"), signature])
        try:
            jwt.decode(tampered, key_set)
            raise AssertionError("authlib.jose verified a changed token")
        except (BadSignatureError, JoseError, ValueError):
            pass
    try:
        rp.parse_id_token(token, nonce="someone-else")
        raise AssertionError("parse_id_token took a foreign nonce")
    except Exception as error:  # joserfc's InvalidClaimError
        assert "nonce" in str(error), error
    return claims


def test_discovery_is_read_by_authlib(ctx):
    metadata = ctx.rp.load_server_metadata()
    url = ctx.tessera.url
    assert metadata["issuer"] == url
    assert metadata["authorization_endpoint"] == url + "/oauth2/authorize"
    assert metadata["token_endpoint"] == url + "/oauth2/token"
    assert metadata["userinfo_endpoint"] == url + "/oauth2/userinfo"
    assert metadata["jwks_uri"] == url + "/oauth2/jwks"
    assert "S256" in metadata["code_challenge_methods_supported"]
    for method in ("client_secret_basic", "client_secret_post", "none"):
        assert method in metadata["token_endpoint_auth_methods_supported"], method


def test_the_key_set_imports_rs256_and_es256(ctx):
    jwks = ctx.rp.fetch_jwk_set(force=True)
    by_alg = {key["alg"]: key for key in jwks["keys"]}
    assert set(by_alg) >= {"RS256", "ES256"}, jwks
    assert by_alg["RS256"]["kty"] == "RSA" and by_alg["ES256"]["kty"] == "EC"
    assert by_alg["ES256"]["crv"] == "P-256"
    assert len({key["kid"] for key in jwks["keys"]}) == len(jwks["keys"]), "each key its own kid"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        key_set = JsonWebKey.import_key_set(jwks)
        for alg, key in by_alg.items():
            imported = key_set.find_by_kid(key["kid"])
            assert imported.kty == key["kty"], alg
            assert "d" not in key and "d" not in imported.as_dict(), f"{alg}: a public key only"
        ec = key_set.find_by_kid(by_alg["ES256"]["kid"]).get_public_key()
        assert ec.curve.name == "secp256r1" and ec.key_size == 256
        rsa = key_set.find_by_kid(by_alg["RS256"]["kid"]).get_public_key()
        assert rsa.key_size >= 2048, rsa.key_size


def run_code_flow(ctx, method, client_id="web", secret="ctx", alg="RS256"):
    secret = ctx.secret if secret == "ctx" else secret
    flow = Flow(ctx, client_id, secret, method)
    callback = flow.callback()
    token = flow.fetch_token(callback)
    assert token["token_type"] == "Bearer", token
    assert token["scope"] == SCOPE and token["expires_in"] > 0, token
    claims = validate_id_token(ctx, flow, token, alg)
    # Userinfo through the application's session, with its bearer token.
    info = flow.session.get(flow.metadata["userinfo_endpoint"]).json()
    assert info == {
        "sub": ctx.user_id,
        "preferred_username": "ann",
        "name": "Ann Example",
        "email": "ann@example.com",
        "email_verified": True,
    }, info
    assert info["sub"] == claims["sub"]
    # And as authlib's application client reads it.
    ctx.rp.client_id = client_id
    assert ctx.rp.userinfo(token=token)["preferred_username"] == "ann"
    return flow, token


def test_confidential_client_with_client_secret_basic(ctx):
    run_code_flow(ctx, "client_secret_basic")


def test_a_client_registered_for_es256_gets_es256_id_tokens_that_authlib_verifies(ctx):
    secret = ctx.tessera.create_client("web-es256", alg="ES256")
    run_code_flow(ctx, "client_secret_basic", client_id="web-es256", secret=secret, alg="ES256")


def test_confidential_client_with_client_secret_post(ctx):
    run_code_flow(ctx, "client_secret_post")


def test_public_client_with_pkce_only(ctx):
    run_code_flow(ctx, "none", client_id="spa", secret=None)


def test_a_public_client_without_pkce_is_sent_back_with_an_error(ctx):
    flow = Flow(ctx, "spa", None, "none")
    url, state = flow.session.create_authorization_url(flow.metadata["authorization_endpoint"], nonce=flow.nonce)
    assert "code_challenge" not in url
    response = requests.get(url, allow_redirects=False)
    assert response.status_code in (302, 303), response.status_code
    params = query(response.headers["Location"])
    assert params["error"] == "invalid_request" and params["state"] == state, params


def test_a_wrong_client_secret_is_invalid_client(ctx):
    for method in ("client_secret_basic", "client_secret_post"):
        flow = Flow(ctx, "web", ctx.secret + "x", method)
        callback = flow.callback()
        expect_oauth_error("invalid_client", lambda: flow.fetch_token(callback))


def test_a_code_traded_twice_is_invalid_grant(ctx):
    flow = Flow(ctx, "web", ctx.secret, "client_secret_basic")
    callback = flow.callback()
    token = flow.fetch_token(callback)
    assert flow.session.get(flow.metadata["userinfo_endpoint"]).status_code == 200
    again = Flow(ctx, "web", ctx.secret, "client_secret_basic")
    again.verifier, again.state = flow.verifier, flow.state
    expect_oauth_error("invalid_grant", lambda: again.fetch_token(callback))
    # What the code gave is revoked (RFC 6749 §4.1.2): the access token reads nothing now.
    revoked = requests.get(flow.metadata["userinfo_endpoint"], headers={"Authorization": "Bearer " + token["access_token"]})
    assert revoked.status_code == 401, revoked.status_code


def test_a_wrong_code_verifier_is_invalid_grant(ctx):
    flow = Flow(ctx, "web", ctx.secret, "client_secret_basic")
    callback = flow.callback()
    expect_oauth_error("invalid_grant", lambda: flow.fetch_token(callback, code_verifier=generate_token(48)))


def test_a_mismatched_redirect_uri_is_invalid_grant(ctx):
    flow = Flow(ctx, "web", ctx.secret, "client_secret_post")
    callback = flow.callback()
    # Both URIs are registered; the code was given for the first.
    expect_oauth_error("invalid_grant", lambda: flow.fetch_token(callback, redirect_uri=OTHER_REDIRECT))


def test_a_code_for_another_client_is_invalid_grant(ctx):
    flow = Flow(ctx, "spa", None, "none")
    callback = flow.callback()
    thief = Flow(ctx, "web", ctx.secret, "client_secret_basic")
    thief.state = flow.state
    expect_oauth_error("invalid_grant", lambda: thief.fetch_token(callback, code_verifier=flow.verifier))


def test_the_browser_session_answers_a_second_application_without_a_login(ctx):
    browser = Browser(ctx.tessera)
    first = Flow(ctx, "web", ctx.secret, "client_secret_basic")
    first.fetch_token(first.callback(browser))
    second = Flow(ctx, "spa", None, "none")
    url = second.authorization_url()
    # Signed in already: the authorization endpoint answers with a code at once.
    response = browser.http.get(url, allow_redirects=False)
    assert response.headers["Location"].startswith(REDIRECT + "?code="), response.headers["Location"]
    token = second.fetch_token(response.headers["Location"])
    assert validate_id_token(ctx, second, token)["aud"] == "spa"


def test_a_refresh_token_renews_once_and_revocation_ends_the_grant(ctx):
    flow = Flow(ctx, "web", ctx.secret, "client_secret_basic")
    first = flow.fetch_token(flow.callback())
    assert first.get("refresh_token"), first
    renewed = flow.session.refresh_token(flow.metadata["token_endpoint"], refresh_token=first["refresh_token"])
    assert renewed["refresh_token"] != first["refresh_token"], "each refresh makes the next token"
    assert flow.session.get(flow.metadata["userinfo_endpoint"]).status_code == 200
    # The spent token, back again, is refused and takes the grant with it.
    spent = OAuth2Session("web", ctx.secret, token_endpoint_auth_method="client_secret_basic")
    expect_oauth_error(
        "invalid_grant",
        lambda: spent.refresh_token(flow.metadata["token_endpoint"], refresh_token=first["refresh_token"]),
    )
    gone = requests.get(flow.metadata["userinfo_endpoint"], headers={"Authorization": "Bearer " + renewed["access_token"]})
    assert gone.status_code == 401, gone.status_code

    # Another grant, revoked by the client (RFC 7009) with authlib's own call.
    other = Flow(ctx, "web", ctx.secret, "client_secret_basic")
    token = other.fetch_token(other.callback())
    answer = other.session.revoke_token(flow.metadata["revocation_endpoint"], token=token["refresh_token"])
    assert answer.status_code == 200, answer.status_code
    introspected = other.session.introspect_token(flow.metadata["introspection_endpoint"], token=token["access_token"])
    assert introspected.json() == {"active": False}, introspected.text


def main():
    tessera = Tessera()
    passed, failed = 0, 0
    try:
        ctx = Context(tessera)
        for name, test in list(globals().items()):
            if name.startswith("test_") and callable(test):
                try:
                    test(ctx)
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
