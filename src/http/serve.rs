//! The accept loop: HTTP/1.1 through hyper, with what keeps slow or many clients from taking
//! the server down. A request's head must arrive within the header-read timeout of its first
//! byte (of the connection's opening, for the first one); a kept-alive connection may wait
//! idle for its next request up to the keep-alive timeout; an answer the client stops taking
//! ends the connection after the send timeout; and the connections open at once are capped, in
//! all and per client address. A connection past a cap is closed as soon as it is accepted,
//! never queued. (A body that stops half-way is ended by the requests' own 30 s time-out.)

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tokio_io_timeout::TimeoutStream;
use tower::ServiceExt;

use crate::proxies::TrustedProxies;

/// The limits of one listener.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub send_timeout: Duration,
    pub max_open: usize,
    pub max_per_ip: usize,
    /// Peers not counted per address: each carries many clients.
    pub trusted_proxies: TrustedProxies,
}

/// Serves `router` on `listener` until `shutdown` completes, then lets the requests in flight
/// finish. Each request carries its peer as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let open = Arc::new(Semaphore::new(limits.max_open));
    let per_ip = Arc::new(PerIp::new(limits.max_per_ip));
    let refusals = Refusals::default();
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    // hyper's header timer runs from the moment a connection waits for a head, idle time
    // included: the keep-alive timeout. `HeadTimer` times the head itself.
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.keep_alive_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = admit(&open, &per_ip, &limits, peer.ip(), &refusals) else {
            drop(stream);
            continue;
        };
        let requests = Arc::new(Requests::default());
        let (started, answered) = (requests.clone(), requests.clone());
        let service = router
            .clone()
            .map_request(move |mut request: axum::extract::Request<Incoming>| {
                started.start();
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            })
            .map_response(move |response| {
                answered.answered();
                response
            });
        let _ = stream.set_nodelay(true);
        let io = HeadTimer::new(stream, &limits, requests);
        let connection = graceful
            .watch(http.serve_connection(TokioIo::new(io), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// What a connection's reader and its requests share: how many requests have started (each
/// start means a head arrived whole) and whether one is being answered.
#[derive(Default)]
struct Requests {
    started: AtomicU64,
    answering: AtomicBool,
}

impl Requests {
    fn start(&self) {
        self.started.fetch_add(1, Ordering::AcqRel);
        self.answering.store(true, Ordering::Release);
    }

    fn answered(&self) {
        self.answering.store(false, Ordering::Release);
    }
}

/// The connection's stream, with the header-read timeout: armed when the connection opens and
/// when the first byte of a later request arrives (a byte read while no request is being
/// answered), disarmed once its request starts; a read still waiting at the deadline fails,
/// which ends the connection. Writes that wait past the send timeout fail too.
struct HeadTimer<S> {
    stream: Pin<Box<TimeoutStream<S>>>,
    requests: Arc<Requests>,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
    /// The number of requests started when the timer was armed; none when it is not.
    armed_at: Option<u64>,
}

impl<S: AsyncRead + AsyncWrite> HeadTimer<S> {
    fn new(stream: S, limits: &ConnectionLimits, requests: Arc<Requests>) -> Self {
        let mut stream = TimeoutStream::new(stream);
        stream.set_write_timeout(Some(limits.send_timeout));
        Self {
            stream: Box::pin(stream),
            requests,
            timeout: limits.header_read_timeout,
            deadline: Box::pin(tokio::time::sleep(limits.header_read_timeout)),
            armed_at: Some(0),
        }
    }
}

impl<S: AsyncRead + AsyncWrite> AsyncRead for HeadTimer<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let started = this.requests.started.load(Ordering::Acquire);
        if this.armed_at.is_some_and(|at| at != started) {
            this.armed_at = None;
        }
        let before = buf.filled().len();
        match this.stream.as_mut().poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let got_bytes = buf.filled().len() > before;
                if got_bytes
                    && this.armed_at.is_none()
                    && !this.requests.answering.load(Ordering::Acquire)
                {
                    this.armed_at = Some(started);
                    let deadline = tokio::time::Instant::now() + this.timeout;
                    this.deadline.as_mut().reset(deadline);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                if this.armed_at.is_some() && this.deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the request's head did not arrive in time",
                    )));
                }
                Poll::Pending
            }
            failed => failed,
        }
    }
}

impl<S: AsyncRead + AsyncWrite> AsyncWrite for HeadTimer<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.stream.as_mut().poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.stream.as_mut().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream.as_mut().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream.as_mut().poll_shutdown(cx)
    }
}

/// A failed accept: a connection that went away before it was accepted is nothing; anything
/// else (out of open files) pauses the loop a moment instead of spinning on it.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!(%error, "cannot accept a connection");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// The place a connection holds while it is open: its share of both caps.
struct Slot {
    _open: OwnedSemaphorePermit,
    per_ip: Option<(Arc<PerIp>, IpKey)>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some((per_ip, key)) = &self.per_ip {
            per_ip.release(*key);
        }
        metrics::gauge!("tessera_http_connections_open").decrement(1);
    }
}

fn admit(
    open: &Arc<Semaphore>,
    per_ip: &Arc<PerIp>,
    limits: &ConnectionLimits,
    peer: IpAddr,
    refusals: &Refusals,
) -> Option<Slot> {
    let Ok(permit) = open.clone().try_acquire_owned() else {
        refusals.count("open", peer);
        return None;
    };
    let per_ip = if limits.trusted_proxies.contains(peer) {
        None
    } else {
        let key = IpKey::of(peer);
        if !per_ip.take(key) {
            refusals.count("per_ip", peer);
            return None;
        }
        Some((per_ip.clone(), key))
    };
    metrics::gauge!("tessera_http_connections_open").increment(1);
    Some(Slot {
        _open: permit,
        per_ip,
    })
}

