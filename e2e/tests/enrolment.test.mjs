// Enrolling at login takes the time an enrolment takes, and a login that runs out while the
// person sets up an app says so and, after the password, goes back to that step.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { startServer, launchBrowser, shot, createUser, logIn, PASSWORD } from "../lib.mjs";

let server;
let browser;

before(async () => {
  server = await startServer();
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

test("a login that runs out while setting up an app says so and goes back there after the password", async () => {
  await createUser(server, "ida", { twoFactorRequired: true });
  const page = await (await browser.newContext()).newPage();
  await logIn(page, server, "ida");
  await page.waitForURL(/\/login\/enroll$/);
  await page.goto(`${server.url}/login/enroll/authenticator`);
  await page.getByText("This key expires in 10 minutes.").waitFor();

  expireWaitingLogins();
  await page.reload();
  await page.waitForURL(/\/login\?expired=authenticator$/);
  await page.getByText("Setting up your second factor took longer than this login could wait.").waitFor();
  await shot(page, "52-login-expired-while-enrolling");

  await page.getByLabel("Username or email").fill("ida");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(/\/login\/enroll\/authenticator$/);
  assert.match(await page.title(), /authenticator/i);
});
