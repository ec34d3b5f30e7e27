// The audit log as an administrator reads it: a sentence per event that names users by their
// usernames (never `user:<id>`), logouts with their user, details as "key: value" lines (never
// JSON), and a user's recent events on their page.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, shot, createUser, logIn, totp } from "../lib.mjs";

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

test("the audit log says what happened in sentences that name users, with details as text", async () => {
  const bob = await createUser(server, "bob");

  // Bob logs in and out on the pages.
  const user = await (await browser.newContext()).newPage();
  await logIn(user, server, "bob");
  await user.waitForURL(`${server.url}/`);
  await user.getByRole("button", { name: /Log out/ }).click();
  await user.waitForURL(/\/login\?out=1/);

  // An application gives Bob an authenticator; he loses the phone, and the administrator
  // resets his two-factor with the reason.
  const secret = (await server.api("GET", "/api/two-factor/secret")).body.secretBase32Encoded;
  const enabled = await server.api("POST", `/api/user/two-factor/${bob.id}`, {
    method: "authenticator",
    secretBase32Encoded: secret,
    code: totp(secret),
    name: "iPhone",
  });
  assert.equal(enabled.status, 200, JSON.stringify(enabled));
  const admin = await (await browser.newContext()).newPage();
  await logIn(admin, server, "admin", server.password);
  await admin.waitForURL(`${server.url}/`);
  await admin.goto(`${server.url}/admin/users/${bob.id}`);
  await admin.getByRole("link", { name: "Reset two-factor…" }).click();
  await admin.getByLabel("Reason (kept in the audit log)").fill("lost phone");
  await admin.getByRole("button", { name: "Reset bob's two-factor" }).click();
  await admin.waitForURL(/notice=reset/);

  // Bob's page: his recent events, newest first, each a sentence.
  const recent = await admin.locator("table tbody tr td:nth-child(2)").allTextContents();
  const expected = [
    /^admin reset bob's two-factor: lost phone$/,
    /^API key ak_\S+ added an authenticator app for bob$/,
    /^bob logged out$/,
    /^bob logged in with a password$/,
    /^API key ak_\S+ created the user bob$/,
  ];
  assert.equal(recent.length, expected.length, recent.join("\n"));
  expected.forEach((sentence, i) => assert.match(recent[i], sentence));
  await shot(admin, "45-admin-user-events");

  // The audit log: names, not ids; details as lines of text.
  await admin.getByRole("link", { name: "Audit log" }).click();
  const main = await admin.textContent("main");
  assert.doesNotMatch(main, /user:[0-9a-f-]{36}/, "no user is named by id");
  assert.doesNotMatch(main, /[{}]/, "no JSON");
  const reset = admin.locator("tbody tr", { hasText: "admin reset bob's two-factor: lost phone" });
  assert.equal(await reset.count(), 1);
  assert.equal(await reset.locator("code").textContent(), "two_factor.reset");
  assert.deepEqual(await reset.locator(".details li").allTextContents(), ["keys removed: 0", "methods removed: 1", "reason: lost phone"]);
  const logout = admin.locator("tbody tr", { hasText: "bob logged out" });
  assert.equal(await logout.count(), 1);
  assert.match((await logout.locator(".details li").allTextContents()).join("\n"), /^session id: \S+$/);
  const login = admin.locator("tbody tr", { hasText: "bob logged in with a password" });
  assert.deepEqual(await login.locator(".details li").allTextContents(), ["amr: pwd", "login type: web"]);
  assert.equal(await admin.locator("tbody tr", { hasText: "admin logged in with a password" }).count(), 1);
  await shot(admin, "44-admin-audit-sentences");

  // Found by username: only events on Bob's account.
  await admin.getByLabel("User (username, email or user id)").fill("bob");
  await admin.getByRole("button", { name: "Filter" }).click();
  const sentences = await admin.locator("tbody tr td:nth-child(2)").allTextContents();
  assert.equal(sentences.length, 5);
  for (const sentence of sentences) assert.match(sentence, /bob/);
});
