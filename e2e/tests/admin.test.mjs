// The admin console: the web login policy switched to "required" and a user flagged "two factor
// auth required" send that user through enrolment at the next login; a phone updated on a
// user's behalf with a reason shows in the audit log. A signed-in user who is no administrator
// is refused the console.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, shot, outbox, createUser, logIn } from "../lib.mjs";

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

test("an administrator requires 2FA, flags a user, and updates a phone with a reason", async () => {
  await createUser(server, "kim", { mobilePhone: "+1 303 555 0170" });
  const admin = await (await browser.newContext()).newPage();
  await logIn(admin, server, "admin", server.password);
  await admin.waitForURL(`${server.url}/`);
  await admin.getByRole("link", { name: "Admin" }).click();
  await admin.waitForURL(/\/admin\/users/);

  // Site options: web logins require a second factor from every user.
  await admin.getByRole("link", { name: "Two-factor settings" }).click();
  await admin.getByLabel("Web logins (these pages)").selectOption("required");
  await admin.getByRole("button", { name: "Save settings" }).click();
  await admin.waitForURL(/notice=saved/);
  assert.equal(await admin.getByLabel("Web logins (these pages)").inputValue(), "required");
  await shot(admin, "40-admin-settings");

  // The user: "Two factor auth required".
  await admin.getByRole("link", { name: "Users" }).click();
  await admin.getByLabel("Find users by username or email").fill("ki");
  await admin.getByRole("button", { name: "Search" }).click();
  await admin.getByRole("link", { name: "kim" }).click();
  await admin.getByLabel("Two factor auth required").check();
  await admin.getByRole("button", { name: "Save profile" }).click();
  await admin.waitForURL(/notice=saved/);
  assert.equal(await admin.getByLabel("Two factor auth required").isChecked(), true);

  // Kim's next login goes through enrolment.
  const user = await (await browser.newContext()).newPage();
  await logIn(user, server, "kim");
  await user.waitForURL(/\/login\/enroll$/);

  // The phone, updated on Kim's behalf with a reason, is in the audit log.
  await admin.getByLabel(/New mobile phone number/).fill("+1 303 555 0171");
  await admin.getByLabel("Reason (kept in the audit log)").fill("Kim called from her new phone; ID checked");
  await admin.getByRole("button", { name: "Update phone" }).click();
  await admin.waitForURL(/notice=phone/);
  assert.match(await admin.textContent("main"), /\+13035550171/);
  await admin.getByRole("link", { name: "Audit log" }).click();
  await admin.getByLabel("Event").selectOption("user.phone_change");
  await admin.getByRole("button", { name: "Filter" }).click();
  const log = await admin.textContent("main");
  assert.match(log, /user\.phone_change/);
  assert.match(log, /Kim called from her new phone; ID checked/);
  assert.match(log, /\+1 •••• 0171/);
  await shot(admin, "41-admin-audit");

  // Code delivery: the friendly name, and a test message through the settings in force.
  await admin.getByRole("link", { name: "Code delivery" }).click();
  await admin.getByLabel(/Friendly name in messages/).fill("Acme");
  await admin.getByRole("button", { name: "Save delivery settings" }).click();
  await admin.waitForURL(/\/admin\/delivery\?notice=saved/);
  await admin.getByLabel(/Phone number \(with country code\) or email address/).fill("+1 303 555 0180");
  await admin.getByRole("button", { name: "Send a test message" }).click();
  await admin.waitForURL(/notice=sent/);
  const messages = await outbox(server);
  assert.match(messages[0].body, /^Your Acme verification code is: \d{6}$/);
  await shot(admin, "42-admin-delivery");

  // Terms: a first version is published.
  await admin.getByRole("link", { name: "Terms and welcome" }).click();
  await admin.getByLabel("Terms of use").fill("Be kind to the servers.");
  await admin.getByRole("button", { name: "Save" }).click();
  await admin.waitForURL(/\/admin\/welcome\?notice=saved/);
  assert.match(await admin.textContent("main"), /Current terms: version 1/);

  // A Verify API account for an application written for Twilio.
  await admin.getByRole("link", { name: "Verify API accounts" }).click();
  await admin.getByLabel("Name").fill("shop");
  await admin.getByRole("button", { name: "Create account" }).click();
  const accountSid = await admin.textContent("#account-sid");
  const authToken = await admin.textContent("#auth-token");
  assert.match(accountSid, /^AC[0-9a-f]{32}$/);
  const created = await fetch(`${server.url}/v2/Services`, {
    method: "POST",
    headers: {
      Authorization: "Basic " + Buffer.from(`${accountSid}:${authToken}`).toString("base64"),
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: "FriendlyName=Shop",
  });
  assert.equal(created.status, 201);

  // Kim, stopped at enrolment, is not signed in yet: the console sends her to log in.
  await user.goto(`${server.url}/admin/users`);
  assert.match(user.url(), /\/login(\?|$)/, "a login not finished is sent to the login");
});

test("a signed-in user who is no administrator is refused the admin console", async () => {
  // A server of its own: the one above now has terms to accept and requires a second factor.
  const fresh = await startServer();
  try {
    await createUser(fresh, "lee");
    const page = await (await browser.newContext()).newPage();
    await logIn(page, fresh, "lee");
    await page.waitForURL(`${fresh.url}/`);
    assert.match(await page.textContent("main"), /You are logged in as lee/);
    assert.equal(await page.getByRole("link", { name: "Admin", exact: true }).count(), 0, "no way to the console");

    const refused = await page.goto(`${fresh.url}/admin/users`);
    assert.equal(refused.status(), 403);
    assert.equal(page.url(), `${fresh.url}/admin/users`, "refused where Lee stands, not sent to log in");
    assert.match(await page.textContent("main"), /The admin console is for administrators\./);
    await shot(page, "43-admin-refused");

    // Refused, not signed out.
    await page.goto(`${fresh.url}/`);
    assert.match(await page.textContent("main"), /You are logged in as lee/);
  } finally {
    await fresh.stop();
  }
});
