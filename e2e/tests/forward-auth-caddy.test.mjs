// Forward-auth behind Debian's Caddy, as docs/forward-auth-caddy.md sets it up: Chromium visits
// a protected application, logs in at Tessera's portal with a password and a code, comes back
// with the Remote-* headers; a forged header is dropped, a deny rule refuses, the login keeps no
// way back to another site, a logout locks out every site, and a session with one factor steps
// up for the two_factor site (the scenario is in e2e/forward-auth.mjs).
//
// The Caddyfile is the recipe's, read from the docs page, with only these changes: Caddy's
// global options (its admin endpoint, automatic https and its log, into the test's directory);
// each site's address as plain http on one free loopback port under tessera.test, and
// deny.tessera.test beside app.tessera.test; Tessera's and the application's ports.

import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { forwardAuthScenario, recipe, changed, startProxy, site } from "../forward-auth.mjs";

const CADDY = process.env.CADDY ?? "/usr/bin/caddy";

forwardAuthScenario({
  name: "caddy",
  page: "forward-auth-caddy.md",
  firstShot: 177,
  proxy: async ({ dir, port, tesseraPort, echoPort }) => {
    const caddyfile = changed(recipe("forward-auth-caddy.md").file("/etc/caddy/Caddyfile"), [
      ["auth.example.com {", `${site("auth", port)} {`, "plain http on a free port"],
      ["app.example.com {", `${site("app", port)}, ${site("deny", port)} {`, "plus a site no rule names"],
      ["admin.example.com {", `${site("admin", port)} {`, "plain http on a free port"],
      ["127.0.0.1:8080", `127.0.0.1:${tesseraPort}`, "Tessera's free port"],
      [/127\.0\.0\.1:300[01]/g, `127.0.0.1:${echoPort}`, "the echoing application's port"],
    ]);
    const logFile = join(dir, "caddy.log");
    const global = `{
	admin off
	auto_https off
	log {
		output file ${logFile}
	}
}
`;
    const file = join(dir, "Caddyfile");
    writeFileSync(file, global + caddyfile);
    // Caddy keeps its state under HOME and the XDG directories: the test's own.
    const env = { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir };
    return startProxy({
      command: CADDY,
      args: ["run", "--config", file, "--adapter", "caddyfile"],
      env,
      port,
      logFile,
    });
  },
});
