//! What every integration test needs, against the real servers: its own database, its own
//! exchange and queue names (so tests run in parallel), tokens, and ways to watch events.

mod broker_users;
mod bus;
mod database;
mod fixtures;
mod ports;
mod raw_grpc;
mod service;
mod services;

use std::path::PathBuf;
use std::time::Duration;

use combipat_platform::auth::{Claims, Role, sign};

pub use broker_users::BrokerTenant;
pub use bus::{Observer, TestBus};
pub use database::TestDatabase;
pub use fixtures::{request_summary, submitted_event};
pub use ports::free_port;
pub use raw_grpc::raw_call;
pub use service::{TestService, grpc_channel, http_get, with_token};
pub use services::{ServiceEntry, services};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// ANPR reference data, beside the repository (`../shared/data`) unless
/// `COMBIPAT_SHARED_DATA` says otherwise.
pub fn shared_data_dir() -> PathBuf {
    std::env::var_os("COMBIPAT_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/data"))
}

/// Settings overrides that point a service at this test's database and bus, on free ports,
/// with short retry delays and the development key.
pub fn overrides(database: &TestDatabase, bus: &TestBus) -> Vec<(String, String)> {
    let data = shared_data_dir();
    [
        ("grpc.host", "127.0.0.1".to_owned()),
        ("grpc.port", "0".to_owned()),
        ("http.host", "127.0.0.1".to_owned()),
        ("http.port", "0".to_owned()),
        ("database.url", database.url.clone()),
        ("database.max_connections", "5".to_owned()),
        ("outbox.poll_interval_ms", "100".to_owned()),
        ("outbox.gauge_interval_ms", "200".to_owned()),
        ("shutdown.deadline_ms", "5000".to_owned()),
        ("auth.public_key_path", dev_key("dev-jwt-public.pem")),
        // The services that call others as themselves (notifier, reporting) sign their own
        // token with the development key; the path in their defaults is the checkout's.
        (
            "identity.dev_signing_key_path",
            dev_key("dev-jwt-private.pem"),
        ),
        (
            "territory.comuni_path",
            data.join("ANPR_archivio_comuni.csv").display().to_string(),
        ),
        (
            "territory.stati_esteri_path",
            data.join("ANPR_stati_esteri.csv").display().to_string(),
        ),
        ("directory.bootstrap_path", demo_directory()),
        (
            "attachments.local_dir",
            std::env::temp_dir()
                .join("combipat-test-attachments")
                .join(&bus.queue_prefix)
                .display()
                .to_string(),
        ),
        (
            "rate_limit.key_prefix",
            format!("combipat-test:{}", bus.queue_prefix),
        ),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .chain(bus.overrides())
    .collect()
}

/// Router's demo office directory (every region and province, a few agenzie and poli).
pub fn demo_directory() -> String {
    workspace_root()
        .join("services/router/directory/demo.yaml")
        .display()
        .to_string()
}

fn dev_key(file: &str) -> String {
    workspace_root()
        .join("dev/keys")
        .join(file)
        .display()
        .to_string()
}

/// A bearer token for `role` with the given claims (patronato, patronato_office,
/// inps_office), signed with the development key, valid for an hour.
pub fn token(role: Role, claims: &[(&str, &str)]) -> anyhow::Result<String> {
    let claim = |name: &str| {
        claims
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    };
    let claims = Claims {
        sub: claim("sub").unwrap_or_else(|| format!("test-{}", role.as_str())),
        role,
        patronato: claim("patronato"),
        patronato_office: claim("patronato_office"),
        inps_office: claim("inps_office"),
        exp: chrono::Utc::now().timestamp() + 3600,
        nbf: None,
        iss: None,
        aud: None,
    };
    sign(&claims, &std::fs::read(dev_key("dev-jwt-private.pem"))?)
}

/// Polls `check` until it returns `Some`, or fails after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("condition not met within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
