// Every page's title says where the person is — the page, the part of the site, then the
// product's configured name — and the welcome step says what is missing in full sentences.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, shot, createUser, logIn, totp, outbox, PASSWORD } from "../lib.mjs";

const PRODUCT = "Acme Login";
let server;
let browser;

before(async () => {
  server = await startServer({ TESSERA_PRODUCT_NAME: PRODUCT });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The page's title, checked to name the page before the product. */
async function titleOf(page) {
  const title = await page.title();
  assert.ok(title.endsWith(` — ${PRODUCT}`), title);
  assert.notEqual(title, PRODUCT);
  return title.slice(0, -` — ${PRODUCT}`.length);
}

test("every page's title names the page and its part of the site before the product", async () => {
  const bob = await createUser(server, "bob");
  await createUser(server, "eve", { twoFactorRequired: true });
  const secret = (await server.api("GET", "/api/two-factor/secret")).body.secretBase32Encoded;
  const enabled = await server.api("POST", `/api/user/two-factor/${bob.id}`, {
    method: "authenticator",
    secretBase32Encoded: secret,
    code: totp(secret),
    name: "iPhone",
  });
  assert.equal(enabled.status, 200, JSON.stringify(enabled));
  const seen = new Map();
  const expect = async (page, title) => {
    assert.equal(await titleOf(page), title, page.url());
    seen.set(title, page.url());
  };

  // The login, the code prompt, and a first login's enrolment.
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${server.url}/login`);
  await expect(page, "Log in");
  await page.goto(`${server.url}/forgot-password`);
  await expect(page, "Forgot your password? — Log in");
  const opened = await server.api("PUT", "/api/system/accounts", { accounts: { selfRegistration: true } });
  assert.equal(opened.status, 200, JSON.stringify(opened));
  await page.goto(`${server.url}/register`);
  await expect(page, "Create an account");
  await logIn(page, server, "bob");
  await page.waitForURL(/\/login\/code$/);
  await expect(page, "Two-factor authentication — Log in");
  const eve = await (await browser.newContext()).newPage();
  await logIn(eve, server, "eve");
  await eve.waitForURL(/\/login\/enroll$/);
  await expect(eve, "Set up two-factor authentication — Log in");
  await eve.getByRole("link", { name: "Set up an authenticator app instead" }).click();
  await expect(eve, "Set up an authenticator app — Log in");

  // The signed-in pages and the admin console.
  const admin = await (await browser.newContext()).newPage();
  await logIn(admin, server, "admin", server.password);
  await admin.waitForURL(`${server.url}/`);
  const pages = [
    ["/", "Home"],
    ["/security", "Security settings"],
    ["/security/authenticator", "Set up an authenticator app — Security settings"],
    ["/security/phone", "Add a phone — Security settings"],
    ["/security/password", "Change password — Security settings"],
    ["/security/address", "Change email address — Security settings"],
    ["/security/reauth", "Confirm it's you — Security settings"],
    ["/admin/users", "Users — Admin"],
    [`/admin/users/${bob.id}`, "bob — Users — Admin"],
    [`/admin/users/${bob.id}/reset-2fa`, "Reset bob's two-factor? — Admin"],
    [`/admin/users/${bob.id}/revoke-sessions`, "End all of bob's sessions? — Admin"],
    [`/admin/users/${bob.id}/access-code`, "Issue a one-time access code for bob? — Admin"],
    [`/admin/users/${bob.id}/temporary-password`, "Give bob a temporary password? — Admin"],
    ["/admin/settings", "Two-factor settings — Admin"],
    ["/admin/delivery", "Code delivery — Admin"],
    ["/admin/welcome", "Terms and welcome — Admin"],
    ["/admin/accounts", "Accounts — Admin"],
    ["/admin/verify-accounts", "Verify API accounts — Admin"],
    ["/admin/audit", "Audit log — Admin"],
    ["/dev/outbox", "Development outbox"],
    ["/admin/users/nobody", "This request cannot be done"],
  ];
  for (const [path, title] of pages) {
    await admin.goto(`${server.url}${path}`);
    await expect(admin, title);
  }
  await shot(admin, "51-title-error-page");

  // The access code, shown once in the answer to the question's form.
  await admin.goto(`${server.url}/admin/users/${bob.id}/access-code`);
  await admin.getByLabel("Reason (kept in the audit log)").fill("lost phone");
  await admin.getByRole("button", { name: "Issue the access code" }).click();
  await admin.locator("#access-code").waitFor();
  await expect(admin, "Access code for bob — Admin");
  // The temporary password, shown once likewise.
  await admin.goto(`${server.url}/admin/users/${bob.id}/temporary-password`);
  await admin.getByRole("button", { name: "Make a temporary password" }).click();
  await admin.locator("#temporary-password").waitFor();
  await expect(admin, "Temporary password for bob — Admin");
  // The page of an email verification link, before and after its button, and of a dead link.
  const made = await server.api("POST", "/api/user", {
    user: { username: "vera", password: PASSWORD, email: "vera@example.com" },
  });
  assert.equal(made.status, 200, JSON.stringify(made));
  const message = (await outbox(server)).find((m) => m.to === "vera@example.com");
  const link = message.body.split("\n").find((line) => line.includes("/verify-email/")).trim();
  await admin.goto(link);
  await expect(admin, "Verify your email address");
  await admin.getByRole("button", { name: "Verify my email address" }).click();
  await admin.waitForLoadState();
  await expect(admin, "Email address verified");
  await admin.goto(`${server.url}/verify-email/${"A".repeat(43)}`);
  await expect(admin, "This link cannot be used");
  assert.equal(seen.size, pages.length + 8 + 3, "no two pages share a title");
});

test("the welcome step says what is missing in full sentences", async () => {
  const saved = await server.api("PUT", "/api/system/welcome", {
    welcome: { termsVersion: 1, termsText: "Be kind to the servers.", profileFields: ["fullName", "mobilePhone"] },
  });
  assert.equal(saved.status, 200, JSON.stringify(saved));
  await createUser(server, "val");
  const page = await (await browser.newContext()).newPage();
  await logIn(page, server, "val");
  await page.waitForURL(/\/welcome$/);
  assert.equal(await titleOf(page), "Welcome");

  await page.getByRole("button", { name: "Continue" }).click();
  const errors = await page.locator(".error").allTextContents();
  assert.deepEqual(errors, [
    "Enter your full name.",
    "Enter your mobile phone number, with its country code.",
    "Accept the terms of use to go on.",
  ]);
  await shot(page, "49-welcome-errors");
  await page.getByLabel("Full name").fill("Val Vance");
  await page.getByLabel("Mobile phone number, with country code").fill("303 555 0100");
  await page.getByLabel("I accept the terms of use").check();
  await page.getByRole("button", { name: "Continue" }).click();
  const refusal = await page.locator("#mobile_phone-error").textContent();
  assert.match(refusal, /^[A-Z].*\.$/, "a sentence: a capital first, a full stop last");
  assert.equal(await page.getByLabel("I accept the terms of use").isChecked(), true, "the ticked box stays ticked");
  await shot(page, "50-welcome-refusal");
  await page.getByLabel("Mobile phone number, with country code").fill("+1 303 555 0100");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL(`${server.url}/`);
});
