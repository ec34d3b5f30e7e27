// Seed 004, FusionAuth's older two-factor tutorial with text messages (#28, items 10–13), where
// a person sees it: its requests go through the API as printed (tests/api/seed_004.rs is their
// spec), and what they change shows in the login and code pages, the admin console and the
// development outbox. And item 7: the admin's user page calls a number verified only while a
// phone method holds it.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startServer,
  launchBrowser,
  shot,
  outbox,
  outboxCode,
  createUser,
  logIn,
  adminPage,
  apiLogin,
  enrolByApi,
  enrolAuthenticatorByApi,
  totp,
} from "../lib.mjs";

/** The seed's number in its own national form (a real area code instead of its fictional
 * 555), and as Tessera stores it. */
const SEED = { typed: "303-555-5555", stored: "+13035555555" };
const SEED_APPLICATION_ID = "10000000-0000-0002-0000-000000000001";

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

/** A server of the test's own that reads national numbers as the United States' (the seed's
 * numbers have no country code), stopped after the test. */
async function usServer(t) {
  const server = await startServer({ TESSERA_DEFAULT_REGION: "US" });
  t.after(() => server.stop());
  return server;
}

async function freshPage() {
  return (await browser.newContext()).newPage();
}

/** The user the seed enables, through the seed's three requests ("Generate a secret", "Collect
 * a verification code", "Enable Two Factor Authentication" with `delivery: TextMessage`);
 * returns the user's id. */
async function enableAsTheSeedDoes(server, username, number = SEED) {
  const user = await createUser(server, username);
  const generated = await server.api("GET", "/api/two-factor/secret");
  const secret = generated.body.secret;
  const sent = await server.api("POST", "/api/two-factor/send", { mobilePhone: number.typed, secret });
  assert.equal(sent.status, 200, JSON.stringify(sent));
  const code = await outboxCode(server, number.stored);
  const enabled = await server.api("POST", `/api/user/two-factor/${user.id}`, { code, secret, delivery: "TextMessage" });
  assert.equal(enabled.status, 200, JSON.stringify(enabled));
  return user.id;
}

/** The "Verified phone" line of a user's page in the admin console, and the profile's number
 * when the page shows it apart. */
async function phoneLines(admin) {
  const profile = admin.locator("#profile-phone");
  return {
    verified: (await admin.locator("#verified-phone").textContent()).trim(),
    profile: (await profile.count()) ? (await profile.textContent()).trim() : null,
  };
}

