// Break-glass for a lost phone: an administrator issues a one-time access code on the user's
// page (asked first, with a reason) and sees it once; the person logs in with the password and
// that code, is taken straight to enrolment, where nothing else opens, and enrols a new app.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startServer,
  launchBrowser,
  shot,
  createUser,
  logIn,
  adminPage,
  enrolAuthenticatorByApi,
  totp,
} from "../lib.mjs";

const REASON = "Uma lost her phone; ID checked at the front desk";
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

test("an administrator issues an access code, and the person logs in with it and enrols a new app", async () => {
  const uma = await createUser(server, "uma");
  await enrolAuthenticatorByApi(server, uma.id); // the app on the phone she lost

  // The administrator: the reason on the user's page, the question, then the code, once.
  const admin = await adminPage(browser, server);
  await admin.goto(`${server.url}/admin/users/${uma.id}`);
  await admin.getByLabel("Reason for the access code (kept in the audit log)").fill(REASON);
  await admin.getByRole("button", { name: "Issue a one-time access code…" }).click();
  await admin.getByRole("heading", { name: "Issue a one-time access code for uma?" }).waitFor();
  assert.equal(await admin.title(), "Issue a one-time access code for uma? — Admin — Tessera");
  assert.equal(await admin.getByLabel("Reason (kept in the audit log)").inputValue(), REASON, "the reason is kept");
  await shot(admin, "100-access-code-question");
  await admin.getByRole("button", { name: "Issue the access code" }).click();
  await admin.locator("#access-code").waitFor();
  assert.equal(await admin.title(), "Access code for uma — Admin — Tessera");
  const code = await admin.textContent("#access-code");
  assert.match(code, /^[0-9A-Z]{5}(-[0-9A-Z]{5}){3}$/);
  assert.match(await admin.textContent("#access-code-use"), /It works once, until .* \(24 hours\)/);
  await shot(admin, "101-access-code-issued");
  await admin.goto(`${server.url}/admin/users/${uma.id}`);
  assert.match(await admin.textContent("#access-code-state"), /works once until/);
  assert.doesNotMatch(await admin.textContent("main"), new RegExp(code), "shown only once");

  // Uma: her password, then the access code in place of the app's code.
  const page = await (await browser.newContext()).newPage();
  await logIn(page, server, "uma");
  await page.waitForURL(/\/login\/code$/);
  await page.getByRole("link", { name: "Use an alternative verification method" }).click();
  await page.getByRole("link", { name: "Use an access code from your administrator" }).click();
  await page.waitForURL(/\/login\/code\?access=1$/);
  await page.getByLabel("Access code").fill(code);
  assert.equal(await page.getByLabel(/Trust this computer/).count(), 0, "an access code trusts no computer");
  await shot(page, "102-access-code-prompt");
  await page.getByRole("button", { name: "Confirm code" }).click();

  // Straight to enrolment, and nowhere else until it is done.
  await page.waitForURL(/\/login\/enroll$/);
  assert.match(
    await page.locator(".notice").textContent(),
    /^The access code from your administrator is accepted\. To finish logging in, set up a new second factor/,
  );
  await shot(page, "103-access-code-enrolment");
  await page.goto(`${server.url}/security`);
  await page.waitForURL(/\/login$/);
  await page.goto(`${server.url}/login/code`);
  await page.waitForURL(/\/login\/enroll$/);

  // A new authenticator app, new recovery codes, and she is in.
  await page.getByRole("link", { name: "Set up an authenticator app instead" }).click();
  await page.waitForURL(/\/login\/enroll\/authenticator$/);
  const secret = (await page.textContent("#manual-key")).replace(/\s/g, "");
  await page.getByLabel("Name").fill("New phone");
  await page.getByLabel("Code").fill(totp(secret));
  await page.getByRole("button", { name: "Confirm" }).click();
  await page.waitForSelector("#recovery-codes");
  assert.equal((await page.locator("#recovery-codes li").allTextContents()).length, 10, "a new set");
  await page.getByLabel("I have saved these codes").check();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL(/\/\?welcome=1$/);
  assert.equal(
    await page.textContent("#factors"),
    "password, access code from an administrator, authenticator app",
  );
  await shot(page, "104-access-code-logged-in");

  // The administrator's page: no code waits any more, both methods are listed, the log tells it.
  await admin.goto(`${server.url}/admin/users/${uma.id}`);
  assert.equal(await admin.locator("#access-code-state").count(), 0);
  const main = await admin.textContent("main");
  assert.match(main, /Authenticator app \(New phone\)/);
  assert.match(main, new RegExp(`admin issued a one-time access code for uma: ${REASON}`));
  assert.match(main, /uma used a one-time access code from an administrator, to set up a new second factor/);
});
