//! oidc-exchange: the whole `POST /oauth2/token` authorization_code exchange (client
//! authentication, the code spent in the statement that keeps its grant, an ID token and an
//! access token signed), for a client whose tokens are ES256 and one whose tokens are RS256.
//! Each exchange needs a fresh code: they are issued beforehand, not timed, through the real
//! `/oauth2/authorize` with the session cookie of a browser that logged in on the pages. A code
//! lives 60 seconds, so each client's codes are issued right before its phase.
//!
//! Its limits, measured in the same run: the signing rate of each key type (the ID token's and
//! the access token's claims signed in-process with `OidcKeys::sign`, a pair per exchange) and
//! the raw commit rate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tessera::crypto::oidc_keys::{Algorithm, OidcKeys};

use super::{PASSWORD, Suite, cheap_argon2, transport};
use crate::load::{self, Outcome, RunFigures, Step};
use crate::server::{self, Backend, Server, ServerSettings, Workspace};

const REDIRECT: &str = "http://127.0.0.1:9/callback";
/// How long one signing-rate measurement takes (a third on one thread, the rest on all cores).
const SIGNING_BUDGET: Duration = Duration::from_secs(2);
/// A code lives 60 s: its issuing and its phase must both fit well within that.
const CODE_LIFETIME_ROOM: Duration = Duration::from_secs(45);

/// Exchanges' worth of signing per second: an ID token and an access token each.
struct SigningRate {
    one_thread: f64,
    all_cores: f64,
}

impl Suite<'_> {
    pub async fn oidc_exchange(&mut self, backend: Backend) -> anyhow::Result<()> {
        let args = self.args;
        println!(
            "\n== oidc-exchange on {}: {} connections; POST /oauth2/token (authorization_code), codes issued beforehand through /oauth2/authorize",
            backend.label(),
            args.oidc_connections
        );
        let workspace = Workspace::create(backend, &args.postgres_url, "oidc").await?;
        let result = self.oidc_exchange_in(backend, &workspace).await;
        workspace.remove().await;
        result
    }

    async fn oidc_exchange_in(
        &mut self,
        backend: Backend,
        workspace: &Workspace,
    ) -> anyhow::Result<()> {
        let args = self.args;
        let settings = ServerSettings {
            argon2: cheap_argon2(),
            fraud_guard: true,
            password_guard: true,
            trusted_loopback_proxy: false,
        };
        let hash = self.cheap_hash.clone();
        self.import_users(workspace, &settings, 1, |i| format!("u{i},\"{hash}\",,,"))
            .await?;
        let mut secrets = HashMap::new();
        for (client_id, algorithm) in [("bench-es256", "ES256"), ("bench-rs256", "RS256")] {
            let printed = server::cli(
                &self.binary,
                workspace,
                &settings,
                &[
                    "oidc",
                    "client",
                    "create",
                    "--name",
                    client_id,
                    "--client-id",
                    client_id,
                    "--first-party",
                    "--redirect-uri",
                    REDIRECT,
                    "--id-token-alg",
                    algorithm,
                ],
            )?;
            let secret = printed
                .lines()
                .find_map(|line| line.strip_prefix("client secret: "))
                .context("the CLI printed no client secret")?
                .to_owned();
            secrets.insert(client_id, secret);
        }
        let server = Server::start_on_existing_database(&self.binary, workspace, &settings).await?;
        let cookie = browser_session(&server.base_url, "u0").await?;
        let commit = self.commit_limit(backend);
        for (client_id, algorithm) in [
            ("bench-es256", Algorithm::Es256),
            ("bench-rs256", Algorithm::Rs256),
        ] {
            let signing = signing_rate(algorithm).await?;
            println!(
                "  limit: signing an ID token and an access token with {}: {:.0} exchanges' worth/s on one thread, {:.0}/s on {} cores",
                algorithm.as_str(),
                signing.one_thread,
                signing.all_cores,
                args.cores()
            );
            let window = args.measured().min(CODE_LIFETIME_ROOM / 3);
            let codes = issue_codes(
                &server.base_url,
                &cookie,
                client_id,
                window * 2,
                args.oidc_connections,
            )
            .await?;
            let figures = self
                .measure_exchanges(&server, client_id, &secrets[client_id], codes, window)
                .await;
            let limit = signing.all_cores.min(commit);
            let ratio = figures.rate() / limit;
            println!(
                "    limit        min(signing {:.0}/s, raw commit rate {commit:.0}/s) = {limit:.0}/s: the exchange runs at {ratio:.2} of it",
                signing.all_cores
            );
            self.note(
                backend,
                format!(
                    "oidc-exchange ({}) ≥ 0.50 of min(signing rate, raw commit rate) — {ratio:.2}",
                    algorithm.as_str()
                ),
                ratio >= 0.5 && figures.errors == 0,
            );
        }
        server.stop();
        Ok(())
    }

    async fn measure_exchanges(
        &mut self,
        server: &Server,
        client_id: &'static str,
        secret: &str,
        codes: Vec<String>,
        window: Duration,
    ) -> RunFigures {
        let codes = Arc::new(Mutex::new(codes));
        let (base, secret) = (server.base_url.clone(), secret.to_owned());
        let title = format!("oidc-exchange, {client_id}");
        let connections = self.args.oidc_connections;
        self.measure_on(server, &title, connections, window, move |client, _| {
            let (codes, base, secret) = (codes.clone(), base.clone(), secret.clone());
            async move {
                let Some(code) = codes.lock().unwrap_or_else(|e| e.into_inner()).pop() else {
                    return Step::Exhausted;
                };
                let answer = client
                    .post(format!("{base}/oauth2/token"))
                    .basic_auth(client_id, Some(&secret))
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("code", code.as_str()),
                        ("redirect_uri", REDIRECT),
                    ])
                    .send()
                    .await;
                Step::Done(match answer {
                    Ok(response) => Outcome::status(response.status().as_u16(), 200),
                    Err(e) => Outcome::failed(transport(&e)),
                })
            }
        })
        .await
    }
}

