//! The edge of the server against slow and many clients (a slowloris, idle connections, a
//! body that stops half-way) and behind reverse proxies: the caps on connections, the
//! timeouts, and which address stands for a client. Attackers connect from other loopback
//! addresses (127.0.0.2…) than the client that checks the server still answers (127.0.0.1).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::{PASSWORD, TestApp, spawn_app_with};

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

fn server_of(app: &TestApp) -> SocketAddr {
    app.address.trim_start_matches("http://").parse().unwrap()
}

/// A connection from `source` (any 127.x.y.z answers on Linux's loopback).
async fn connect_from(source: IpAddr, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(source, 0)).unwrap();
    socket.connect(server).await.unwrap()
}

/// `count` connections from `source`, each sending the start of a request's head and no more.
async fn slow_heads(source: IpAddr, server: SocketAddr, count: usize) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(count);
    for _ in 0..count {
        let mut stream = connect_from(source, server).await;
        // A write to a connection the server already closed may fail: it is counted as closed.
        let _ = stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            .await;
        streams.push(stream);
    }
    streams
}

/// Whether the server ends the connection within `wait`: a read sees the end (after any
/// answer it sent first) rather than waiting.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// The connections the server keeps open, of `streams`: each is read for at most `wait`, all
/// at once, and those it closed are dropped.
async fn still_open(streams: Vec<TcpStream>, wait: Duration) -> Vec<TcpStream> {
    let mut checks = tokio::task::JoinSet::new();
    for mut stream in streams {
        checks.spawn(async move {
            let closed = closed_within(&mut stream, wait).await;
            (!closed).then_some(stream)
        });
    }
    checks.join_all().await.into_iter().flatten().collect()
}

/// Asks `/health` on a fresh connection from 127.0.0.1 every 50 ms until told to stop; the
/// time each answer took, or a failure.
fn probe_health(
    app: &TestApp,
) -> (
    Arc<AtomicBool>,
    tokio::task::JoinHandle<Vec<Result<Duration, String>>>,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .local_address(loopback(1))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let url = app.url("/health");
    let stopping = stop.clone();
    let probes = tokio::spawn(async move {
        let mut answers = Vec::new();
        while !stopping.load(Ordering::Relaxed) {
            let started = Instant::now();
            answers.push(match client.get(&url).send().await {
                Ok(response) if response.status() == 200 => Ok(started.elapsed()),
                Ok(response) => Err(format!("status {}", response.status())),
                Err(error) => Err(format!("{error}")),
            });
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        answers
    });
    (stop, probes)
}

/// The probes' answers: every one a 200 (each waits at most the probe client's 5 s time-out),
/// and enough of them to have watched the whole attack. How fast they came is printed, not
/// asserted: on a busy machine a second is not a property of the server.
fn assert_health_answered_throughout(answers: &[Result<Duration, String>], at_least: usize) {
    assert!(answers.len() >= at_least, "{} probes", answers.len());
    for answer in answers {
        if let Err(error) = answer {
            panic!("/health failed during the attack: {error}");
        }
    }
}

/// A slowloris of 3,000 connections from six addresses, each connection sending the start of
/// a request's head and no more: each address holds `connections.max_per_ip` of them, the rest
/// are closed as soon as they are accepted, and `/health` (a fresh connection every 50 ms from
/// another address) answers throughout (its median and slowest times are printed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_is_held_to_the_per_client_cap_while_health_keeps_answering() {
    const PER_IP: usize = 100;
    let app = spawn_app_with(|config| {
        config.connections.max_per_ip = PER_IP;
        config.connections.max_open = 1000;
        // Long enough that none of the held connections times out during the test.
        config.connections.header_read_timeout_seconds = 60;
    })
    .await;
    let server = server_of(&app);
    let (stop, probes) = probe_health(&app);
    let started = Instant::now();

    let attackers: Vec<_> = (2..8)
        .map(|last| tokio::spawn(slow_heads(loopback(last), server, 500)))
        .collect();
    let mut held = Vec::new();
    for attacker in attackers {
        let streams = attacker.await.unwrap();
        held.push(still_open(streams, Duration::from_millis(500)).await);
    }
    // Another round of probes with every attacker's connections open.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let answers = probes.await.unwrap();

    let mut times: Vec<Duration> = answers.iter().filter_map(|a| a.clone().ok()).collect();
    times.sort();
    let (median, slowest) = (
        times.get(times.len() / 2).copied().unwrap_or_default(),
        times.last().copied().unwrap_or_default(),
    );
    println!(
        "slowloris: 3000 connections from 6 addresses in {:?}; {} held ({PER_IP} per address), \
         the rest closed at accept; /health answered {} times, median {:?}, slowest {:?}",
        started.elapsed(),
        held.iter().map(Vec::len).sum::<usize>(),
        answers.len(),
        median,
        slowest
    );
    for (address, streams) in held.iter().enumerate() {
        assert_eq!(streams.len(), PER_IP, "held from the attacker {address}");
    }
    assert_health_answered_throughout(&answers, 5);
}

