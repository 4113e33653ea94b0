//! Per-caller rate limits in Redis, shared by every replica: a fixed window per caller and
//! scope (INCR with an expiry, atomically in one script). Over the limit, the call is
//! refused with RESOURCE_EXHAUSTED (HTTP 429) and the time until the window ends.
//!
//! A limit protects the service; it must not take it down: when Redis cannot be reached the
//! call is let through, logged and counted (`combipat_rate_limit_unchecked_total`).

use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Mutex;

use crate::ApiError;

/// Counter {scope}: calls refused for being over the limit.
const METRIC_LIMITED: &str = "combipat_rate_limited_total";
/// Counter {scope}: calls let through unchecked because Redis did not answer.
const METRIC_UNCHECKED: &str = "combipat_rate_limit_unchecked_total";

const SCRIPT: &str = r"
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('PTTL', KEYS[1])}
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
    client: redis::Client,
    connection: Mutex<Option<redis::aio::MultiplexedConnection>>,
    script: redis::Script,
}

impl RateLimiter {
    pub fn new(settings: RateLimitSettings) -> anyhow::Result<Self> {
        use secrecy::ExposeSecret as _;
        let client = redis::Client::open(settings.redis_url.expose_secret())
            .map_err(|error| anyhow::anyhow!("rate_limit.redis_url is not a Redis URL: {error}"))?;
        Ok(Self {
            settings,
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
            Ok(Ok((count, ttl_ms))) if count > i64::from(self.settings.calls_per_window) => {
                metrics::counter!(METRIC_LIMITED, "scope" => scope).increment(1);
                let retry_after =
                    Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0).max(1000));
                Err(ApiError::ResourceExhausted {
                    message: format!(
                        "too many calls: at most {} every {} s; try again in {} s",
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
        let key = format!(
            "{}ratelimit:{scope}:{caller}:{}",
            self.settings.key_prefix,
            chrono::Utc::now().timestamp()
                / i64::try_from(self.settings.window_seconds.max(1)).unwrap_or(60)
        );
        self.script
            .key(key)
            .arg(window_ms)
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
