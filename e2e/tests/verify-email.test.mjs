// Email verification in a browser: a person changes their address on the security page, the
// new one waits beside the old until the link from the development outbox is opened and its
// button pressed, and the page shows it verified. An address an administrator set without
// vouching for it shows as not verified, with its link to send again.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, shot, createUser, logIn, outbox, apiLogin, PASSWORD } from "../lib.mjs";

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

/** The verification emails to `to` in the outbox, newest first. */
async function verificationEmails(to) {
  return (await outbox(server)).filter((m) => m.to === to && m.subject?.startsWith("Verify your email address"));
}

/** The link in the newest verification email to `to`, once it is there. */
async function verificationLink(to) {
  for (let i = 0; i < 50; i++) {
    const [message] = await verificationEmails(to);
    if (message) return message.body.split("\n").find((line) => line.includes("/verify-email/")).trim();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no verification email to ${to}`);
}

async function signedIn(username) {
  const page = await (await browser.newContext()).newPage();
  await logIn(page, server, username);
  await page.waitForURL(`${server.url}/`);
  await page.goto(`${server.url}/security`);
  return page;
}

test("a person changes their email address, opens the link from the outbox, confirms, and sees it verified", async () => {
  await createUser(server, "ivy", { email: "ivy@example.com" });
  const page = await signedIn("ivy");
  assert.equal(await page.locator("#email-status").textContent(), "ivy@example.com · verified");
  await shot(page, "110-email-verified-before");

  await page.getByRole("link", { name: "Change email address" }).click();
  await page.waitForURL(/\/security\/address$/);
  assert.equal(await page.title(), "Change email address — Security settings — Tessera");
  await page.getByLabel("New email address").fill("not an address");
  await page.getByRole("button", { name: "Send a link to verify it" }).click();
  assert.match(await page.locator("#email-error").textContent(), /^"not an address" is not an email address like name@example\.com\.$/);
  assert.equal(await page.getByLabel("New email address").getAttribute("aria-invalid"), "true");
  await shot(page, "111-change-email-refused");
  await page.getByLabel("New email address").fill("ivy.new@example.com");
  await shot(page, "112-change-email-form");
  await Promise.all([
    page.waitForURL(/\/security\?done=address$/),
    page.getByRole("button", { name: "Send a link to verify it" }).click(),
  ]);
  assert.match(await page.locator(".notice").textContent(), /^A link is on its way to your new address/);
  assert.match(await page.locator("#pending-email").textContent(), /^Waiting for verification: ivy\.new@example\.com\./);
  assert.equal(await page.locator("#email-status").textContent(), "ivy@example.com · verified", "the old one stays in force");
  await shot(page, "113-email-change-waiting");
  assert.equal((await apiLogin(server, "ivy.new@example.com")).status, 404);
  assert.equal((await apiLogin(server, "ivy@example.com")).status, 200);

  // The link opens a page with a button: opening it changes nothing, as a mail scanner's fetch.
  const link = await verificationLink("ivy.new@example.com");
  assert.ok(link.startsWith(`${server.url}/verify-email/`), link);
  await page.goto(link);
  assert.equal(await page.title(), "Verify your email address — Tessera");
  assert.match(await page.locator("main").textContent(), /Confirm that ivy\.new@example\.com is the email address of the account ivy\./);
  assert.equal((await apiLogin(server, "ivy.new@example.com")).status, 404, "opening the link verifies nothing");
  await shot(page, "114-verify-email-button");
  await Promise.all([
    page.waitForURL(link),
    page.getByRole("button", { name: "Verify my email address" }).click(),
  ]);
  await page.waitForLoadState();
  assert.equal(await page.title(), "Email address verified — Tessera");
  assert.match(
    await page.locator(".notice").textContent(),
    /^ivy\.new@example\.com is now the verified email address of the account ivy: you can log in with it/,
  );
  await shot(page, "115-email-verified");

  // The security page shows the new address, verified; the old one is no login id any more.
  await page.getByRole("link", { name: "Go to your security settings" }).click();
  await page.waitForURL(/\/security$/);
  assert.equal(await page.locator("#email-status").textContent(), "ivy.new@example.com · verified");
  assert.equal(await page.locator("#pending-email").count(), 0);
  await shot(page, "116-security-new-email-verified");
  assert.equal((await apiLogin(server, "ivy.new@example.com")).status, 200);
  assert.equal((await apiLogin(server, "ivy@example.com")).status, 404);

  // The link works once.
  await page.goto(link);
  assert.equal(await page.title(), "This link cannot be used — Tessera");
  assert.match(await page.locator(".error").textContent(), /^This link was used already/);
});

test("an address an administrator set without vouching for it shows as not verified, and its link can be sent again", async () => {
  const made = await server.api("POST", "/api/user", {
    user: { username: "jon", password: PASSWORD, email: "jon@example.com" },
  });
  assert.equal(made.status, 200, JSON.stringify(made));
  assert.equal(made.body.user.verified, false);
  const page = await signedIn("jon");
  assert.match(await page.locator("#email-status").textContent(), /^jon@example\.com · not verified: open the link sent to it\./);
  await Promise.all([
    page.waitForURL(/\/security\?done=link$/),
    page.getByRole("button", { name: "Send the link again" }).click(),
  ]);
  assert.equal(await page.locator(".notice").textContent(), "A new link is on its way: open it within 24 hours.");
  await shot(page, "117-email-not-verified-link-sent-again");
  assert.equal((await verificationEmails("jon@example.com")).length, 2);

  await page.goto(await verificationLink("jon@example.com"));
  await page.getByRole("button", { name: "Verify my email address" }).click();
  await page.waitForLoadState();
  await page.goto(`${server.url}/security`);
  assert.equal(await page.locator("#email-status").textContent(), "jon@example.com · verified");
  assert.equal(await page.getByRole("button", { name: "Send the link again" }).count(), 0);
});
