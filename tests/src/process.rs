//! The service binaries as child processes, configured only through environment variables,
//! exactly as they are deployed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use combipat_platform::settings::env_var_for;
use combipat_testkit::{TestBus, TestDatabase, eventually, http_get, overrides};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// Where cargo put the binaries: beside this test's own executable (`<target>/debug`).
fn binary(service: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .context("unexpected test executable location")?;
    let path = dir.join(format!("combipat-{service}"));
    anyhow::ensure!(
        path.exists(),
        "{} is missing: build the binaries first (`cargo build --bins`; `just test` does)",
        path.display()
    );
    Ok(path)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// One service binary: how to start it again, and the running child.
pub struct ServiceProcess {
    pub name: &'static str,
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    env: BTreeMap<String, String>,
    log: PathBuf,
    child: Option<Child>,
}

impl ServiceProcess {
    fn new(
        name: &'static str,
        database: &TestDatabase,
        bus: &TestBus,
        otlp: Option<SocketAddr>,
        log_dir: &std::path::Path,
    ) -> anyhow::Result<Self> {
        let grpc_addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
        let http_addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
        let mut env: BTreeMap<String, String> = overrides(database, bus)
            .into_iter()
            .map(|(key, value)| (env_var_for(&key), value))
            .collect();
        env.insert(env_var_for("grpc.port"), grpc_addr.port().to_string());
        env.insert(env_var_for("http.port"), http_addr.port().to_string());
        env.insert(env_var_for("telemetry.log_format"), "json".into());
        if let Some(otlp) = otlp {
            env.insert(
                "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
                format!("http://{otlp}"),
            );
            env.insert("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into());
        }
        Ok(Self {
            name,
            grpc_addr,
            http_addr,
            env,
            log: log_dir.join(format!("{name}.log")),
            child: None,
        })
    }

    /// Starts the binary and waits until `/health/readyz` answers 200.
    pub async fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new(binary(self.name)?)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&self.env)
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", self.name))?;
        self.child = Some(child);
        let http_addr = self.http_addr;
        let ready = eventually(Duration::from_secs(30), || async move {
            Ok(http_get(http_addr, "/health/readyz")
                .await
                .ok()
                .filter(|response| response.starts_with("HTTP/1.1 200")))
        })
        .await;
        ready.with_context(|| {
            format!(
                "{} did not become ready; its log: {}",
                self.name,
                self.log_tail()
            )
        })?;
        Ok(())
    }

    /// Sends `signal` and waits for the process to exit; returns its exit code.
    pub async fn stop(&mut self, signal: Signal) -> anyhow::Result<Option<i32>> {
        let mut child = self.child.take().context("not running")?;
        let pid = child.id().context("already exited")?;
        kill(Pid::from_raw(i32::try_from(pid)?), signal)?;
        let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .with_context(|| format!("{} did not exit after {signal}", self.name))??;
        Ok(status.code())
    }

    /// The database this service runs on.
    pub fn database_url(&self) -> Option<&str> {
        self.env.get("COMBIPAT__DATABASE__URL").map(String::as_str)
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// intake, router and office-queue, each with its own database, sharing one test bus.
pub struct System {
    pub intake: ServiceProcess,
    pub router: ServiceProcess,
    pub office_queue: ServiceProcess,
    pub log_dir: PathBuf,
}

/// Which servers a [`System`] uses: the development ones unless a test brings its own.
#[derive(Debug, Clone, Default)]
pub struct Servers {
    pub amqp_url: Option<String>,
    pub postgres_admin_url: Option<String>,
}

impl System {
    pub async fn start(otlp: Option<SocketAddr>) -> anyhow::Result<Self> {
        Self::start_on(&Servers::default(), otlp).await
    }

    /// The three services on `servers` (a test's own broker or database server).
    pub async fn start_on(servers: &Servers, otlp: Option<SocketAddr>) -> anyhow::Result<Self> {
        let bus = match &servers.amqp_url {
            Some(url) => TestBus::on(url),
            None => TestBus::new(),
        };
        let database = || async {
            match &servers.postgres_admin_url {
                Some(admin) => TestDatabase::create_on(admin).await,
                None => TestDatabase::create().await,
            }
        };
        let log_dir =
            std::env::temp_dir().join(format!("combipat-e2e-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&log_dir)?;
        let mut system = Self {
            intake: ServiceProcess::new("intake", &database().await?, &bus, otlp, &log_dir)?,
            router: ServiceProcess::new("router", &database().await?, &bus, otlp, &log_dir)?,
            office_queue: ServiceProcess::new(
                "office-queue",
                &database().await?,
                &bus,
                otlp,
                &log_dir,
            )?,
            log_dir,
        };
        // Consumers first, so that every event has a queue to go to.
        system.office_queue.start().await?;
        system.router.start().await?;
        system.intake.start().await?;
        system.grant_mandates().await?;
        Ok(system)
    }

    /// The mandates the end-to-end requests need: INCA for the citizen of the fixtures.
    async fn grant_mandates(&self) -> anyhow::Result<()> {
        use combipat_proto::intake::v1::mandates_client::MandatesClient;
        use combipat_proto::intake::v1::{Mandate, PutMandatesRequest};
        let mut mandates =
            MandatesClient::new(combipat_testkit::grpc_channel(self.intake.grpc_addr).await?);
        let admin = combipat_testkit::token(combipat_platform::auth::Role::Admin, &[])?;
        mandates
            .put_mandates(combipat_testkit::with_token(
                PutMandatesRequest {
                    mandates: vec![Mandate {
                        patronato: "INCA".into(),
                        codice_fiscale: "RSSMRA85T10A562S".into(),
                        reference: "e2e".into(),
                        ..Mandate::default()
                    }],
                },
                &admin,
            )?)
            .await?;
        Ok(())
    }
}
