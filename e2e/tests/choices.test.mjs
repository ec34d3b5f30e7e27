// What a person may choose: a phone is one method that hears its code by text, call or
// WhatsApp as the person picks (the other ways stay on offer); the number on the profile is
// offered at enrolment; codes by email are enrolled and used from the pages; and what the
// administrator switched off is not offered at all.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, shot, outbox, outboxCode, createUser, logIn } from "../lib.mjs";

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

async function twoFactorSettings(methods) {
  const saved = await server.api("PUT", "/api/system/two-factor", { twoFactor: { methods } });
  assert.equal(saved.status, 200, JSON.stringify(saved));
}

/** Ticks "I have saved these codes" and goes on, as the end of every enrolment asks. */
async function acknowledgeRecoveryCodes(page) {
  await page.getByLabel("I have saved these codes").check();
  await page.getByRole("button", { name: "Continue" }).click();
}

test("a phone enrolled at login hears its code the way the person picks, and the other way stays on offer", async () => {
  const phone = "+13035550170";
  await createUser(server, "pia", { twoFactorRequired: true, mobilePhone: "+1 303 555 0170" });
  const page = await (await browser.newContext()).newPage();
  await logIn(page, server, "pia");
  await page.waitForURL(/\/login\/enroll$/);
  // The number on the profile is offered.
  assert.equal(await page.getByLabel("Mobile phone number, with country code").inputValue(), phone);
  assert.equal(await page.getByLabel("Text message (SMS)").isChecked(), true);
  await page.getByLabel("Phone call").check();
  await shot(page, "60-enrol-phone-text-or-call");
  await page.getByRole("button", { name: "Next" }).click();
  assert.match(await page.textContent("main"), /We sent a code to \+1 •••• 0170 by phone call/);
  assert.equal((await outbox(server))[0].channel, "call");

  // The call does not come: the code goes by text instead.
  await page.getByRole("button", { name: "Send the code by text message instead" }).click();
  assert.match(await page.textContent("main"), /We sent a code to \+1 •••• 0170 by text message/);
  assert.equal((await outbox(server))[0].channel, "sms");
  await page.getByLabel("Code", { exact: true }).fill(await outboxCode(server, phone));
  await page.getByRole("button", { name: "Confirm code" }).click();
  await acknowledgeRecoveryCodes(page);
  await page.waitForURL(/\/\?welcome=1$/);

  // The next login may have the code read out by a call to the same phone.
  await page.getByRole("button", { name: /Log out/ }).click();
  await logIn(page, server, "pia");
  await page.getByRole("link", { name: "Use an alternative verification method" }).click();
  const alternatives = await page.locator("ul.choices li").allTextContents();
  assert.ok(alternatives.some((a) => /^Phone call to \+1 •••• 0170$/.test(a.trim())), alternatives.join(" | "));
  await shot(page, "61-login-alternatives-text-or-call");
  await page.getByRole("link", { name: "Phone call to +1 •••• 0170" }).click();
  assert.match(await page.textContent("main"), /We will call \+1 •••• 0170 and read out a code/);
  await page.getByRole("button", { name: "Send code" }).click();
  await page.waitForURL(/channel=call&sent=1/);
  assert.equal((await outbox(server))[0].channel, "call");
  await page.getByLabel("Code", { exact: true }).fill(await outboxCode(server, phone));
  await page.getByRole("button", { name: "Confirm code" }).click();
  await page.waitForURL(`${server.url}/`);
  assert.equal(await page.textContent("#factors"), "password, phone call");
});

test("codes by email are enrolled at login, used at the next one, and offered beside the phone", async () => {
  await createUser(server, "uma", { twoFactorRequired: true, email: "uma@example.com" });
  const page = await (await browser.newContext()).newPage();
  await logIn(page, server, "uma");
  await page.waitForURL(/\/login\/enroll$/);
  assert.equal(await page.getByLabel("Email address").inputValue(), "uma@example.com");
  await page.getByRole("button", { name: "Email me a code" }).click();
  assert.equal(await page.title(), "Confirm your email — Log in — Tessera");
  assert.match(await page.textContent("main"), /We sent a code to u•*@example\.com/);
  assert.equal((await outbox(server))[0].channel, "email");
  await page.getByLabel("Code", { exact: true }).fill(await outboxCode(server, "uma@example.com"));
  await page.getByRole("button", { name: "Confirm code" }).click();
  assert.match(await page.textContent("main"), /Your email address is verified/);
  await acknowledgeRecoveryCodes(page);
  await page.waitForURL(/\/\?welcome=1$/);

  await page.getByRole("button", { name: /Log out/ }).click();
  await logIn(page, server, "uma");
  assert.match(await page.textContent("main"), /We will email a code to u•*@example\.com/);
  await shot(page, "62-login-code-by-email");
  await page.getByRole("button", { name: "Send code" }).click();
  await page.waitForURL(/sent=1/);
  await page.getByLabel("Code", { exact: true }).fill(await outboxCode(server, "uma@example.com"));
  await page.getByRole("button", { name: "Confirm code" }).click();
  await page.waitForURL(`${server.url}/`);
  assert.equal(await page.textContent("#factors"), "password, email code");

  // In the security settings: a phone can be added, a second email method cannot.
  await page.goto(`${server.url}/security`);
  assert.match(await page.textContent("main"), /Email to u•*@example\.com/);
  assert.equal(await page.getByRole("link", { name: "Add a phone" }).count(), 1);
  assert.equal(await page.getByRole("link", { name: "Add email codes" }).count(), 0);
});