/// The session cookie of a browser that logged in on the pages as `username`.
pub(super) async fn browser_session(base: &str, username: &str) -> anyhow::Result<String> {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let page = browser.get(format!("{base}/login")).send().await?;
    let mut cookies = cookies_of(&page, HashMap::new());
    let html = page.text().await?;
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("no CSRF token on the login page")?;
    let answer = browser
        .post(format!("{base}/login"))
        .header("cookie", cookie_header(&cookies))
        .form(&[
            ("csrf", csrf),
            ("username", username),
            ("password", PASSWORD),
        ])
        .send()
        .await?;
    if answer
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        != Some("/")
    {
        bail!("the login on the pages answered {}", answer.status());
    }
    cookies = cookies_of(&answer, cookies);
    Ok(cookie_header(&cookies))
}

fn cookies_of(
    response: &reqwest::Response,
    mut cookies: HashMap<String, String>,
) -> HashMap<String, String> {
    for line in response.headers().get_all("set-cookie") {
        let Some((name, value)) = line
            .to_str()
            .ok()
            .and_then(|l| l.split(';').next())
            .and_then(|pair| pair.split_once('='))
        else {
            continue;
        };
        if value.is_empty() {
            cookies.remove(name);
        } else {
            cookies.insert(name.to_owned(), value.to_owned());
        }
    }
    cookies
}

