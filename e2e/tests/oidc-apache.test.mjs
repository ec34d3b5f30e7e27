// A real relying party in front of a page: Apache's mod_auth_openidc (Debian's
// libapache2-mod-auth-openidc) protects /protected/ with Tessera as its OpenID Connect provider.
// Chromium opens the page, is sent to Tessera's login, logs in with the password and a code
// from an authenticator app, and comes back to the page, which shows the claims Apache was given.
//
// Apache runs in the foreground on a free loopback port with a configuration of its own in a
// temporary directory (no system configuration, no root needed); the `after` hook stops it.
//
// Ann is in the group `staff`; the page shows the `groups` claim as Apache passes it on.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  startServer,
  launchBrowser,
  createUser,
  enrolAuthenticatorByApi,
  registerClient,
  totp,
  shot,
  PASSWORD,
  freePort,
  accepts,
} from "../lib.mjs";

const APACHE = process.env.APACHE ?? "/usr/sbin/apache2";
const MODULES = process.env.APACHE_MODULES ?? "/usr/lib/apache2/modules";

let server;
let browser;
let apache;
let secret;

// The protected page: a CGI script that prints what mod_auth_openidc put in its environment.
const CLAIMS_CGI = `#!/bin/sh
esc() { printf '%s' "$1" | sed 's/&/\\&amp;/g; s/</\\&lt;/g; s/>/\\&gt;/g; s/"/\\&quot;/g'; }
row() { printf '<tr><th>%s</th><td id="%s">%s</td></tr>\\n' "$1" "$1" "$(esc "$2")"; }
printf 'Content-Type: text/html; charset=utf-8\\r\\n\\r\\n'
printf '<!doctype html><html><head><title>Protected page</title>'
printf '<style>body{font:16px sans-serif;margin:2em}th{text-align:left;padding-right:1em}</style></head><body>\\n'
printf '<h1>Protected by mod_auth_openidc</h1>\\n'
printf '<p id="greeting">Hello, %s.</p>\\n<table>\\n' "$(esc "$REMOTE_USER")"
row REMOTE_USER "$REMOTE_USER"
row OIDC_CLAIM_sub "$OIDC_CLAIM_sub"
row OIDC_CLAIM_preferred_username "$OIDC_CLAIM_preferred_username"
row OIDC_CLAIM_name "$OIDC_CLAIM_name"
row OIDC_CLAIM_email "$OIDC_CLAIM_email"
row OIDC_CLAIM_amr "$OIDC_CLAIM_amr"
row OIDC_CLAIM_acr "$OIDC_CLAIM_acr"
if [ -n "$OIDC_CLAIM_groups" ]; then row OIDC_CLAIM_groups "$OIDC_CLAIM_groups"; fi
printf '</table></body></html>\\n'
`;

/** The configuration the README shows, for loopback and plain http, with what a server of its
 * own needs (modules, runtime files, logs). */
function apacheConfig({ dir, port, issuer, clientId, clientSecret }) {
  const modules = [
    ["mpm_prefork_module", "mod_mpm_prefork.so"],
    ["authn_core_module", "mod_authn_core.so"],
    ["authz_core_module", "mod_authz_core.so"],
    ["authz_user_module", "mod_authz_user.so"],
    ["alias_module", "mod_alias.so"],
    ["cgi_module", "mod_cgi.so"],
    ["auth_openidc_module", "mod_auth_openidc.so"],
  ];
  // Started as root (CI), Apache's children drop to an unprivileged user; as anyone else they
  // keep the current user, and User/Group must not be given.
  const user = process.getuid?.() === 0 ? "User nobody\nGroup nogroup\n" : "";
  return `ServerRoot "${dir}"
ServerName 127.0.0.1
Listen 127.0.0.1:${port}
PidFile "${dir}/httpd.pid"
DefaultRuntimeDir "${dir}/run"
ErrorLog "${dir}/error.log"
LogLevel warn auth_openidc:${process.env.APACHE_OIDC_LOG ?? "info"}
${user}${modules.map(([name, file]) => `LoadModule ${name} "${MODULES}/${file}"`).join("\n")}
StartServers 1
MinSpareServers 1
MaxSpareServers 2
DocumentRoot "${dir}/htdocs"
ScriptAliasMatch "^/protected/(claims)?$" "${dir}/cgi/claims.cgi"

OIDCProviderMetadataURL ${issuer}/.well-known/openid-configuration
OIDCClientID ${clientId}
OIDCClientSecret ${clientSecret}
OIDCRedirectURI http://127.0.0.1:${port}/protected/redirect_uri
OIDCCryptoPassphrase ${"e2e-" + Math.random().toString(36).slice(2)}
OIDCScope "openid profile email groups"
OIDCPKCEMethod S256
OIDCRemoteUserClaim preferred_username

<Location /protected>
  AuthType openid-connect
  Require valid-user
</Location>
`;
}

