//! Limits count in rolling windows, on the test's real database: a limit of N per window admits
//! no more than N in any stretch of the window's length, wherever the clock's minutes and hours
//! fall, and two requests never both take a limit's last place.

use tessera::clock::Instant;
use tessera::limits::Limit;
use tessera::store::{Counter, CounterStore, Full};

use crate::helpers::{all_at_once, spawn_app};

const TWO_PER_MINUTE: Limit = Limit {
    max: 2,
    window_seconds: 60,
};

/// A clock minute that began an hour ago: the tests' instants are milliseconds after it, recent
/// enough that housekeeping keeps their events.
fn minute_mark() -> i64 {
    let an_hour_ago = Instant::now().plus_seconds(-3600).millis();
    an_hour_ago - an_hour_ago.rem_euclid(60_000)
}

fn event(key: &str, limit: &Limit, millis_after_mark: i64) -> Counter {
    static MARK: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let mark = *MARK.get_or_init(minute_mark);
    Counter::new(
        key.to_owned(),
        limit,
        Instant::from_millis(mark + millis_after_mark),
    )
}

async fn admitted(counters: &CounterStore, counter: Counter) -> bool {
    counters.take(&[counter]).await.unwrap().is_empty()
}

#[tokio::test]
async fn a_limit_admits_no_more_than_its_max_in_any_window_across_a_clock_boundary() {
    let app = spawn_app().await;
    let counters = app.core.store.counters();
    // Two events in the last second before a clock minute turns ...
    assert!(admitted(&counters, event("k", &TWO_PER_MINUTE, 59_000)).await);
    assert!(admitted(&counters, event("k", &TWO_PER_MINUTE, 59_900)).await);
    // ... leave no room in the seconds after it, as they would under windows of clock minutes.
    assert!(!admitted(&counters, event("k", &TWO_PER_MINUTE, 60_100)).await);
    assert!(!admitted(&counters, event("k", &TWO_PER_MINUTE, 118_999)).await);
    // A minute after the first, it has left the window and its place is free again; the
    // second's place follows a minute after the second.
    assert!(admitted(&counters, event("k", &TWO_PER_MINUTE, 119_000)).await);
    assert!(!admitted(&counters, event("k", &TWO_PER_MINUTE, 119_800)).await);
    assert!(admitted(&counters, event("k", &TWO_PER_MINUTE, 119_901)).await);
    // Another key has its own count.
    assert!(admitted(&counters, event("other", &TWO_PER_MINUTE, 119_950)).await);
}

#[tokio::test]
async fn a_full_limit_says_when_its_oldest_event_leaves_the_window() {
    let app = spawn_app().await;
    let counters = app.core.store.counters();
    for at in [10_000, 25_000] {
        assert!(admitted(&counters, event("k", &TWO_PER_MINUTE, at)).await);
    }
    let refused = counters
        .take(&[event("k", &TWO_PER_MINUTE, 30_000)])
        .await
        .unwrap();
    assert_eq!(
        refused,
        [Full {
            position: 0,
            room_at: event("k", &TWO_PER_MINUTE, 70_000).at
        }]
    );

    // A limit lowered under what was already counted waits for enough events to leave.
    let one_per_minute = Limit {
        max: 1,
        ..TWO_PER_MINUTE
    };
    let refused = counters
        .take(&[event("k", &one_per_minute, 30_000)])
        .await
        .unwrap();
    assert_eq!(refused[0].room_at, event("k", &one_per_minute, 85_000).at);
}

#[tokio::test]
async fn a_request_refused_by_one_limit_counts_against_none_of_the_others() {
    let app = spawn_app().await;
    let counters = app.core.store.counters();
    let one = Limit {
        max: 1,
        window_seconds: 60,
    };
    assert!(admitted(&counters, event("b-full", &one, 1_000)).await);
    let refused = counters
        .take(&[event("a-free", &one, 2_000), event("b-full", &one, 2_000)])
        .await
        .unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].position, 1, "the full one is named");
    assert_eq!(
        counters.count(&event("a-free", &one, 2_000)).await.unwrap(),
        0
    );
    assert!(admitted(&counters, event("a-free", &one, 3_000)).await);
}

#[tokio::test]
async fn an_event_given_back_frees_its_place() {
    let app = spawn_app().await;
    let counters = app.core.store.counters();
    let first = event("k", &TWO_PER_MINUTE, 1_000);
    let second = event("k", &TWO_PER_MINUTE, 2_000);
    assert!(admitted(&counters, first.clone()).await);
    assert!(admitted(&counters, second.clone()).await);
    assert_eq!(counters.count(&second).await.unwrap(), 2);
    counters
        .give_back(std::slice::from_ref(&second))
        .await
        .unwrap();
    assert_eq!(counters.count(&second).await.unwrap(), 1);
    assert!(admitted(&counters, event("k", &TWO_PER_MINUTE, 3_000)).await);
}

#[tokio::test]
async fn concurrent_requests_never_take_more_than_the_last_places() {
    let app = spawn_app().await;
    let counters = app.core.store.counters();
    let five = Limit {
        max: 5,
        window_seconds: 60,
    };
    let requests = (0..24)
        .map(|i| {
            let counters = counters.clone();
            // Each request counts against the shared key and one of its own, in both orders,
            // so the key locks are taken in a crossing order unless they are sorted.
            let shared = event("shared", &five, 10_000 + i);
            let own = event(&format!("own-{i}"), &five, 10_000 + i);
            let pair = if i % 2 == 0 {
                vec![shared, own]
            } else {
                vec![own, shared]
            };
            async move { counters.take(&pair).await.unwrap().is_empty() }
        })
        .collect();
    let answers = all_at_once(requests).await;
    let admitted = answers.iter().filter(|a| **a).count();
    assert_eq!(admitted, 5, "{answers:?}");
    assert_eq!(
        counters
            .count(&event("shared", &five, 10_100))
            .await
            .unwrap(),
        5
    );
}
