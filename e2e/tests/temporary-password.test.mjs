// Temporary passwords: the first administrator's printed one, and one an administrator gives a
// user from the console; the first login with either asks for a password of one's own.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, shot, createUser, adminPage, logIn } from "../lib.mjs";

const OWN = "a passphrase of my own";
let server;
let browser;

before(async () => {
  server = await startServer({}, { keepTemporaryPassword: true });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Chooses `password` on the page a temporary password's login leads to, then logs in with it. */
async function chooseOwnPassword(page, username, password) {
  await page.waitForURL(/\/reset-password\//);
  assert.equal(await page.locator("h1").textContent(), "Choose your own password");
  assert.match(await page.locator("#temporary").textContent(), /^You logged in with a temporary password/);
  await page.getByLabel("New password", { exact: true }).fill(password);
  await page.getByLabel("New password again").fill(password);
  await page.getByRole("button", { name: "Set the new password" }).click();
  await page.waitForURL(/\/login\?reset=1$/);
  await logIn(page, server, username, password);
}

test("the first administrator's printed password asks for one of their own at the first login", async () => {
  const page = await (await browser.newContext()).newPage();
  await logIn(page, server, "admin", server.password);
  await page.waitForURL(/\/reset-password\//);
  await shot(page, "90-first-login-choose-own-password");
  await chooseOwnPassword(page, "admin", OWN);
  await page.waitForURL(`${server.url}/`);
  // The printed password no longer opens the account.
  const other = await (await browser.newContext()).newPage();
  await logIn(other, server, "admin", server.password);
  await other.locator("#login-error").waitFor();
  server.password = OWN;
});

test("an administrator gives a user a temporary password, shown once, which the user replaces", async () => {
  const user = await createUser(server, "tina");
  const admin = await adminPage(browser, server);
  await admin.goto(`${server.url}/admin/users/${user.id}`);
  await admin.getByRole("link", { name: "Give a temporary password…" }).click();
  assert.equal(await admin.locator("h1").textContent(), "Give tina a temporary password?");
  await admin.getByRole("button", { name: "Make a temporary password" }).click();
  const temporary = (await admin.locator("#temporary-password").textContent()).trim();
  assert.equal(temporary.length, 20);
  await shot(admin, "91-admin-temporary-password");

  const page = await (await browser.newContext()).newPage();
  await logIn(page, server, "tina", temporary);
  await chooseOwnPassword(page, "tina", OWN);
  await page.waitForURL(`${server.url}/`);
  await admin.goto(`${server.url}/admin/users/${user.id}`);
  assert.match(await admin.locator("main").textContent(), /Set by the user\./);
});
