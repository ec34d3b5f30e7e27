// Logging in with a security key or a passkey on the pages (issue #32), with Chromium's virtual
// authenticator: a key finishes a login as its second factor (alone, or beside a code); a
// passkey signs in with no password and both factors, then goes on as any login does (to an
// application that waited for it); a refused answer is said beside the button and keeps the
// person where they were. The server's public URL is
// http://localhost:<port>, which browsers count as a secure context.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import {
  startServer,
  launchBrowser,
  shot,
  createUser,
  logIn,
  freePort,
  enrolAuthenticatorByApi,
  plugKey,
  addKey,
  registerClient,
} from "../lib.mjs";

let server;
let browser;

before(async () => {
  const port = await freePort();
  server = await startServer({ TESSERA_LISTEN: `127.0.0.1:${port}`, TESSERA_PUBLIC_URL: `http://localhost:${port}` });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A fresh browser page with a virtual security key plugged in. */
async function pageWithKey() {
  const page = await (await browser.newContext()).newPage();
  return { page, ...(await plugKey(page)) };
}

/** A user logged in with the password alone (no second factor yet) adds a key from the
 * security page, then is logged out. */
async function keyFromPages(page, username, name) {
  await logIn(page, server, username);
  await page.waitForURL(`${server.url}/`);
  await page.goto(`${server.url}/security`);
  // The key is the user's first second factor: it comes with recovery codes, shown once.
  const codes = await addKey(page, name);
  assert.equal(codes.length, 10, JSON.stringify(codes));
  await page.waitForURL(/done=key$/);
  await page.context().clearCookies();
}

/** Registers a passkey for `user` through the JSON API, the virtual authenticator answering in
 * `page` (at this server's origin). */
async function passkeyByApi(page, user, name) {
  const started = await server.api("POST", "/api/webauthn/register/start", { userId: user.id, name, workflow: "bootstrap" });
  assert.equal(started.status, 200, JSON.stringify(started));
  // A page of this origin that starts no passkey request of its own.
  await page.goto(`${server.url}/forgot-password`);
  const credential = await page.evaluate(async ({ publicKey }) => {
    const decode = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)).buffer;
    const encode = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    const made = await navigator.credentials.create({
      publicKey: {
        ...publicKey,
        challenge: decode(publicKey.challenge),
        user: { ...publicKey.user, id: decode(publicKey.user.id) },
        excludeCredentials: (publicKey.excludeCredentials ?? []).map((c) => ({ ...c, id: decode(c.id) })),
      },
    });
    return {
      id: made.id,
      rawId: encode(made.rawId),
      type: made.type,
      response: {
        attestationObject: encode(made.response.attestationObject),
        clientDataJSON: encode(made.response.clientDataJSON),
      },
      clientExtensionResults: made.getClientExtensionResults(),
    };
  }, started.body.options);
  const completed = await server.api("POST", "/api/webauthn/register/complete", {
    userId: user.id,
    credential,
    origin: server.url,
    rpId: "localhost",
  });
  assert.equal(completed.status, 200, JSON.stringify(completed));
  assert.equal(completed.body.credential.discoverable, true);
}

/** Clicks a key's button; resolves once the page went on, or shows why beside the button. */
async function useKey(page, button, errorId) {
  const navigated = page.waitForEvent("framenavigated", (frame) => frame === page.mainFrame());
  await page.getByRole("button", { name: button }).click();
  const refused = page.waitForFunction((id) => !document.getElementById(id).hidden, errorId);
  navigated.catch(() => {});
  refused.catch(() => {});
  await Promise.race([navigated, refused]);
}

