// Security settings in the browser: a voice call as the alternative, the verified phone
// changed (confirmed on the new number first), new recovery codes, "every login", sessions
// ended, a method removed.

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

async function enrol(userId, method, phone) {
  const sent = await server.api("POST", "/api/two-factor/send", { method, mobilePhone: phone, userId });
  assert.equal(sent.status, 200, JSON.stringify(sent));
  const enabled = await server.api("POST", `/api/user/two-factor/${userId}`, {
    method,
    code: await outboxCode(server, phone),
  });
  assert.equal(enabled.status, 200, JSON.stringify(enabled));
}

test("the user falls back to a call, then manages phone, codes, level, sessions and methods", async () => {
  const user = await createUser(server, "ivy");
  await enrol(user.id, "sms", OLD);
  await enrol(user.id, "voice", OLD);

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

  // Edit the verified phone: the code goes to the new number; the old one stays until then.
  await page.getByRole("link", { name: "Edit verified phone number" }).click();
  await page.getByLabel("Mobile phone number, with country code").fill("+1 303 555 0161");
  await page.getByRole("button", { name: "Next" }).click();
  assert.match(await page.textContent("main"), /We sent a code to \+1 •••• 0161/);
  await page.getByLabel("Code", { exact: true }).fill(await outboxCode(server, NEW));
  await page.getByRole("button", { name: "Confirm code" }).click();
  await page.waitForURL(/done=phone/);
  assert.match(await page.textContent("main"), /Text message to \+1 •••• 0161/);

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

  // Remove the voice method.
  const rows = page.locator("tbody tr");
  assert.equal(await rows.count(), 2);
  await page.locator("tbody tr", { hasText: "Phone call" }).getByRole("button", { name: "Remove" }).click();
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
