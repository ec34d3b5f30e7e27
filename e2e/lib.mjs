// Shared pieces of the browser tests: a real Tessera on a free loopback port with a fresh
// data directory, headless Debian chromium, an authenticator (RFC 6238 with node:crypto),
// the development outbox, and screenshots kept under target/e2e-screenshots/.

import { spawn, execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, mkdirSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const binary = process.env.TESSERA_BIN ?? join(root, "target", "debug", "tessera");
export const screenshots = join(root, "target", "e2e-screenshots");
mkdirSync(screenshots, { recursive: true });

function environment(dataDir) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("TESSERA_")));
  return {
    ...env,
    TESSERA_DATA_DIR: dataDir,
    TESSERA_LISTEN: "127.0.0.1:0",
    TESSERA_ARGON2__MEMORY_KIB: "256",
    TESSERA_ARGON2__ITERATIONS: "1",
    TESSERA_LOG_LEVEL: "warn",
  };
}

/**
 * Starts `tessera serve` on a fresh data directory, with `settings` added to its environment
 * (`{ TESSERA_PRODUCT_NAME: "Acme" }`) and with the configuration file `config` where given;
 * resolves once it prints where to log in. The first administrator's printed password is made
 * their own unless `keepTemporaryPassword`. `url` is the public URL; `local` where it listens,
 * which the API calls of the tests use (a public URL may name a host only the browser resolves).
 */