test("what the administrator switched off is not offered, and an enrolled one shows as unavailable", async () => {
  // Ola has an app and a phone; then authenticators and calls are switched off.
  const ola = await createUser(server, "ola");
  const secret = (await server.api("GET", "/api/two-factor/secret")).body.secretBase32Encoded;
  const { totp } = await import("../lib.mjs");
  const app = await server.api("POST", `/api/user/two-factor/${ola.id}`, {
    method: "authenticator",
    secretBase32Encoded: secret,
    code: totp(secret),
  });
  assert.equal(app.status, 200, JSON.stringify(app));
  const phone = "+13035550171";
  assert.equal((await server.api("POST", "/api/two-factor/send", { method: "sms", mobilePhone: phone, userId: ola.id })).status, 200);
  const enabled = await server.api("POST", `/api/user/two-factor/${ola.id}`, {
    method: "sms",
    mobilePhone: phone,
    code: await outboxCode(server, phone),
  });
  assert.equal(enabled.status, 200, JSON.stringify(enabled));
  await twoFactorSettings({ authenticator: false, voice: false });

  try {
    // A user who must enrol is offered a phone by text and email, no app and no call.
    await createUser(server, "rae", { twoFactorRequired: true });
    const rae = await (await browser.newContext()).newPage();
    await logIn(rae, server, "rae");
    await rae.waitForURL(/\/login\/enroll$/);
    assert.equal(await rae.getByRole("radio").count(), 1);
    assert.equal(await rae.getByLabel("Text message (SMS)").isChecked(), true);
    assert.equal(await rae.getByText(/authenticator app/i).count(), 0);
    assert.equal(await rae.getByRole("button", { name: "Email me a code" }).count(), 1);
    await shot(rae, "63-enrol-with-apps-and-calls-switched-off");
    await rae.goto(`${server.url}/login/enroll/authenticator`);
    await rae.waitForURL(/\/login\/enroll$/);

    // Ola's login offers the phone by text only, and no authenticator.
    const page = await (await browser.newContext()).newPage();
    await logIn(page, server, "ola");
    assert.match(await page.textContent("main"), /We will send a code by text message to \+1 •••• 0171/);
    await page.getByRole("link", { name: "Use an alternative verification method" }).click();
    const alternatives = (await page.locator("ul.choices li").allTextContents()).map((a) => a.trim());
    assert.deepEqual(alternatives, ["Use a recovery code", "Use an access code from your administrator"]);
    await page.getByRole("link", { name: "Back" }).click();
    await page.getByRole("button", { name: "Send code" }).click();
    await page.waitForURL(/sent=1/);
    await page.getByLabel("Code", { exact: true }).fill(await outboxCode(server, phone));
    await page.getByRole("button", { name: "Confirm code" }).click();
    await page.waitForURL(`${server.url}/`);

    // The security settings list the app as unavailable and offer no new one.
    await page.goto(`${server.url}/security`);
    const appRow = page.locator("tbody tr", { hasText: "Authenticator app" });
    assert.match(await appRow.textContent(), /unavailable: switched off on this server/);
    assert.doesNotMatch(await page.locator("tbody tr", { hasText: "Phone" }).textContent(), /unavailable/);
    assert.equal(await page.getByRole("link", { name: "Add an authenticator app" }).count(), 0);
    await shot(page, "64-security-method-switched-off");
    await page.goto(`${server.url}/security/authenticator`);
    assert.match(await page.textContent("main"), /Authenticator apps are switched off on this server/);
  } finally {
    await twoFactorSettings({ authenticator: true, voice: true });
  }
});

test("WhatsApp is a way to hear the code once the administrator allows it and the delivery carries it", async () => {
  const saved = await server.api("PUT", "/api/system/delivery", { delivery: { service: { channels: { whatsapp: true } } } });
  assert.equal(saved.status, 200, JSON.stringify(saved));
  await createUser(server, "val", { twoFactorRequired: true });
  const page = await (await browser.newContext()).newPage();
  await logIn(page, server, "val");
  await page.waitForURL(/\/login\/enroll$/);
  // Carried, but not allowed yet by the two-factor settings.
  assert.equal(await page.getByLabel("WhatsApp message").count(), 0);

  await twoFactorSettings({ whatsapp: true });
  await page.reload();
  await page.getByLabel("Mobile phone number, with country code").fill("+1 303 555 0172");
  await page.getByLabel("WhatsApp message").check();
  await page.getByRole("button", { name: "Next" }).click();
  assert.match(await page.textContent("main"), /We sent a code to \+1 •••• 0172 by WhatsApp/);
  const [message] = await outbox(server);
  assert.equal(message.channel, "whatsapp");
  await shot(page, "65-enrol-phone-by-whatsapp");
  await page.getByLabel("Code", { exact: true }).fill(await outboxCode(server, "+13035550172"));
  await page.getByRole("button", { name: "Confirm code" }).click();
  await acknowledgeRecoveryCodes(page);
  await page.waitForURL(/\/\?welcome=1$/);

  // The next login sends by WhatsApp, the way the phone heard its first code.
  await page.getByRole("button", { name: /Log out/ }).click();
  await logIn(page, server, "val");
  assert.match(await page.textContent("main"), /We will send a code by WhatsApp to \+1 •••• 0172/);
});
