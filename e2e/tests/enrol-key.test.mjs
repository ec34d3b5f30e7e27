// A security key enrolled during a login that must enrol a second factor (issue #32), with
// Chromium's virtual authenticator: the enrolment page offers "Add a security key", the
// ceremony runs under the pending login, the recovery codes are shown once, and the login
// completes as any enrolment's does; the next login asks for the password and the key. The
// server's public URL is http://localhost:<port>, which browsers count as a secure context.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { startServer, launchBrowser, shot, createUser, logIn, freePort, plugKey, PASSWORD } from "../lib.mjs";

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

/** Ends every waiting login now, as the clock would after enrollmentTtlSeconds. */
function expireWaitingLogins() {
  const database = join(server.dataDir, "tessera.db");
  execFileSync("python3", [
    "-c",
    "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], timeout=10); " +
      "c.execute('UPDATE login_challenges SET expires_at = 0'); c.commit()",
    database,
  ]);
}

test("a person who must enrol adds a security key at login, saves the codes and is signed in; next time the key finishes the login", async () => {
  await createUser(server, "kit", { twoFactorRequired: true });
  const page = await (await browser.newContext()).newPage();
  const { held } = await plugKey(page);

  await logIn(page, server, "kit");
  await page.waitForURL(`${server.url}/login/enroll`);
  const choice = page.locator("#enrol-key");
  await choice.waitFor({ state: "visible" });
  await shot(page, "190-enrol-key-at-login");
  await page.getByLabel(/Name of the key/).fill("Kit's key");
  await page.getByRole("button", { name: "Add a security key" }).click();

  // The codes, shown once in place of the choices; the login waits for them to be saved.
  await page.locator("#enrol-key-recovery").waitFor({ state: "visible" });
  assert.equal(await choice.isVisible(), false);
  const codes = await page.locator("#enrol-key-codes code").allTextContents();
  assert.equal(codes.length, 10, JSON.stringify(codes));
  assert.equal((await held()).length, 1, "the authenticator holds the new key");
  await shot(page, "191-enrol-key-recovery-codes");
  await page.getByLabel("I have saved these codes").check();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL(`${server.url}/?welcome=1`);
  assert.equal(await page.textContent("#factors"), "password, security key");

  // The key is listed on the security page under the name given.
  await page.goto(`${server.url}/security`);
  assert.match(await page.textContent("#keys"), /Kit's key/);

  // The next login: the password, then the key.
  await page.context().clearCookies();
  await logIn(page, server, "kit");
  await page.waitForURL(`${server.url}/login/code`);
  assert.match(await page.textContent("main"), /Use your security key to finish logging in/);
  await page.getByRole("button", { name: "Use a security key" }).click();
  await page.waitForURL(`${server.url}/`);
  assert.equal(await page.textContent("#factors"), "password, security key");
});

test("a login that expired before the key was added says so, and after the password goes back to the choice", async () => {
  await createUser(server, "lou", { twoFactorRequired: true });
  const page = await (await browser.newContext()).newPage();
  const { held } = await plugKey(page);
  await logIn(page, server, "lou");
  await page.waitForURL(`${server.url}/login/enroll`);
  await page.locator("#enrol-key").waitFor({ state: "visible" });
  expireWaitingLogins();
  await page.getByRole("button", { name: "Add a security key" }).click();
  await page.waitForURL(/\/login\?expired=enroll$/);
  await page.getByText("Setting up your second factor took longer than this login could wait.").waitFor();
  assert.equal((await held()).length, 0, "no key was made for a login gone");

  await page.getByLabel("Username or email").fill("lou");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(`${server.url}/login/enroll`);
  await page.locator("#enrol-key").waitFor({ state: "visible" });
});

test("a passkey is offered where the browser can keep one; added at login, it signs in next time without the password", async () => {
  await createUser(server, "mae", { twoFactorRequired: true });
  await createUser(server, "ned", { twoFactorRequired: true });
  // A USB key alone: this browser keeps no passkey of its own, and none is offered.
  const usb = await (await browser.newContext()).newPage();
  await plugKey(usb);
  await logIn(usb, server, "ned");
  await usb.waitForURL(`${server.url}/login/enroll`);
  await usb.locator("#enrol-key").waitFor({ state: "visible" });
  assert.equal(await usb.getByRole("button", { name: "Add a passkey" }).isVisible(), false);
  assert.doesNotMatch(await usb.locator("#enrol-key").innerText(), /passkey/);

  // The device's own authenticator, which verifies the person: a passkey may be kept here.
  const page = await (await browser.newContext()).newPage();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  });
  await logIn(page, server, "mae");
  await page.waitForURL(`${server.url}/login/enroll`);
  const passkey = page.getByRole("button", { name: "Add a passkey" });
  await passkey.waitFor({ state: "visible" });
  await passkey.click();
  await page.locator("#enrol-key-recovery").waitFor({ state: "visible" });
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  assert.equal(credentials.length, 1);
  assert.equal(credentials[0].isResidentCredential, true, "a passkey is discoverable");
  await page.getByLabel("I have saved these codes").check();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL(`${server.url}/?welcome=1`);

  await page.context().clearCookies();
  const navigated = page.waitForURL(`${server.url}/`);
  await page.goto(`${server.url}/login`);
  // Where the browser offers passkeys in the username's autofill, the page's conditional
  // request may sign in before the button is clicked: either way is the passkey's.
  await page.getByRole("button", { name: "Sign in with a passkey" }).click({ timeout: 5000 }).catch(() => {});
  await navigated;
  assert.equal(await page.textContent("#factors"), "security key, the key's PIN or biometric");
});
