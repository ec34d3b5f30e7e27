// First login with enrolment of a phone, SMS codes from the outbox, the alternatives (voice,
// recovery code), resends, wrong codes, trusted computers and the Authy migration.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, shot, outbox, outboxCode, createUser, logIn, PASSWORD } from "../lib.mjs";

const PHONE = "+13035551212";
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

/** A new browser context (own cookies) with a page. */
async function freshPage() {
  const context = await browser.newContext();
  return context.newPage();
}

test("a user who must use 2FA enrols a phone at the first login, then logs in by SMS", async () => {
  await createUser(server, "ann", { twoFactorRequired: true, fullName: "Ann Lee" });
  const page = await freshPage();
  await logIn(page, server, "ann");
  await page.waitForURL(/\/login\/enroll$/);
  await shot(page, "10-enrol-phone");
  await page.getByLabel("Mobile phone number, with country code").fill("+1 (303) 555-1212");
  await page.getByLabel("Text message (SMS)").check();
  await page.getByRole("button", { name: "Next" }).click();
  assert.match(await page.textContent("main"), /We sent a code to \+1 •••• 1212/);

  // A wrong code first: an error next to the field, and nothing is stored.
  await page.getByLabel("Code", { exact: true }).fill("000000");
  await page.getByRole("button", { name: "Confirm code" }).click();
  assert.match(await page.textContent("[role=alert]"), /not right/);

  await page.getByLabel("Code", { exact: true }).fill(await outboxCode(server, PHONE));
  await page.getByRole("button", { name: "Confirm code" }).click();
  assert.match(await page.textContent("main"), /Your phone is verified/);
  assert.equal((await page.locator("#recovery-codes li").allTextContents()).length, 10);
  // The codes must be acknowledged before going on.
  await page.getByRole("button", { name: "Continue" }).click();
  assert.match(page.url(), /\/login\/enroll\/phone\/confirm$/, "the unticked box holds the form back");
  await page.getByLabel("I have saved these codes").check();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL(/\/\?welcome=1$/);
  assert.match(await page.textContent("main"), /Configure authenticator app/);
  assert.match(await page.textContent("main"), /Use SMS for 2FA/);
  assert.equal(await page.textContent("#factors"), "password, text message");
  await shot(page, "11-phone-verified");

  // Next login: SMS asks to confirm before sending, then takes the code; a resend sends it again.
  await page.getByRole("button", { name: /Log out/ }).click();
  await logIn(page, server, "ann");
  await page.waitForURL(/\/login\/code$/);
  assert.match(await page.textContent("main"), /We will send a code by text message to \+1 •••• 1212/);
  await shot(page, "12-confirm-sms");
  const before = (await outbox(server)).length;
  await page.getByRole("button", { name: "Send code" }).click();
  await page.waitForURL(/sent=1/);
  assert.equal((await outbox(server)).length, before + 1);
  const first = await outboxCode(server, PHONE);
  await page.getByRole("button", { name: "Send the code again" }).click();
  await page.waitForURL(/sent=1/);
  assert.equal(await outboxCode(server, PHONE), first, "a resend within the window sends the same code");
  await page.getByLabel("Code", { exact: true }).fill(first);
  await page.getByRole("button", { name: "Confirm code" }).click();
  await page.waitForURL(`${server.url}/`);
  assert.equal(await page.textContent("#factors"), "password, text message");
});

test("a recovery code is an alternative at the code prompt", async () => {
  const user = await createUser(server, "bob");
  const codes = await enrolSms(user.id, "+13035550101");
  const page = await freshPage();
  await logIn(page, server, "bob");
  await page.waitForURL(/\/login\/code$/);
  await page.getByRole("link", { name: "Use an alternative verification method" }).click();
  await shot(page, "13-alternatives");
  await page.getByRole("link", { name: "Use a recovery code" }).click();
  await page.getByLabel("Recovery code").fill(codes[0].toLowerCase());
  await page.getByRole("button", { name: "Confirm code" }).click();
  await page.waitForURL(`${server.url}/`);
  assert.equal(await page.textContent("#factors"), "password, recovery code");
});