test("a person whose only second factor is a key finishes the login with it; beside a code it is an alternative", async () => {
  const kim = await createUser(server, "kim");
  const { page } = await pageWithKey();
  await keyFromPages(page, "kim", "Kim's key");

  // The password, then the code page asks for the key: nothing to type.
  await logIn(page, server, "kim");
  await page.waitForURL(`${server.url}/login/code`);
  assert.match(await page.textContent("main"), /Use your security key to finish logging in/);
  assert.equal(await page.locator("#code").count(), 0);
  assert.equal(await page.isVisible("#key-unsupported"), false);
  await shot(page, "186-login-security-key");
  await useKey(page, "Use a security key", "key-error");
  await page.waitForURL(`${server.url}/`);
  assert.equal(await page.textContent("#factors"), "password, security key");

  // With an authenticator app as well, the code comes first and the key is offered beside it,
  // and among the alternatives.
  await enrolAuthenticatorByApi(server, kim.id);
  await page.context().clearCookies();
  await logIn(page, server, "kim");
  await page.waitForURL(`${server.url}/login/code`);
  assert.equal(await page.isVisible("#code"), true);
  assert.equal(await page.getByRole("button", { name: "Use a security key" }).isVisible(), true);
  await shot(page, "187-login-code-or-security-key");
  await page.getByRole("link", { name: "Use an alternative verification method" }).click();
  await page.getByRole("link", { name: "Use a security key" }).click();
  await page.waitForURL(/\/login\/code\?key=1$/);
  assert.equal(await page.locator("#code").count(), 0);
  // The computer trusted as a code would trust it: the next login asks for nothing more.
  await page.getByLabel(/Trust this computer/).check();
  await useKey(page, "Use a security key", "key-error");
  await page.waitForURL(`${server.url}/`);
  await page.context().clearCookies({ name: /session/ });
  await logIn(page, server, "kim");
  await page.waitForURL(`${server.url}/`);
  assert.match(await page.textContent("#factors"), /trusted computer/);
});

test("a refused key answer is said on the code page and counted as a wrong code; a tampered answer is refused in words", async () => {
  const lee = await createUser(server, "lee");
  const { page, cdp, authenticatorId } = await pageWithKey();
  await keyFromPages(page, "lee", "Lee's key");
  await logIn(page, server, "lee");
  await page.waitForURL(`${server.url}/login/code`);

  // The key answers without the "user present" flag, as if nobody touched it.
  await cdp.send("WebAuthn.setResponseOverrideBits", { authenticatorId, isBadUP: true });
  await useKey(page, "Use a security key", "key-error");
  assert.equal(
    await page.textContent("#key-error"),
    "Your security key did not log you in: the key's answer says the person was not present (touch the key). Try again.",
  );
  assert.equal(page.url(), `${server.url}/login/code`);
  await shot(page, "188-login-security-key-refused");
  const failures = await server.api("GET", `/api/system/audit-log?event=two_factor.failure&userId=${lee.id}`);
  assert.equal(failures.body.auditLogs.length, 1, JSON.stringify(failures.body));

  // An answer that is not a credential: a sentence, never a 500.
  const csrf = await page.locator("#key-login input[name=csrf]").inputValue();
  for (const credential of ["{not json", JSON.stringify({ id: "AA", response: { authenticatorData: "!!", clientDataJSON: "AA", signature: "AA" } })]) {
    const refused = await page.request.post(`${server.url}/login/key/finish`, { form: { csrf, credential } });
    assert.equal(refused.status(), 422, credential);
    assert.match((await refused.json()).message, /^Your security key did not log you in: /);
  }
  const forged = await page.request.post(`${server.url}/login/key/start`, { form: { csrf: "forged" } });
  assert.equal(forged.status(), 403);

  // Touched this time, the key lets Lee in.
  await cdp.send("WebAuthn.setResponseOverrideBits", { authenticatorId, isBadUP: false });
  await useKey(page, "Use a security key", "key-error");
  await page.waitForURL(`${server.url}/`);
});

