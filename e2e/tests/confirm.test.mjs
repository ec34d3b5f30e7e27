// Actions that cannot be undone ask first, without needing JavaScript: an administrator's reset
// of a user's two-factor and the end of all of their sessions, each with a question page and
// Cancel. Buttons in tables and lists say what they act on ("Remove Authenticator app
// (iPhone)"), so a screen reader's list of buttons can tell them apart.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, shot, createUser, logIn, totp, outboxCode } from "../lib.mjs";

const PHONE = "+13035550190";
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

/** Bob's login with the code of his authenticator 30 s ahead, trusting this computer. */
async function logInTrusted(page, secret, methodId) {
  await logIn(page, server, "bob");
  await page.waitForURL(/\/login\/code$/);
  await page.goto(`${server.url}/login/code?method=${methodId}`);
  await page.getByLabel("Code", { exact: true }).fill(totp(secret, 30));
  await page.getByLabel(/Trust this computer/).check();
  await page.getByRole("button", { name: "Confirm code" }).click();
  await page.waitForURL(`${server.url}/`);
}

/** Bob's login with a recovery code (his authenticator's code of now is spent). */
async function logInWithRecoveryCode(page, code) {
  await logIn(page, server, "bob");
  await page.waitForURL(/\/login\/code$/);
  await page.goto(`${server.url}/login/code?recovery=1`);
  await page.getByLabel("Recovery code").fill(code);
  await page.getByRole("button", { name: "Confirm code" }).click();
  await page.waitForURL(`${server.url}/`);
}

test("buttons in the security settings' lists name what they act on", async () => {
  const bob = await createUser(server, "bob");
  const secret = (await server.api("GET", "/api/two-factor/secret")).body.secretBase32Encoded;
  const enabled = await server.api("POST", `/api/user/two-factor/${bob.id}`, {
    method: "authenticator",
    secretBase32Encoded: secret,
    code: totp(secret),
    name: "iPhone",
  });
  assert.equal(enabled.status, 200, JSON.stringify(enabled));

  const sent = await server.api("POST", "/api/two-factor/send", { method: "sms", mobilePhone: PHONE, userId: bob.id });
  assert.equal(sent.status, 200, JSON.stringify(sent));
  const sms = await server.api("POST", `/api/user/two-factor/${bob.id}`, { method: "sms", code: await outboxCode(server, PHONE) });
  assert.equal(sms.status, 200, JSON.stringify(sms));

  // One session on a trusted Firefox, one here.
  const firefox = await (await browser.newContext({ userAgent: "Mozilla/5.0 Firefox/140.0" })).newPage();
  await logInTrusted(firefox, secret, enabled.body.methodId);
  const page = await (await browser.newContext()).newPage();
  await logInWithRecoveryCode(page, enabled.body.recoveryCodes[0]);

  await page.goto(`${server.url}/security`);
  for (const name of [
    /^Remove Authenticator app \(iPhone\)$/,
    /^Remove Phone \+1 •••• 0190$/,
    /^Forget trusted computer Firefox · 127\.0\.0\.1, last used (just now|never)$/,
    /^End session on Firefox · 127\.0\.0\.1, since just now$/,
  ]) {
    assert.equal(await page.getByRole("button", { name }).count(), 1, String(name));
  }
  // No button in a list or table is known by its verb alone.
  for (const button of await page.locator("table button, ul button").all()) {
    const label = await button.getAttribute("aria-label");
    const text = (await button.textContent()).trim();
    assert.ok(label && label.startsWith(text) && label.length > text.length + 3, `${text}: ${label}`);
  }
  await shot(page, "48-security-named-buttons");

  await page.getByRole("button", { name: /^End session on Firefox/ }).click();
  await page.waitForURL(/done=ended/);
  await firefox.goto(`${server.url}/security`);
  await firefox.waitForURL(/\/login$/);
  await page.getByRole("button", { name: "Remove Phone +1 •••• 0190", exact: true }).click();
  await page.waitForURL(/done=removed/);
  assert.equal(await page.locator("tbody tr").count(), 1);
});

