// Forward-auth behind Debian's nginx, as docs/forward-auth-nginx.md sets it up: Chromium visits
// a protected application, logs in at Tessera's portal with a password and a code, comes back
// with the Remote-* headers; a forged header is dropped, a deny rule refuses, the login keeps no
// way back to another site, a logout locks out every site, and a session with one factor steps
// up for the two_factor site (the scenario is in e2e/forward-auth.mjs).
//
// The two snippets and the sites are the recipe's, read from the docs page, with only these
// changes: plain http on one free loopback port under tessera.test (no certificate, no redirect
// to https, no ssl_reject_handshake, no IPv6 listener), deny.tessera.test beside
// app.tessera.test, Tessera's and the application's ports. Around them, the few lines of an
// nginx.conf that a server of its own needs (pid, logs, temporary files in the test's
// directory), where Debian's would include sites-enabled/.

import { join } from "node:path";
import { mkdirSync, writeFileSync } from "node:fs";
import { forwardAuthScenario, recipe, changed, startProxy, DOMAIN } from "../forward-auth.mjs";

const NGINX = process.env.NGINX ?? "/usr/sbin/nginx";
const PAGE = "forward-auth-nginx.md";

forwardAuthScenario({
  name: "nginx",
  page: PAGE,
  firstShot: 187,
  proxy: async ({ dir, port, tesseraPort, echoPort }) => {
    const docs = recipe(PAGE);
    const tessera = ["127.0.0.1:8080", `127.0.0.1:${tesseraPort}`, "Tessera's free port"];
    mkdirSync(join(dir, "snippets"));
    writeFileSync(
      join(dir, "snippets", "tessera-authz.conf"),
      changed(docs.file("/etc/nginx/snippets/tessera-authz.conf"), [tessera]),
    );
    writeFileSync(join(dir, "snippets", "tessera-protect.conf"), docs.file("/etc/nginx/snippets/tessera-protect.conf"));
    const sites = changed(docs.file("/etc/nginx/sites-available/tessera.conf"), [
      [/^ssl_certificate.*\n/gm, "", "no certificate: plain http"],
      [/# Plain http: to https\.\nserver \{[\s\S]*?\n\}\n\n/, "", "no redirect to https"],
      [/^ *listen \[::\]:443 .*\n/gm, "", "loopback only"],
      [/^ *ssl_reject_handshake on;\n/m, "", "no TLS"],
      ["listen 443 ssl http2 default_server;", `listen 127.0.0.1:${port} default_server;`, "plain http on a free port"],
      ["listen 443 ssl http2;", `listen 127.0.0.1:${port};`, "plain http on a free port"],
      ["server_name auth.example.com;", `server_name auth.${DOMAIN};`, "the test's names"],
      ["server_name app.example.com;", `server_name app.${DOMAIN} deny.${DOMAIN};`, "plus a site no rule names"],
      ["server_name admin.example.com;", `server_name admin.${DOMAIN};`, "the test's names"],
      tessera,
      [/127\.0\.0\.1:300[01]/g, `127.0.0.1:${echoPort}`, "the echoing application's port"],
    ]);
    writeFileSync(join(dir, "tessera.conf"), sites);
    // Started as root (CI), nginx's workers drop to an unprivileged user; as anyone else they
    // keep the current user, and `user` must not be given.
    const user = process.getuid?.() === 0 ? "user nobody nogroup;\n" : "";
    const errorLog = join(dir, "error.log");
    const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
      .map((kind) => `    ${kind}_temp_path ${join(dir, `${kind}_temp`)};`)
      .join("\n");
    writeFileSync(
      join(dir, "nginx.conf"),
      `${user}worker_processes 1;
error_log ${errorLog} warn;
pid ${join(dir, "nginx.pid")};
events {
    worker_connections 256;
}
http {
    access_log off;
${temp}
    include tessera.conf;
}
`,
    );
    return startProxy({
      command: NGINX,
      // -e: the log nginx writes before it reads its configuration, in the test's directory.
      args: ["-p", dir, "-c", join(dir, "nginx.conf"), "-e", errorLog, "-g", "daemon off;"],
      port,
      logFile: errorLog,
    });
  },
});
