//! forward-auth: the decision a reverse proxy asks for on every request it passes on
//! (`GET /api/authz/forward-auth`, Traefik's and Caddy's convention), for browsers signed in on
//! the pages, at 8 and at 64 connections. Each connection is its own person with their own
//! session cookie, so the server's one-second memory of a cookie is shared by one connection,
//! not by the whole run.
//!
//! Its limit, measured in the same run at the same number of connections: the rate of the same
//! server's cheapest route, `GET /static/app.js` (513 bytes compiled into the binary: no state,
//! no database; `/health` asks the database).

use std::sync::Arc;

use anyhow::Context;

use super::oidc::browser_session;
use super::{Suite, cheap_argon2, transport};
use crate::load::{Outcome, RunFigures, Step};
use crate::server::{self, Backend, Server, ServerSettings, Workspace};

/// The protected application the proxy asks about.
const APP_HOST: &str = "app.bench.test";
/// The rules: signed-in people may reach the application; nothing else is let through.
const RULES: &str = r#"{"defaultPolicy": "deny", "rules": [{"domain": ["app.bench.test"], "policy": "one_factor"}]}"#;
/// The connection counts the issue names: a small proxy, and a busy one.
const CONNECTIONS: [usize; 2] = [8, 64];
/// At 8 connections a decision's p99 should stay under this.
const P99_AT_8_MS: f64 = 5.0;

impl Suite<'_> {
    pub async fn forward_auth(&mut self, backend: Backend) -> anyhow::Result<()> {
        println!(
            "\n== forward-auth on {}: GET /api/authz/forward-auth from a trusted proxy, each connection a browser with its own session, beside GET /static/app.js",
            backend.label()
        );
        let workspace = Workspace::create(backend, &self.args.postgres_url, "fwauth").await?;
        let result = self.forward_auth_in(backend, &workspace).await;
        workspace.remove().await;
        result
    }

    async fn forward_auth_in(
        &mut self,
        backend: Backend,
        workspace: &Workspace,
    ) -> anyhow::Result<()> {
        let settings = ServerSettings {
            argon2: cheap_argon2(),
            fraud_guard: true,
            password_guard: true,
            trusted_loopback_proxy: true,
        };
        let people = CONNECTIONS.into_iter().max().unwrap_or(1);
        let hash = self.cheap_hash.clone();
        self.import_users(workspace, &settings, people, |i| {
            format!("u{i},\"{hash}\",,,")
        })
        .await?;
        server::cli_with_input(
            &self.binary,
            workspace,
            &settings,
            &["settings", "set", "access_rules"],
            RULES,
        )?;
        let server = Server::start_on_existing_database(&self.binary, workspace, &settings).await?;
        let mut cookies = Vec::with_capacity(people);
        for person in 0..people {
            cookies.push(
                browser_session(&server.base_url, &format!("u{person}"))
                    .await
                    .with_context(|| format!("u{person} could not log in on the pages"))?,
            );
        }
        let cookies: Arc<[String]> = cookies.into();
        // Every cookie's first decision reads the database; the runs measure the steady state.
        let warm = self.decisions(&server, cookies.clone(), people).await;
        anyhow::ensure!(
            warm.errors == 0,
            "the warm-up decisions did not all answer 200: {}",
            warm.outcomes_text()
        );
        for connections in CONNECTIONS {
            let cheapest = self.cheapest_route(&server, connections).await;
            let decisions = self.decisions(&server, cookies.clone(), connections).await;
            let ratio = decisions.rate() / cheapest.rate();
            println!(
                "    limit        the cheapest route at {connections} connections, {:.0}/s: decisions run at {ratio:.2} of it",
                cheapest.rate()
            );
            self.note(
                backend,
                format!(
                    "forward-auth decisions at {connections} connections ≥ 0.50 of the cheapest route — {ratio:.2}"
                ),
                ratio >= 0.5 && decisions.errors == 0,
            );
            if connections == 8 {
                let p99 = decisions.percentile_ms(99.0);
                self.note(
                    backend,
                    format!(
                        "forward-auth p99 at 8 connections ≤ {P99_AT_8_MS:.0} ms — {p99:.2} ms"
                    ),
                    p99 <= P99_AT_8_MS,
                );
            }
        }
        server.stop();
        Ok(())
    }

    /// `GET /static/app.js` on `connections` connections for the measured time.
    async fn cheapest_route(&mut self, server: &Server, connections: usize) -> RunFigures {
        let url = format!("{}/static/app.js", server.base_url);
        let title = format!("GET /static/app.js (the cheapest route), {connections} connections");
        let window = self.args.measured();
        self.measure_on(server, &title, connections, window, move |client, _| {
            let sent = client.get(&url).send();
            async move { answered(sent.await) }
        })
        .await
    }

    /// The proxy's question about `GET https://app.bench.test/…` on `connections` connections,
    /// connection `n` carrying the session cookie of person `n`.
    async fn decisions(
        &mut self,
        server: &Server,
        cookies: Arc<[String]>,
        connections: usize,
    ) -> RunFigures {
        let url = format!("{}/api/authz/forward-auth", server.base_url);
        let title = format!("forward-auth decisions, {connections} connections");
        let window = self.args.measured();
        self.measure_on(
            server,
            &title,
            connections,
            window,
            move |client, sequence| {
                let person = (sequence as usize % connections) % cookies.len();
                let sent = client
                    .get(&url)
                    .header("X-Forwarded-Method", "GET")
                    .header("X-Forwarded-Proto", "https")
                    .header("X-Forwarded-Host", APP_HOST)
                    .header("X-Forwarded-Uri", "/dashboard?tab=1")
                    .header("X-Forwarded-For", "203.0.113.7")
                    .header("Accept", "text/html")
                    .header("Cookie", &cookies[person])
                    .send();
                async move { answered(sent.await) }
            },
        )
        .await
    }
}

/// A 200, or what came instead.
fn answered(answer: reqwest::Result<reqwest::Response>) -> Step {
    Step::Done(match answer {
        Ok(response) => Outcome::status(response.status().as_u16(), 200),
        Err(e) => Outcome::failed(transport(&e)),
    })
}
