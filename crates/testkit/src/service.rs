use std::net::SocketAddr;

use combipat_platform::{RunningService, ServiceDefinition};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// A service running inside the test process.
pub struct TestService {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl TestService {
    /// Starts service `S` in this process with `overrides` applied over its settings.
    pub async fn start<S: ServiceDefinition>(
        overrides: &[(String, String)],
    ) -> anyhow::Result<Self> {
        Self::start_with_clock::<S>(overrides, combipat_platform::clock::Clock::system()).await
    }

    /// [`Self::start`] with a clock the test moves (time-dependent rules without sleeping).
    pub async fn start_with_clock<S: ServiceDefinition>(
        overrides: &[(String, String)],
        clock: combipat_platform::clock::Clock,
    ) -> anyhow::Result<Self> {
        // Logs go to the test's captured output, shown when the test fails.
        let _already_installed = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info,sqlx=warn".to_owned()),
            )
            .try_init();
        let settings = combipat_platform::load_settings::<S>(overrides)?;
        Ok(Self::spawn(
            combipat_platform::start_with_clock::<S>(settings, clock).await?,
        ))
    }

    pub fn spawn(service: RunningService) -> Self {
        let grpc_addr = service.grpc_addr();
        let http_addr = service.http_addr();
        let stop = service.stop_token();
        let task = tokio::spawn(service.run_until_stopped());
        Self {
            grpc_addr,
            http_addr,
            stop,
            task,
        }
    }

    /// The graceful shutdown, as on SIGTERM; returns the service's own result.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.stop.cancel();
        self.task.await?
    }

    /// Waits until the service's `/metrics` has `line` (e.g. `name{label="x"} 1`).
    pub async fn wait_for_metric(&self, line: &str) -> anyhow::Result<()> {
        crate::eventually(std::time::Duration::from_secs(10), || async move {
            Ok(self
                .metrics()
                .await?
                .lines()
                .any(|candidate| candidate == line)
                .then_some(()))
        })
        .await
        .map_err(|error| anyhow::anyhow!("{error}: no metric line `{line}`"))
    }

    /// The service's `/metrics` text.
    pub async fn metrics(&self) -> anyhow::Result<String> {
        http_get(self.http_addr, "/metrics").await
    }
}

/// A minimal HTTP/1.1 GET, enough for the admin port in tests.
pub async fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response)
}

pub async fn grpc_channel(addr: SocketAddr) -> anyhow::Result<Channel> {
    Ok(Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?)
}

/// A request carrying `token` as its bearer token.
pub fn with_token<T>(message: T, token: &str) -> anyhow::Result<tonic::Request<T>> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    Ok(request)
}
