//! Putting the parts together: open the store, load the keys, bind the port, serve until told
//! to stop.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::core::Core;
use crate::crypto::Keys;
use crate::crypto::oidc_keys::KeyRing;
use crate::http::serve::{ConnectionLimits, serve};
use crate::http::{self, AppState};
use crate::store::Store;

/// Opens everything the domain needs (keys, database with migrations applied), without any
/// network listener: what the CLI commands use.
pub async fn open_core(config: &Config) -> anyhow::Result<Core> {
    open_core_at(config, config.public_url()).await
}

/// `open_core`, with tokens issued as `public_url`.
async fn open_core_at(config: &Config, public_url: String) -> anyhow::Result<Core> {
    // A rules file with a problem stops the start, as `check-config` would say it.
    if let Some(path) = &config.forward_auth.access_rules_file {
        crate::access_rules::rules_file::load(path).map_err(anyhow::Error::msg)?;
    }
    let keys = Keys::load_or_create(&config.data_dir)?;
    // Signing the JSON API's tokens with them needs the OpenID Connect keys from the start.
    let oidc_keys = match crate::core::published_algorithm(config) {
        Some(_) => {
            let dir = config.data_dir.clone();
            Some(tokio::task::spawn_blocking(move || KeyRing::open(&dir)).await??)
        }
        None => None,
    };
    let store = Store::connect(&config.database_url(), config.database.max_connections).await?;
    store.migrate().await?;
    Core::new(config, store, &keys, public_url, oidc_keys)
}

pub struct Application {
    core: Core,
    listener: TcpListener,
    /// The loopback listener that serves `/metrics` alone (`metrics.listen`).
    metrics_listener: Option<TcpListener>,
    limits: ConnectionLimits,
    max_body_bytes: usize,
    web: crate::http::web::WebSettings,
    edge: crate::http::EdgeSettings,
    public_url: String,
}

impl Application {
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let max_open = config
            .connections
            .max_open_under(raise_open_files_limit())?;
        let addr = config.listen_addr();
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let public_url = match &config.public_url {
            Some(_) => config.public_url(),
            // Without a configured public URL, the address really bound (port 0 picks one).
            None => format!("http://{}", listener.local_addr()?),
        };
        let metrics_listener = match config.metrics_listen_addr() {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr} (metrics.listen)"))?,
            ),
            None => None,
        };
        let core = open_core_at(config, public_url.clone()).await?;
        Ok(Self {
            core,
            listener,
            metrics_listener,
            limits: ConnectionLimits {
                header_read_timeout: config.connections.header_read_timeout(),
                keep_alive_timeout: config.connections.keep_alive_timeout(),
                send_timeout: config.connections.send_timeout(),
                max_open,
                max_per_ip: config.connections.max_per_ip,
                trusted_proxies: config.trusted_proxies.clone(),
            },
            max_body_bytes: config.max_body_bytes,
            web: crate::http::web::WebSettings {
                organization: config.organization.clone(),
                product_name: config.product_name.clone(),
                secure_cookies: config.public_url().starts_with("https://"),
                session_cookie: crate::http::cookies::SessionCookie::new(
                    config.public_url().starts_with("https://"),
                    crate::http::web::SESSION_COOKIE,
                    config.session.cookie_domain(),
                ),
                remember_me: config.session.remember_me_seconds > 0,
            },
            edge: crate::http::EdgeSettings {
                trusted_proxies: config.trusted_proxies.clone(),
                forwarded_header: config.forwarded_header,
                metrics_public: config.metrics.public,
                outbox_public: config.delivery.outbox_public,
                home_region: config.home_region(),
                forward_auth_headers: config.forward_auth.headers.clone(),
            },
            public_url,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Where the metrics-only listener is bound, if `metrics.listen` asks for one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
    }

    pub fn core(&self) -> &Core {
        &self.core
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let store = self.core.store.clone();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let worker = crate::delivery::worker::spawn(
            self.core.delivery.clone(),
            self.core.store.clone(),
            stopped,
        );
        let notices = crate::notices::worker::spawn(self.core.notices.clone(), stop.subscribe());
        let state = AppState {
            core: std::sync::Arc::new(self.core),
            web: self.web,
            edge: std::sync::Arc::new(self.edge),
            public_url: self.public_url,
        };
        let router = http::router(state, self.max_body_bytes);
        let (stopping, stop_serving) = tokio::sync::watch::channel(false);
        let metrics = self.metrics_listener.map(|listener| {
            let mut stop_serving = stop_serving.clone();
            tokio::spawn(serve(
                listener,
                http::metrics_router(),
                ConnectionLimits {
                    max_open: METRICS_CONNECTIONS,
                    max_per_ip: METRICS_CONNECTIONS,
                    ..self.limits.clone()
                },
                async move {
                    let _ = stop_serving.wait_for(|stop| *stop).await;
                },
            ))
        });
        let mut stop_serving = stop_serving;
        tokio::spawn(async move {
            shutdown.await;
            let _ = stopping.send(true);
        });
        serve(self.listener, router, self.limits, async move {
            let _ = stop_serving.wait_for(|stop| *stop).await;
        })
        .await;
        if let Some(metrics) = metrics {
            let _ = metrics.await;
        }
        // Let the worker finish the message in hand; what is left stays queued for next time.
        let _ = stop.send(true);
        let _ = worker.await;
        let _ = notices.await;
        store.close().await;
        Ok(())
    }
}

/// A scraper or two: the metrics listener is on loopback.
const METRICS_CONNECTIONS: usize = 16;

/// Raises the soft limit of open files towards the hard one (up to Linux's usual ceiling of
/// 2^20), so that the cap on connections can be as high as the operator lets the process go;
/// the limit in force either way.
fn raise_open_files_limit() -> u64 {
    match rlimit::increase_nofile_limit(1 << 20) {
        Ok(limit) => limit,
        Err(error) => {
            let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap_or((1024, 1024));
            tracing::warn!(%error, soft, "cannot raise the limit of open files");
            soft
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
