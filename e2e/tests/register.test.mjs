// Self-registration in a browser: the administrator turns it on in the console (for addresses at
// two domains); a person finds "Create an account" on the login page, signs up (errors beside
// their fields first), reads the link from the development outbox, cannot log in before opening
// it, verifies, logs in, enrols a second factor as the site's policy asks and accepts the terms
// of the welcome step.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, shot, adminPage, logIn, outbox, outboxCode, apiLogin, PASSWORD } from "../lib.mjs";

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

/** The link in the newest verification email to `to`, once it is there. */
async function verificationLink(to, count = 1) {
  for (let i = 0; i < 50; i++) {
    const emails = (await outbox(server)).filter((m) => m.to === to && m.subject?.startsWith("Verify your email address"));
    if (emails.length >= count) return emails[0].body.split("\n").find((line) => line.includes("/verify-email/")).trim();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no verification email to ${to}`);
}

test("off, there is no sign-up; the administrator turns it on and a person signs up, verifies, enrols and accepts the terms", async () => {
  const person = await (await browser.newContext()).newPage();
  await person.goto(`${server.url}/login`);
  assert.equal(await person.getByRole("link", { name: "Create an account" }).count(), 0);
  // Off, the page answers as a path that does not exist: an empty 404.
  assert.equal((await fetch(`${server.url}/register`)).status, 404);

  const admin = await adminPage(browser, server);
  await admin.goto(`${server.url}/admin/accounts`);
  await admin.getByLabel("People may create their own accounts").check();
  await admin.getByLabel("Only with email addresses at these domains").fill("Example.COM\nexample.org");
  await Promise.all([
    admin.waitForURL(/\/admin\/accounts\?notice=saved$/),
    admin.getByRole("button", { name: "Save" }).click(),
  ]);
  assert.equal(await admin.getByLabel("People may create their own accounts").isChecked(), true);
  assert.equal(await admin.getByLabel("Only with email addresses at these domains").inputValue(), "example.com\nexample.org");
  await shot(admin, "130-admin-self-registration");

  // The site's rules for every new account: a second factor at the first login, and terms.
  const policy = await server.api("PUT", "/api/system/two-factor", { twoFactor: { webLoginPolicy: "required", apiLoginPolicy: "enabled" } });
  assert.equal(policy.status, 200, JSON.stringify(policy));
  const terms = await server.api("PUT", "/api/system/welcome", { welcome: { termsVersion: 1, termsText: "Use this service kindly." } });
  assert.equal(terms.status, 200, JSON.stringify(terms));

  await person.goto(`${server.url}/login`);
  await shot(person, "131-login-create-account");
  await person.getByRole("link", { name: "Create an account" }).click();
  await person.waitForURL(/\/register$/);
  assert.equal(await person.title(), "Create an account — Tessera");
  assert.match(await person.textContent("main"), /Accounts here are made only with an address at example\.com or example\.org\./);

  // Refused fields are said beside each one, and nothing is made.
  await person.getByLabel("Username").fill("nia");
  await person.getByLabel("Email address").fill("nia at example");
  await person.getByLabel("Password", { exact: true }).fill("password");
  await person.getByLabel("Password again").fill("password");
  await person.getByRole("button", { name: "Create the account" }).click();
  await person.waitForLoadState();
  assert.match(await person.locator("#email-error").textContent(), /is not an email address like name@example\.com\.$/);
  assert.match(await person.locator("#password-error").textContent(), /^This password is too common/);
  assert.equal(await person.getByLabel("Email address").getAttribute("aria-invalid"), "true");
  assert.equal(await person.getByLabel("Username").inputValue(), "nia", "what was typed stays");
  await shot(person, "132-register-refused");

  await person.getByLabel("Email address").fill("nia@example.com");
  await person.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await person.getByLabel("Password again").fill(PASSWORD);
  await shot(person, "133-register-form");
  await person.getByRole("button", { name: "Create the account" }).click();
  await person.waitForLoadState();
  assert.match(await person.locator("#register-sent").textContent(), /^Check your email: we sent a message to nia@example\.com\./);
  await shot(person, "134-register-check-email");

  // Before the link is opened the account does not log in; the login sends a new link.
  const first = await verificationLink("nia@example.com");
  await logIn(person, server, "nia");
  await person.waitForLoadState();
  assert.match(
    await person.locator("#login-error").textContent(),
    /^Verify your email address before you log in: we sent a new link to n•••@example\.com\./,
  );
  await shot(person, "135-login-before-verification");
  assert.equal((await apiLogin(server, "nia")).status, 212);
  await verificationLink("nia@example.com", 2);

  // The first link still works: its page asks for a press of its button.
  await person.goto(first);
  assert.equal(await person.title(), "Verify your email address — Tessera");
  await shot(person, "136-register-verify-email");
  await Promise.all([
    person.waitForURL(first),
    person.getByRole("button", { name: "Verify my email address" }).click(),
  ]);
  await person.waitForLoadState();
  assert.equal(await person.title(), "Email address verified — Tessera");

  // The first login: the two-factor policy asks for a method, then the welcome step.
  await logIn(person, server, "nia@example.com");
  await person.waitForURL(/\/login\/enroll$/);
  await shot(person, "137-register-enrol");
  await person.getByLabel("Mobile phone number, with country code").fill("+1 303 555 0160");
  await person.getByLabel("Text message (SMS)").check();
  await person.getByRole("button", { name: "Next" }).click();
  await person.getByLabel("Code", { exact: true }).fill(await outboxCode(server, "+13035550160"));
  await person.getByRole("button", { name: "Confirm code" }).click();
  await person.getByLabel("I have saved these codes").check();
  await person.getByRole("button", { name: "Continue" }).click();
  await person.waitForURL(/\/welcome\?invited=1$/);
  assert.match(await person.textContent("main"), /Use this service kindly\./);
  await shot(person, "138-register-welcome");
  await person.getByLabel("I accept the terms of use").check();
  await person.getByRole("button", { name: "Continue" }).click();
  await person.waitForURL(`${server.url}/?welcome=1`);
  assert.match(await person.textContent("main"), /Two-factor authentication is on for your account\./);
  await shot(person, "139-register-done");

  // The audit log tells it as sentences.
  const events = await server.api("GET", "/api/system/audit-log?event=user.register");
  assert.equal(events.status, 200);
  assert.equal(events.body.auditLogs.length, 1);
  assert.equal(events.body.auditLogs[0].details.outcome, "created");
});
