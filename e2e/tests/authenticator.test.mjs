// The "done when" of the web pages: the admin logs in, enrols an authenticator app by scanning
// its QR code, logs out and back in with a code.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startServer, launchBrowser, totp, shot, decodeQr, screenshots } from "../lib.mjs";

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

test("the admin enrols an authenticator by its QR code and logs in with a code", async () => {
  const page = await browser.newPage();
  await page.goto(`${server.url}/login`);
  await shot(page, "01-login");
  await page.getByLabel("Username or email").fill("admin");
  await page.getByLabel("Password").fill(server.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(`${server.url}/`);
  assert.match(await page.textContent("main"), /You are logged in as admin/);
  assert.equal(await page.textContent("#factors"), "password");

  // A login of moments ago counts as re-authentication for the security settings.
  await page.getByRole("link", { name: "Security settings" }).first().click();
  await page.waitForURL(`${server.url}/security`);
  await page.getByRole("link", { name: "Add an authenticator app" }).click();

  // Scan the QR code as a phone would: decode the picture.
  const qr = page.locator(".qr svg");
  const qrPath = join(screenshots, "qr.png");
  await qr.screenshot({ path: qrPath });
  await shot(page, "02-authenticator-setup");
  const uri = decodeQr(qrPath);
  assert.match(uri, /^otpauth:\/\/totp\/Tessera:admin\?secret=[A-Z2-7]{32}&issuer=Tessera&algorithm=SHA1&digits=6&period=30$/);
  const secret = new URL(uri).searchParams.get("secret");
  assert.equal((await page.textContent("#manual-key")).replace(/\s/g, ""), secret);
  assert.equal(await page.getAttribute("#otpauth-link", "href"), uri);

  await page.getByLabel("Name").fill("Work phone");
  await page.getByLabel("Code").fill(totp(secret));
  await page.getByRole("button", { name: "Confirm" }).click();
  await page.waitForSelector("#recovery-codes");
  await shot(page, "03-recovery-codes");
  const codes = await page.locator("#recovery-codes li").allTextContents();
  assert.equal(codes.length, 10);
  await page.getByLabel("I have saved these codes").check();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL(`${server.url}/security`);
  assert.match(await page.textContent("main"), /Authenticator app \(Work phone\)/);

  // Log out, and back in with a code from the app.
  await page.getByRole("button", { name: /Log out/ }).click();
  await page.waitForURL(/\/login\?out=1/);
  await page.getByLabel("Username or email").fill("admin");
  await page.getByLabel("Password").fill(server.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(/\/login\/code/);
  assert.match(await page.textContent("main"), /code from your authenticator app/);
  const input = page.getByLabel("Code");
  assert.equal(await input.getAttribute("autocomplete"), "one-time-code");
  assert.equal(await input.getAttribute("inputmode"), "numeric");
  await shot(page, "04-code-prompt");

  await input.fill("000000");
  await page.getByRole("button", { name: "Confirm code" }).click();
  assert.match(await page.textContent("[role=alert]"), /not right/);

  await page.getByLabel("Code").fill(totp(secret, 30));
  await page.getByRole("button", { name: "Confirm code" }).click();
  await page.waitForURL(`${server.url}/`);
  assert.equal(await page.textContent("#factors"), "password, authenticator app");
  await shot(page, "05-home");
  await page.close();
});
