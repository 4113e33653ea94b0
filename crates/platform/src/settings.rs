//! Typed settings, layered with the `config` crate.
//!
//! Order, later wins: platform defaults, the service's defaults, the file named by
//! `COMBIPAT_CONFIG_FILE`, environment variables `COMBIPAT__SECTION__FIELD`, and (tests only)
//! explicit overrides. A bad or missing setting fails at start with the key's path.

use std::time::Duration;

use anyhow::Context as _;
use config::{Config, Environment, File, FileFormat};
use secrecy::SecretString;
use serde::Deserialize;
use serde::de::DeserializeOwned;

const PLATFORM_DEFAULTS: &str = include_str!("../defaults.toml");

/// Settings that hold lists; in environment variables and overrides they are comma separated.
const LIST_KEYS: &[&str] = &["amqp.retry_delays_ms", "amqp.url"];

/// Environment variable naming an optional extra settings file (TOML).
pub const CONFIG_FILE_ENV: &str = "COMBIPAT_CONFIG_FILE";

/// A service's settings: the platform's sections, and the service's own sections `S`.
/// Both are read from the same layers; each keeps the key paths in its errors.
#[derive(Debug, Clone)]
pub struct Settings<S> {
    pub platform: PlatformSettings,
    pub service: S,
}

/// The settings every service has. The top level accepts the service's own sections too.
#[derive(Debug, Clone, Deserialize)]
pub struct PlatformSettings {
    pub grpc: ListenSettings,
    pub http: ListenSettings,
    pub database: DatabaseSettings,
    pub amqp: AmqpSettings,
    pub outbox: OutboxSettings,
    pub inbox: InboxSettings,
    pub audit: crate::audit::AuditSettings,
    pub jobs: JobsSettings,
    pub auth: AuthSettings,
    pub identity: crate::auth::IdentitySettings,
    pub telemetry: TelemetrySettings,
    pub shutdown: ShutdownSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenSettings {
    pub host: String,
    /// 0 picks a free port (tests).
    pub port: u16,
    /// Calls in progress at once; past it a call is refused at once with a retry hint.
    pub max_in_flight: usize,
    /// A call that takes longer is ended (gRPC CANCELLED, HTTP 408). Streams are not bound.
    pub request_timeout_ms: u64,
}

impl ListenSettings {
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms.max(1))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// postgres://user@host:port/database; kept secret because it may hold a password.
    pub url: SecretString,
    pub max_connections: u32,
    pub acquire_timeout_ms: u64,
    pub migrate_on_start: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpSettings {
    /// One URL per cluster node (a list; comma separated in variables): a connection tries
    /// them in turn, so losing one node moves every task to another.
    pub url: Vec<SecretString>,
    pub exchange: String,
    pub queue_prefix: String,
    pub prefetch: u16,
    /// Deliveries a consumer commits in one transaction (1: one transaction per event).
    pub batch_size: u16,
    /// The retry schedule: the delay before each retry of an event that failed for a
    /// transient reason, one retry queue per distinct delay.
    pub retry_delays_ms: Vec<u64>,
    /// After the list, keep retrying with the last delay until this long after the first
    /// failure (0: the list is the whole schedule); then the dead-letter queue.
    pub retry_for_ms: u64,
    /// Each delay is spread by up to this fraction either way (0 to 0.2), so that events
    /// that failed together do not all come back together.
    pub retry_jitter: f64,
    pub delivery_limit: u32,
    pub reconnect_delay_ms: u64,
    /// Longest wait between two reconnection attempts (the delay doubles up to it).
    pub reconnect_max_delay_ms: u64,
    /// Every event also goes to this stream, kept by age and size, so a consumer added
    /// later (reporting) can read history from the first event kept.
    pub history_max_age: String,
    pub history_max_bytes: u64,
    pub history_segment_bytes: u64,
    /// How often each service reads the depth of its own queues for the metrics.
    pub queue_metrics_interval_ms: u64,
    /// Whether this process creates the topology (exchanges, queues, bindings) or only checks
    /// that it exists. A deployment whose services connect as users without the configure
    /// right turns it off for the services and on for the `topology` step, which runs as a
    /// user that has it (`combipat-broker-users`, k8s/rabbitmq/).
    pub declare_topology: bool,
    /// Queues unused for this long are deleted by the broker. Only tests set it.
    #[serde(default)]
    pub queue_expires_ms: Option<u64>,
}

impl AmqpSettings {
    pub fn reconnect_delay(&self) -> Duration {
        Duration::from_millis(self.reconnect_delay_ms)
    }

