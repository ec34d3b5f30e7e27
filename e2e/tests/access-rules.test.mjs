// The console's Access rules tab: an administrator edits forward-auth's rules as their JSON
// document. A rule that does not read is refused with its place and field, and nothing changes;
// a good document is saved, and the next forward-auth question is decided by it (asked here as
// a reverse proxy asks, from loopback, a trusted proxy).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, shot, adminPage } from "../lib.mjs";

let server;
let browser;

before(async () => {
  server = await startServer({ TESSERA_TRUSTED_PROXIES: "127.0.0.1" });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** What Tessera answers Caddy or Traefik about a browser's page load of `url`, no session:
 * the status, and where a redirect sends it. */
async function question(url) {
  const { protocol, host, pathname, search } = new URL(url);
  const response = await fetch(`${server.local}/api/authz/forward-auth`, {
    redirect: "manual",
    headers: {
      "X-Forwarded-Method": "GET",
      "X-Forwarded-Proto": protocol.replace(":", ""),
      "X-Forwarded-Host": host,
      "X-Forwarded-Uri": pathname + search,
      Accept: "text/html",
    },
  });
  return { status: response.status, location: response.headers.get("location") };
}

test("an administrator edits the access rules in the console; a bad rule is named, a good one decides", async () => {
  const admin = await adminPage(browser, server);
  await admin.goto(`${server.url}/admin/users`);
  await admin.getByRole("link", { name: "Access rules", exact: true }).click();
  await admin.waitForURL(`${server.url}/admin/access-rules`);
  // No rules yet: everything is denied.
  const shown = JSON.parse(await admin.getByLabel("The rules (JSON)").inputValue());
  assert.equal(shown.defaultPolicy, "deny");
  assert.deepEqual(shown.rules ?? [], []);
  assert.equal((await question("https://wiki.example.com/")).status, 403);

  // The second rule's network does not read: the page names the rule and the field, keeps
  // the text as typed, and nothing changes.
  const bad = `{"defaultPolicy": "deny",
 "rules": [
   {"domain": ["wiki.example.com"], "path": ["^/public/"], "policy": "bypass"},
   {"domain": ["wiki.example.com"], "networks": ["10.0.0/8"], "policy": "one_factor"}
 ]}`;
  await admin.getByLabel("The rules (JSON)").fill(bad);
  await admin.getByRole("button", { name: "Save" }).click();
  const problems = await admin.locator("#problems").textContent();
  assert.match(problems, /rules\[1\]\.networks\[0\]: "10\.0\.0\/8" is not a network/);
  assert.equal(await admin.getByRole("alert").first().textContent(), "Nothing was saved.");
  assert.equal(await admin.getByLabel("The rules (JSON)").inputValue(), bad);
  await shot(admin, "197-admin-access-rules-refused");
  assert.equal((await question("https://wiki.example.com/public/readme")).status, 403, "nothing changed");

  // A document that does not parse at all is refused too, saying so.
  await admin.getByLabel("The rules (JSON)").fill(`{"rules": [`);
  await admin.getByRole("button", { name: "Save" }).click();
  assert.match(await admin.locator("#problems").textContent(), /The document does not read/);

  const good = bad.replace('"networks": ["10.0.0/8"], ', "");
  await admin.getByLabel("The rules (JSON)").fill(good);
  await admin.getByRole("button", { name: "Save" }).click();
  await admin.waitForURL(`${server.url}/admin/access-rules?notice=saved`);
  assert.equal(await admin.getByRole("status").textContent(), "Saved.");
  const saved = JSON.parse(await admin.getByLabel("The rules (JSON)").inputValue());
  assert.equal(saved.rules.length, 2);
  assert.equal(saved.rules[0].policy, "bypass");
  await shot(admin, "198-admin-access-rules-saved");

  // At once, the rules decide: the public path is open, the rest of the site asks for a login
  // (to the portal, with the way back), and a site no rule names is still denied.
  assert.equal((await question("https://wiki.example.com/public/readme")).status, 200);
  const login = await question("https://wiki.example.com/pages?id=7");
  assert.equal(login.status, 302);
  assert.equal(login.location, `${server.url}/login?rd=${encodeURIComponent("https://wiki.example.com/pages?id=7")}`);
  assert.equal((await question("https://other.example.com/")).status, 403);

  // The API reads what the console saved.
  const read = await server.api("GET", "/api/system/access-rules");
  assert.deepEqual(read.body.accessRules.rules, saved.rules);
});