test("10. the seed's last request, with an empty ipAddress, logs the user in; the console shows the session from the connection's address", async (t) => {
  const server = await usServer(t);
  const id = await enableAsTheSeedDoes(server, "ten");
  const login = await apiLogin(server, "ten");
  assert.equal(login.status, 242, JSON.stringify(login));

  // "Complete Two Factor Authentication" as printed: the seed's applicationId, "ipAddress": "".
  const done = await fetch(`${server.url}/api/two-factor/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "User-Agent": "Seed application" },
    body: JSON.stringify({
      applicationId: SEED_APPLICATION_ID,
      code: await outboxCode(server, SEED.stored),
      ipAddress: "",
      twoFactorId: login.body.twoFactorId,
    }),
  });
  const body = await done.text();
  assert.equal(done.status, 200, body);
  assert.equal(JSON.parse(body).token.split(".").length, 3);

  // The administrator sees the session this login opened: the empty ipAddress counted as
  // absent, so the address is the connection's.
  const admin = await adminPage(browser, server);
  await admin.goto(`${server.url}/admin/users/${id}`);
  const sessions = await admin.locator("h2:text-is('Sessions') + ul li").allTextContents();
  assert.equal(sessions.length, 1, JSON.stringify(sessions));
  assert.match(sessions[0], /^Seed application · 127\.0\.0\.1 · since /);
  await shot(admin, "70-seed-empty-ip-address-session");
});

test("11. a login sends its code by itself, once, to a phone enabled the seed's way, as the administrator's setting says", async (t) => {
  const server = await usServer(t);
  const admin = await adminPage(browser, server);
  await admin.getByRole("link", { name: "Admin" }).click();
  await admin.getByRole("link", { name: "Two-factor settings" }).click();
  const setting = admin.getByLabel("Codes a login sends by itself");
  assert.equal(await setting.inputValue(), "legacy", "the default: only to phones enabled the older way");
  /** The administrator chooses when a login sends its code unasked. */
  const choose = async (value) => {
    await setting.selectOption(value);
    await admin.getByRole("button", { name: "Save settings" }).click();
    await admin.waitForURL(/notice=saved/);
    assert.equal(await setting.inputValue(), value);
  };

  await enableAsTheSeedDoes(server, "seed");
  const user = await freshPage();

  // The default ("legacy"): the seed's phone gets the code as soon as the password is right.
  let before = (await outbox(server)).length;
  await logIn(user, server, "seed");
  await user.waitForURL(/\/login\/code\?.*sent=1/);
  assert.match(await user.textContent("main"), /We sent a code to \+1 •••• 5555\b/);
  assert.equal(await user.getByRole("button", { name: "Send code" }).count(), 0, "nothing to ask for");
  await user.reload();
  const sent = await outbox(server);
  assert.equal(sent.length, before + 1, "one message for one login, the page seen twice");
  assert.equal(sent[0].to, SEED.stored);
  await shot(user, "71-seed-code-sent-on-login");
  await user.getByLabel("Code", { exact: true }).fill(await outboxCode(server, SEED.stored));
  await user.getByRole("button", { name: "Confirm code" }).click();
  await user.waitForURL(`${server.url}/`);
  assert.equal(await user.textContent("#factors"), "password, text message");
  await user.getByRole("button", { name: /Log out/ }).click();

  // "Never": the same user asks for the code, and gets one.
  await choose("never");
  await shot(admin, "72-seed-send-code-on-login-setting");
  before = (await outbox(server)).length;
  await logIn(user, server, "seed");
  await user.waitForURL(/\/login\/code$/);
  assert.match(await user.textContent("main"), /We will send a code by text message to \+1 •••• 5555/);
  assert.equal((await outbox(server)).length, before, "nothing sent unasked");
  await user.getByRole("button", { name: "Send code" }).click();
  await user.waitForURL(/sent=1/);
  assert.equal((await outbox(server)).length, before + 1);

  // "Preferred": a phone enrolled the current way gets it unasked too; under "legacy" it did not.
  const current = await createUser(server, "cur");
  await enrolByApi(server, current.id, "sms", "+13035550111");
  const other = await freshPage();
  await choose("legacy");
  before = (await outbox(server)).length;
  await logIn(other, server, "cur");
  await other.waitForURL(/\/login\/code$/);
  assert.equal((await outbox(server)).length, before, "legacy: not a phone enabled the older way");
  await choose("preferred");
  await logIn(other, server, "cur");
  await other.waitForURL(/\/login\/code\?.*sent=1/);
  assert.match(await other.textContent("main"), /We sent a code to \+1 •••• 0111\b/);
  assert.equal((await outbox(server)).length, before + 1);
});

test("12. an application's send with {} names no method; the code goes to the user's preferred method, the one used last", async (t) => {
  const server = await usServer(t);
  const pat = await createUser(server, "pat");
  await enrolByApi(server, pat.id, "sms", "+13035550112");
  await enrolByApi(server, pat.id, "email", "pat@example.com");

  // On the pages Pat is offered the phone, enrolled first, and takes the email instead.
  const page = await freshPage();
  await logIn(page, server, "pat");
  await page.waitForURL(/\/login\/code$/);
  assert.match(await page.textContent("main"), /\+1 •••• 0112/);
  await page.getByRole("link", { name: "Use an alternative verification method" }).click();
  await page.getByRole("link", { name: /^Email/ }).click();
  await page.getByRole("button", { name: "Send code" }).click();
  await page.waitForURL(/sent=1/);
  await page.getByLabel("Code", { exact: true }).fill(await outboxCode(server, "pat@example.com"));
  await page.getByRole("button", { name: "Confirm code" }).click();
  await page.waitForURL(`${server.url}/`);

  // An application logs Pat in as the seed does and asks for a code with the twoFactorId alone:
  // it goes to the email, once, and not to the phone.
  const login = await apiLogin(server, "pat");
  assert.equal(login.status, 242, JSON.stringify(login));
  const before = (await outbox(server)).length;
  const sent = await fetch(`${server.url}/api/two-factor/send/${login.body.twoFactorId}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: "{}",
  });
  assert.equal(sent.status, 200, await sent.text());
  const messages = await outbox(server);
  assert.equal(messages.length, before + 1);
  assert.equal(messages[0].to, "pat@example.com");

  // The administrator's outbox page shows it at the top, an email to Pat.
  const admin = await adminPage(browser, server);
  await admin.goto(`${server.url}/dev/outbox`);
  const newest = await admin.locator("tbody tr").first().locator("td").allTextContents();
  assert.deepEqual(newest.slice(0, 2), ["email", "pat@example.com"]);
  await shot(admin, "73-seed-send-to-preferred-method");

  const done = await fetch(`${server.url}/api/two-factor/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ code: await outboxCode(server, "pat@example.com"), twoFactorId: login.body.twoFactorId }),
  });
  assert.equal(done.status, 200, await done.text());
});

test("12. a send with {} for a user whose app is preferred goes to the phone: an app receives no code", async (t) => {
  const server = await usServer(t);
  const ann = await createUser(server, "ann");
  await enrolByApi(server, ann.id, "sms", "+13035550113");
  const secret = await enrolAuthenticatorByApi(server, ann.id);

  // On the pages Ann logs in with the app, the method a login offers first (with the next
  // step's code: the enrolment spent this one's).
  const page = await freshPage();
  await logIn(page, server, "ann");
  await page.waitForURL(/\/login\/code$/);
  await page.getByLabel("Code", { exact: true }).fill(totp(secret, 30));
  await page.getByRole("button", { name: "Confirm code" }).click();
  await page.waitForURL(`${server.url}/`);
  assert.equal(await page.textContent("#factors"), "password, authenticator app");

  const login = await apiLogin(server, "ann");
  assert.equal(login.status, 242, JSON.stringify(login));
  const before = (await outbox(server)).length;
  const sent = await fetch(`${server.url}/api/two-factor/send/${login.body.twoFactorId}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: "{}",
  });
  assert.equal(sent.status, 200, await sent.text());
  const messages = await outbox(server);
  assert.equal(messages.length, before + 1);
  assert.equal(messages[0].to, "+13035550113");
});