    pub fn reconnect_max_delay(&self) -> Duration {
        Duration::from_millis(self.reconnect_max_delay_ms.max(self.reconnect_delay_ms))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxSettings {
    pub batch_size: i64,
    pub poll_interval_ms: u64,
    /// A publish and its confirm must finish within this, or the session starts over.
    pub publish_timeout_ms: u64,
    /// How often the pending count and the oldest event's age are read for the metrics.
    pub gauge_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxSettings {
    /// How long a processed event's id is kept. It must outlast every redelivery: the
    /// retry schedule (`amqp.retry_for_ms`) and a dead letter's replay.
    pub retention_hours: u64,
    pub cleanup_interval_ms: u64,
    /// Rows deleted per statement, so a cleanup never holds long locks.
    pub cleanup_batch: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsSettings {
    /// How often an idle runner looks for due jobs (it also wakes when a job is scheduled
    /// in this process).
    pub poll_interval_ms: u64,
    /// Jobs claimed at once by one runner.
    pub claim_batch: i64,
    /// Jobs run at once by one runner.
    pub concurrency: usize,
    /// A claimed job's lease; renewed every third of it while the job runs, so a killed
    /// replica's jobs are taken over by another after at most this long.
    pub lease_ms: u64,
    /// A job that fires more than this after its due time counts as caught up (it was
    /// missed, e.g. during downtime, and fires once, late).
    pub catch_up_after_ms: u64,
    /// How often the pending jobs are counted for the metrics (a count scans them).
    pub gauge_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub public_key_path: String,
    pub jwks_url: String,
    pub jwks_refresh_secs: u64,
    pub issuer: String,
    pub audience: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Auto,
    Json,
    Pretty,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    pub log_format: LogFormat,
    pub log_filter: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownSettings {
    pub deadline_ms: u64,
    pub drain_delay_ms: u64,
}

impl ShutdownSettings {
    pub fn drain_delay(&self) -> Duration {
        Duration::from_millis(self.drain_delay_ms)
    }

    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }
}

/// Loads a service's settings: see the module documentation for the layers.
///
/// `overrides` are `("section.field", value)` pairs applied last; tests use them to point a
/// service at its own database and queues.
pub fn load<S: DeserializeOwned>(
    service_defaults: &str,
    overrides: &[(String, String)],
) -> anyhow::Result<Settings<S>> {
    let config = layers(service_defaults, overrides)?;
    let platform = config
        .clone()
        .try_deserialize()
        .map_err(|error| anyhow::anyhow!("invalid settings: {error}"))?;
    let service = config
        .try_deserialize()
        .map_err(|error| anyhow::anyhow!("invalid settings: {error}"))?;
    Ok(Settings { platform, service })
}

/// One section of the platform's settings from the same layers (defaults, file, environment,
/// `overrides`): e.g. the `amqp` settings a tool or a test needs without a whole service.
pub fn platform_section<T: DeserializeOwned>(
    section: &str,
    overrides: &[(String, String)],
) -> anyhow::Result<T> {
    layers("", overrides)?
        .get(section)
        .map_err(|error| anyhow::anyhow!("invalid settings: {error}"))
}

fn layers(service_defaults: &str, overrides: &[(String, String)]) -> anyhow::Result<Config> {
    let mut environment = Environment::with_prefix("COMBIPAT")
        .prefix_separator("__")
        .separator("__")
        .list_separator(",")
        .try_parsing(true);
    for key in LIST_KEYS {
        environment = environment.with_list_parse_key(key);
    }
    let mut builder = Config::builder()
        .add_source(File::from_str(PLATFORM_DEFAULTS, FileFormat::Toml))
        .add_source(File::from_str(service_defaults, FileFormat::Toml));
    if let Ok(path) = std::env::var(CONFIG_FILE_ENV) {
        builder = builder.add_source(File::with_name(&path).required(true));
    }
    builder = builder.add_source(environment);
    for (key, value) in overrides {
        builder = if LIST_KEYS.contains(&key.as_str()) {
            let items: Vec<String> = value
                .split(',')
                .map(|item| item.trim().to_owned())
                .collect();
            builder.set_override(key.as_str(), items)
        } else {
            builder.set_override(key.as_str(), value.as_str())
        }
        .with_context(|| format!("invalid override for setting `{key}`"))?;
    }
    builder.build().context("cannot read the settings")
}

/// The environment variable that overrides a dotted setting key, e.g.
/// `database.url` -> `COMBIPAT__DATABASE__URL`.
pub fn env_var_for(key: &str) -> String {
    format!("COMBIPAT__{}", key.replace('.', "__").to_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Empty {}

    const SERVICE_DEFAULTS: &str = r#"
        [grpc]
        port = 50099
        [http]
        port = 8099
        [database]
        url = "postgres://127.0.0.1/x"
    "#;

    fn overrides(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn layers_service_defaults_over_platform_defaults() {
        let settings: Settings<Empty> = load(SERVICE_DEFAULTS, &[]).unwrap();
        assert_eq!(settings.platform.grpc.port, 50099);
        assert_eq!(settings.platform.amqp.exchange, "combipat.events");
        assert_eq!(
            settings.platform.amqp.retry_delays_ms,
            vec![1000, 10_000, 60_000, 600_000, 3_600_000]
        );
        assert_eq!(settings.platform.amqp.url.len(), 1);
    }

    #[test]
    fn overrides_win_and_are_parsed() {
        let settings: Settings<Empty> = load(
            SERVICE_DEFAULTS,
            &overrides(&[("grpc.port", "0"), ("amqp.prefetch", "4")]),
        )
        .unwrap();
        assert_eq!(settings.platform.grpc.port, 0);
        assert_eq!(settings.platform.amqp.prefetch, 4);
    }

    #[test]
    fn list_overrides_are_comma_separated() {
        let settings: Settings<Empty> = load(
            SERVICE_DEFAULTS,
            &overrides(&[("amqp.retry_delays_ms", "10,20")]),
        )
        .unwrap();
        assert_eq!(settings.platform.amqp.retry_delays_ms, vec![10, 20]);
    }

    #[test]
    fn a_bad_value_names_the_key() {
        let error = load::<Empty>(SERVICE_DEFAULTS, &overrides(&[("grpc.port", "not-a-port")]))
            .unwrap_err();
        assert!(format!("{error:#}").contains("grpc.port"), "{error:#}");
    }

    #[test]
    fn a_missing_value_names_the_key() {
        let error = load::<Empty>("[grpc]\nport = 1\n[http]\nport = 2\n", &[]).unwrap_err();
        assert!(format!("{error:#}").contains("url"), "{error:#}");
    }

    #[test]
    fn env_var_names_follow_the_documented_shape() {
        assert_eq!(env_var_for("database.url"), "COMBIPAT__DATABASE__URL");
    }
}
