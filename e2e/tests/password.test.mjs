// The password changed from the security settings: the form, its refusals said beside their
// fields, the other sessions ended while this one stays, and, unticked, this one ended too.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, shot, createUser, logIn, PASSWORD } from "../lib.mjs";

const NEW = "a brand new passphrase";
const NEWER = "another fresh passphrase";
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

/** Fills the form and sends it; resolves with the status of the page that answers. */
async function changePassword(page, current, password, again, stay = true) {
  await page.getByLabel("Current password").fill(current);
  await page.getByLabel("New password", { exact: true }).fill(password);
  await page.getByLabel("New password again").fill(again);
  await page.getByLabel("Stay logged in on this computer").setChecked(stay);
  const [response] = await Promise.all([
    page.waitForNavigation(),
    page.getByRole("button", { name: "Change password" }).click(),
  ]);
  return response.status();
}

test("a person changes their password: refusals in sentences, the other sessions ended", async () => {
  await createUser(server, "pia");
  const other = await (await browser.newContext({ userAgent: "Firefox/140" })).newPage();
  await logIn(other, server, "pia");
  await other.waitForURL(`${server.url}/`);

  const page = await (await browser.newContext()).newPage();
  await logIn(page, server, "pia");
  await page.waitForURL(`${server.url}/`);
  await page.goto(`${server.url}/security`);
  await page.getByRole("link", { name: "Change password" }).click();
  await page.waitForURL(/\/security\/password$/);
  assert.equal(await page.title(), "Change password — Security settings — Tessera");
  assert.equal(await page.getByLabel("Stay logged in on this computer").isChecked(), true, "ticked by default");
  await shot(page, "80-change-password-form");

  // Each refusal is a sentence beside its field, and the page keeps the box as it was.
  assert.equal(await changePassword(page, PASSWORD, NEW, "a brand new passphrasE"), 422);
  assert.equal(
    await page.locator("#confirm_password-error").textContent(),
    "The two new passwords are not the same. Type the new password twice.",
  );
  assert.equal(await page.getByLabel("New password again").getAttribute("aria-invalid"), "true");
  await shot(page, "81-change-password-mismatch");
  assert.equal(await changePassword(page, "not the password", NEW, NEW), 422);
  assert.match(await page.locator("#current_password-error").textContent(), /^Your current password is not right\./);
  assert.equal(await changePassword(page, PASSWORD, "password123", "password123"), 422);
  const weak = await page.locator("#new_password-error").textContent();
  assert.match(weak, /^This password is too common: .*\.$/);
  await shot(page, "82-change-password-too-common");
  assert.equal(await changePassword(page, PASSWORD, PASSWORD, PASSWORD), 422);
  assert.match(await page.locator("#new_password-error").textContent(), /^Choose a password you have not used here/);
  // None of them ended the other session.
  await other.goto(`${server.url}/security`);
  assert.equal(new URL(other.url()).pathname, "/security");

  // Accepted: back to the settings, this session kept, the other one ended.
  assert.equal(await changePassword(page, PASSWORD, NEW, NEW), 200);
  assert.equal(new URL(page.url()).pathname, "/security");
  assert.equal(
    await page.locator(".notice").textContent(),
    "Your password is changed. Other sessions were ended.",
  );
  assert.doesNotMatch(await page.locator("main").textContent(), /Firefox/);
  await shot(page, "83-password-changed");
  await other.goto(`${server.url}/security`);
  await other.waitForURL(/\/login$/);

  // Unticked: this session ends too, and the person logs in again with the new password.
  await page.goto(`${server.url}/security/password`);
  assert.equal(await changePassword(page, NEW, NEWER, NEWER, false), 200);
  assert.match(page.url(), /\/login\?out=1$/);
  await page.goto(`${server.url}/security`);
  await page.waitForURL(/\/login$/);
  await logIn(page, server, "pia", NEW);
  assert.match(await page.locator(".error").textContent(), /not right/);
  await logIn(page, server, "pia", NEWER);
  await page.waitForURL(`${server.url}/`);
});
