// The welcome step: profile fields and versioned terms before the first use, and again when the
// terms change.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, shot, createUser, logIn, outboxCode } from "../lib.mjs";

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

test("a first login enrols a second factor, then asks for the profile and the terms; new terms ask again", async () => {
  const saved = await server.api("PUT", "/api/system/welcome", {
    welcome: { termsVersion: 1, termsText: "Use this service kindly.", profileFields: ["fullName", "mobilePhone"] },
  });
  assert.equal(saved.status, 200, JSON.stringify(saved));
  await createUser(server, "gus", { twoFactorRequired: true });
  await createUser(server, "hal", { fullName: "Hal", mobilePhone: "+1 303 555 0150" });

  // The password alone changes nothing: enrolment completes the login, then the welcome step.
  const page = await (await browser.newContext()).newPage();
  await logIn(page, server, "gus");
  await page.waitForURL(/\/login\/enroll$/);
  await page.getByLabel("Mobile phone number, with country code").fill("+1 303 555 0152");
  await page.getByLabel("Text message (SMS)").check();
  await page.getByRole("button", { name: "Next" }).click();
  await page.getByLabel("Code", { exact: true }).fill(await outboxCode(server, "+13035550152"));
  await page.getByRole("button", { name: "Confirm code" }).click();
  await page.getByLabel("I have saved these codes").check();
  await page.getByRole("button", { name: "Continue" }).click();
  // The welcome after enrolment, with its invitation to set up an app, waits for this step.
  await page.waitForURL(/\/welcome\?invited=1$/);
  assert.match(await page.textContent("main"), /Use this service kindly\./);
  await shot(page, "20-welcome");
  // The phone just verified is the profile's: only the name is asked.
  assert.equal(await page.getByLabel("Mobile phone number, with country code").count(), 0);
  // Without accepting the terms, the form comes back with the error next to it.
  await page.getByLabel("Full name").fill("Gus Grey");
  await page.getByRole("button", { name: "Continue" }).click();
  assert.match(await page.textContent("main"), /accept the terms/);
  await page.getByLabel("I accept the terms of use").check();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL(`${server.url}/?welcome=1`);
  assert.match(await page.textContent("main"), /Two-factor authentication is on for your account\./);
  await page.getByRole("link", { name: "Configure authenticator app" }).waitFor();
  await shot(page, "53-welcome-then-invitation");

  // Ike has no second factor and no phone: the welcome asks for the number, and says what a
  // number needs when it has none.
  await createUser(server, "ike");
  const third = await (await browser.newContext()).newPage();
  await logIn(third, server, "ike");
  await third.waitForURL(/\/welcome$/);
  await third.getByLabel("Full name").fill("Ike Ames");
  await third.getByLabel("Mobile phone number, with country code").fill("12345");
  await third.getByLabel("I accept the terms of use").check();
  await third.locator("form[action=\"/welcome\"]").evaluate((form) => form.setAttribute("novalidate", ""));
  await third.getByRole("button", { name: "Continue" }).click();
  assert.match(await third.textContent("main"), /country code/);
  await third.getByLabel("Mobile phone number, with country code").fill("+1 303 555 0151");
  await third.getByRole("button", { name: "Continue" }).click();
  await third.waitForURL(`${server.url}/`);

  // Hal has a profile; he meets only the new terms, after logging in.
  const second = await (await browser.newContext()).newPage();
  await logIn(second, server, "hal");
  await second.waitForURL(/\/welcome$/);
  assert.equal(await second.locator("input[name=full_name]").count(), 0);
  await second.getByLabel("I accept the terms of use").check();
  await second.getByRole("button", { name: "Continue" }).click();
  await second.waitForURL(`${server.url}/`);
  await server.api("PUT", "/api/system/welcome", {
    welcome: { termsVersion: 2, termsText: "New terms.", profileFields: [] },
  });
  await second.goto(`${server.url}/`);
  await second.waitForURL(/\/welcome$/);
  assert.match(await second.textContent("main"), /version 2/);
});
