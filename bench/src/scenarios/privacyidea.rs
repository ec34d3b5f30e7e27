//! code-check against privacyIDEA, for bench/privacyidea.sh.

use std::sync::Arc;

use anyhow::Context;
use serde_json::Value;

use super::transport;
use crate::Args;
use crate::load::{self, Outcome, Slot, SlotPool, Step, Take};

/// code-check against privacyIDEA's `POST /validate/check` (serial + code), for
/// bench/privacyidea.sh; prints the same figures and a `RESULT` line it reads.
pub async fn privacyidea_code_check(args: &Args) -> anyhow::Result<()> {
    let url = args.url.clone().context("--url of privacyIDEA is needed")?;
    let tokens = args.tokens.clone().context("--tokens FILE is needed")?;
    let text = std::fs::read_to_string(&tokens)?;
    let mut slots = Vec::new();
    let mut serials = Vec::new();
    for (index, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let (serial, secret) = line.split_once(',').context("a line is `serial,base32`")?;
        let bytes = data_encoding::BASE32_NOPAD
            .decode(secret.trim().trim_end_matches('=').as_bytes())
            .context("a secret is base32")?;
        serials.push(serial.trim().to_owned());
        slots.push(Slot::new(index, Arc::from(bytes)));
    }
    let serials = Arc::new(serials);
    let pool = Arc::new(SlotPool::new(slots, false, true));
    println!(
        "\n== code-check against privacyIDEA at {url}: {} connections, {} tokens",
        args.connections,
        serials.len()
    );
    let figures = load::run(args.connections, args.measured(), move |client, _| {
        let (pool, url, serials) = (pool.clone(), url.clone(), serials.clone());
        async move {
            let (slot, step) = match pool.take() {
                Take::Ready(slot, step) => (slot, step),
                Take::Wait => return Step::Wait,
                Take::Empty => return Step::Exhausted,
            };
            let code = load::totp_code(&slot.secret, step);
            let answer = client
                .post(format!("{url}/validate/check"))
                .form(&[
                    ("serial", serials[slot.user].as_str()),
                    ("pass", code.as_str()),
                ])
                .send()
                .await;
            pool.put_back(slot, step);
            Step::Done(match answer {
                Ok(response) if response.status() == 200 => {
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    if body["result"]["value"] == true {
                        Outcome::status(200, 200)
                    } else {
                        Outcome::failed("200-rejected")
                    }
                }
                Ok(response) => Outcome::status(response.status().as_u16(), 200),
                Err(e) => Outcome::failed(transport(&e)),
            })
        }
    })
    .await;
    println!(
        "  requests/s {:.1}  p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms  outcomes {}  errors {}",
        figures.rate(),
        figures.percentile_ms(50.0),
        figures.percentile_ms(90.0),
        figures.percentile_ms(99.0),
        figures.max_ms(),
        figures.outcomes_text(),
        figures.errors
    );
    println!(
        "RESULT rate={:.1} p50={:.2} p99={:.2} errors={}",
        figures.rate(),
        figures.percentile_ms(50.0),
        figures.percentile_ms(99.0),
        figures.errors
    );
    Ok(())
}