test("13. with a default region a national number is read in it and stored in E.164, on the enrolment page and the admin's", async (t) => {
  const server = await usServer(t);
  const nat = await createUser(server, "nat", { twoFactorRequired: true });
  const page = await freshPage();
  await logIn(page, server, "nat");
  await page.waitForURL(/\/login\/enroll$/);
  await page.getByLabel(/Mobile phone number/).fill(SEED.typed);
  await page.getByLabel("Text message (SMS)").check();
  await page.getByRole("button", { name: "Next" }).click();
  assert.match(await page.textContent("main"), /We sent a code to \+1 •••• 5555/);
  await page.getByLabel("Code", { exact: true }).fill(await outboxCode(server, SEED.stored));
  await page.getByRole("button", { name: "Confirm code" }).click();
  await page.getByLabel("I have saved these codes").check();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL(/\/\?welcome=1$/);

  const admin = await adminPage(browser, server);
  await admin.goto(`${server.url}/admin/users/${nat.id}`);
  assert.deepEqual(await phoneLines(admin), { verified: `Verified phone: ${SEED.stored}`, profile: null });

  // An administrator types another user's number the national way.
  const kay = await createUser(server, "kay");
  await admin.goto(`${server.url}/admin/users/${kay.id}`);
  await admin.getByLabel(/New mobile phone number/).fill("(303) 555-0199");
  await admin.getByLabel("Reason (kept in the audit log)").fill("Kay called; ID checked");
  await admin.getByRole("button", { name: "Update phone" }).click();
  await admin.waitForURL(/notice=phone/);
  assert.match((await phoneLines(admin)).profile, /^Profile phone: \+13035550199,/);
  await shot(admin, "74-seed-national-number-stored-e164");
});

test("13. without a default region a national number is refused with the sentence that says how to write it", async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const how = /start the phone number with \+ and the country code, for example \+1 303 555 1212/;

  await createUser(server, "nel", { twoFactorRequired: true });
  const page = await freshPage();
  await logIn(page, server, "nel");
  await page.waitForURL(/\/login\/enroll$/);
  await page.getByLabel(/Mobile phone number/).fill(SEED.typed);
  await page.getByRole("button", { name: "Next" }).click();
  assert.match(await page.getByRole("alert").textContent(), how);
  assert.equal(await page.getByLabel(/Mobile phone number/).inputValue(), SEED.typed, "kept to correct");
  assert.equal((await outbox(server)).length, 0);
  await shot(page, "75-seed-national-number-refused");

  const kay = await createUser(server, "kay");
  const admin = await adminPage(browser, server);
  await admin.goto(`${server.url}/admin/users/${kay.id}`);
  await admin.getByLabel(/New mobile phone number/).fill(SEED.typed);
  await admin.getByLabel("Reason (kept in the audit log)").fill("Kay called; ID checked");
  await admin.getByRole("button", { name: "Update phone" }).click();
  assert.match(await admin.getByRole("alert").textContent(), how);
  assert.deepEqual(await phoneLines(admin), { verified: "Verified phone: none", profile: null });
});

test("7. after an administrator resets two-factor, the user page no longer calls the phone verified", async (t) => {
  const server = await usServer(t);
  const ray = await createUser(server, "ray", { mobilePhone: "+1 303 555 0177" });
  const admin = await adminPage(browser, server);
  await admin.goto(`${server.url}/admin/users/${ray.id}`);
  const unverified = "Profile phone: +13035550177, not verified (no phone method sends codes to it)";
  assert.deepEqual(await phoneLines(admin), { verified: "Verified phone: none", profile: unverified });

  // Ray confirms the number by a code: a text method now holds it.
  await enrolByApi(server, ray.id, "sms", "+13035550177");
  await admin.reload();
  assert.deepEqual(await phoneLines(admin), { verified: "Verified phone: +13035550177", profile: null });
  const methods = await admin.locator("h2:text-is('Two-factor methods') + ul li").allTextContents();
  assert.equal(methods.length, 1);
  assert.match(methods[0], /\+1 •••• 0177/);

  await admin.getByRole("link", { name: "Reset two-factor…" }).click();
  await admin.getByLabel(/Reason/).fill("lost phone");
  await admin.getByRole("button", { name: "Reset ray's two-factor" }).click();
  await admin.waitForURL(/notice=reset/);
  assert.deepEqual(await admin.locator("h2:text-is('Two-factor methods') + ul li").allTextContents(), ["None."]);
  assert.deepEqual(await phoneLines(admin), { verified: "Verified phone: none", profile: unverified });
  await shot(admin, "76-admin-reset-phone-not-verified");
});