async function startApache(settings) {
  const dir = mkdtempSync(join(tmpdir(), "tessera-apache-"));
  for (const sub of ["run", "htdocs", "cgi"]) mkdirSync(join(dir, sub));
  // Readable by the unprivileged user Apache's children run as under root.
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, "cgi", "claims.cgi"), CLAIMS_CGI, { mode: 0o755 });
  const conf = join(dir, "httpd.conf");
  writeFileSync(conf, apacheConfig({ dir, ...settings }));
  // A process group of its own: at shutdown Apache signals its whole group, which would
  // otherwise be the test runner's.
  const child = spawn(APACHE, ["-f", conf, "-DFOREGROUND"], {
    stdio: ["ignore", "inherit", "inherit"],
    detached: true,
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  // Should the runner end without the after hook, Apache's group goes with it.
  const orphaned = () => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  process.once("exit", orphaned);
  const errorLog = () => (existsSync(join(dir, "error.log")) ? readFileSync(join(dir, "error.log"), "utf8") : "");
  for (let i = 0; i < 100 && !(await accepts(settings.port)); i++) {
    if (child.exitCode !== null) throw new Error(`apache exited ${child.exitCode}: ${errorLog()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(await accepts(settings.port), `apache does not listen: ${errorLog()}`);
  return {
    dir,
    errorLog,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
      process.removeListener("exit", orphaned);
    },
  };
}

let port;
let ann;
let annSecret;

before(async () => {
  server = await startServer();
  port = await freePort();
  const client = registerClient(server, {
    name: "Intranet (Apache)",
    clientId: "intranet",
    redirectUris: [`http://127.0.0.1:${port}/protected/redirect_uri`],
  });
  assert.equal(client.confidential, true);
  secret = client.secret;
  apache = await startApache({ port, issuer: server.url, clientId: "intranet", clientSecret: secret });
  ann = await createUser(server, "ann", { email: "ann@example.com", fullName: "Ann Example" });
  annSecret = await enrolAuthenticatorByApi(server, ann.id);
  const staff = await server.api("POST", "/api/group", { group: { name: "staff" } });
  if (staff.status !== 200) throw new Error(`cannot create the group: ${JSON.stringify(staff)}`);
  const joined = await server.api("POST", "/api/group/member", { members: { [staff.body.group.id]: [{ userId: ann.id }] } });
  if (joined.status !== 200) throw new Error(`cannot add ann to staff: ${JSON.stringify(joined)}`);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await apache?.stop();
  if (port) assert.equal(await accepts(port), false, "apache is stopped");
  await server?.stop();
});

test("mod_auth_openidc sends the browser to Tessera, which logs in with a second factor and sends it back with the claims", async () => {
  const protectedUrl = `http://127.0.0.1:${port}/protected/`;
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(protectedUrl);
  // Apache's module sent the browser to /oauth2/authorize, which sent it to the login page.
  await page.waitForURL(`${server.url}/login`);
  await shot(page, "160-oidc-apache-login");
  await page.getByLabel("Username or email").fill("ann");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(/\/login\/code/);
  assert.match(await page.textContent("main"), /code from your authenticator app/);
  // The step of the code given at enrolment is spent: the next one.
  await page.getByLabel("Code").fill(totp(annSecret, 30));
  await shot(page, "161-oidc-apache-code");
  await page.getByRole("button", { name: "Confirm code" }).click();

  // Tessera's home page sends the browser on to /oauth2/continue, which answers Apache's
  // redirect URI with the code; the module trades it and shows the page it protects.
  await page.waitForURL(protectedUrl, { timeout: 15_000 }).catch(async (error) => {
    throw new Error(`${error.message}\nat ${page.url()}: ${await page.textContent("body")}\n${apache.errorLog()}`);
  });
  await page.waitForSelector("#greeting");
  await shot(page, "162-oidc-apache-protected-page");
  assert.equal(await page.textContent("#greeting"), "Hello, ann.", apache.errorLog());
  assert.equal(await page.textContent("#REMOTE_USER"), "ann");
  assert.equal(await page.textContent("#OIDC_CLAIM_preferred_username"), "ann");
  assert.equal(await page.textContent("#OIDC_CLAIM_sub"), ann.id);
  assert.equal(await page.textContent("#OIDC_CLAIM_name"), "Ann Example");
  assert.equal(await page.textContent("#OIDC_CLAIM_email"), "ann@example.com");
  // The login gave a second factor, and the ID token says so.
  assert.equal(await page.textContent("#OIDC_CLAIM_acr"), "mfa");
  assert.deepEqual((await page.textContent("#OIDC_CLAIM_amr")).split(",").sort(), ["mfa", "otp", "pwd"]);
  assert.equal(await page.textContent("#OIDC_CLAIM_groups"), "staff");

  // A second visit in the same browser goes straight through: Apache's own session, no request
  // to Tessera.
  const toTessera = [];
  page.on("request", (request) => {
    if (request.url().startsWith(server.url)) toTessera.push(request.url());
  });
  await page.goto(`http://127.0.0.1:${port}/protected/claims`);
  await page.waitForSelector("#greeting");
  assert.equal(await page.textContent("#REMOTE_USER"), "ann");
  assert.deepEqual(toTessera, []);
  await shot(page, "163-oidc-apache-second-visit");

  // Another browser (its own cookies) has no session with Apache nor with Tessera: it logs in.
  const other = await (await browser.newContext()).newPage();
  await other.goto(protectedUrl);
  await other.waitForURL(`${server.url}/login`);
  assert.equal(await other.getByLabel("Password").count(), 1);
  await shot(other, "164-oidc-apache-other-browser-logs-in");

  // Tessera's audit log has the tokens Apache was given, once, for this client.
  const events = await server.api("GET", "/api/system/audit-log?event=oidc.token_issue");
  assert.equal(events.status, 200);
  const issued = events.body.auditLogs;
  assert.equal(issued.length, 1, JSON.stringify(issued));
  assert.equal(issued[0].target, ann.id);
  assert.equal(issued[0].details.clientId, "intranet");
  assert.equal(issued[0].details.scope, "openid profile email groups");
  assert.match(issued[0].details.grantId, /^gr_[0-9a-f]{16}$/);
  assert.equal(issued[0].userAgent, "mod_auth_openidc");
});