fn cookie_header(cookies: &HashMap<String, String>) -> String {
    cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Codes for `client_id`, from `/oauth2/authorize` with the browser's session, for `budget`
/// at most.
async fn issue_codes(
    base: &str,
    cookie: &str,
    client_id: &str,
    budget: Duration,
    connections: usize,
) -> anyhow::Result<Vec<String>> {
    let started = Instant::now();
    let deadline = started + budget;
    let url = format!(
        "{base}/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={}\
         &scope=openid%20profile%20email&state=s&nonce=n",
        form_urlencoded(REDIRECT)
    );
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (url, cookie) = (url.clone(), cookie.to_owned());
        workers.spawn(async move {
            let browser = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(1)
                .build()?;
            let mut codes = Vec::new();
            while Instant::now() < deadline {
                let answer = browser.get(&url).header("cookie", &cookie).send().await?;
                let to = answer
                    .headers()
                    .get("location")
                    .and_then(|l| l.to_str().ok())
                    .unwrap_or_default();
                let code = reqwest::Url::parse(to)
                    .ok()
                    .and_then(|u| {
                        u.query_pairs()
                            .find(|(k, _)| k == "code")
                            .map(|(_, v)| v.into_owned())
                    })
                    .with_context(|| format!("authorize answered {} to {to:?}", answer.status()))?;
                codes.push(code);
            }
            Ok::<_, anyhow::Error>(codes)
        });
    }
    let mut codes = Vec::new();
    for result in workers.join_all().await {
        codes.extend(result?);
    }
    println!(
        "  issued {} codes for {client_id} beforehand in {:.1} s ({:.0}/s)",
        codes.len(),
        started.elapsed().as_secs_f64(),
        codes.len() as f64 / started.elapsed().as_secs_f64()
    );
    Ok(codes)
}

fn form_urlencoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Exchanges' worth of signing per second with a fresh key of `algorithm`: the claims of an ID
/// token and of an access token as an exchange makes them, each signed with `OidcKeys::sign`.
async fn signing_rate(algorithm: Algorithm) -> anyhow::Result<SigningRate> {
    let dir = std::env::temp_dir().join(format!(
        "tessera-bench-keys-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let measured = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || -> anyhow::Result<SigningRate> {
            let keys = Arc::new(OidcKeys::load_or_create(&dir)?);
            let (id_claims, access_claims) = exchange_claims();
            let pair = |keys: &OidcKeys| {
                std::hint::black_box(keys.sign(algorithm, &id_claims));
                std::hint::black_box(keys.sign(algorithm, &access_claims));
            };
            let started = Instant::now();
            let mut done = 0u64;
            while done < 10 || started.elapsed() < SIGNING_BUDGET / 3 {
                pair(&keys);
                done += 1;
            }
            let one_thread = done as f64 / started.elapsed().as_secs_f64();
            let started = Instant::now();
            let deadline = started + SIGNING_BUDGET * 2 / 3;
            let total: u64 = std::thread::scope(|scope| {
                let threads: Vec<_> = (0..cores)
                    .map(|_| {
                        let keys = keys.clone();
                        scope.spawn(move || {
                            let mut done = 0u64;
                            while done < 10 || Instant::now() < deadline {
                                pair(&keys);
                                done += 1;
                            }
                            done
                        })
                    })
                    .collect();
                threads.into_iter().map(|t| t.join().unwrap_or(0)).sum()
            });
            Ok(SigningRate {
                one_thread,
                all_cores: total as f64 / started.elapsed().as_secs_f64(),
            })
        }
    })
    .await?;
    let _ = std::fs::remove_dir_all(&dir);
    measured
}

/// Claims of the shape and size an exchange signs (`openid profile email`).
fn exchange_claims() -> (Value, Value) {
    let now = load::unix_seconds();
    let sub = uuid::Uuid::new_v4().to_string();
    let id = json!({
        "iss": "http://127.0.0.1:8080", "sub": sub, "aud": "bench-es256", "iat": now,
        "exp": now + 3600, "auth_time": now, "amr": ["pwd"], "acr": "pwd",
        "sid": "0000000000000000000000000", "nonce": "n", "preferred_username": "u0",
    });
    let access = json!({
        "iss": "http://127.0.0.1:8080", "sub": sub, "aud": "bench-es256",
        "client_id": "bench-es256", "scope": "openid profile email", "gid": "gr_0000000000000000",
        "iat": now, "exp": now + 3600, "jti": "0000000000000000000000",
    });
    (id, access)
}
