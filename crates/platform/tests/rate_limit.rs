//! The rate limit is a sliding window: at most N calls in *any* window, so a burst at the end
//! of one clock minute and another at the start of the next is refused (a fixed window let
//! 2N through there). Tested on the movable clock against the real Redis.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

use std::time::Duration;

use chrono::TimeZone as _;
use combipat_platform::ApiError;
use combipat_platform::clock::Clock;
use combipat_platform::rate_limit::{RateLimitSettings, RateLimiter};

fn settings(redis_url: &str) -> RateLimitSettings {
    RateLimitSettings {
        redis_url: redis_url.to_owned().into(),
        calls_per_window: 5,
        window_seconds: 60,
        key_prefix: format!("combipat-test:{}:", uuid::Uuid::now_v7()),
        timeout_ms: 500,
    }
}

/// How many of `calls` pass, and the retry hint of the first refusal.
async fn burst(limiter: &RateLimiter, calls: u32) -> (u32, Option<Duration>) {
    let mut passed = 0;
    let mut hint = None;
    for _ in 0..calls {
        match limiter.check("write", "anna").await {
            Ok(()) => passed += 1,
            Err(ApiError::ResourceExhausted { retry_after, .. }) => {
                hint.get_or_insert(retry_after);
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    (passed, hint)
}

#[tokio::test]
async fn no_window_of_the_clock_lets_more_than_the_limit_through() {
    let clock = Clock::system();
    // Ten seconds before a minute turns: where a fixed window resets.
    clock.set(
        chrono::Utc
            .with_ymd_and_hms(2026, 12, 1, 9, 59, 50)
            .unwrap(),
    );
    let limiter = RateLimiter::new(
        settings("redis://127.0.0.1:6379/0"),
        clock.clone(),
        &["write"],
    )
    .unwrap();

    assert_eq!(burst(&limiter, 5).await.0, 5);
    let (passed, hint) = burst(&limiter, 1).await;
    assert_eq!(passed, 0);
    let hint = hint.unwrap().as_secs();
    assert!(
        (59..=60).contains(&hint),
        "wait until the first call leaves: {hint} s"
    );

    // Fifteen seconds later the clock minute has turned; the last 60 s still hold 5 calls.
    clock.advance(chrono::Duration::seconds(15));
    let (passed, hint) = burst(&limiter, 5).await;
    assert_eq!(
        passed, 0,
        "the edge of a clock minute lets nothing more through"
    );
    let hint = hint.unwrap().as_secs();
    assert!((44..=45).contains(&hint), "{hint} s");

    // Once the first calls are a window old, as many pass as left the window, and no more.
    clock.advance(chrono::Duration::seconds(46));
    assert_eq!(burst(&limiter, 8).await.0, 5);

    // Other callers and scopes are counted apart.
    assert!(limiter.check("write", "bruno").await.is_ok());
    assert!(limiter.check("upload", "anna").await.is_ok());
}

#[tokio::test]
async fn without_redis_the_call_goes_through() {
    // A port nothing listens on: the limit fails open (it protects the service; it must
    // not take it down).
    let limiter = RateLimiter::new(
        settings("redis://127.0.0.1:1/0"),
        Clock::system(),
        &["write"],
    )
    .unwrap();
    assert_eq!(burst(&limiter, 7).await.0, 7);
}
