//! scale: login-full measured on populations of growing size, in turns.

use super::Suite;
use crate::server::{Backend, Workspace};

impl Suite<'_> {
    pub async fn scale(&mut self, backend: Backend) -> anyhow::Result<()> {
        let populations = self.args.scale_users.clone();
        // Every population is seeded and its server started first; then they are measured in
        // turns (A B A B). Drift of a noisy machine (other tenants, write-back, clock speed)
        // then falls on all of them alike instead of on whichever ran last.
        let mut workspaces = Vec::new();
        let mut targets = Vec::new();
        for population in populations {
            let title = format!("scale: login-full, {population} users");
            self.print_login_full_header(backend, population, &title);
            let workspace = Workspace::create(backend, &self.args.postgres_url, "scale").await?;
            let prepared = self
                .prepare_login_full(&workspace, population, &title)
                .await;
            workspaces.push(workspace);
            match prepared {
                Ok(target) => targets.push((population, target)),
                Err(error) => {
                    for (_, target) in targets {
                        target.server.stop();
                    }
                    for workspace in workspaces {
                        workspace.remove().await;
                    }
                    return Err(error);
                }
            }
        }
        let rounds = if targets.len() > 1 { SCALE_ROUNDS } else { 1 };
        let window = self.args.measured() / rounds;
        if rounds > 1 {
            println!(
                "\n  measured in turns: {rounds} rounds of {:.1} s per population",
                window.as_secs_f64()
            );
        }
        for _ in 0..rounds {
            for (_, target) in targets.iter_mut() {
                self.measure_login_full(target, window).await;
            }
        }
        let mut medians = Vec::new();
        for (population, target) in targets {
            let figures = self.finish_login_full(target);
            medians.push((population, figures.percentile_ms(50.0)));
        }
        for workspace in workspaces {
            workspace.remove().await;
        }
        if let (Some(&(small, base)), Some(&(large, grown))) = (medians.first(), medians.last())
            && small != large
        {
            let moved = grown / base - 1.0;
            println!(
                "\n  scale: login-full p50 {base:.2} ms with {small} users, {grown:.2} ms with {large} users ({:+.1}%)",
                moved * 100.0
            );
            self.note(
                backend,
                format!(
                    "scale: p50 moves ≤ 10% from {small} to {large} users — {:+.1}% = {:.2} of the allowance",
                    moved * 100.0,
                    moved.abs() / 0.10
                ),
                moved.abs() <= 0.10,
            );
        }
        Ok(())
    }
}

/// Turns of scale's measurement: each population is measured this many times, alternately.
const SCALE_ROUNDS: u32 = 2;
