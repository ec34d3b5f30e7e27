// Passwords someone else set in motion: the first administrator's printed one and one an
// administrator gives a user (the first login with either asks for a password of one's own),
// and an invitation to a new account, whose link lets the person choose theirs.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, shot, createUser, adminPage, logIn, outbox } from "../lib.mjs";

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
  await shot(page, "120-first-login-choose-own-password");
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
  await shot(admin, "121-admin-temporary-password");

  const page = await (await browser.newContext()).newPage();
  await logIn(page, server, "tina", temporary);
  await chooseOwnPassword(page, "tina", OWN);
  await page.waitForURL(`${server.url}/`);
  await admin.goto(`${server.url}/admin/users/${user.id}`);
  assert.match(await admin.locator("main").textContent(), /Set by the user\./);
});

test("an administrator invites a new user, who chooses their password by the emailed link", async () => {
  const admin = await adminPage(browser, server);
  await admin.goto(`${server.url}/admin/users`);
  await admin.getByLabel("Username", { exact: true }).fill("uma");
  await admin.getByLabel("Email", { exact: true }).fill("uma@example.com");
  await admin.getByLabel(/Send an invitation by email instead/).check();
  await admin.getByRole("button", { name: "Create user" }).click();
  await admin.waitForURL(/notice=invited$/);

  let email;
  for (let i = 0; i < 100 && !email; i++) {
    email = (await outbox(server)).find((m) => m.to === "uma@example.com" && /choose a password/.test(m.subject ?? ""));
  }
  assert.ok(email, "an invitation is in the outbox");
  const link = email.body.split("\n").find((line) => line.includes("/reset-password/"));
  const page = await (await browser.newContext()).newPage();
  await page.goto(link);
  assert.equal(await page.locator("h1").textContent(), "Choose your password");
  assert.match(await page.locator("#invited").textContent(), /^Welcome: an administrator made you an account/);
  await page.getByLabel("New password", { exact: true }).fill(OWN);
  await page.getByLabel("New password again").fill(OWN);
  await shot(page, "122-invitation-choose-password");
  await page.getByRole("button", { name: "Set the new password" }).click();
  await page.waitForURL(/\/login\?reset=1$/);
  await logIn(page, server, "uma", OWN);
  await page.waitForURL(`${server.url}/`);
});