test("a reset and the end of all sessions ask first, with Cancel, and work without JavaScript", async () => {
  const carl = await createUser(server, "carl");
  const secret = (await server.api("GET", "/api/two-factor/secret")).body.secretBase32Encoded;
  const enabled = await server.api("POST", `/api/user/two-factor/${carl.id}`, {
    method: "authenticator",
    secretBase32Encoded: secret,
    code: totp(secret),
    name: "Pixel",
  });
  assert.equal(enabled.status, 200, JSON.stringify(enabled));
  const carlsPage = await (await browser.newContext()).newPage();
  await logIn(carlsPage, server, "carl");
  await carlsPage.getByLabel("Code", { exact: true }).fill(totp(secret, 30));
  await carlsPage.getByRole("button", { name: "Confirm code" }).click();
  await carlsPage.waitForURL(`${server.url}/`);

  const admin = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
  await logIn(admin, server, "admin", server.password);
  await admin.waitForURL(`${server.url}/`);
  const userPage = `${server.url}/admin/users/${carl.id}`;
  await admin.goto(userPage);

  // End all sessions: the question lists them; Cancel leaves Carl logged in.
  await admin.getByRole("link", { name: "End all sessions…" }).click();
  assert.equal(await admin.title(), "End all of carl's sessions? — Admin — Tessera");
  assert.match(await admin.textContent("main"), /carl is logged out everywhere/);
  assert.equal(await admin.locator("main li").count(), 1);
  await shot(admin, "47-admin-confirm-sessions");
  await admin.getByRole("link", { name: "Cancel, back to carl" }).click();
  assert.equal(admin.url(), userPage);
  await carlsPage.goto(`${server.url}/`);
  assert.equal(carlsPage.url(), `${server.url}/`);
  await admin.getByRole("link", { name: "End all sessions…" }).click();
  await admin.getByRole("button", { name: "End all of carl's sessions" }).click();
  await admin.waitForURL(/notice=sessions/);
  assert.match(await admin.textContent("[role=status]"), /Every session of the user has ended/);
  await carlsPage.goto(`${server.url}/`);
  await carlsPage.waitForURL(/\/login$/);

  // Reset two-factor: the question says what goes; Cancel keeps it.
  await admin.getByRole("link", { name: "Reset two-factor…" }).click();
  assert.equal(await admin.title(), "Reset carl's two-factor? — Admin — Tessera");
  assert.deepEqual(await admin.locator("main li").allTextContents(), ["Authenticator app (Pixel)"]);
  await admin.getByLabel("Reason (kept in the audit log)").fill("new phone, ID checked");
  await shot(admin, "46-admin-confirm-reset");
  await admin.getByRole("link", { name: "Cancel, back to carl" }).click();
  assert.match(await admin.textContent("main"), /Authenticator app \(Pixel\)/);

  // A form sent without the question's answer is asked again, and changes nothing.
  const unconfirmed = await admin.request.post(`${userPage}/reset-2fa`, {
    form: { csrf: await admin.inputValue("input[name=csrf]"), reason: "new phone" },
  });
  assert.equal(unconfirmed.status(), 200);
  assert.match(await unconfirmed.text(), /Reset carl&#39;s two-factor\?/);
  assert.equal((await server.api("GET", `/api/user/${carl.id}`)).body.user.twoFactor.methods.length, 1);

  await admin.getByRole("link", { name: "Reset two-factor…" }).click();
  await admin.getByLabel("Reason (kept in the audit log)").fill("new phone, ID checked");
  await admin.getByRole("button", { name: "Reset carl's two-factor" }).click();
  await admin.waitForURL(/notice=reset/);
  assert.match(await admin.textContent("[role=status]"), /Two-factor authentication is reset/);
  assert.equal((await server.api("GET", `/api/user/${carl.id}`)).body.user.twoFactor?.methods?.length ?? 0, 0);
});