test("a person signs in with a passkey and no password, with both factors", async () => {
  const max = await createUser(server, "max");
  // Max also has an authenticator app: a session with one factor would be asked for it again.
  await enrolAuthenticatorByApi(server, max.id);
  const { page, cdp, authenticatorId } = await pageWithKey();
  await passkeyByApi(page, max, "Max's phone");

  // Where the browser offers passkeys in the username field's autofill, the page asks for them
  // (a conditional request) once the person comes to the field, before any button.
  await page.goto(`${server.url}/login`);
  const conditional = page.waitForRequest(`${server.url}/login/passkey/start`, { timeout: 5000 });
  conditional.catch(() => {});
  await page.getByLabel("Username or email").click();
  if (await page.evaluate(() => PublicKeyCredential.isConditionalMediationAvailable())) await conditional;
  assert.equal(await page.getByLabel("Username or email").getAttribute("autocomplete"), "username webauthn");
  assert.equal(await page.getByRole("button", { name: "Sign in with a passkey" }).isVisible(), true);
  await shot(page, "189-login-passkey");

  // A passkey that says the person was not there is refused beside the button.
  await cdp.send("WebAuthn.setResponseOverrideBits", { authenticatorId, isBadUP: true });
  await useKey(page, "Sign in with a passkey", "passkey-error");
  assert.equal(
    await page.textContent("#passkey-error"),
    "No passkey signed you in: the key's answer says the person was not present (touch the key). Try again.",
  );
  assert.equal(page.url(), `${server.url}/login`);
  const csrf = await page.locator("#passkey-login input[name=csrf]").inputValue();
  const tampered = await page.request.post(`${server.url}/login/passkey/finish`, { form: { csrf, credential: "[]" } });
  assert.equal(tampered.status(), 422);
  assert.match((await tampered.json()).message, /^No passkey signed you in: /);

  await cdp.send("WebAuthn.setResponseOverrideBits", { authenticatorId, isBadUP: false });
  // "Remember me" counts for a passkey's session as for a password's.
  await page.getByLabel("Remember me on this computer").check();
  await useKey(page, "Sign in with a passkey", "passkey-error");
  await page.waitForURL(`${server.url}/`);
  assert.equal(await page.textContent("#factors"), "security key, the key's PIN or biometric");
  const logins = await server.api("GET", `/api/system/audit-log?event=login.success&userId=${max.id}`);
  const byPasskey = logins.body.auditLogs.filter((event) => event.details.method === "passkey");
  assert.equal(byPasskey.length, 1);
  assert.equal(byPasskey[0].details.rememberMe, true);
  const session = (await page.context().cookies()).find((c) => c.name.endsWith("tessera_session"));
  assert.ok(session.expires > Date.now() / 1000 + 20 * 86400, "kept for the remembered length, not the browser's life");
  // Both factors: the security settings open without asking for the app's code.
  await page.goto(`${server.url}/security`);
  assert.equal(page.url(), `${server.url}/security`);
});

test("a passkey sign-in that an application's authorization request waited for goes on to the application", async () => {
  // The application's redirect URI: a page that says what came back.
  const app = createServer((request, response) => {
    response.writeHead(200, { "Content-Type": "text/html" });
    response.end("<!doctype html><title>Photo album</title><h1>Back at the photo album</h1>");
  });
  await new Promise((resolve) => app.listen(0, "127.0.0.1", resolve));
  try {
    const callback = `http://127.0.0.1:${app.address().port}/cb`;
    registerClient(server, { name: "Photo album", clientId: "album", redirectUris: [callback], scopes: ["openid", "profile"] });
    const ola = await createUser(server, "ola");
    const { page } = await pageWithKey();
    await passkeyByApi(page, ola, "Ola's laptop");
    const challenge = createHash("sha256").update(randomBytes(32).toString("base64url")).digest("base64url");
    await page.goto(
      `${server.url}/oauth2/authorize?response_type=code&client_id=album&redirect_uri=${encodeURIComponent(callback)}` +
        `&scope=openid%20profile&state=s1&code_challenge=${challenge}&code_challenge_method=S256`,
    );
    await page.waitForURL(/\/login$/);
    await useKey(page, "Sign in with a passkey", "passkey-error");
    await page.waitForURL((url) => url.href.startsWith(callback));
    const answered = new URL(page.url()).searchParams;
    assert.equal(answered.get("state"), "s1");
    assert.ok(answered.get("code"));
  } finally {
    await new Promise((resolve) => app.close(resolve));
  }
});

test("the passkey button is hidden without WebAuthn in the browser or on the server", async () => {
  const context = await browser.newContext();
  await context.addInitScript(() => {
    delete window.PublicKeyCredential;
  });
  const page = await context.newPage();
  await page.goto(`${server.url}/login`);
  assert.equal(await page.isVisible("#passkey-login"), false);
  await context.close();

  // startServer's own public URL is http://127.0.0.1:<port>: an IP address, so WebAuthn is off.
  const bare = await startServer();
  try {
    const other = await (await browser.newContext()).newPage();
    await other.goto(`${bare.url}/login`);
    assert.equal(await other.locator("#passkey-login").count(), 0);
    assert.equal(await other.getByLabel("Username or email").getAttribute("autocomplete"), "username");
  } finally {
    await bare.stop();
  }
});
