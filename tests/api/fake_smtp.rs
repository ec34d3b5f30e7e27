//! A minimal SMTP server on loopback (RFC 5321, with AUTH PLAIN as its one extension) that keeps
//! what it receives.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone, Default)]
pub struct Received {
    /// The user name and password of the AUTH PLAIN before the message, if any.
    pub login: Option<(String, String)>,
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

#[derive(Clone)]
pub struct FakeSmtp {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl FakeSmtp {
    pub async fn start() -> Self {
        Self::start_slow(std::time::Duration::ZERO).await
    }

    /// A server that waits `delay` before each of its replies.
    pub async fn start_slow(delay: std::time::Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let (reader, mut writer) = socket.into_split();
                    let mut lines = BufReader::new(reader).lines();
                    tokio::time::sleep(delay).await;
                    let _ = writer.write_all(b"220 fake-smtp ready\r\n").await;
                    let mut current = Received::default();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let upper = line.to_ascii_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") {
                            b"250-fake-smtp\r\n250 AUTH PLAIN\r\n"
                        } else if upper.starts_with("HELO") {
                            b"250 fake-smtp\r\n"
                        } else if upper.starts_with("AUTH PLAIN ") {
                            current.login = plain_login(&line[11..]);
                            b"235 2.7.0 Authentication successful\r\n"
                        } else if upper.starts_with("MAIL FROM:") {
                            current.from = line[10..].trim().to_owned();
                            b"250 OK\r\n"
                        } else if upper.starts_with("RCPT TO:") {
                            current.to.push(line[8..].trim().to_owned());
                            b"250 OK\r\n"
                        } else if upper == "DATA" {
                            tokio::time::sleep(delay).await;
                            let _ = writer.write_all(b"354 go ahead\r\n").await;
                            while let Ok(Some(data)) = lines.next_line().await {
                                if data == "." {
                                    break;
                                }
                                current.data.push_str(&data);
                                current.data.push('\n');
                            }
                            let login = current.login.clone();
                            store.lock().unwrap().push(std::mem::take(&mut current));
                            current.login = login;
                            b"250 queued as FAKE1\r\n"
                        } else if upper == "QUIT" {
                            let _ = writer.write_all(b"221 bye\r\n").await;
                            break;
                        } else {
                            b"250 OK\r\n"
                        };
                        tokio::time::sleep(delay).await;
                        let _ = writer.write_all(reply).await;
                    }
                });
            }
        });
        Self { url, received }
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// The user name and password of an AUTH PLAIN response: base64 of `\0user\0password`.
fn plain_login(response: &str) -> Option<(String, String)> {
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(response.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let mut parts = text.split('\0').skip(1);
    Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
}
