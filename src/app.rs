//! Putting the parts together: open the store, load the keys, bind the port, serve until told
//! to stop.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::core::Core;
use crate::crypto::Keys;
use crate::http::{self, AppState};
use crate::store::Store;

/// Opens everything the domain needs (keys, database with migrations applied), without any
/// network listener: what the CLI commands use.
pub async fn open_core(config: &Config) -> anyhow::Result<Core> {
    let keys = Keys::load_or_create(&config.data_dir)?;
    let store = Store::connect(&config.database_url(), config.database.max_connections).await?;
    store.migrate().await?;
    Core::new(config, store, &keys)
}

pub struct Application {
    core: Core,
    listener: TcpListener,
    max_body_bytes: usize,
    web: crate::http::web::WebSettings,
}

impl Application {
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let mut core = open_core(config).await?;
        let addr = config.listen_addr();
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        if config.public_url.is_none() {
            // Without a configured public URL, the address really bound (port 0 picks one).
            core.tokens.issuer = format!("http://{}", listener.local_addr()?);
        }
        Ok(Self {
            core,
            listener,
            max_body_bytes: config.max_body_bytes,
            web: crate::http::web::WebSettings {
                organization: config.organization.clone(),
                secure_cookies: config.public_url().starts_with("https://"),
            },
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
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
        let worker = crate::delivery::worker::spawn(self.core.clone(), stopped);
        let state = AppState {
            core: self.core,
            web: self.web,
        };
        let router = http::router(state, self.max_body_bytes);
        let served = axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .context("the HTTP server failed");
        // Let the worker finish the message in hand; what is left stays queued for next time.
        let _ = stop.send(true);
        let _ = worker.await;
        store.close().await;
        served
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