/// Past `connections.max_open` a new connection, from anyone, is closed at once rather than
/// left waiting; the places come back as soon as the connections holding them close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_cap_on_open_connections_new_ones_are_closed_at_once_and_places_come_back() {
    let app = spawn_app_with(|config| {
        config.connections.max_per_ip = 100;
        config.connections.max_open = 300;
        config.connections.header_read_timeout_seconds = 60;
    })
    .await;
    let server = server_of(&app);
    let mut held = Vec::new();
    for last in 2..12 {
        let streams = slow_heads(loopback(last), server, 100).await;
        held.extend(still_open(streams, Duration::from_millis(300)).await);
    }
    assert_eq!(held.len(), 300, "open connections in all");

    let mut latecomer = connect_from(loopback(1), server).await;
    assert!(
        closed_within(&mut latecomer, Duration::from_secs(1)).await,
        "a connection past the cap is closed, not queued"
    );

    drop(held);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        match client.get(app.url("/health")).send().await {
            Ok(response) if response.status() == 200 => break,
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
            other => panic!("/health after the attack: {other:?}"),
        }
    }
}

/// A head sent a byte at a time is cut at `connections.header_read_timeout_seconds`, however
/// steadily its bytes come; so is a connection that sends nothing at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_sent_a_byte_at_a_time_is_cut_at_the_header_read_timeout() {
    let app = spawn_app_with(|config| config.connections.header_read_timeout_seconds = 1).await;
    let server = server_of(&app);
    let started = Instant::now();
    let mut tricklers = tokio::task::JoinSet::new();
    for _ in 0..50 {
        tricklers.spawn(async move {
            let mut stream = connect_from(loopback(2), server).await;
            let _ = stream.write_all(b"GET /health HTTP/1.1\r\n").await;
            // A header a byte every 100 ms, for up to 5 s.
            for byte in b"X-Slow: ".iter().cycle().take(50) {
                if stream.write_all(&[*byte]).await.is_err()
                    || closed_within(&mut stream, Duration::from_millis(100)).await
                {
                    return true;
                }
            }
            false
        });
    }
    let mut silent = connect_from(loopback(3), server).await;
    assert!(
        closed_within(&mut silent, Duration::from_secs(3)).await,
        "a connection that sends nothing is closed"
    );
    let cut = tricklers.join_all().await;
    assert!(
        cut.iter().all(|closed| *closed),
        "{} of 50 trickled heads were cut",
        cut.iter().filter(|c| **c).count()
    );
    assert!(started.elapsed() < Duration::from_secs(4));
}