test("five wrong codes end the login step, which then starts over", async () => {
  const user = await createUser(server, "cy");
  await enrolSms(user.id, "+13035550102");
  const page = await freshPage();
  await logIn(page, server, "cy");
  await page.getByRole("button", { name: "Send code" }).click();
  await page.waitForURL(/sent=1/);
  for (let i = 0; i < 5; i++) {
    await page.getByLabel("Code", { exact: true }).fill(String(100000 + i));
    await page.getByRole("button", { name: "Confirm code" }).click();
    await page.waitForSelector("[role=alert]");
  }
  await page.getByLabel("Code", { exact: true }).fill("123456");
  await page.getByRole("button", { name: "Confirm code" }).click();
  await page.waitForURL(/\/login\?expired=1$/);
  assert.match(await page.textContent("[role=status]"), /expired or had too many wrong codes/);
  await shot(page, "14-expired");
});

test("a trusted computer skips the code, but not the re-authentication of security settings", async () => {
  const user = await createUser(server, "dee");
  const phone = "+13035550103";
  await enrolSms(user.id, phone);
  const page = await freshPage();
  await logIn(page, server, "dee");
  await page.getByRole("button", { name: "Send code" }).click();
  await page.waitForURL(/sent=1/);
  await page.getByLabel("Code", { exact: true }).fill(await outboxCode(server, phone));
  await page.getByLabel(/Trust this computer for 30 days/).check();
  await page.getByRole("button", { name: "Confirm code" }).click();
  await page.waitForURL(`${server.url}/`);
  await page.getByRole("button", { name: /Log out/ }).click();

  await logIn(page, server, "dee");
  await page.waitForURL(`${server.url}/`);
  assert.equal(await page.textContent("#factors"), "password, trusted computer");

  // After a restart of the browser (only the cookies with an expiry are left: the trust and
  // the browser id it is bound to) the trust still spares the code, and again with the new
  // trust cookie each spared login sets.
  const kept = (await page.context().cookies()).filter((c) => c.expires > 0);
  assert.deepEqual(kept.map((c) => c.name).sort(), ["tessera_browser", "tessera_trust"]);
  const restarted = await browser.newContext();
  await restarted.addCookies(kept);
  const again = await restarted.newPage();
  for (let i = 0; i < 2; i++) {
    await logIn(again, server, "dee");
    await again.waitForURL(`${server.url}/`);
    assert.equal(await again.textContent("#factors"), "password, trusted computer");
    await again.getByRole("button", { name: /Log out/ }).click();
  }
  await restarted.close();
  await page.goto(`${server.url}/security`);
  await page.waitForURL(/\/security\/reauth$/);
  await shot(page, "15-reauth");
  // The phone can hear the code by text or by call.
  assert.equal(await page.getByRole("button", { name: /Send a code: Phone call to/ }).count(), 1);
  await page.getByRole("button", { name: /Send a code: Text message to/ }).click();
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByLabel(/Code from your authenticator app/).fill(await outboxCode(server, phone));
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL(`${server.url}/security`);
  assert.match(await page.textContent("main"), /Trusted computers/);
  await shot(page, "16-security-settings");

  // Forget this computer: the next login asks for a code again.
  await page.getByRole("button", { name: "Forget" }).click();
  await page.waitForURL(/done=forgotten/);
  await page.getByRole("button", { name: /Log out/ }).click();
  await logIn(page, server, "dee");
  await page.waitForURL(/\/login\/code$/);
});

test("a user moved from Authy gets the SMS at once after the password", async () => {
  const user = await createUser(server, "eve", { authyMigrated: true });
  const phone = "+13035550104";
  await enrolSms(user.id, phone);
  const page = await freshPage();
  const before = (await outbox(server)).length;
  await logIn(page, server, "eve");
  await page.waitForURL(/migrated=1/);
  assert.match(await page.textContent("main"), /moved to a new verification service\. We sent a code to \+1 •••• 0104/);
  assert.equal((await outbox(server)).length, before + 1);
  await shot(page, "17-authy-migrated");
  await page.getByLabel("Code", { exact: true }).fill(await outboxCode(server, phone));
  await page.getByRole("button", { name: "Confirm code" }).click();
  await page.waitForURL(/\/\?welcome=1$/);
  assert.match(await page.textContent("main"), /Configure authenticator app/);
});

/** Gives a user an SMS method on `phone` through the API; returns the recovery codes. (Each
 * test uses its own number: the fraud guard allows 5 codes per number per 10 minutes.) */
async function enrolSms(userId, phone) {
  const sent = await server.api("POST", "/api/two-factor/send", { method: "sms", mobilePhone: phone, userId });
  assert.equal(sent.status, 200, JSON.stringify(sent));
  const code = await outboxCode(server, phone);
  const enabled = await server.api("POST", `/api/user/two-factor/${userId}`, { method: "sms", code });
  assert.equal(enabled.status, 200, JSON.stringify(enabled));
  return enabled.body.recoveryCodes;
}
