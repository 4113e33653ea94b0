//! Servers of a test's own, for the tests that restart one: a RabbitMQ node and a
//! PostgreSQL cluster on free ports, with their data in a temporary directory, so that the
//! rest of the suite (on the development servers) is not disturbed. Both run as their
//! system users (`rabbitmq`, `postgres`) when the test runs as root, as their packages do.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use tokio::process::{Child, Command};

async fn wait_for_port(port: u16, what: &str, log: &std::path::Path) -> anyhow::Result<()> {
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = std::fs::read_to_string(log).unwrap_or_default();
    anyhow::bail!("{what} did not open port {port}; its log:\n{log}")
}

fn temp_dir(kind: &str) -> anyhow::Result<PathBuf> {
    let dir =
        std::env::temp_dir().join(format!("combipat-{kind}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Hands `dir` to `user` (when running as root), so that the server may write there.
fn give_to(dir: &std::path::Path, user: &str) -> anyhow::Result<()> {
    if nix::unistd::Uid::effective().is_root() {
        let status = std::process::Command::new("chown")
            .args(["-R", &format!("{user}:{user}")])
            .arg(dir)
            .status()?;
        anyhow::ensure!(status.success(), "cannot chown {}", dir.display());
    }
    Ok(())
}

/// A RabbitMQ node of the test's own.
pub struct OwnRabbitMq {
    dir: PathBuf,
    node: String,
    port: u16,
    dist_port: u16,
    child: Option<Child>,
}

impl OwnRabbitMq {
    pub async fn start() -> anyhow::Result<Self> {
        let dir = temp_dir("rabbitmq")?;
        let port = combipat_testkit::free_port()?;
        std::fs::write(
            dir.join("rabbitmq.conf"),
            format!("listeners.tcp.local = 127.0.0.1:{port}\nloopback_users = none\n"),
        )?;
        std::fs::write(dir.join("enabled_plugins"), "[].\n")?;
        std::fs::create_dir_all(dir.join("log"))?;
        std::fs::create_dir_all(dir.join("mnesia"))?;
        give_to(&dir, "rabbitmq")?;
        let mut node = Self {
            node: format!("combipat-{port}@localhost"),
            dist_port: combipat_testkit::free_port()?,
            port,
            dir,
            child: None,
        };
        node.launch().await?;
        Ok(node)
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    async fn launch(&mut self) -> anyhow::Result<()> {
        let dir = &self.dir;
        let log = dir.join("server.log");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let child = Command::new("rabbitmq-server")
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_CONFIG_FILE", dir.join("rabbitmq.conf"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("enabled_plugins"))
            .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
            .env("RABBITMQ_MNESIA_DIR", dir.join("mnesia").join(&self.node))
            .env("RABBITMQ_FEATURE_FLAGS_FILE", dir.join("feature_flags"))
            .env("RABBITMQ_LOG_BASE", dir.join("log"))
            .env("RABBITMQ_PID_FILE", dir.join("pid"))
            .stdout(Stdio::from(out.try_clone()?))
            .stderr(Stdio::from(out))
            .kill_on_drop(true)
            .spawn()
            .context("cannot run rabbitmq-server")?;
        self.child = Some(child);
        wait_for_port(self.port, "RabbitMQ", &log).await
    }

    /// Stops the node cleanly (its data kept) and starts it again on the same port and data.
    pub async fn restart(&mut self, down_for: Duration) -> anyhow::Result<()> {
        self.stop().await?;
        tokio::time::sleep(down_for).await;
        self.launch().await
    }

    /// SIGKILL to the node's Erlang VM (no shutdown, nothing flushed), then a start on the
    /// same port and data.
    pub async fn kill_and_restart(&mut self, down_for: Duration) -> anyhow::Result<()> {
        self.kill().await?;
        tokio::time::sleep(down_for).await;
        self.launch().await
    }

    /// SIGKILL to the node's Erlang VM, found through the node itself (the server runs under
    /// `su`, so our child is not the VM).
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        let output = Command::new("rabbitmqctl")
            .args(["-n", &self.node, "eval", "os:getpid()."])
            .output()
            .await
            .context("cannot run rabbitmqctl")?;
        let pid: i32 = String::from_utf8_lossy(&output.stdout)
            .trim()
            .trim_matches('"')
            .parse()
            .with_context(|| {
                format!(
                    "no pid from node {}: {}",
                    self.node,
                    String::from_utf8_lossy(&output.stderr)
                )
            })?;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )?;
        self.wait_until_gone("survived SIGKILL").await
    }

    /// Waits for the child to end and the port to close; fails saying `otherwise`.
    async fn wait_until_gone(&mut self, otherwise: &str) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
        }
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_err()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("RabbitMQ on port {} {otherwise}", self.port)
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// A memory alarm at will: while `blocked`, the broker blocks every publishing
    /// connection (it accepts the connection, then stops reading what it publishes).
    pub async fn block_publishers(&self, blocked: bool) -> anyhow::Result<()> {
        self.ctl(&[
            "set_vm_memory_high_watermark",
            if blocked { "0" } else { "0.4" },
        ])
        .await
    }

    /// `rabbitmqctl -n <node> ARGS`, failing with its output.
    async fn ctl(&self, args: &[&str]) -> anyhow::Result<()> {
        let output = Command::new("rabbitmqctl")
            .args(["-n", &self.node])
            .args(args)
            .output()
            .await
            .context("cannot run rabbitmqctl")?;
        anyhow::ensure!(
            output.status.success(),
            "rabbitmqctl {args:?} on {} failed: {}{}",
            self.node,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    }

    /// `rabbitmqctl stop`: a clean broker shutdown that keeps its data. (The server runs
    /// under `su`, so a signal to our child would not reach the Erlang VM.)
    async fn stop(&mut self) -> anyhow::Result<()> {
        let output = Command::new("rabbitmqctl")
            .args(["-n", &self.node, "stop"])
            .output()
            .await
            .context("cannot run rabbitmqctl")?;
        anyhow::ensure!(
            output.status.success(),
            "rabbitmqctl stop failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        self.wait_until_gone("did not stop").await
    }
}

impl Drop for OwnRabbitMq {
    fn drop(&mut self) {
        let _ = std::process::Command::new("rabbitmqctl")
            .args(["-n", &self.node, "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A RabbitMQ cluster of the test's own: nodes on their own ports and data directories,
/// joined to the first.
pub struct OwnRabbitCluster {
    pub nodes: Vec<OwnRabbitMq>,
}

impl OwnRabbitCluster {
    pub async fn start(size: usize) -> anyhow::Result<Self> {
        let mut nodes = Vec::with_capacity(size);
        for _ in 0..size {
            nodes.push(OwnRabbitMq::start().await?);
        }
        let first = nodes[0].node().to_owned();
        for node in &nodes[1..] {
            node.ctl(&["await_startup"]).await?;
            node.ctl(&["stop_app"]).await?;
            node.ctl(&["join_cluster", &first]).await?;
            node.ctl(&["start_app"]).await?;
        }
        Ok(Self { nodes })
    }

    /// Every node's URL, as `amqp.url` takes them.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(OwnRabbitMq::url).collect()
    }
}

/// A PostgreSQL cluster of the test's own (trust authentication on 127.0.0.1).
pub struct OwnPostgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
}

impl OwnPostgres {
    pub async fn start() -> anyhow::Result<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .context("PostgreSQL's server binaries are not in /usr/lib/postgresql")?
            .filter_map(Result::ok)
            .map(|entry| entry.path().join("bin"))
            .filter(|bin| bin.join("pg_ctl").exists())
            .max()
            .context("no pg_ctl under /usr/lib/postgresql")?;
        let dir = temp_dir("postgres")?;
        give_to(&dir, "postgres")?;
        let own = Self {
            port: combipat_testkit::free_port()?,
            dir,
            bin,
        };
        own.run(
            "initdb",
            &[
                "-D",
                &own.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        )
        .await?;
        own.pg_ctl("start").await?;
        Ok(own)
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `tool` of the cluster's PostgreSQL, as the `postgres` user when the test is root.
    fn command(&self, tool: &str) -> std::process::Command {
        let program = self.bin.join(tool);
        if nix::unistd::Uid::effective().is_root() {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            std::process::Command::new(program)
        }
    }

    async fn run(&self, tool: &str, args: &[&str]) -> anyhow::Result<()> {
        let mut command = Command::from(self.command(tool));
        let output = command.args(args).current_dir(&self.dir).output().await?;
        anyhow::ensure!(
            output.status.success(),
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    }

    async fn pg_ctl(&self, action: &str) -> anyhow::Result<()> {
        self.pg_ctl_mode(action, "fast").await
    }

    async fn pg_ctl_mode(&self, action: &str, mode: &str) -> anyhow::Result<()> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-o",
                &options,
                "-w",
                "-m",
                mode,
                action,
            ],
        )
        .await
    }

    /// An immediate shutdown (as a crash: no checkpoint, every connection cut; recovery on
    /// the next start) and a start on the same port and data.
    pub async fn crash_and_restart(&self, down_for: Duration) -> anyhow::Result<()> {
        self.pg_ctl_mode("stop", "immediate").await?;
        tokio::time::sleep(down_for).await;
        self.pg_ctl("start").await
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .current_dir(&self.dir)
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
