//! `tessera serve`: start the server and say where it is, who may read the development outbox
//! and the metrics, and, on the first start, the administrator's password.

use std::io::Write;

use super::describe;
use crate::app::{self, Application};
use crate::clock::Instant;
use crate::config::Config;

pub(super) async fn serve(config: Config) -> anyhow::Result<()> {
    let application = Application::build(&config).await?;
    // With port 0 the real port is only known now.
    let url = match &config.public_url {
        Some(_) => config.public_url(),
        None => format!("http://{}", application.local_addr()),
    };
    let admin_password = application
        .core()
        .accounts
        .bootstrap_admin(Instant::now())
        .await
        .map_err(describe)?;
    let outbox = matches!(
        application.core().delivery.delivery_settings().await,
        Ok(delivery) if delivery.provider == crate::verify::Provider::Builtin
            && delivery.sender == crate::verify::SenderKind::Outbox
    );
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Tessera {} is listening on http://{}",
        env!("CARGO_PKG_VERSION"),
        application.local_addr()
    )?;
    writeln!(
        out,
        "Log in at {url}/login  (JSON API: POST {url}/api/login)"
    )?;
    if outbox {
        writeln!(
            out,
            "Codes sent by SMS, call or email land in the development outbox: {url}/dev/outbox"
        )?;
        if config.delivery.outbox_public {
            writeln!(
                out,
                "  open to anyone who reaches this server (delivery.outbox_public = true)"
            )?;
        } else {
            writeln!(
                out,
                "  for administrators: log in as one, or send an API key (delivery.outbox_public = false)"
            )?;
        }
    }
    if let Some(metrics) = application.metrics_addr() {
        writeln!(
            out,
            "Metrics without a key on this machine: http://{metrics}/metrics"
        )?;
    }
    if let Some(password) = admin_password {
        writeln!(out)?;
        writeln!(out, "First start: created the administrator account.")?;
        writeln!(out, "  username: admin")?;
        writeln!(out, "  password: {password}")?;
        writeln!(
            out,
            "This password is shown once and stored only as a hash; change it with `tessera user set-password admin`."
        )?;
    }
    out.flush()?;
    drop(out);
    application.run_until(app::shutdown_signal()).await
}
