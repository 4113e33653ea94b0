//! The service binaries as child processes, configured only through environment variables,
//! exactly as they are deployed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use combipat_platform::messaging::{Broker, declare_all, permissions};
use combipat_platform::settings::env_var_for;
use combipat_testkit::{
    BrokerTenant, TestBus, TestDatabase, eventually, http_get, overrides, services,
};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// Where cargo put the binaries: beside the running executable (a benchmark in
/// `<target>/release`) or one level up (a test in `<target>/debug/deps`).
fn binary(service: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let name = format!("combipat-{service}");
    let candidates: Vec<PathBuf> = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(&name))
        .collect();
    candidates
        .iter()
        .find(|path| path.exists())
        .cloned()
        .with_context(|| {
            format!(
                "{name} is missing beside {}: build the binaries first (`cargo nextest run --workspace` or `just test` builds them with the tests)",
                exe.display()
            )
        })
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
        replica: usize,
        database: &TestDatabase,
        bus: &TestBus,
        options: &Options,
        log_dir: &std::path::Path,
    ) -> anyhow::Result<Self> {
        let grpc_addr: SocketAddr =
            format!("127.0.0.1:{}", combipat_testkit::free_port()?).parse()?;
        let http_addr: SocketAddr =
            format!("127.0.0.1:{}", combipat_testkit::free_port()?).parse()?;
        let mut env: BTreeMap<String, String> = overrides(database, bus)
            .into_iter()
            .map(|(key, value)| (env_var_for(&key), value))
            .collect();
        env.insert(env_var_for("grpc.port"), grpc_addr.port().to_string());
        env.insert(env_var_for("http.port"), http_addr.port().to_string());
        env.insert(env_var_for("telemetry.log_format"), "json".into());
        for (key, value) in &options.settings {
            let variable = if key.contains('.') {
                env_var_for(key)
            } else {
                key.clone()
            };
            env.insert(variable, value.clone());
        }
        if let Some(otlp) = options.otlp {
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
            log: log_dir.join(format!("{name}-{replica}.log")),
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

    /// Sets (or, with `None`, removes) an environment variable for the next start.
    pub fn set_env(&mut self, key: &str, value: Option<&str>) {
        match value {
            Some(value) => self.env.insert(key.to_owned(), value.to_owned()),
            None => self.env.remove(key),
        };
    }

    /// Waits for the process to exit by itself (e.g. at a failpoint); returns its exit code.
    pub async fn wait_exit(&mut self, timeout: Duration) -> anyhow::Result<Option<i32>> {
        let mut child = self.child.take().context("not running")?;
        let status = tokio::time::timeout(timeout, child.wait())
            .await
            .with_context(|| format!("{} did not exit", self.name))??;
        Ok(status.code())
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The running process's id (for reading its CPU and memory in `/proc`).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref()?.id()
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

/// Which servers a [`System`] uses: the development ones unless a test brings its own.
#[derive(Debug, Clone, Default)]
pub struct Servers {
    /// One URL per broker node (a cluster's nodes, or a test's own broker).
    pub amqp_urls: Vec<String>,
    pub postgres_admin_url: Option<String>,
}

/// How a [`System`] is started.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub servers: Servers,
    pub otlp: Option<SocketAddr>,
    /// Processes per service (1 when 0).
    pub replicas: usize,
    /// Services prepared but not started (a test starts them later).
    pub deferred: Vec<&'static str>,
    /// Settings for every process, as `section.field` keys (e.g. the production retry
    /// schedule), or raw environment variables when the key has no dot.
    pub settings: Vec<(String, String)>,
    /// Each service connects to the broker as a user of its own with the permissions the
    /// catalogue gives it (no configure right: it only checks the topology, which the test
    /// declares first, as the deployment's topology step does), on a vhost of the test's own.
    pub broker_users: bool,
}

/// Points every gRPC client a service has (`[router]`, `[notifier]` in its defaults) at the
/// first replica of that service in this system, instead of the development ports.
fn wire_clients(processes: &mut [ServiceProcess]) -> anyhow::Result<()> {
    let addresses: BTreeMap<&str, SocketAddr> = processes
        .iter()
        .rev()
        .map(|process| (process.name, process.grpc_addr))
        .collect();
    for process in processes.iter_mut() {
        let defaults_path = combipat_testkit::workspace_root()
            .join("services")
            .join(process.name)
            .join("defaults.toml");
        let defaults = std::fs::read_to_string(&defaults_path)
            .with_context(|| format!("cannot read {}", defaults_path.display()))?;
        for (server, address) in &addresses {
            let section = server.replace('-', "_");
            if client_section(&defaults, &section) {
                let key = env_var_for(&format!("{section}.endpoint"));
                process.env.insert(key, format!("http://{address}"));
            }
        }
    }
    Ok(())
}

/// Declares the topology as guest (the deployment's topology step) and gives each process
/// the URL of its service's own broker user, which may only check it.
async fn connect_as_service_users(
    tenant: &mut BrokerTenant,
    bus: &TestBus,
    processes: &mut [ServiceProcess],
) -> anyhow::Result<()> {
    let broker = Broker::new("topology", bus.amqp_settings());
    let connection = broker.connect("topology").await?;
    declare_all(&connection.create_channel().await?, &broker).await?;
    let _closed = connection.close(200, "declared".into()).await;
    let names: Vec<&'static str> = services().iter().map(|service| service.name).collect();
    let permissions: Vec<_> = names
        .iter()
        .map(|service| permissions::of_service(&broker, service))
        .collect();
    let users: BTreeMap<&str, String> = names
        .iter()
        .copied()
        .zip(tenant.add_users(&permissions)?)
        .collect();
    for process in processes {
        let user = users
            .get(process.name)
            .with_context(|| format!("no broker user for {}", process.name))?;
        process
            .env
            .insert(env_var_for("amqp.url"), tenant.url(user));
        process
            .env
            .insert(env_var_for("amqp.declare_topology"), "false".into());
        // A user without the configure right could not declare an expired queue again.
        process
            .env
            .insert(env_var_for("amqp.queue_expires_ms"), "3600000".into());
    }
    Ok(())
}

/// Whether `defaults` has a `[section]` with an `endpoint` (a client of that service).
fn client_section(defaults: &str, section: &str) -> bool {
    config::Config::builder()
        .add_source(config::File::from_str(defaults, config::FileFormat::Toml))
        .build()
        .is_ok_and(|settings| settings.get_string(&format!("{section}.endpoint")).is_ok())
}

/// Every service of `services.txt`, each with its own database (shared by its replicas), all
/// on one test bus.
pub struct System {
    pub processes: Vec<ServiceProcess>,
    pub bus: TestBus,
    pub log_dir: PathBuf,
    /// The vhost and users of [`Options::broker_users`], deleted with the system.
    _broker_tenant: Option<BrokerTenant>,
}

impl System {
    pub async fn start(otlp: Option<SocketAddr>) -> anyhow::Result<Self> {
        Self::start_with(Options {
            otlp,
            ..Options::default()
        })
        .await
    }

    /// Every service on `servers` (a test's own broker or database server).
    pub async fn start_on(servers: &Servers, otlp: Option<SocketAddr>) -> anyhow::Result<Self> {
        Self::start_with(Options {
            servers: servers.clone(),
            otlp,
            ..Options::default()
        })
        .await
    }

    pub async fn start_with(mut options: Options) -> anyhow::Result<Self> {
        let mut tenant = None;
        if options.broker_users {
            let created = BrokerTenant::create()?;
            options.servers.amqp_urls = vec![created.url("guest")];
            tenant = Some(created);
        }
        let bus = match options.servers.amqp_urls.as_slice() {
            [] => TestBus::new(),
            [one] => TestBus::on(one),
            // A cluster: the services get every node; the test's own checks go to the last,
            // which a test that kills a node leaves alone.
            [.., last] => {
                let all = options.servers.amqp_urls.join(",");
                options.settings.push(("amqp.url".to_owned(), all));
                TestBus::on(last)
            }
        };
        let log_dir =
            std::env::temp_dir().join(format!("combipat-e2e-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&log_dir)?;
        let mut processes = Vec::new();
        for service in services() {
            let database = match &options.servers.postgres_admin_url {
                Some(admin) => TestDatabase::create_on(admin).await?,
                None => TestDatabase::create().await?,
            };
            for replica in 0..options.replicas.max(1) {
                processes.push(ServiceProcess::new(
                    service.name,
                    replica,
                    &database,
                    &bus,
                    &options,
                    &log_dir,
                )?);
            }
        }
        wire_clients(&mut processes)?;
        if let Some(tenant) = &mut tenant {
            connect_as_service_users(tenant, &bus, &mut processes).await?;
        }
        let mut system = Self {
            processes,
            bus,
            log_dir,
            _broker_tenant: tenant,
        };
        // In the list's order: consumers before producers.
        for process in &mut system.processes {
            if !options.deferred.contains(&process.name) {
                process.start().await?;
            }
        }
        if !options.deferred.contains(&"intake") {
            system.grant_mandates().await?;
        }
        Ok(system)
    }

    /// The first replica of `service`.
    pub fn service(&self, service: &str) -> &ServiceProcess {
        self.processes
            .iter()
            .find(|process| process.name == service)
            .unwrap_or_else(|| unreachable_service(service))
    }

    pub fn service_mut(&mut self, service: &str) -> &mut ServiceProcess {
        self.processes
            .iter_mut()
            .find(|process| process.name == service)
            .unwrap_or_else(|| unreachable_service(service))
    }

    /// Every replica of `service`.
    pub fn replicas_mut(&mut self, service: &str) -> impl Iterator<Item = &mut ServiceProcess> {
        let service = service.to_owned();
        self.processes
            .iter_mut()
            .filter(move |process| process.name == service)
    }

    pub fn intake(&self) -> &ServiceProcess {
        self.service("intake")
    }

    pub fn router(&self) -> &ServiceProcess {
        self.service("router")
    }

    pub fn office_queue(&self) -> &ServiceProcess {
        self.service("office-queue")
    }

    /// SIGTERM to every running process; each must exit 0.
    pub async fn stop_all(&mut self) -> anyhow::Result<()> {
        for process in &mut self.processes {
            if process.is_running() {
                let code = process.stop(Signal::SIGTERM).await?;
                anyhow::ensure!(
                    code == Some(0),
                    "{} did not stop cleanly ({code:?}): {}",
                    process.name,
                    process.log_tail()
                );
            }
        }
        Ok(())
    }

    /// The mandates the end-to-end requests need: INCA for the citizen of the fixtures.
    pub async fn grant_mandates(&self) -> anyhow::Result<()> {
        use combipat_proto::intake::v1::mandates_client::MandatesClient;
        use combipat_proto::intake::v1::{Mandate, PutMandatesRequest};
        let mut mandates =
            MandatesClient::new(combipat_testkit::grpc_channel(self.intake().grpc_addr).await?);
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

#[allow(
    clippy::panic,
    reason = "a test naming a service that does not exist is a broken test"
)]
fn unreachable_service(service: &str) -> ! {
    panic!("no service {service} in services.txt")
}
