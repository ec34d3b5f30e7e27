//! flood: code checks alone, then beside many clients guessing passwords.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::code_check::{code_check_operation, prepare_challenges};
use super::{Suite, WRONG_PASSWORD, base32, cheap_argon2, random_secret, transport};
use crate::load::{self, Outcome, Slot, SlotPool, Step};
use crate::server::{Backend, Server, ServerSettings, Workspace};

/// Flood: clients doing code-check, and clients guessing passwords beside them.
const FLOOD_CHECKERS: usize = 8;
const FLOOD_GUESSERS: usize = 50;

impl Suite<'_> {
    pub async fn flood(&mut self, backend: Backend) -> anyhow::Result<()> {
        let args = self.args;
        println!(
            "\n== flood on {}: {FLOOD_CHECKERS} clients do code-check, alone and then beside {FLOOD_GUESSERS} clients guessing passwords (default Argon2id hashes)",
            backend.label()
        );
        let workspace = Workspace::create(backend, &args.postgres_url, "flood").await?;
        let result = self.flood_in(backend, &workspace).await;
        workspace.remove().await;
        result
    }

    async fn flood_in(&mut self, backend: Backend, workspace: &Workspace) -> anyhow::Result<()> {
        let args = self.args;
        // The checkers' users have cheap hashes (their challenges are made beforehand); the
        // victims' hashes are at the default parameters, which a verification follows, so each
        // wrong guess costs a full Argon2id in the server's bounded pool.
        let settings = ServerSettings {
            argon2: cheap_argon2(),
            fraud_guard: true,
            password_guard: false,
            trusted_loopback_proxy: false,
        };
        // Each phase has users of its own, as many as code-check's: replay protection lets a
        // user log in with at most three codes per 30-second step, and on a fast machine the 8
        // clients alone spent all 30,000 users' codes in the first phase, so that the phase
        // beside the flood had none left to check. Three challenges
        // each, opened beforehand: 180,000 by default, about 23 s on that machine.
        let users = 2 * args.users;
        let checker_slots: Vec<Slot> = (0..users)
            .map(|user| Slot::new(user, random_secret()))
            .collect();
        let (cheap, default) = (self.cheap_hash.clone(), self.default_hash.clone());
        self.import_users(workspace, &settings, users + FLOOD_GUESSERS, |i| {
            if i < users {
                format!("u{i},\"{cheap}\",{},,", base32(&checker_slots[i].secret))
            } else {
                format!("victim{},\"{default}\",,,", i - users)
            }
        })
        .await?;
        let server = Server::start_on_existing_database(&self.binary, workspace, &settings).await?;
        // Two measured phases to feed, alone and beside the flood (see code-check's comment).
        let slots = prepare_challenges(
            &server.base_url,
            checker_slots,
            3,
            args.measured() * 6,
            args.connections,
            "authenticator",
        )
        .await?;
        // Interleaved, so that both phases have as many challenges if the time ran out.
        let (alone_slots, flood_slots): (Vec<Slot>, Vec<Slot>) =
            slots.into_iter().partition(|slot| slot.user % 2 == 0);
        server.reset_peak_rss();
        let alone = load::run(
            FLOOD_CHECKERS,
            args.measured(),
            code_check_operation(
                server.base_url.clone(),
                Arc::new(SlotPool::new(alone_slots, true, true)),
            ),
        )
        .await;
        self.print_run("code-check, no flood", &alone, None);
        let cpu_before = server.cpu_seconds();
        let base = server.base_url.clone();
        // Guesses queue for the hashing pool; those still waiting shortly after the checkers
        // are done are dropped rather than awaited: the flood is only the background.
        let flood_ends = tokio::time::Instant::now() + args.measured() + Duration::from_secs(1);
        let guessing = load::run(FLOOD_GUESSERS, args.measured(), move |client, sequence| {
            let base = base.clone();
            async move {
                let victim = sequence as usize % FLOOD_GUESSERS;
                let guess = client
                    .post(format!("{base}/api/login"))
                    .json(
                        &json!({"loginId": format!("victim{victim}"), "password": WRONG_PASSWORD}),
                    )
                    .send();
                match tokio::time::timeout_at(flood_ends, guess).await {
                    Err(_) => Step::Abandoned,
                    Ok(Ok(response)) => {
                        Step::Done(Outcome::status(response.status().as_u16(), 404))
                    }
                    Ok(Err(e)) => Step::Done(Outcome::failed(transport(&e))),
                }
            }
        });
        let checking = load::run(
            FLOOD_CHECKERS,
            args.measured(),
            code_check_operation(
                server.base_url.clone(),
                Arc::new(SlotPool::new(flood_slots, true, true)),
            ),
        );
        let (guesses, during) = tokio::join!(guessing, checking);
        let cpu = server.cpu_seconds() - cpu_before;
        let peak = server.peak_rss_bytes();
        self.print_run("code-check during the flood", &during, None);
        self.print_run(
            "password guesses (the flood; 404 expected)",
            &guesses,
            Some((&server, cpu, peak)),
        );
        let (before, under) = (alone.percentile_ms(99.0), during.percentile_ms(99.0));
        println!(
            "    code-check p99: {before:.2} ms without the flood, {under:.2} ms with it ({:.1}×)",
            under / before
        );
        self.note(
            backend,
            format!(
                "flood: code-check p99 ≤ 20 ms — {under:.2} ms = {:.2} of it",
                under / 20.0
            ),
            under <= 20.0 && during.errors == 0,
        );
        server.stop();
        Ok(())
    }
}
