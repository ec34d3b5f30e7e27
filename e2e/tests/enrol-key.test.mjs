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