/// What one client counts as: an IPv4 address, or an IPv6 /64 (what one subscriber gets, so
/// that changing the last 64 bits does not buy more connections).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum IpKey {
    V4(u32),
    V6(u64),
}

impl IpKey {
    fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self::V4(v4.to_bits()),
            IpAddr::V6(v6) => Self::V6((v6.to_bits() >> 64) as u64),
        }
    }
}

/// Open connections per client.
struct PerIp {
    max: usize,
    open: Mutex<HashMap<IpKey, usize>>,
}

impl PerIp {
    fn new(max: usize) -> Self {
        Self {
            max,
            open: Mutex::new(HashMap::new()),
        }
    }

    fn take(&self, key: IpKey) -> bool {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(key).or_insert(0);
        if *count >= self.max {
            return false;
        }
        *count += 1;
        true
    }

    fn release(&self, key: IpKey) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&key);
            }
        }
    }
}

/// Refused connections: counted in the metrics, and told in the log at most once every ten
/// seconds, so that a flood does not flood the log too.
#[derive(Default)]
struct Refusals {
    last_logged: AtomicU64,
    since_logged: AtomicU64,
}

impl Refusals {
    const LOG_EVERY_SECONDS: u64 = 10;

    fn count(&self, cap: &'static str, peer: IpAddr) {
        metrics::counter!("tessera_http_connections_refused_total", "cap" => cap).increment(1);
        let refused = self.since_logged.fetch_add(1, Ordering::Relaxed) + 1;
        let now = crate::clock::Instant::now().seconds().max(0) as u64;
        let last = self.last_logged.load(Ordering::Relaxed);
        if now >= last + Self::LOG_EVERY_SECONDS
            && self
                .last_logged
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.since_logged.store(0, Ordering::Relaxed);
            tracing::warn!(
                refused,
                cap,
                last_peer = %peer,
                "connections refused: a cap on open connections is reached (connections.max_open, connections.max_per_ip)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(header_read: u64, send: u64) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_millis(header_read),
            keep_alive_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_millis(send),
            max_open: 10,
            max_per_ip: 10,
            trusted_proxies: TrustedProxies::default(),
        }
    }

    /// An answer the client stops taking fails its write at the send timeout, which ends the
    /// connection. (Over TCP the kernel's buffers take a whole answer of this server first.)
    #[tokio::test]
    async fn a_write_the_client_does_not_take_fails_at_the_send_timeout() {
        use tokio::io::AsyncWriteExt;
        let (server_side, _client_side) = tokio::io::duplex(64);
        let mut stream = HeadTimer::new(server_side, &limits(60_000, 200), Arc::default());
        let written = tokio::time::timeout(Duration::from_secs(5), stream.write_all(&[b'x'; 4096]))
            .await
            .expect("the write gives up by itself");
        assert_eq!(written.unwrap_err().kind(), io::ErrorKind::TimedOut);
    }

    /// The header-read timer runs from the first byte of a head until its request starts, and
    /// not while a connection waits idle between requests.
    #[tokio::test]
    async fn the_head_timer_runs_from_a_heads_first_byte_until_its_request_starts() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (server_side, mut client_side) = tokio::io::duplex(1024);
        let requests = Arc::new(Requests::default());
        let mut stream = HeadTimer::new(server_side, &limits(300, 60_000), requests.clone());
        let mut buffer = [0u8; 64];
        // The first head arrives and its request starts, then is answered.
        client_side
            .write_all(b"GET / HTTP/1.1\r\n\r\n")
            .await
            .unwrap();
        assert!(stream.read(&mut buffer).await.unwrap() > 0);
        requests.start();
        requests.answered();
        // Idle well past the header-read timeout: the read waits, it does not fail.
        let idle = tokio::time::timeout(Duration::from_millis(900), stream.read(&mut buffer)).await;
        assert!(idle.is_err(), "still waiting: {idle:?}");
        // The next head's first byte arms the timer again.
        client_side.write_all(b"G").await.unwrap();
        assert_eq!(stream.read(&mut buffer).await.unwrap(), 1);
        let cut = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("the timer ends the wait");
        assert_eq!(cut.unwrap_err().kind(), io::ErrorKind::TimedOut);
    }

    #[test]
    fn a_client_is_an_ipv4_address_or_an_ipv6_slash_64() {
        let key = |text: &str| IpKey::of(text.parse().unwrap());
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
        assert_ne!(key("192.0.2.1"), key("192.0.2.2"));
    }

    #[test]
    fn a_client_holds_at_most_its_share_and_gets_it_back_as_connections_close() {
        let per_ip = PerIp::new(2);
        let (a, b) = (
            IpKey::of([192, 0, 2, 1].into()),
            IpKey::of([192, 0, 2, 2].into()),
        );
        assert!(per_ip.take(a) && per_ip.take(a));
        assert!(!per_ip.take(a), "a third from the same address");
        assert!(per_ip.take(b), "another address has its own share");
        per_ip.release(a);
        assert!(per_ip.take(a));
        per_ip.release(a);
        per_ip.release(a);
        per_ip.release(b);
        assert!(
            per_ip.open.lock().unwrap().is_empty(),
            "nothing kept for gone clients"
        );
    }
}
