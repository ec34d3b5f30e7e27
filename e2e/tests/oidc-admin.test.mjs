// OpenID Connect clients in the console and applications in a person's security settings: the
// administrator registers an application (its secret shown once, with the warning that it is
// not shown again), a person signs in to it and allows it, the application trades its code
// with that secret, and the person takes the application back from their security settings:
// its access token stops working.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { startServer, launchBrowser, shot, createUser, logIn, adminPage } from "../lib.mjs";

let server;
let browser;
let app;
let callback;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  // The application's redirect URI: a page that says it got the code.
  app = createServer((request, response) => {
    response.writeHead(200, { "Content-Type": "text/html" });
    response.end("<!doctype html><title>Team wiki</title><h1>Signed in to the team wiki</h1>");
  });
  await new Promise((resolve) => app.listen(0, "127.0.0.1", resolve));
  callback = `http://127.0.0.1:${app.address().port}/cb`;
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await new Promise((resolve) => app?.close(resolve));
});

const base64url = (bytes) => Buffer.from(bytes).toString("base64url");

test("an administrator registers an application and a person takes it back in security settings", async () => {
  const admin = await adminPage(browser, server);
  await admin.goto(`${server.url}/admin/users`);
  await admin.getByRole("link", { name: "Applications", exact: true }).click();
  await admin.waitForURL(/\/admin\/clients$/);
  assert.match(await admin.textContent("#clients"), /No applications yet/);
  await admin.getByLabel(/^Client id/).fill("wiki");
  await admin.getByLabel(/^Name/).fill("Team wiki");
  await admin.getByLabel(/^Redirect URIs/).fill(callback);
  await shot(admin, "170-admin-clients-new");
  await admin.getByRole("button", { name: "Register application" }).click();

  // The secret, once, with the warning; the client's page never shows it again.
  assert.match(await admin.textContent("#secret-warning"), /shown only this once/);
  const secret = (await admin.textContent("#client-secret")).trim();
  assert.equal(secret.length, 43);
  await shot(admin, "171-admin-client-secret");
  await admin.getByRole("link", { name: "Back to Team wiki" }).click();
  await admin.waitForURL(`${server.url}/admin/clients/wiki`);
  assert.ok(!(await admin.content()).includes(secret), "the secret is shown once");
  assert.equal(await admin.getByLabel(/^Redirect URIs/).inputValue(), callback);
  assert.equal(await admin.getByLabel(/^How its ID and access tokens are signed/).inputValue(), "RS256");
  await shot(admin, "172-admin-client");
  // Its tokens signed with the P-256 key instead: the application reads the algorithm in the JWKS.
  await admin.getByLabel(/^How its ID and access tokens are signed/).selectOption("ES256");
  await admin.getByRole("button", { name: "Save application" }).click();
  await admin.waitForURL(/\/admin\/clients\/wiki/);
  assert.equal(await admin.getByLabel(/^How its ID and access tokens are signed/).inputValue(), "ES256");

  // A person signs in to the application and allows it; it trades the code with its secret.
  await createUser(server, "ann");
  const verifier = base64url(randomBytes(32));
  const challenge = base64url(createHash("sha256").update(verifier).digest());
  const person = await (await browser.newContext()).newPage();
  const authorize = `${server.url}/oauth2/authorize?response_type=code&client_id=wiki` +
    `&redirect_uri=${encodeURIComponent(callback)}&scope=openid%20profile%20email&state=s1` +
    `&code_challenge=${challenge}&code_challenge_method=S256`;
  await person.goto(authorize);
  await person.waitForURL(/\/login$/);
  await logIn(person, server, "ann");
  await person.waitForURL(/\/oauth2\/consent$/);
  assert.match(await person.getByRole("heading", { level: 1 }).textContent(), /Allow Team wiki\?/);
  await person.getByRole("button", { name: "Allow" }).click();
  await person.waitForURL((url) => url.href.startsWith(callback));
  const code = new URL(person.url()).searchParams.get("code");
  const token = await fetch(`${server.url}/oauth2/token`, {
    method: "POST",
    headers: {
      Authorization: `Basic ${Buffer.from(`wiki:${secret}`).toString("base64")}`,
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: callback, code_verifier: verifier }),
  });
  assert.equal(token.status, 200);
  const { access_token: access, id_token: idToken } = await token.json();
  const header = JSON.parse(Buffer.from(idToken.split(".")[0], "base64url").toString());
  assert.equal(header.alg, "ES256", "signed as the console set it");
  const userinfo = () => fetch(`${server.url}/oauth2/userinfo`, { headers: { Authorization: `Bearer ${access}` } });
  assert.equal((await userinfo()).status, 200);

  // The person sees the application in their security settings and takes it back.
  await person.goto(`${server.url}/security`);
  const row = person.getByRole("row", { name: /Team wiki/ });
  assert.match(await row.textContent(), /openid, profile, email/);
  await row.scrollIntoViewIfNeeded();
  await shot(person, "173-security-applications");
  await person.getByRole("button", { name: "Revoke Team wiki" }).click();
  await person.waitForURL(/\/security\?done=application$/);
  assert.match(await person.getByRole("status").textContent(), /no longer has access/);
  assert.match(await person.textContent("#no-applications"), /None/);
  await shot(person, "174-security-application-revoked");
  assert.equal((await userinfo()).status, 401, "its access token stops working");

  // The administrator's audit log says it in words.
  await admin.goto(`${server.url}/admin/audit`);
  assert.match(await admin.textContent("main"), /took back wiki's access to/);
});