/// Reads one answer of `/health` off a raw connection.
async fn health_over(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("\"database\"") {
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(read > 0, "the answer comes before the end");
        answer.extend_from_slice(&buffer[..read]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// Between requests a kept-alive connection may wait idle longer than a head may take (a
/// proxy reuses its connections after a pause), up to `connections.keep_alive_timeout_seconds`;
/// then it is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_alive_connection_waits_idle_up_to_the_keep_alive_timeout() {
    let app = spawn_app_with(|config| {
        config.connections.header_read_timeout_seconds = 1;
        config.connections.keep_alive_timeout_seconds = 3;
    })
    .await;
    let mut stream = connect_from(loopback(2), server_of(&app)).await;
    assert!(health_over(&mut stream).await.starts_with("HTTP/1.1 200"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        health_over(&mut stream).await.starts_with("HTTP/1.1 200"),
        "the same connection, idle past the header-read timeout"
    );
    assert!(
        closed_within(&mut stream, Duration::from_secs(6)).await,
        "an idle connection is closed at the keep-alive timeout"
    );
}

fn trusting(list: &[&str]) -> impl FnOnce(&mut tessera::config::Config) {
    let proxies = tessera::proxies::TrustedProxies::parse(list.iter().copied()).unwrap();
    move |config| config.trusted_proxies = proxies
}

/// Logs ann in with `header: value` on the request; the address the audit log recorded.
async fn login_through(app: &TestApp, header: &str, value: &str) -> String {
    let response = app
        .client
        .post(app.url("/api/login"))
        .header(header, value)
        .json(&json!({"loginId": "ann", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let events = app.audit("event=login.success&limit=1").await;
    events[0]["ipAddress"].as_str().unwrap().to_owned()
}

/// Sends an enrolment code to a new number for `user` as the client `forwarded` says; the
/// status.
async fn send_as(app: &TestApp, user: &str, phone: &str, forwarded: &str) -> u16 {
    app.with_key(Method::POST, "/api/two-factor/send")
        .header("X-Forwarded-For", forwarded)
        .json(&json!({"method": "sms", "mobilePhone": phone, "userId": user}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Behind a trusted proxy each client is the right-most address the proxy chain forwards that
/// is not itself a trusted proxy: the audit log records it, and the per-address limits count
/// each client apart, where before every client behind the proxy shared one address.
#[tokio::test]
async fn behind_a_trusted_proxy_each_client_is_the_address_it_forwards() {
    let app = spawn_app_with(trusting(&["127.0.0.1", "10.0.0.0/8"])).await;
    let ann = app.create_user("ann", json!({})).await;
    let id = ann["id"].as_str().unwrap();
    // The client wrote the first address; the proxies appended the others.
    assert_eq!(
        login_through(&app, "X-Forwarded-For", "192.0.2.66, 203.0.113.5, 10.1.2.3").await,
        "203.0.113.5"
    );

    let saved = app
        .put_delivery_settings(json!({"fraudGuard": {"perIp": {"max": 2, "windowSeconds": 3600}}}))
        .await;
    assert_eq!(saved.status(), 200);
    assert_eq!(send_as(&app, id, "+14155550101", "203.0.113.5").await, 200);
    assert_eq!(send_as(&app, id, "+14155550102", "203.0.113.5").await, 200);
    assert_eq!(send_as(&app, id, "+14155550103", "203.0.113.5").await, 429);
    assert_eq!(
        send_as(&app, id, "+14155550104", "198.51.100.8").await,
        200,
        "another client behind the same proxy has its own limit"
    );
}

/// Without trusted proxies, or from a peer that is not one, the forwarded headers are
/// ignored: the connection's address stands, whatever a client claims.
#[tokio::test]
async fn forwarded_headers_are_ignored_unless_the_peer_is_a_trusted_proxy() {
    let mut apps = Vec::new();
    for trusted in [&[][..], &["10.0.0.0/8"][..]] {
        apps.push(spawn_app_with(trusting(trusted)).await);
        let app = apps.last().unwrap();
        app.create_user("ann", json!({})).await;
        assert_eq!(
            login_through(app, "X-Forwarded-For", "203.0.113.5").await,
            "127.0.0.1"
        );
        assert_eq!(
            login_through(app, "Forwarded", "for=203.0.113.5").await,
            "127.0.0.1"
        );
    }
}

/// With `forwarded_header = "forwarded"` the proxies' RFC 7239 header is read, and
/// X-Forwarded-For, which such a proxy passes through as the client wrote it, is not.
#[tokio::test]
async fn the_forwarded_header_is_read_when_the_proxies_keep_it() {
    let app = spawn_app_with(|config| {
        trusting(&["127.0.0.1"])(config);
        config.forwarded_header = tessera::proxies::ForwardedHeader::Forwarded;
    })
    .await;
    app.create_user("ann", json!({})).await;
    assert_eq!(
        login_through(
            &app,
            "Forwarded",
            "for=192.0.2.66, for=\"[2001:db8::7]:4711\""
        )
        .await,
        "2001:db8::7"
    );
    assert_eq!(
        login_through(&app, "X-Forwarded-For", "203.0.113.5").await,
        "127.0.0.1"
    );
}

/// A trusted proxy carries many clients: its connections count against the cap on open
/// connections only, not against the cap per address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_is_not_held_to_the_cap_per_address() {
    let app = spawn_app_with(|config| {
        trusting(&["127.0.0.2"])(config);
        config.connections.max_per_ip = 10;
    })
    .await;
    let server = server_of(&app);
    let proxy = slow_heads(loopback(2), server, 30).await;
    let client = slow_heads(loopback(3), server, 30).await;
    assert_eq!(
        still_open(proxy, Duration::from_millis(300)).await.len(),
        30
    );
    assert_eq!(
        still_open(client, Duration::from_millis(300)).await.len(),
        10
    );
}
