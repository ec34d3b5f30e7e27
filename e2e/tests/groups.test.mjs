// Groups in the console: the administrator makes a group, adds a user to it by username, sees
// the group on the user's page and the count on the list; a second factor required of the
// group's members sends the user through enrolment, and the group cannot be deleted while the
// settings name it.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, shot, createUser, logIn, adminPage } from "../lib.mjs";

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

test("an administrator makes a group, adds a user, and sees it on the user's page", async () => {
  const lee = await createUser(server, "lee");
  const admin = await adminPage(browser, server);
  await admin.goto(`${server.url}/admin/users`);
  await admin.getByRole("link", { name: "Groups", exact: true }).click();
  await admin.waitForURL(/\/admin\/groups$/);
  assert.match(await admin.textContent("#groups"), /No groups yet/);

  await admin.getByLabel(/^Name/).fill("On-call");
  await admin.getByLabel("Description").fill("Who answers the pager");
  await shot(admin, "150-admin-groups-new");
  await admin.getByRole("button", { name: "Create group" }).click();
  await admin.waitForURL(/\/admin\/groups\/[0-9a-f-]{36}\?notice=created/);
  assert.equal(await admin.getByRole("heading", { level: 1 }).textContent(), "On-call");

  // A name taken in another case is refused, and said so.
  await admin.getByRole("link", { name: "Groups", exact: true }).click();
  await admin.getByLabel(/^Name/).fill("ON-CALL");
  await admin.getByRole("button", { name: "Create group" }).click();
  assert.match(await admin.getByRole("alert").textContent(), /another group already has this name/);

  await admin.getByRole("link", { name: "On-call", exact: true }).click();
  await admin.getByLabel("Add a member by username or email").fill("lee");
  await admin.getByRole("button", { name: "Add member" }).click();
  await admin.waitForURL(/notice=added/);
  assert.match(await admin.textContent("#members"), /lee/);
  await shot(admin, "151-admin-group-members");

  // On Lee's page: the group, with a way to leave it.
  await admin.getByRole("link", { name: "lee", exact: true }).click();
  await admin.waitForURL(`${server.url}/admin/users/${lee.id}`);
  assert.match(await admin.textContent("#user-groups"), /On-call/);
  await shot(admin, "152-admin-user-groups");

  await admin.getByRole("link", { name: "Groups", exact: true }).click();
  const row = admin.getByRole("row", { name: /On-call/ });
  assert.match(await row.textContent(), /On-call\s*1\s*Who answers the pager/);

  // Members of the group must use a second factor: Lee's next login goes through enrolment.
  await admin.getByRole("link", { name: "Two-factor settings" }).click();
  await admin.getByLabel(/Also every member of these groups/).fill("on-call");
  await admin.getByRole("button", { name: "Save settings" }).click();
  await admin.waitForURL(/notice=saved/);
  assert.equal(await admin.getByLabel(/Also every member of these groups/).inputValue(), "On-call");
  await shot(admin, "153-admin-settings-groups");
  const user = await (await browser.newContext()).newPage();
  await logIn(user, server, "lee");
  await user.waitForURL(/\/login\/enroll$/);

  // The group cannot go while the settings name it; the question says why.
  await admin.goto(`${server.url}/admin/groups`);
  await admin.getByRole("link", { name: "On-call", exact: true }).click();
  await admin.getByRole("link", { name: "Delete the group…" }).click();
  await admin.getByRole("button", { name: "Delete On-call" }).click();
  assert.match(await admin.getByRole("alert").textContent(), /two-factor settings require a second factor/);
  await shot(admin, "154-admin-group-delete-refused");

  await admin.goto(`${server.url}/admin/settings`);
  await admin.getByLabel(/Also every member of these groups/).fill("");
  await admin.getByRole("button", { name: "Save settings" }).click();
  await admin.waitForURL(/notice=saved/);
  await admin.goto(`${server.url}/admin/groups`);
  await admin.getByRole("link", { name: "On-call", exact: true }).click();
  await admin.getByRole("link", { name: "Delete the group…" }).click();
  await admin.getByRole("button", { name: "Delete On-call" }).click();
  await admin.waitForURL(/\/admin\/groups\?notice=deleted/);
  assert.match(await admin.textContent("#groups"), /No groups yet/);
});
