// The consent page and step-up in Chromium: an application that is not the site's own asks a
// person first (a refusal goes back to it as access_denied, an allowance as a code and is not
// asked again), and an application that asks for a second factor (acr_values=mfa) gets a
// person signed in with the password alone to give a code on the same session, not to log in
// again.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import {
  startServer, launchBrowser, shot, createUser, logIn, registerClient, enrolAuthenticatorByApi, totp,
} from "../lib.mjs";

let server;
let browser;
let app;
let callback;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  // The application's redirect URI: a page that says what came back.
  app = createServer((request, response) => {
    response.writeHead(200, { "Content-Type": "text/html" });
    response.end("<!doctype html><title>Photo album</title><h1>Back at the photo album</h1>");
  });
  await new Promise((resolve) => app.listen(0, "127.0.0.1", resolve));
  callback = `http://127.0.0.1:${app.address().port}/cb`;
  registerClient(server, {
    name: "Photo album",
    clientId: "album",
    redirectUris: [callback],
    scopes: ["openid", "profile", "email", "groups"],
    firstParty: false,
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await new Promise((resolve) => app?.close(resolve));
});

const base64url = (bytes) => Buffer.from(bytes).toString("base64url");

/** An authorization request of the album, with PKCE; `extra` adds parameters. */
function authorizeUrl(extra = "") {
  const verifier = base64url(randomBytes(32));
  const challenge = base64url(createHash("sha256").update(verifier).digest());
  return `${server.url}/oauth2/authorize?response_type=code&client_id=album` +
    `&redirect_uri=${encodeURIComponent(callback)}&scope=openid%20profile%20email&state=s1` +
    `&code_challenge=${challenge}&code_challenge_method=S256${extra}`;
}

const answered = (page) => new URL(page.url()).searchParams;

test("a person is asked before a third-party application gets their account", async () => {
  await createUser(server, "ann", { email: "ann@example.com", fullName: "Ann Archer" });
  const page = await (await browser.newContext()).newPage();
  await page.goto(authorizeUrl());
  await page.waitForURL(/\/login$/);
  await logIn(page, server, "ann");
  await page.waitForURL(/\/oauth2\/consent$/);
  assert.match(await page.getByRole("heading", { level: 1 }).textContent(), /Allow Photo album\?/);
  const asked = await page.textContent("main");
  assert.match(asked, /Your username and your name/);
  assert.match(asked, /Your email address/);
  assert.doesNotMatch(asked, /groups you belong to/, "only what this request asks");
  await shot(page, "175-oauth-consent");

  await page.getByRole("button", { name: "Deny" }).click();
  await page.waitForURL((url) => url.href.startsWith(callback));
  assert.equal(answered(page).get("error"), "access_denied");
  assert.equal(answered(page).get("state"), "s1");

  // Asked again, since nothing was allowed; allowed, the application gets its code.
  await page.goto(authorizeUrl());
  await page.waitForURL(/\/oauth2\/consent$/);
  await page.getByRole("button", { name: "Allow" }).click();
  await page.waitForURL((url) => url.href.startsWith(callback));
  assert.ok(answered(page).get("code"), page.url());

  // Allowed once: the next sign-in goes straight back.
  await page.goto(authorizeUrl());
  await page.waitForURL((url) => url.href.startsWith(callback));
  assert.ok(answered(page).get("code"), "not asked again");
});

test("an application that asks for a second factor gets a code from a person signed in with a password alone", async () => {
  const bea = await createUser(server, "bea");
  const page = await (await browser.newContext()).newPage();
  await logIn(page, server, "bea");
  await page.waitForURL(`${server.url}/`);
  // The account gets its authenticator after this browser logged in.
  const secret = await enrolAuthenticatorByApi(server, bea.id);

  await page.goto(authorizeUrl("&acr_values=mfa&prompt=consent"));
  await page.waitForURL(/\/oauth2\/step-up$/);
  assert.match(await page.textContent("#reauth-lead"), /Photo album asks for your second factor/);
  assert.equal(await page.getByLabel("Password").count(), 0, "no password again");
  await shot(page, "176-oauth-step-up");
  await page.getByLabel(/^Code from your authenticator app/).fill("000000");
  await page.getByRole("button", { name: "Continue" }).click();
  assert.match(await page.textContent("#reauth-error"), /The code is not right/);
  await page.getByLabel(/^Code from your authenticator app/).fill(totp(secret, 30));
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL(/\/oauth2\/consent$/);
  await page.getByRole("button", { name: "Allow" }).click();
  await page.waitForURL((url) => url.href.startsWith(callback));
  assert.ok(answered(page).get("code"), page.url());
  const told = await server.api("GET", "/api/system/audit-log?event=login.step_up");
  assert.equal(told.body.auditLogs.length, 1, JSON.stringify(told.body));
});
