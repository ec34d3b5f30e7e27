// A code from the authenticator app that was already used in its 30-second step is not called
// wrong: the code page says it was just used and to wait for the app's next one.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { startServer, launchBrowser, totp, shot, createUser, logIn } from "../lib.mjs";

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

/** A fresh authenticator secret, in base32 as an app takes it. */
function newSecret() {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  return Array.from(randomBytes(32), (byte) => alphabet[byte % 32]).join("");
}

async function enterCode(page, code) {
  await page.getByLabel("Code").fill(code);
  await page.getByRole("button", { name: "Confirm code" }).click();
}

test("a code used a moment ago says it was just used, and the login stays open", async () => {
  const user = await createUser(server, "kim");
  const secret = newSecret();
  // The enrolment spends the app's current code: a login's first code is the next one.
  const enrolled = await server.api("POST", `/api/user/two-factor/${user.id}`, {
    method: "authenticator",
    secretBase32Encoded: secret,
    code: totp(secret),
    name: "Phone",
  });
  assert.equal(enrolled.status, 200, JSON.stringify(enrolled.body));
  const page = await (await browser.newContext()).newPage();

  await logIn(page, server, "kim");
  await page.waitForURL(/\/login\/code/);
  const code = totp(secret, 30);
  await enterCode(page, code);
  await page.waitForURL(`${server.url}/`);
  await page.getByRole("button", { name: /Log out/ }).click();
  await page.waitForURL(/\/login\?out=1/);

  // Back in at once, with the code the app still shows.
  await logIn(page, server, "kim");
  await page.waitForURL(/\/login\/code/);
  await enterCode(page, code);
  const alert = page.locator("[role=alert]");
  assert.equal(
    await alert.textContent(),
    "That code was just used. Wait for your app to show the next one and enter it.",
  );
  assert.equal(await page.getByLabel("Code").getAttribute("aria-describedby"), "code-error");
  await shot(page, "06-code-just-used");

  // A wrong code is still just not right.
  await enterCode(page, "000000");
  assert.match(await alert.textContent(), /That code is not right/);

  // The login is still open: a recovery code finishes it.
  await page.goto(`${server.url}/login/code?recovery=1`);
  await page.getByLabel("Recovery code").fill(enrolled.body.recoveryCodes[0]);
  await page.getByRole("button", { name: "Confirm code" }).click();
  await page.waitForURL(`${server.url}/`);
  assert.equal(await page.textContent("#factors"), "password, recovery code");
  await page.close();
});
