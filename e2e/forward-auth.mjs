// Forward-auth behind a real reverse proxy, shared by forward-auth-caddy.test.mjs and
// forward-auth-nginx.test.mjs: each runs its docs/ recipe (read from the page, changed only
// where one machine demands) with Tessera, a small application that echoes the headers it
// received, and Chromium, through the same scenario.
//
// Every name is under tessera.test (reserved, not a public suffix), which Chromium maps to
// 127.0.0.1: the portal is auth.tessera.test, the sites app.tessera.test (one_factor, with a
// bypass for /public/), admin.tessera.test (two_factor for the group admins) and
// deny.tessera.test (no rule: the default policy, deny). All of them, the portal included, are
// served by the proxy on one port, over plain http; the session cookie is set on tessera.test.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, existsSync, chmodSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import {
  startServer,
  launchBrowser,
  createUser,
  enrolAuthenticatorByApi,
  totp,
  shot,
  freePort,
  accepts,
  PASSWORD,
} from "./lib.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const DOMAIN = "tessera.test";

/** The fenced code blocks of `docs/<page>`; `file(path)` is the one whose first line is
 * `# path` (or `// path`), `lang(info)` the first whose info string is `info`. */
export function recipe(page) {
  const text = readFileSync(join(root, "docs", page), "utf8");
  const blocks = [...text.matchAll(/^```(\S*)\n([\s\S]*?)^```$/gm)].map(([, lang, body]) => ({ lang, body }));
  const one = (found, what) => {
    if (!found) throw new Error(`docs/${page} has no block ${what}`);
    return found.body;
  };
  return {
    file: (path) => one(blocks.find((b) => b.body.split("\n")[0].replace(/^(#|\/\/) /, "") === path), path),
    lang: (info) => one(blocks.find((b) => b.lang === info), `in ${info}`),
  };
}

/** `text` with each change made: `[from, to, why]`, `from` a string (every occurrence) or a
 * RegExp (with g). A change that finds nothing is an error, so that the recipe and the test
 * cannot drift apart without it failing. */
export function changed(text, changes) {
  for (const [from, to, why] of changes) {
    const found = typeof from === "string" ? text.includes(from) : from.test(text);
    if (typeof from !== "string") from.lastIndex = 0;
    if (!found) throw new Error(`the recipe no longer has ${from} (changed for: ${why})`);
    text = typeof from === "string" ? text.replaceAll(from, to) : text.replace(from, to);
  }
  return text;
}

/** The docs' names, as the test's: `app.example.com` is `app.tessera.test`, and so on. */
const NAMES = (port) => [
  [/https:\/\/auth\.example\.com/g, `http://auth.${DOMAIN}:${port}`, "plain http on the proxy's port"],
];

/** `name` under the test's domain, on the proxy's port. */
export const site = (name, port) => `http://${name}.${DOMAIN}:${port}`;

function escape(text) {
  return String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

/** The application behind the proxy: a page naming the host and path it was asked for and
 * every header it received, the Remote-* ones in elements of their own (empty when absent). */
export async function startEcho() {
  const port = await freePort();
  const server = createServer((request, response) => {
    const h = request.headers;
    const remote = ["remote-user", "remote-groups", "remote-name", "remote-email"]
      .map((name) => `<tr><th>${name}</th><td id="${name}" data-sent="${name in h}">${escape(h[name] ?? "")}</td></tr>`)
      .join("\n");
    const all = Object.entries(h)
      .map(([name, value]) => `<tr><th>${escape(name)}</th><td>${escape(value)}</td></tr>`)
      .join("\n");
    response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    response.end(`<!doctype html><html><head><title>Echo: ${escape(h.host)}</title>
<style>body{font:16px sans-serif;margin:2em}th{text-align:left;padding-right:1em}</style></head><body>
<h1 id="where">${escape(h.host + request.url)}</h1>
<table>${remote}</table><h2>Every header</h2><table>${all}</table></body></html>`);
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { port, stop: () => new Promise((resolve) => server.close(resolve)) };
}

/**
 * Starts a proxy in the foreground (`command` with `args`, in a process group of its own, so
 * that it and its workers go together) and waits until it listens on `port`; `log()` reads
 * what it wrote to `logFile`.
 */
export async function startProxy({ command, args, env = process.env, port, logFile }) {
  const child = spawn(command, args, { env, stdio: ["ignore", "inherit", "inherit"], detached: true });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const orphaned = () => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  // Should the runner end without the after hook, the proxy goes with it.
  process.once("exit", orphaned);
  const log = () => (logFile && existsSync(logFile) ? readFileSync(logFile, "utf8") : "");
  for (let i = 0; i < 100 && !(await accepts(port)); i++) {
    if (child.exitCode !== null) throw new Error(`${command} exited ${child.exitCode}: ${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(await accepts(port), `${command} does not listen: ${log()}`);
  return {
    log,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
      process.removeListener("exit", orphaned);
      assert.equal(await accepts(port), false, `${command} is stopped`);
    },
  };
}

/** Tessera with the recipe's configuration file, changed for loopback; listens on a port of
 * its own, reached by the browser through the proxy on `proxyPort`. */
async function startTessera(page, proxyPort, dir) {
  const port = await freePort();
  const toml = changed(recipe(page).file("/etc/tessera/tessera.toml"), [
    ['listen = "127.0.0.1:8080"', `listen = "127.0.0.1:${port}"`, "a free port"],
    ...NAMES(proxyPort),
    ['cookie_domain = "example.com"', `cookie_domain = "${DOMAIN}"`, "the test's domain"],
  ]);
  const config = join(dir, "tessera.toml");
  writeFileSync(config, toml);
  const server = await startServer(
    {
      // The file's data_dir gives way to the test's fresh one (startServer's TESSERA_DATA_DIR).
      TESSERA_LISTEN: `127.0.0.1:${port}`,
      // Plain http: the portal may send a browser back to these sites without https.
      TESSERA_FORWARD_AUTH__ALLOW_HTTP_DOMAINS: `*.${DOMAIN}`,
    },
    { config },
  );
  return { server, port };
}

/** A fresh TOTP code of `secret` for each use: the next time step after the last one spent
 * (at first, now's: enrolment spent it), waiting for the clock where that step is not yet
 * accepted (one step either side of now). */
function codes(secret) {
  let last = Math.floor(Date.now() / 1000 / 30);
  return async () => {
    for (;;) {
      const now = Math.floor(Date.now() / 1000 / 30);
      const step = Math.max(last + 1, now - 1);
      if (step <= now + 1) {
        last = step;
        return totp(secret, (step - now) * 30);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  };
}

/**
 * The scenario, run behind the proxy `name` (`caddy`, `nginx`), whose configuration `proxy`
 * writes and starts: `proxy({ dir, port, tesseraPort, echoPort })` resolves to what
 * `startProxy` does. `page` is the recipe in docs/; screenshots are numbered from `firstShot`.
 */
export function forwardAuthScenario({ name, page: doc, proxy, firstShot }) {
  let server;
  let browser;
  let echo;
  let running;
  let port;
  let ann;
  let code;
  let shots = firstShot;
  const snap = (page, what) => shot(page, `${shots++}-forward-auth-${name}-${what}`);
  const app = (path = "/") => site("app", port) + path;
  const adminSite = (path = "/") => site("admin", port) + path;
  let portal;
  // The browser that logs in (its cookies kept from test to test).
  let context;

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), `tessera-${name}-`));
    // Readable by the unprivileged user a proxy's workers may run as under root.
    chmodSync(dir, 0o755);
    port = await freePort();
    echo = await startEcho();
    let tesseraPort;
    ({ server, port: tesseraPort } = await startTessera(doc, port, dir));
    portal = server.url;
    assert.equal(portal, site("auth", port));
    const rules = changed(recipe(doc).lang("json"), [
      ["app.example.com", `app.${DOMAIN}`, "the test's names"],
      ["admin.example.com", `admin.${DOMAIN}`, "the test's names"],
    ]);
    // As the recipe sets them: `tessera settings set access_rules < rules.json`.
    server.cli(["settings", "set", "access_rules"], rules);
    ann = await createUser(server, "ann", { email: "ann@example.com", fullName: "Ann Example" });
    code = codes(await enrolAuthenticatorByApi(server, ann.id));
    const admins = await server.api("POST", "/api/group", { group: { name: "admins" } });
    assert.equal(admins.status, 200, JSON.stringify(admins));
    const joined = await server.api("POST", "/api/group/member", {
      members: { [admins.body.group.id]: [{ userId: ann.id }] },
    });
    assert.equal(joined.status, 200, JSON.stringify(joined));
    running = await proxy({ dir, port, tesseraPort, echoPort: echo.port });
    browser = await launchBrowser([`--host-resolver-rules=MAP *.${DOMAIN} 127.0.0.1`]);
    context = await browser.newContext();
  });

  after(async () => {
    await browser?.close();
    await running?.stop();
    await echo?.stop();
    await server?.stop();
  });

  /** Fails with the proxy's log where the page is not at `url`. */
  async function at(page, url) {
    await page.waitForURL(url, { timeout: 10_000 }).catch(async (error) => {
      throw new Error(`${error.message}\nat ${page.url()}: ${await page.textContent("body")}\n${running.log()}`);
    });
  }

  /** The application's page shows what it received: `{ user, groups, name, email }`. */
  async function received(page) {
    const text = async (id) => page.textContent(`#${id}`);
    return {
      where: await text("where"),
      user: await text("remote-user"),
      groups: await text("remote-groups"),
      name: await text("remote-name"),
      email: await text("remote-email"),
    };
  }

  test(`${name}: a page load goes to Tessera's login, which sends the browser back with who is signed in`, async () => {
    const page = await context.newPage();
    const wanted = app("/wiki/Start?tab=history&lang=en");
    await page.goto(wanted);
    await at(page, (url) => url.href.startsWith(`${portal}/login?`));
    assert.equal(new URL(page.url()).searchParams.get("rd"), wanted);
    await snap(page, "login");
    await page.getByLabel("Username or email").fill("ann");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await at(page, /\/login\/code/);
    await page.getByLabel("Code").fill(await code());
    // So that a later login has the password alone: a session with one factor (the last test).
    await page.getByLabel(/Trust this computer/).check();
    await page.getByRole("button", { name: "Confirm code" }).click();

    // Back at the address asked for, path and query kept, with who is signed in.
    await at(page, wanted);
    await page.waitForSelector("#remote-user");
    await snap(page, "app");
    assert.deepEqual(await received(page), {
      where: `app.${DOMAIN}:${port}/wiki/Start?tab=history&lang=en`,
      user: "ann",
      groups: "admins",
      name: "Ann Example",
      email: "ann@example.com",
    });

    // The same session has two factors: the two_factor site lets it through at once.
    await page.goto(adminSite("/users"));
    await at(page, adminSite("/users"));
    assert.equal((await received(page)).user, "ann");
    await snap(page, "admin");
  });

  test(`${name}: a client's own Remote-* headers never reach the application`, async () => {
    const forged = { "Remote-User": "admin", "Remote-Groups": "root", "Remote-Email": "admin@example.com" };
    const signedIn = await context.newPage();
    await signedIn.setExtraHTTPHeaders(forged);
    await signedIn.goto(app("/"));
    await at(signedIn, app("/"));
    const seen = await received(signedIn);
    assert.equal(seen.user, "ann");
    assert.equal(seen.groups, "admins");
    assert.equal(seen.email, "ann@example.com");
    await snap(signedIn, "forged-headers");
    await signedIn.close();

    // A browser without a session, on the path a bypass rule opens: no one is signed in, and
    // the application hears no one, whatever the client claims.
    const anonymous = await (await browser.newContext({ extraHTTPHeaders: forged })).newPage();
    const response = await anonymous.goto(app("/public/readme"));
    assert.equal(response.status(), 200);
    const open = await received(anonymous);
    assert.equal(open.user, "");
    assert.equal(open.groups, "");
    assert.equal(open.email, "");
    await snap(anonymous, "bypass");

    // Not a page load, no session: a 401 for the caller to handle, not a redirect.
    const api = await anonymous.evaluate(async (url) => {
      const answer = await fetch(url, { headers: { Accept: "application/json" }, redirect: "manual" });
      return answer.status;
    }, app("/api/items"));
    assert.equal(api, 401);
    await anonymous.context().close();

    // Nor can a client name another request in the question: the proxy says what was asked.
    const pretender = await (
      await browser.newContext({
        extraHTTPHeaders: {
          "X-Forwarded-Uri": "/public/readme",
          "X-Forwarded-Method": "GET",
          "X-Original-URL": app("/public/readme"),
          "X-Original-Method": "GET",
        },
      })
    ).newPage();
    await pretender.goto(app("/private"));
    await at(pretender, (url) => url.href.startsWith(`${portal}/login?`));
    assert.equal(new URL(pretender.url()).searchParams.get("rd"), app("/private"));
    await pretender.context().close();
  });

  test(`${name}: a deny rule answers 403, and the login refuses a way back to another site`, async () => {
    const page = await context.newPage();
    const denied = await page.goto(site("deny", port) + "/");
    assert.equal(denied.status(), 403, running.log());
    await snap(page, "deny");
    const audit = await server.api("GET", "/api/system/audit-log?event=forward_auth.deny");
    assert.equal(audit.status, 200);
    assert.match(JSON.stringify(audit.body.auditLogs), new RegExp(`deny\\.${DOMAIN}`));

    // Signed in: a login page asked to send the browser elsewhere sends it home instead.
    await page.goto(`${portal}/login?rd=${encodeURIComponent("http://evil.example/")}`);
    await at(page, `${portal}/`);

    // Not signed in: the login page says it will not go back there.
    const other = await (await browser.newContext()).newPage();
    await other.goto(`${portal}/login?rd=${encodeURIComponent("http://evil.example/steal")}`);
    assert.match(
      await other.getByRole("status").textContent(),
      /will not be sent back to the address you came from: evil\.example is not a site this server protects/,
    );
    await snap(other, "rd-refused");
    await other.context().close();
  });

  test(`${name}: logging out on the portal locks out every site`, async () => {
    const page = await context.newPage();
    await page.goto(`${portal}/`);
    await page.getByRole("button", { name: /Log out/ }).click();
    await at(page, (url) => url.href.startsWith(`${portal}/login`));
    for (const url of [app("/"), adminSite("/")]) {
      // A logout counts at once on the node that served it; a moment's grace all the same.
      for (let i = 0; i < 15; i++) {
        await page.goto(url);
        if (page.url().startsWith(`${portal}/login`)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(page.url().startsWith(`${portal}/login?rd=`), `${url} still open at ${page.url()}`);
    }
    await snap(page, "logged-out");
  });

  test(`${name}: a session with one factor gives a code for the two_factor site, then goes on there`, async () => {
    const page = await context.newPage();
    await page.goto(app("/"));
    await at(page, (url) => url.href.startsWith(`${portal}/login?`));
    await page.getByLabel("Username or email").fill("ann");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    // The computer is trusted: the password alone, a session with one factor, and back.
    await at(page, app("/"));
    assert.equal((await received(page)).user, "ann");

    await page.goto(adminSite("/settings"));
    await at(page, (url) => url.href.startsWith(`${portal}/forward-auth/step-up?`));
    assert.match(await page.textContent("#reauth-lead"), new RegExp(`admin\\.${DOMAIN} asks for your second factor`));
    await page.getByLabel(/Code from your authenticator app/).fill(await code());
    await snap(page, "step-up");
    await page.getByRole("button", { name: "Continue" }).click();
    await at(page, adminSite("/settings"));
    assert.equal((await received(page)).user, "ann");
    await snap(page, "after-step-up");
  });
}
