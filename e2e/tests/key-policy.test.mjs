// The administrator's policy for security keys (issue #32) on the pages, with Chromium's
// virtual authenticator: the console's settings make the members of a group use a key; such a
// member, who also has an authenticator app, is offered only the key at the login, an app's code
// typed in the recovery code's form is refused, and the key finishes the login. Switching
// security keys off makes the security page say so. The server's public URL is
// http://localhost:<port>, which browsers count as a secure context.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startServer,
  launchBrowser,
  shot,
  createUser,
  logIn,
  freePort,
  adminPage,
  enrolAuthenticatorByApi,
  plugKey,
  addKey,
  totp,
} from "../lib.mjs";

let server;
let browser;

before(async () => {
  const port = await freePort();
  server = await startServer({ TESSERA_LISTEN: `127.0.0.1:${port}`, TESSERA_PUBLIC_URL: `http://localhost:${port}` });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Clicks the key's button; resolves once the page went on, or shows why beside it. */
async function useKey(page) {
  const navigated = page.waitForEvent("framenavigated", (frame) => frame === page.mainFrame());
  await page.getByRole("button", { name: "Use a security key" }).click();
  const refused = page.waitForFunction(() => !document.getElementById("key-error").hidden);
  navigated.catch(() => {});
  refused.catch(() => {});
  await Promise.race([navigated, refused]);
}

test("a member of a group that must use a key is offered only the key, and a code is refused", async () => {
  const kay = await createUser(server, "kay");
  const page = await (await browser.newContext()).newPage();
  await plugKey(page);
  await logIn(page, server, "kay");
  await page.waitForURL(`${server.url}/`);
  await page.goto(`${server.url}/security`);
  assert.equal((await addKey(page, "Kay's key")).length, 10);
  await page.waitForURL(/done=key$/);
  await page.context().clearCookies();
  const secret = await enrolAuthenticatorByApi(server, kay.id);
  const group = await server.api("POST", "/api/group", { group: { name: "Key holders" } });
  assert.equal(group.status, 200, JSON.stringify(group));
  const added = await server.api("POST", "/api/group/member", { members: { [group.body.group.id]: [{ userId: kay.id }] } });
  assert.equal(added.status, 200, JSON.stringify(added));

  const admin = await adminPage(browser, server);
  await admin.goto(`${server.url}/admin/settings`);
  assert.equal(await admin.getByLabel(/Passkeys \(they also sign in alone\)/).isChecked(), true);
  await admin.getByLabel(/Members of these groups must use one too/).fill("Key holders");
  await shot(admin, "190-admin-key-policy");
  await admin.getByRole("button", { name: "Save settings" }).click();
  await admin.waitForURL(/notice=saved/);

  // The key is the prompt, and the alternatives offer no authenticator app.
  await logIn(page, server, "kay");
  await page.waitForURL(`${server.url}/login/code`);
  assert.match(await page.textContent("main"), /Use your security key to finish logging in/);
  assert.equal(await page.locator("#code").count(), 0);
  await page.getByRole("link", { name: "Use an alternative verification method" }).click();
  assert.doesNotMatch(await page.textContent("main"), /authenticator app/i);
  await shot(page, "191-login-keys-only");
  // The recovery form takes a code, which is refused for what it is.
  await page.getByRole("link", { name: "Use a recovery code" }).click();
  await page.locator("#code").fill(totp(secret));
  await page.locator("#code").press("Enter");
  assert.match(await page.textContent("main"), /must finish logging in with a security key or passkey/);
  await page.goto(`${server.url}/login/code`);
  await useKey(page);
  await page.waitForURL(`${server.url}/`);

  // Security keys switched off: the security page cannot add one, and says why.
  await admin.goto(`${server.url}/admin/settings`);
  await admin.getByLabel(/Security keys \(a second factor/).uncheck();
  await admin.getByLabel(/Members of these groups must use one too/).fill("");
  await admin.getByRole("button", { name: "Save settings" }).click();
  await admin.waitForURL(/notice=saved/);
  await page.goto(`${server.url}/security`);
  await addKey(page, "Another key");
  assert.match(await page.textContent("#key-error"), /security keys are switched off on this server/);
});