export async function startServer(settings = {}, { keepTemporaryPassword = false, config } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "tessera-e2e-"));
  const env = { ...environment(dataDir), ...settings };
  const withConfig = (args) => (config ? ["--config", config, ...args] : args);
  const child = spawn(binary, withConfig(["serve"]), { env, stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout });
  let url;
  let local;
  let password;
  for await (const line of lines) {
    const listening = line.match(/ is listening on (\S+)/);
    if (listening) local = listening[1];
    const login = line.match(/^Log in at (\S+)\/login/);
    if (login) url = login[1];
    const secret = line.match(/^\s+password: (\S+)/);
    if (secret) {
      password = secret[1];
      break;
    }
  }
  const cli = (args, input = "") => execFileSync(binary, withConfig(args), { env, input }).toString();
  const key = cli(["api-key", "create", "--name", "e2e"]).trim().split("\n").pop().trim();
  // These scenarios start from an administrator who logs in with the password and enrols from
  // the security settings; by default an administrator must enrol at the first login instead
  // (tests/api/passwords.rs), which an operator may switch off as here.
  cli(["settings", "set", "two_factor"], JSON.stringify({ webLoginPolicy: "enabled", apiLoginPolicy: "enabled" }));
  // The printed password is temporary (its first login asks for one's own: first-login.test.mjs);
  // these scenarios start from an administrator who kept it as their own.
  if (!keepTemporaryPassword) cli(["user", "set-password", "admin"], `${password}\n`);
  const api = async (method, path, body) => {
    const response = await fetch(local + path, {
      method,
      headers: { Authorization: key, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
  return {
    url,
    local,
    password,
    key,
    dataDir,
    api,
    cli,
    stop: () => new Promise((resolve) => {
      child.once("exit", resolve);
      child.kill("SIGTERM");
    }),
  };
}

/** Headless Debian chromium, with `extraArgs` after the usual ones
 * (`--host-resolver-rules=…`). */
export async function launchBrowser(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", ...extraArgs],
  });
}

/** A loopback port nothing listens on now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Whether something accepts connections on the loopback `port`. */
export function accepts(port) {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** RFC 4648 base32 (no padding) to bytes. */
function base32(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out = [];
  for (const char of text.replace(/[\s=-]/g, "").toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(char);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The TOTP code (SHA1, 6 digits, 30 s) of `secret` at now + offsetSeconds. */
export function totp(secret, offsetSeconds = 0) {
  const counter = Math.floor((Date.now() / 1000 + offsetSeconds) / 30);
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const digest = createHmac("sha1", base32(secret)).update(message).digest();
  const offset = digest[digest.length - 1] & 0x0f;
  const code = (digest.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, "0");
}

/** The code in the newest outbox message to `to` that carries a code (an account email, such
 * as a security notice, has a subject; a text that is not a code has a link). */
export async function outboxCode(server, to) {
  const messages = await outbox(server);
  const message = messages.find((m) => m.to === to && !m.subject && !m.body.includes("http"));
  if (!message) throw new Error(`no message to ${to}: ${JSON.stringify(messages)}`);
  const digits = message.body.replace(/\D/g, "");
  return message.channel === "call" ? digits.slice(0, digits.length / 2) : digits;
}

/** The development outbox, newest first, read as an administrator (with the API key). */
export async function outbox(server) {
  return (await fetch(`${server.local}/dev/outbox.json`, { headers: { Authorization: server.key } })).json();
}

export async function shot(page, name) {
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}

/** Decodes a QR code in a PNG with zbarimg (Debian zbar-tools). */
export function decodeQr(pngPath) {
  return execFileSync("zbarimg", ["--quiet", "--raw", pngPath]).toString().trim();
}

/** Creates a user through the API; an email address in `extra` is vouched for (verified at
 * once), as an administrator who knows it sets it. */
export async function createUser(server, username, extra = {}) {
  const response = await server.api("POST", "/api/user", {
    user: { username, password: "correct horse battery", ...extra },
    skipVerification: true,
  });
  if (response.status !== 200) throw new Error(`cannot create ${username}: ${JSON.stringify(response)}`);
  return response.body.user;
}

export const PASSWORD = "correct horse battery";

export async function logIn(page, server, username, password = PASSWORD) {
  await page.goto(`${server.url}/login`);
  await page.getByLabel("Username or email").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
}

/** A page of its own (own cookies) where the administrator created at the first start is
 * logged in (startServer lets an administrator in with the password alone). */
export async function adminPage(browser, server) {
  const page = await (await browser.newContext()).newPage();
  await logIn(page, server, "admin", server.password);
  await page.waitForURL(`${server.url}/`);
  return page;
}

/** `POST /api/login` as an application sends it for its user (no API key); the status and
 * the body (with the `twoFactorId` of a 242). */
export async function apiLogin(server, loginId, password = PASSWORD) {
  const response = await fetch(`${server.local}/api/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ loginId, password }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** Gives a user a method that receives codes (`sms`, `voice` or `email`) through the API, the
 * code read from the outbox; returns the recovery codes. (The fraud guard allows 5 codes per
 * number per 10 minutes: give each scenario its own number.) */
export async function enrolByApi(server, userId, method, destination) {
  const field = method === "email" ? "email" : "mobilePhone";
  const sent = await server.api("POST", "/api/two-factor/send", { method, [field]: destination, userId });
  if (sent.status !== 200) throw new Error(`cannot send to ${destination}: ${JSON.stringify(sent)}`);
  const code = await outboxCode(server, destination);
  const enabled = await server.api("POST", `/api/user/two-factor/${userId}`, { method, code });
  if (enabled.status !== 200) throw new Error(`cannot enable ${method}: ${JSON.stringify(enabled)}`);
  return enabled.body.recoveryCodes;
}

/** Gives a user an authenticator app through the API; returns its base32 secret, for `totp`. */
export async function enrolAuthenticatorByApi(server, userId) {
  const generated = await server.api("GET", "/api/two-factor/secret");
  const secret = generated.body.secretBase32Encoded;
  const enabled = await server.api("POST", `/api/user/two-factor/${userId}`, {
    method: "authenticator",
    secretBase32Encoded: secret,
    code: totp(secret),
    name: "Phone",
  });
  if (enabled.status !== 200) throw new Error(`cannot enable an authenticator: ${JSON.stringify(enabled)}`);
  return secret;
}

/** Registers an OpenID Connect client with the CLI (`tessera oidc client create`); answers its
 * view (`clientId`, `redirectUris`…) and, for a confidential client, its `secret`. */
export function registerClient(server, { name, clientId, redirectUris, isPublic = false, scopes = [], firstParty = true }) {
  const args = ["oidc", "client", "create", "--name", name];
  if (clientId) args.push("--client-id", clientId);
  for (const uri of redirectUris) args.push("--redirect-uri", uri);
  for (const scope of scopes) args.push("--scope", scope);
  if (isPublic) args.push("--public");
  if (firstParty) args.push("--first-party");
  const out = server.cli(args);
  const [json] = out.split("\nclient secret: ");
  const secret = out.match(/^client secret: (\S+)$/m)?.[1];
  return { ...JSON.parse(json), secret };
}

/** Plugs a virtual USB security key (Chromium's virtual authenticator, the DevTools protocol's
 * WebAuthn domain; resident keys and user verification) into `page`; `held` lists the
 * credentials it holds. */
export async function plugKey(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "usb", hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  });
  const held = async () => (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials;
  return { cdp, authenticatorId, held };
}

/** Adds a key named `name` from the security page; resolves once the page has answered: it
 * went on to another page, or shows why beside the form (the click hides an earlier refusal and
 * disables the button until the answer), or shows the recovery codes a first second factor comes
 * with, which it answers with after going on past them (none otherwise). */
export async function addKey(page, name) {
  await page.getByLabel(/Name of the new key/).fill(name);
  const navigated = page.waitForEvent("framenavigated", (frame) => frame === page.mainFrame());
  await page.getByRole("button", { name: "Add a security key" }).click();
  const refused = page.waitForFunction(() => {
    const error = document.getElementById("key-error");
    return !error.hidden && !document.querySelector("#key-form button[type=submit]").disabled;
  });
  // A first second factor comes with recovery codes, shown in place of the form.
  const codes = page.locator("#key-recovery").waitFor({ state: "visible" }).then(() => "codes");
  // The others are left waiting: their end (a timeout, the page closed) tells nothing.
  navigated.catch(() => {});
  refused.catch(() => {});
  codes.catch(() => {});
  if ((await Promise.race([navigated, refused, codes])) !== "codes") return [];
  const shown = await page.locator("#key-recovery-codes code").allTextContents();
  await page.getByRole("link", { name: "I have saved these codes" }).click();
  return shown;
}
