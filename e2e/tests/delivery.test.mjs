// Code delivery in the browser: an administrator points the SMTP sender at a mail server (one on
// loopback that this test starts), saves it, and sends a test email, which arrives carrying a
// code; the outcome is shown in the SMTP section.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { startServer, launchBrowser, shot, logIn } from "../lib.mjs";

/** A minimal SMTP server on loopback (RFC 5321, no extensions) that keeps what it receives. */
function startMailServer() {
  const messages = [];
  const server = createServer((socket) => {
    socket.setEncoding("utf8");
    const reply = (line) => socket.write(`${line}\r\n`);
    let pending = "";
    let data = null;
    let envelope = { from: "", to: [] };
    socket.on("data", (chunk) => {
      pending += chunk;
      let end;
      while ((end = pending.indexOf("\r\n")) >= 0) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 2);
        if (data) {
          if (line === ".") {
            messages.push({ ...envelope, data: data.join("\n") });
            data = null;
            envelope = { from: "", to: [] };
            reply("250 queued as E2E1");
          } else {
            data.push(line.startsWith("..") ? line.slice(1) : line);
          }
          continue;
        }
        const command = line.toUpperCase();
        if (command.startsWith("EHLO") || command.startsWith("HELO")) reply("250 e2e-smtp");
        else if (command.startsWith("MAIL FROM:")) {
          envelope.from = line.slice(10).trim();
          reply("250 OK");
        } else if (command.startsWith("RCPT TO:")) {
          envelope.to.push(line.slice(8).trim());
          reply("250 OK");
        } else if (command === "DATA") {
          data = [];
          reply("354 go ahead");
        } else if (command === "QUIT") {
          reply("221 bye");
          socket.end();
        } else reply("250 OK");
      }
    });
    socket.on("error", () => {});
    reply("220 e2e-smtp ready");
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: server.address().port,
        messages,
        close: () => new Promise((done) => server.close(done)),
      }),
    );
  });
}

let server;
let browser;
let mail;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  mail = await startMailServer();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await mail?.close();
});

test("an administrator sets up SMTP and a test email reaches the mail server", async () => {
  const admin = await (await browser.newContext()).newPage();
  await logIn(admin, server, "admin", server.password);
  await admin.waitForURL(`${server.url}/`);
  await admin.getByRole("link", { name: "Admin" }).click();
  await admin.getByRole("link", { name: "Code delivery" }).click();
  await admin.waitForURL(/\/admin\/delivery$/);

  await admin.getByLabel("Host", { exact: true }).fill("127.0.0.1");
  await admin.getByLabel("Port", { exact: true }).fill(String(mail.port));
  await admin.getByLabel("TLS", { exact: true }).selectOption("none");
  await admin.getByLabel("From address", { exact: true }).fill("Acme Login <login@acme.test>");
  assert.match(await admin.locator("label[for=smtp_password]").textContent(), /\(not set\)/);
  await admin.getByRole("button", { name: "Save SMTP settings" }).click();
  await admin.waitForURL(/notice=smtp/);
  assert.match(await admin.textContent("#smtp-result"), /^Saved/);
  assert.equal(await admin.getByLabel("Port", { exact: true }).inputValue(), String(mail.port));

  await admin.getByLabel("Email address for a test email").fill("jan@example.com");
  await admin.getByRole("button", { name: "Send a test email" }).click();
  await admin.waitForURL(/\/admin\/delivery\/smtp\/test$/);
  const result = await admin.textContent("#smtp-result");
  assert.match(result, /^Delivered: the mail server took the test message for jan@example\.com \(it answered "queued as E2E1"\)\.$/);
  assert.equal(await admin.getAttribute("#smtp-result", "role"), "status");

  assert.equal(mail.messages.length, 1);
  const [message] = mail.messages;
  assert.equal(message.from, "<login@acme.test>");
  assert.deepEqual(message.to, ["<jan@example.com>"]);
  assert.match(message.data, /^Subject: Your Tessera verification code$/m);
  assert.match(message.data, /^Your Tessera verification code is: \d{6}$/m);

  await admin.locator("#smtp").scrollIntoViewIfNeeded();
  await shot(admin, "43-admin-delivery-smtp");
});
