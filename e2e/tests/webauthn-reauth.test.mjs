// Re-authentication with a security key (issue #32), with Chromium's virtual authenticator: a
// person whose only second factor is a key and whose re-authentication lapsed gets back into
// the security settings with the password and the key (no loop); a site behind forward-auth
// asks a one-factor session for its second factor, and the key gives it. The login page begins
// its passkey autofill only once the person comes to the username field. The server's public
// URL is http://localhost:<port>, which browsers count as a secure context.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, shot, createUser, logIn, freePort, plugKey, addKey, PASSWORD } from "../lib.mjs";

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

async function pageWithKey() {
  const page = await (await browser.newContext()).newPage();
  return { page, ...(await plugKey(page)) };
}

/** Clicks the key's button; resolves once the page went on, or shows why beside the button. */
async function useKey(page) {
  const navigated = page.waitForEvent("framenavigated", (frame) => frame === page.mainFrame());
  await page.getByRole("button", { name: "Use a security key" }).click();
  const refused = page.waitForFunction(() => {
    const error = document.getElementById("reauth-key-error");
    return !error.hidden && !document.querySelector("#reauth-key button").disabled;
  });
  navigated.catch(() => {});
  refused.catch(() => {});
  await Promise.race([navigated, refused]);
}

/** Registers a security key for `user` through the JSON API, the virtual authenticator of
 * `page` answering at this server's origin: the page's session is left as it was. */
async function keyByApi(page, user, name) {
  const started = await server.api("POST", "/api/webauthn/register/start", { userId: user.id, name, workflow: "general" });
  assert.equal(started.status, 200, JSON.stringify(started));
  const credential = await page.evaluate(async ({ publicKey }) => {
    const decode = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)).buffer;
    const encode = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    const made = await navigator.credentials.create({
      publicKey: {
        ...publicKey,
        challenge: decode(publicKey.challenge),
        user: { ...publicKey.user, id: decode(publicKey.user.id) },
        excludeCredentials: [],
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
}

async function setReauthenticationSeconds(seconds) {
  const saved = await server.api("PUT", "/api/system/two-factor", {
    twoFactor: { webLoginPolicy: "enabled", apiLoginPolicy: "enabled", reauthenticationSeconds: seconds },
  });
  assert.equal(saved.status, 200, JSON.stringify(saved));
}

test("a key-only person whose re-authentication lapsed gets back into the security settings with the key", async () => {
  // The shortest window the settings allow: the test waits it out.
  await setReauthenticationSeconds(60);
  try {
    const kim = await createUser(server, "kim");
    const { page } = await pageWithKey();
    await logIn(page, server, "kim");
    await page.waitForURL(`${server.url}/`);
    await page.goto(`${server.url}/security`);
    const codes = await addKey(page, "Kim's key");
    assert.equal(codes.length, 10);
    await page.waitForURL(/done=key$/);
    const added = Date.now();

    await new Promise((resolve) => setTimeout(resolve, 61_000 - (Date.now() - added)));
    await page.goto(`${server.url}/security`);
    await page.waitForURL(/\/security\/reauth$/);
    assert.equal(await page.textContent("#reauth-lead"), "Security settings need a fresh login with your second factor.");
    // The key is the prompt: no code asked, no button that would take the password alone.
    assert.equal(await page.locator("#code").count(), 0);
    assert.equal(await page.getByRole("button", { name: "Continue" }).count(), 0);
    assert.equal(await page.isVisible("#reauth-key-unsupported"), false);
    // Enter in the password field runs the key too, never the password alone.
    await page.getByLabel("Password").press("Enter");
    await page.waitForFunction(() => !document.getElementById("reauth-key-error").hidden);
    assert.equal(await page.textContent("#reauth-key-error"), "Enter your password, then use your security key.");

    // The key without the password: asked for it first, the key not asked anything.
    await useKey(page);
    assert.equal(await page.textContent("#reauth-key-error"), "Enter your password, then use your security key.");
    // A wrong password with the key: refused beside the button.
    await page.getByLabel("Password").fill("not my password at all");
    await useKey(page);
    assert.equal(await page.textContent("#reauth-key-error"), "The password is not right. Enter it again, then use your security key.");
    assert.match(page.url(), /\/security\/reauth$/);
    await shot(page, "190-reauth-security-key");

    await page.getByLabel("Password").fill(PASSWORD);
    await useKey(page);
    await page.waitForURL(`${server.url}/security`);
    assert.equal(await page.locator("#keys tbody tr").count(), 1);
    const proofs = await server.api("GET", `/api/system/audit-log?event=login.reauthenticate&userId=${kim.id}`);
    assert.equal(proofs.body.auditLogs.length, 1);
    assert.deepEqual(proofs.body.auditLogs[0].details.amr, ["pwd", "hwk"]);
  } finally {
    await setReauthenticationSeconds(600);
  }
});

test("a site that asks for two factors takes the key of a session with one", async () => {
  const rules = await server.api("PUT", "/api/system/access-rules", {
    accessRules: { rules: [{ domain: ["app.example.com"], policy: "two_factor" }] },
  });
  assert.equal(rules.status, 200, JSON.stringify(rules));
  const lou = await createUser(server, "lou");
  const { page } = await pageWithKey();
  await logIn(page, server, "lou");
  await page.waitForURL(`${server.url}/`);
  // The key comes after this login (as on a trusted computer): the session has one factor.
  await keyByApi(page, lou, "Lou's key");
  await page.route("https://app.example.com/**", (route) =>
    route.fulfill({ status: 200, contentType: "text/html", body: "<title>Vault</title>The vault" }),
  );

  await page.goto(`${server.url}/forward-auth/step-up?rd=${encodeURIComponent("https://app.example.com/vault")}`);
  assert.equal(await page.textContent("#reauth-lead"), "app.example.com asks for your second factor: use your security key to go on.");
  assert.equal(await page.getByLabel("Password").count(), 0);
  await shot(page, "191-site-step-up-security-key");
  await useKey(page);
  await page.waitForURL("https://app.example.com/vault");
  const told = await server.api("GET", `/api/system/audit-log?event=login.step_up&userId=${lou.id}`);
  assert.equal(told.body.auditLogs.length, 1);
  assert.equal(told.body.auditLogs[0].details.site, "app.example.com");
});

test("the login page begins its passkey autofill only once the person comes to the username field", async () => {
  const { page } = await pageWithKey();
  const starts = [];
  page.on("request", (request) => {
    if (request.url().endsWith("/login/passkey/start")) starts.push(request);
  });
  await page.goto(`${server.url}/login`);
  await page.waitForTimeout(1000);
  assert.equal(starts.length, 0, "nothing begun at the page's load");
  if (!(await page.evaluate(() => PublicKeyCredential.isConditionalMediationAvailable()))) return;
  const begun = page.waitForRequest(`${server.url}/login/passkey/start`, { timeout: 5000 });
  await page.getByLabel("Username or email").click();
  await begun;
  await page.getByLabel("Username or email").fill("someone");
  await page.waitForTimeout(300);
  assert.equal(starts.length, 1, "one request for the field, not one per key typed");
});
