// Security notices: a login from a computer the account had not used is told by email; the
// email, read in the development outbox, carries a "this was not me" link whose page secures
// the account; the administrator chooses the events and the words in the console.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, shot, createUser, adminPage, outbox, logIn, PASSWORD } from "../lib.mjs";

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

/** The newest email to `to` whose subject starts with `subject`, once the notices worker (it
 * reads the audit log every second) has sent it. */
async function emailTo(to, subject) {
  for (let i = 0; i < 200; i++) {
    const email = (await outbox(server)).find((m) => m.to === to && (m.subject ?? "").startsWith(subject));
    if (email) return email;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no email “${subject}…” to ${to}`);
}

test("a login from a new computer is told by email, and its link secures the account", async () => {
  await createUser(server, "nina", { email: "nina@example.com" });

  // Nina's own browser: the account's first computer, which is not news.
  const own = await (await browser.newContext()).newPage();
  await logIn(own, server, "nina");
  await own.waitForURL(`${server.url}/`);

  // Someone else's browser, with Nina's password.
  const other = await (await browser.newContext({ userAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0" })).newPage();
  await logIn(other, server, "nina");
  await other.waitForURL(`${server.url}/`);

  const email = await emailTo("nina@example.com", "New login to your Tessera account");
  assert.match(email.body, /Firefox\/140\.0/);
  const link = email.body.split("\n").find((line) => line.includes("/not-me/"));
  assert.ok(link.startsWith(`${server.url}/not-me/`), link);
  const admin = await adminPage(browser, server);
  await admin.goto(`${server.url}/dev/outbox`);
  assert.match(await admin.locator("tbody tr").first().textContent(), /New login to your Tessera account/);
  await shot(admin, "140-outbox-new-computer-notice");

  const reader = await (await browser.newContext()).newPage();
  await reader.goto(link);
  assert.equal(await reader.title(), "Was this you? — Tessera");
  assert.match(await reader.locator("#what-happened").textContent(), /computer it had not been used on before/);
  await shot(reader, "141-not-me-page");
  await reader.getByRole("button", { name: "It was not me: secure my account" }).click();
  await reader.getByRole("heading", { name: "Your account is secured" }).waitFor();
  assert.match(await reader.locator(".notice").textContent(), /A link to choose a new password was sent to n•••@example\.com/);
  await shot(reader, "142-not-me-secured");

  // Both browsers are logged out; the password link is in the mailbox.
  for (const page of [own, other]) {
    await page.goto(`${server.url}/security`);
    await page.waitForURL(/\/login/);
  }
  await emailTo("nina@example.com", "Reset your Tessera password");
});

test("the administrator chooses which events are told and writes their words", async () => {
  const admin = await adminPage(browser, server);
  await admin.goto(`${server.url}/admin/notices`);
  assert.equal(await admin.title(), "Security notices — Admin — Tessera");
  await admin.getByLabel("Also by text message").check();
  await admin.getByLabel("New recovery codes made").uncheck();
  await admin.getByText("The password changed", { exact: true }).last().click();
  const subject = admin.locator('input[name="passwordChanged.subject"]');
  assert.equal(await subject.getAttribute("placeholder"), "Your {product} password was changed");
  await subject.fill("{product}: the password of {username} changed");
  await admin.locator('textarea[name="passwordChanged.body"]').fill("Not you? No link here.");
  await admin.getByRole("button", { name: "Save" }).click();
  assert.match(await admin.locator(".error").first().textContent(), /holds \{link\}/);
  await admin.locator('textarea[name="passwordChanged.body"]').fill("{username}'s password changed at {when}. Not you? {link}");
  await admin.getByRole("button", { name: "Save" }).click();
  await admin.waitForURL(/\/admin\/notices\?notice=saved/);
  assert.equal(await admin.locator(".notice").textContent(), "Saved.");
  await shot(admin, "143-admin-notices");

  const settings = (await server.api("GET", "/api/system/notices")).body.notices;
  assert.equal(settings.sms, true);
  assert.ok(!settings.kinds.includes("recoveryCodesRenewed"));
  assert.equal(settings.templates["passwordChanged.subject"], "{product}: the password of {username} changed");

  // The words are used: a person's own change of password.
  await createUser(server, "omar", { email: "omar@example.com" });
  const page = await (await browser.newContext()).newPage();
  await logIn(page, server, "omar");
  await page.waitForURL(`${server.url}/`);
  await page.goto(`${server.url}/security/password`);
  await page.getByLabel("Current password").fill(PASSWORD);
  await page.getByLabel("New password", { exact: true }).fill("a brand new passphrase");
  await page.getByLabel("New password again").fill("a brand new passphrase");
  await page.getByRole("button", { name: "Change password" }).click();
  const email = await emailTo("omar@example.com", "Tessera: the password of omar changed");
  assert.match(email.body, /^omar's password changed at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\. Not you\? http/);
});
