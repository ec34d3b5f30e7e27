//! A webhook receiver on loopback that keeps every POST (its headers and body) and answers 200.

use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;

#[derive(Debug, Clone)]
pub struct Post {
    pub headers: HeaderMap,
    pub body: String,
}

impl Post {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
}

#[derive(Clone)]
pub struct FakeWebhook {
    pub url: String,
    received: Arc<Mutex<Vec<Post>>>,
}

impl FakeWebhook {
    pub async fn start() -> Self {
        let received: Arc<Mutex<Vec<Post>>> = Arc::default();
        let store = received.clone();
        let hook = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let store = store.clone();
                async move {
                    store.lock().unwrap().push(Post { headers, body });
                    axum::http::StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, hook).await });
        Self { url, received }
    }

    pub fn received(&self) -> Vec<Post> {
        self.received.lock().unwrap().clone()
    }
}

/// A loopback port nothing listens on: bound, then let go.
pub async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}
