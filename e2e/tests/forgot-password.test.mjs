// A forgotten password: the link asked for from the login page, the email read in the
// development outbox, the new password set on the page the link opens, and a login that still
// asks for the second factor.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startServer, launchBrowser, shot, createUser, adminPage, outbox, outboxCode, enrolByApi, enrolAuthenticatorByApi, totp,
  PASSWORD,
} from "../lib.mjs";

const NEW = "a brand new passphrase";
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

/** The link of the newest password email to `to`, once the background send has queued it. */
async function linkSentTo(to) {
  for (let i = 0; i < 100; i++) {
    const email = (await outbox(server)).find((m) => m.to === to && /password/.test(m.subject ?? ""));
    if (email) return email.body.split("\n").find((line) => line.includes("/reset-password/"));
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no password email to ${to}`);
}

test("a person who forgot their password sets a new one by an emailed link, then logs in with both factors", async () => {
  const user = await createUser(server, "rosa", { email: "rosa@example.com" });
  const secret = await enrolAuthenticatorByApi(server, user.id);

  const page = await (await browser.newContext()).newPage();
  await page.goto(`${server.url}/login`);
  await page.getByRole("link", { name: "Forgot your password?" }).click();
  await page.waitForURL(/\/forgot-password$/);
  assert.equal(await page.title(), "Forgot your password? — Log in — Tessera");
  await page.getByLabel("Username or email").fill("rosa");
  await shot(page, "84-forgot-password");
  await page.getByRole("button", { name: "Send me a link" }).click();
  await page.locator("#reset-sent").waitFor();
  assert.match(await page.locator("#reset-sent").textContent(), /^If an account with this username or email address exists/);
  await shot(page, "85-forgot-password-sent");

  // The email, as the development outbox shows it to an administrator.
  const link = await linkSentTo("rosa@example.com");
  assert.ok(link.startsWith(`${server.url}/reset-password/`), link);
  const admin = await adminPage(browser, server);
  await admin.goto(`${server.url}/dev/outbox`);
  // Not necessarily the newest row: the notice of the authenticator added above is sent by the
  // notices worker within a second, before or after this email.
  await admin.locator("tbody tr", { hasText: "Reset your Tessera password" }).first().waitFor();
  await shot(admin, "86-outbox-reset-email");

  await page.goto(link);
  assert.equal(await page.title(), "Choose a new password — Log in — Tessera");
  await page.getByLabel("New password", { exact: true }).fill(NEW);
  await page.getByLabel("New password again").fill("not the same");
  await page.getByRole("button", { name: "Set the new password" }).click();
  await page.locator("#confirm_password-error").waitFor();
  assert.equal(
    await page.locator("#confirm_password-error").textContent(),
    "The two new passwords are not the same. Type the new password twice.",
  );
  await page.getByLabel("New password", { exact: true }).fill(NEW);
  await page.getByLabel("New password again").fill(NEW);
  await shot(page, "87-reset-password-form");
  await page.getByRole("button", { name: "Set the new password" }).click();
  await page.waitForURL(/\/login\?reset=1$/);
  assert.equal(await page.locator(".notice").textContent(), "Your password is changed. Log in with the new one.");

  // The old password no longer opens the account; the new one leads to the second factor.
  await page.getByLabel("Username or email").fill("rosa");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator("#login-error").waitFor();
  await page.getByLabel("Username or email").fill("rosa");
  await page.getByLabel("Password").fill(NEW);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(/\/login\/code/);
  await shot(page, "88-reset-then-second-factor");
  await page.getByLabel("Code").fill(totp(secret, 30));
  await page.getByRole("button", { name: "Confirm code" }).click();
  await page.waitForURL(`${server.url}/`);

  // The link did its work: opened again, it says so.
  await page.goto(link);
  assert.match(await page.locator("#link-error").textContent(), /^This link was used already/);
});

test("where the administrator allows it, a code texted to the account's phone leads to the same form", async () => {
  const saved = await server.api("PUT", "/api/system/two-factor", {
    twoFactor: { webLoginPolicy: "enabled", apiLoginPolicy: "enabled", passwordResetBySms: true },
  });
  assert.equal(saved.status, 200, JSON.stringify(saved));
  const user = await createUser(server, "sami");
  await enrolByApi(server, user.id, "sms", "+13035550177");
  const texts = async () => (await outbox(server)).filter((m) => m.to === "+13035550177").length;
  const before = await texts();

  const page = await (await browser.newContext()).newPage();
  await page.goto(`${server.url}/forgot-password`);
  await page.getByLabel("Username or email").fill("sami");
  await page.getByRole("button", { name: "Text me a code instead" }).click();
  await page.getByLabel("Code").waitFor();
  assert.match(await page.locator("#reset-sent").textContent(), /we texted it a code/);
  for (let i = 0; i < 100 && (await texts()) === before; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await page.getByLabel("Code").fill(await outboxCode(server, "+13035550177"));
  await shot(page, "89-forgot-password-texted-code");
  await page.getByRole("button", { name: "Confirm code" }).click();
  await page.waitForURL(/\/reset-password\//);
  assert.match(await page.locator("main").textContent(), /For the account sami/);
});
