// Security keys on the pages (issue #32), with Chromium's virtual authenticator (the DevTools
// protocol's WebAuthn domain): a person adds one by name behind re-authentication, sees it
// listed and removes it after a question; a refused ceremony or answer shows why and keeps
// nothing; an administrator removes a user's key with a reason. WebAuthn needs a domain name:
// the server's public URL is http://localhost:<port>, which browsers count as a secure context.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startServer,
  launchBrowser,
  shot,
  createUser,
  logIn,
  totp,
  freePort,
  enrolAuthenticatorByApi,
  plugKey,
  addKey,
  PASSWORD,
} from "../lib.mjs";

let server;
let browser;

before(async () => {
  const port = await freePort();
  server = await startServer({ TESSERA_LISTEN: `127.0.0.1:${port}`, TESSERA_PUBLIC_URL: `http://localhost:${port}` });
  assert.equal(server.url, `http://localhost:${port}`);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A fresh browser page with a virtual USB security key plugged in. */
async function pageWithKey() {
  const page = await (await browser.newContext()).newPage();
  return { page, ...(await plugKey(page)) };
}

/** The user's keys as the JSON API lists them. */
async function keysOf(user) {
  const listed = await server.api("GET", `/api/webauthn?userId=${user.id}`);
  assert.equal(listed.status, 200, JSON.stringify(listed));
  return listed.body.credentials;
}

/** The security page's CSRF token, for the requests a tampered page would send. */
async function csrf(page) {
  return page.locator("#key-form input[name=csrf]").inputValue();
}

test("a person re-authenticates, adds a key by name, sees it listed, and removes it after a question", async () => {
  const ana = await createUser(server, "ana");
  const { page, held } = await pageWithKey();
  await logIn(page, server, "ana");
  await page.waitForURL(`${server.url}/`);
  // A second factor set up since this login: the security settings ask for it first.
  const secret = await enrolAuthenticatorByApi(server, ana.id);
  // So do the key's routes, even with the session's CSRF token (the home page's).
  const token = await page.locator("input[name=csrf]").first().inputValue();
  const early = await page.request.post(`${server.url}/security/keys/start`, {
    form: { csrf: token, name: "Early key" },
    maxRedirects: 0,
  });
  assert.equal(early.status(), 303);
  assert.equal(early.headers().location, "/security/reauth");
  await page.goto(`${server.url}/security`);
  await page.waitForURL(/\/security\/reauth$/);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByLabel(/Code from your authenticator app/).fill(totp(secret, 30));
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL(`${server.url}/security`);

  assert.equal(await page.textContent("#no-keys"), "None.");
  assert.equal(await page.isVisible("#keys-unsupported"), false);
  assert.equal(await page.isVisible("#keys-off"), false);

  // A blank name is refused beside the field, before the key is asked anything.
  await addKey(page, "   ");
  assert.equal(await page.textContent("#key-error"), "Give the key a name, such as where it is kept.");
  assert.equal(await page.getByLabel(/Name of the new key/).getAttribute("aria-invalid"), "true");
  assert.equal((await held()).length, 0);
  // So is a name past 64 characters, which the field's maxlength keeps a person from typing.
  const long = await page.request.post(`${server.url}/security/keys/start`, {
    form: { csrf: await csrf(page), name: "k".repeat(65) },
  });
  assert.equal(long.status(), 422);
  assert.deepEqual(await long.json(), { field: "name", message: "A key's name has at most 64 characters." });

  await page.getByLabel(/Name of the new key/).fill("Blue key on my key ring");
  await shot(page, "180-security-key-add-form");
  await addKey(page, "Blue key on my key ring");
  await page.waitForURL(/done=key$/);
  assert.match(await page.textContent("main"), /Your security key is added\./);
  const row = page.locator("#keys tbody tr");
  assert.equal(await row.count(), 1);
  assert.deepEqual(
    (await row.locator("td").allTextContents()).slice(0, 3),
    ["Blue key on my key ring", "just now", "never"],
  );
  await shot(page, "181-security-keys");
  // The key holds one credential for this server, the one the server keeps.
  const [credential] = await held();
  assert.equal(credential.rpId, "localhost");
  const [kept] = await keysOf(ana);
  assert.equal(kept.name, "Blue key on my key ring");
  assert.equal(Buffer.from(kept.credentialId, "base64url").toString("base64"), credential.credentialId);

  // The same key again: the browser refuses it (the server excluded it), nothing is kept.
  await addKey(page, "Blue key again");
  assert.equal(await page.textContent("#key-error"), "No key was added: this key is registered to your account already.");
  assert.equal((await held()).length, 1);
  assert.equal((await keysOf(ana)).length, 1);

  // An answer that is not a credential is refused with why, never a 500.
  for (const [answer, why] of [
    ["{not json", /is not a WebAuthn credential/],
    [JSON.stringify({ id: "AA", response: { attestationObject: "!!", clientDataJSON: "AA" } }), /the key's answer is not base64url/],
  ]) {
    const refused = await page.request.post(`${server.url}/security/keys/finish`, {
      form: { csrf: await csrf(page), credential: answer },
    });
    assert.equal(refused.status(), 422, answer);
    const body = await refused.json();
    assert.equal(body.field, "credential");
    assert.match(body.message, why);
  }
  // Without the page's CSRF token nothing is started.
  const forged = await page.request.post(`${server.url}/security/keys/start`, { form: { csrf: "forged", name: "Forged" } });
  assert.equal(forged.status(), 403);
  assert.equal((await keysOf(ana)).length, 1);

  // Removing asks first; Cancel keeps the key.
  await page.getByRole("button", { name: "Remove security key Blue key on my key ring" }).click();
  await page.waitForURL(/\/security\/keys\/remove$/);
  assert.equal(await page.textContent("h1"), "Remove the security key “Blue key on my key ring”?");
  await shot(page, "182-security-key-remove-question");
  await page.getByRole("link", { name: "Cancel, back to security settings" }).click();
  await page.waitForURL(`${server.url}/security`);
  assert.equal(await page.locator("#keys tbody tr").count(), 1);

  await page.getByRole("button", { name: "Remove security key Blue key on my key ring" }).click();
  await page.getByRole("button", { name: "Remove Blue key on my key ring" }).click();
  await page.waitForURL(/done=key-removed$/);
  assert.match(await page.textContent("main"), /The security key is removed\./);
  assert.equal(await page.textContent("#no-keys"), "None.");
  assert.deepEqual(await keysOf(ana), []);
  // Added and removed, each in the audit log with the key's name.
  for (const event of ["webauthn.register", "webauthn.delete"]) {
    const logged = await server.api("GET", `/api/system/audit-log?event=${event}&userId=${ana.id}`);
    assert.equal(logged.body.auditLogs.length, 1, event);
    assert.equal(logged.body.auditLogs[0].details.name, "Blue key on my key ring", event);
  }
});

test("a refused ceremony shows why beside the form and keeps nothing", async () => {
  const bo = await createUser(server, "bo");
  const { page, cdp, authenticatorId, held } = await pageWithKey();
  // Without a second factor a fresh login is recent enough for the security settings.
  await logIn(page, server, "bo");
  await page.waitForURL(`${server.url}/`);
  await page.goto(`${server.url}/security`);
  await page.waitForURL(`${server.url}/security`);

  // The key answers without the "user present" flag (as if nobody touched it): the server
  // refuses the answer.
  await cdp.send("WebAuthn.setResponseOverrideBits", { authenticatorId, isBadUP: true });
  await addKey(page, "Untouched key");
  assert.equal(
    await page.textContent("#key-error"),
    "No key was added: the key's answer says the person was not present (touch the key). Try again.",
  );
  await shot(page, "183-security-key-refused");
  assert.deepEqual(await keysOf(bo), []);
  assert.equal(await page.textContent("#no-keys"), "None.");

  // The person cancels the browser's dialog: browsers answer NotAllowedError, which a virtual
  // authenticator cannot give, so the page is handed the browser's own refusal.
  await cdp.send("WebAuthn.setResponseOverrideBits", { authenticatorId, isBadUP: false });
  const before = (await held()).length;
  await page.evaluate(() => {
    navigator.credentials.create = () =>
      Promise.reject(new DOMException("The operation either timed out or was not allowed.", "NotAllowedError"));
  });
  await addKey(page, "Cancelled key");
  assert.equal(await page.textContent("#key-error"), "No key was added: it was cancelled, it timed out, or no key answered. Try again.");
  assert.equal((await held()).length, before);
  assert.deepEqual(await keysOf(bo), []);
  // The button is ready for another try.
  assert.equal(await page.getByRole("button", { name: "Add a security key" }).isEnabled(), true);
});

test("a browser without WebAuthn, or a server without a domain name, says so instead of the button", async () => {
  await createUser(server, "cy");
  const context = await browser.newContext();
  await context.addInitScript(() => {
    delete window.PublicKeyCredential;
  });
  const page = await context.newPage();
  await logIn(page, server, "cy");
  await page.waitForURL(`${server.url}/`);
  await page.goto(`${server.url}/security`);
  assert.equal(await page.isVisible("#key-form"), false);
  assert.equal(
    await page.textContent("#keys-unsupported"),
    "Adding a security key needs a browser that supports them (WebAuthn), with JavaScript on.",
  );
  await context.close();

  // startServer's own public URL is http://127.0.0.1:<port>: an IP address, so WebAuthn is off.
  const bare = await startServer();
  try {
    await createUser(bare, "cy");
    const { page: other } = await pageWithKey();
    await logIn(other, bare, "cy");
    await other.waitForURL(`${bare.url}/`);
    await other.goto(`${bare.url}/security`);
    assert.match(await other.textContent("#keys-off"), /^Security keys are off on this server: its public URL has no domain name/);
    assert.equal(await other.locator("#key-form").count(), 0);
    assert.equal(await other.isVisible("#keys-unsupported"), false);
  } finally {
    await bare.stop();
  }
});

test("an administrator sees a user's key on their page and removes it with a reason", async () => {
  const dee = await createUser(server, "dee");
  const { page } = await pageWithKey();
  await logIn(page, server, "dee");
  await page.waitForURL(`${server.url}/`);
  await page.goto(`${server.url}/security`);
  await addKey(page, "Office key");
  await page.waitForURL(/done=key$/);

  const admin = await (await browser.newContext()).newPage();
  await logIn(admin, server, "admin", server.password);
  await admin.waitForURL(`${server.url}/`);
  await admin.goto(`${server.url}/admin/users/${dee.id}`);
  const row = admin.locator("#user-keys tbody tr");
  assert.equal(await row.count(), 1);
  assert.deepEqual((await row.locator("td").allTextContents()).slice(0, 3), ["Office key", "just now", "never"]);
  await shot(admin, "184-admin-user-keys");

  await admin.getByRole("link", { name: "Remove the security key Office key…" }).click();
  await admin.waitForURL(/\/keys\/[^/]+\/remove$/);
  assert.equal(await admin.textContent("h1"), "Remove dee's security key “Office key”?");
  // A reason too short for the audit log is refused beside it, and the key stays.
  await admin.getByLabel("Reason (kept in the audit log)").fill("no");
  await admin.getByRole("button", { name: "Remove the key “Office key”" }).click();
  assert.match(await admin.textContent("[role=alert]"), /^reason: say why \(at least 3 characters\)/);
  assert.equal((await keysOf(dee)).length, 1);
  await admin.getByLabel("Reason (kept in the audit log)").fill("Key lost on the train; dee called the desk");
  await shot(admin, "185-admin-key-remove-question");
  await admin.getByRole("button", { name: "Remove the key “Office key”" }).click();
  await admin.waitForURL(/notice=key-removed$/);
  assert.match(await admin.textContent("main"), /The security key is removed\./);
  assert.equal(await admin.locator("#user-keys tbody tr").textContent(), "None.");
  assert.deepEqual(await keysOf(dee), []);
  const logged = await server.api("GET", `/api/system/audit-log?event=webauthn.delete&userId=${dee.id}`);
  assert.equal(logged.body.auditLogs.length, 1);
  assert.equal(logged.body.auditLogs[0].details.reason, "Key lost on the train; dee called the desk");

  // Dee's own list no longer has it.
  await page.goto(`${server.url}/security`);
  assert.equal(await page.textContent("#no-keys"), "None.");
});
