// Security settings in the browser: a call to the enrolled phone as the alternative to its
// text, the verified phone changed on its own page (confirmed on the new number first), new
// recovery codes, "every login", sessions ended, a method removed.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, shot, outbox, outboxCode, createUser, logIn, PASSWORD } from "../lib.mjs";

const OLD = "+13035550160";
const NEW = "+13035550161";
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

async function enrol(userId, method, destination) {
  const field = method === "email" ? "email" : "mobilePhone";
  const sent = await server.api("POST", "/api/two-factor/send", { method, [field]: destination, userId });
  assert.equal(sent.status, 200, JSON.stringify(sent));
  const enabled = await server.api("POST", `/api/user/two-factor/${userId}`, {
    method,
    code: await outboxCode(server, destination),
  });
  assert.equal(enabled.status, 200, JSON.stringify(enabled));
}

test("the user falls back to a call, then manages phone, codes, level, sessions and methods", async () => {
  const user = await createUser(server, "ivy");
  await enrol(user.id, "sms", OLD);
  await enrol(user.id, "email", "ivy@example.com");

  // Another session, to end from the settings later.
  const other = await (await browser.newContext({ userAgent: "Firefox/140" })).newPage();
  await logIn(other, server, "ivy");
  await other.getByRole("link", { name: "Use an alternative verification method" }).click();
  await other.getByRole("link", { name: /Phone call to/ }).click();
  assert.match(await other.textContent("main"), /We will call \+1 •••• 0160 and read out a code/);
  await other.getByRole("button", { name: "Send code" }).click();
  await other.waitForURL(/sent=1/);
  assert.equal((await outbox(server))[0].channel, "call");
  await other.getByLabel("Code", { exact: true }).fill(await outboxCode(server, OLD));
  await other.getByRole("button", { name: "Confirm code" }).click();
  await other.waitForURL(`${server.url}/`);
  assert.equal(await other.textContent("#factors"), "password, phone call");

  const page = await (await browser.newContext()).newPage();
  await logIn(page, server, "ivy");
  await page.getByRole("button", { name: "Send code" }).click();
  await page.waitForURL(/sent=1/);
  await page.getByLabel("Code", { exact: true }).fill(await outboxCode(server, OLD));
  await page.getByRole("button", { name: "Confirm code" }).click();
  await page.waitForURL(`${server.url}/`);
  await page.goto(`${server.url}/security`);
  // The phone's last use is the login just made, not "never".
  assert.doesNotMatch(await page.locator("tbody tr", { hasText: "Phone" }).textContent(), /never/);

  // Edit the verified phone: the code goes to the new number; the old one stays until then.
  await page.getByRole("link", { name: "Edit verified phone number" }).click();
  assert.equal(await page.title(), "Edit verified phone number — Security settings — Tessera");
  assert.match(await page.textContent("main"), /Your verified phone number is \+1 •••• 0160/);
  assert.equal(await page.getByRole("link", { name: "Cancel" }).count(), 1);
  assert.equal(await page.getByText("Set up an authenticator app").count(), 0);
  await page.getByLabel("New mobile phone number, with country code").fill("+1 303 555 0161");
  // The phone heard its last code by a call (the other session's), so a call is chosen first.
  assert.equal(await page.getByLabel("Phone call").isChecked(), true);
  await page.getByLabel("Text message (SMS)").check();
  await page.getByRole("button", { name: "Next" }).click();
  assert.match(await page.textContent("main"), /We sent a code to \+1 •••• 0161 by text message/);
  await page.getByLabel("Code", { exact: true }).fill(await outboxCode(server, NEW));
  await page.getByRole("button", { name: "Confirm code" }).click();
  assert.match(await page.textContent("main"), /Your phone number has been successfully verified/);
  await shot(page, "31-phone-number-verified");
  await page.getByRole("link", { name: "Back to security settings" }).click();
  assert.match(await page.textContent("main"), /Phone \+1 •••• 0161/);

  // New recovery codes, shown once.
  await page.getByRole("button", { name: "Make new recovery codes" }).click();
  assert.equal((await page.locator("#recovery-codes li").allTextContents()).length, 10);
  await page.getByLabel("I have saved these codes").check();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL(`${server.url}/security`);

  // A second factor at every login: no trust box any more.
  await page.getByLabel("At every login").check();
  await page.getByRole("button", { name: "Save" }).click();
  await page.waitForURL(/done=level/);
  assert.equal(await page.getByLabel("At every login").isChecked(), true);

  // End the other session: its next page asks for a login.
  assert.match(await page.textContent("main"), /Firefox/);
  await page.getByRole("button", { name: "End" }).click();
  await page.waitForURL(/done=ended/);
  await other.goto(`${server.url}/`);
  await other.waitForURL(/\/login$/);

  // Remove the email method.
  const rows = page.locator("tbody tr");
  assert.equal(await rows.count(), 2);
  await page.locator("tbody tr", { hasText: "Email to" }).getByRole("button", { name: "Remove" }).click();
  await page.waitForURL(/done=removed/);
  assert.equal(await page.locator("tbody tr").count(), 1);
  await shot(page, "30-settings-after-changes");

  // The next login uses the new number and offers no trust box.
  await page.getByRole("button", { name: /Log out/ }).click();
  await logIn(page, server, "ivy", PASSWORD);
  assert.match(await page.textContent("main"), /\+1 •••• 0161/);
  await page.getByRole("button", { name: "Send code" }).click();
  await page.waitForURL(/sent=1/);
  assert.equal(await page.getByLabel(/Trust this computer/).count(), 0);
});
