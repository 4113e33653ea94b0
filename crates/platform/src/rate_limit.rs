//! Per-caller rate limits in Redis, shared by every replica: a sliding window per caller
//! and scope, so that at most `calls_per_window` calls pass in *any* `window_seconds` (a
//! fixed clock window would let twice the limit through across its edge). Each accepted
//! call is one entry of a sorted set scored by its time, trimmed and counted atomically in
//! one script. Over the limit, the call is refused with RESOURCE_EXHAUSTED (HTTP 429) and
//! the time until the oldest call in the window leaves it. Time is the platform's clock, so
//! tests move it instead of sleeping.
//!
//! A limit protects the service; it must not take it down: when Redis cannot be reached the
//! call is let through, logged and counted (`combipat_rate_limit_unchecked_total`).

use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Mutex;

use crate::ApiError;
use crate::clock::Clock;

/// Counter {scope}: calls refused for being over the limit.
const METRIC_LIMITED: &str = "combipat_rate_limited_total";
/// Counter {scope}: calls let through unchecked because Redis did not answer.
const METRIC_UNCHECKED: &str = "combipat_rate_limit_unchecked_total";

/// KEYS[1] the caller's set; ARGV now (ms), window (ms), limit, a unique member. Returns
/// {1, 0} when the call passes, {0, ms until a place frees} when it does not. A refused call
/// is not recorded, so a caller who keeps trying is let in as soon as the window allows.
const SCRIPT: &str = r"
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now}
";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    /// `redis://[user:password@]host:port/db`; a secret, never printed.
    pub redis_url: secrecy::SecretString,
    /// Calls one caller may make per window; 0 turns the limit off.
    pub calls_per_window: u32,
    pub window_seconds: u64,
    /// Prepended to every key; tests use it to keep to themselves.
    pub key_prefix: String,
    pub timeout_ms: u64,
}

pub struct RateLimiter {
    settings: RateLimitSettings,
    clock: Clock,
    client: redis::Client,
    connection: Mutex<Option<redis::aio::MultiplexedConnection>>,
    script: redis::Script,
}

impl RateLimiter {
    /// A limiter for the given scopes (their series start at zero, so a dashboard shows a
    /// scope that has never refused anything).
    pub fn new(
        settings: RateLimitSettings,
        clock: Clock,
        scopes: &[&'static str],
    ) -> anyhow::Result<Self> {
        for scope in scopes {
            metrics::counter!(METRIC_LIMITED, "scope" => *scope).increment(0);
            metrics::counter!(METRIC_UNCHECKED, "scope" => *scope).increment(0);
        }
        use secrecy::ExposeSecret as _;
        let client = redis::Client::open(settings.redis_url.expose_secret())
            .map_err(|error| anyhow::anyhow!("rate_limit.redis_url is not a Redis URL: {error}"))?;
        Ok(Self {
            settings,
            clock,
            client,
            connection: Mutex::new(None),
            script: redis::Script::new(SCRIPT),
        })
    }

    /// Counts one call of `caller` in `scope`; refuses it when over the limit.
    pub async fn check(&self, scope: &'static str, caller: &str) -> Result<(), ApiError> {
        if self.settings.calls_per_window == 0 {
            return Ok(());
        }
        let timeout = Duration::from_millis(self.settings.timeout_ms);
        match tokio::time::timeout(timeout, self.count(scope, caller)).await {
            Ok(Ok((0, wait_ms))) => {
                metrics::counter!(METRIC_LIMITED, "scope" => scope).increment(1);
                // Whole seconds, rounded up: Retry-After has no fractions.
                let retry_after =
                    Duration::from_secs(u64::try_from(wait_ms).unwrap_or(0).div_ceil(1000).max(1));
                Err(ApiError::ResourceExhausted {
                    message: format!(
                        "too many calls: at most {} in any {} s; try again in {} s",
                        self.settings.calls_per_window,
                        self.settings.window_seconds,
                        retry_after.as_secs()
                    ),
                    retry_after,
                })
            }
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => {
                self.connection.lock().await.take();
                unchecked(scope, &error.to_string());
                Ok(())
            }
            Err(_elapsed) => {
                self.connection.lock().await.take();
                unchecked(scope, "Redis did not answer in time");
                Ok(())
            }
        }
    }

    async fn count(&self, scope: &str, caller: &str) -> redis::RedisResult<(i64, i64)> {
        let mut connection = {
            let mut cached = self.connection.lock().await;
            match cached.as_ref() {
                Some(connection) => connection.clone(),
                None => {
                    let connection = self.client.get_multiplexed_async_connection().await?;
                    *cached = Some(connection.clone());
                    connection
                }
            }
        };
        let window_ms = self.settings.window_seconds.max(1) * 1000;
        let key = format!("{}ratelimit:{scope}:{caller}", self.settings.key_prefix);
        self.script
            .key(key)
            .arg(self.clock.now().timestamp_millis())
            .arg(window_ms)
            .arg(self.settings.calls_per_window)
            .arg(uuid::Uuid::now_v7().to_string())
            .invoke_async(&mut connection)
            .await
    }
}

fn unchecked(scope: &'static str, reason: &str) {
    metrics::counter!(METRIC_UNCHECKED, "scope" => scope).increment(1);
    tracing::warn!(
        scope,
        reason,
        "rate limit not checked: the call goes through"
    );
}
