//! What a run costs, read from `/proc` and from PostgreSQL: CPU time of the whole machine and
//! of each process that matters (the services, PostgreSQL, RabbitMQ, the generator), the
//! services' peak resident memory, and the database connections in use.
//!
//! The machine's total (`/proc/stat`) is the figure that counts: it includes every process,
//! those that started and ended during the run too. The per-process figures say where it went.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::PgPool;

/// Clock ticks per second of `/proc`'s times (`getconf CLK_TCK`; 100 on Linux/x86).
fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Busy CPU seconds of the whole machine since boot (all but idle and iowait).
fn machine_busy_ticks() -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat
        .lines()
        .next()
        .ok_or_else(|| anyhow::anyhow!("/proc/stat is empty"))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    Ok(total.saturating_sub(idle))
}

/// utime + stime of one process, in ticks; `None` if it has gone.
fn process_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command may contain spaces: the fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state(0) ... utime is field 14 of the line, 11 after ')'.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Peak resident set size of a process (`VmHWM`), in bytes.
pub fn peak_rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Every live process whose command name is `name` (e.g. `postgres`, `beam.smp`).
fn pids_named(name: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == name)
        })
        .collect()
}

/// A reading of CPU times: the machine's, and per group of processes.
#[derive(Debug, Clone)]
pub struct CpuReading {
    at: Instant,
    machine: u64,
    groups: BTreeMap<String, BTreeMap<u32, u64>>,
}

/// The processes to read: each service by pid, and the servers and generator by name.
#[derive(Debug, Clone)]
pub struct Watched {
    pub services: Vec<(String, u32)>,
}

impl Watched {
    pub fn read(&self) -> anyhow::Result<CpuReading> {
        let mut groups: BTreeMap<String, BTreeMap<u32, u64>> = BTreeMap::new();
        for (name, pid) in &self.services {
            if let Some(ticks) = process_ticks(*pid) {
                groups.entry(name.clone()).or_default().insert(*pid, ticks);
            }
        }
        for (group, comm) in [("postgresql", "postgres"), ("rabbitmq", "beam.smp")] {
            let entry = groups.entry(group.to_owned()).or_default();
            for pid in pids_named(comm) {
                if let Some(ticks) = process_ticks(pid) {
                    entry.insert(pid, ticks);
                }
            }
        }
        if let Some(ticks) = process_ticks(std::process::id()) {
            groups
                .entry("generator".to_owned())
                .or_default()
                .insert(std::process::id(), ticks);
        }
        Ok(CpuReading {
            at: Instant::now(),
            machine: machine_busy_ticks()?,
            groups,
        })
    }
}

/// CPU spent between two readings, per request carried meanwhile.
#[derive(Debug, Clone, Serialize)]
pub struct CpuCost {
    pub window_seconds: f64,
    pub requests: usize,
    /// Busy CPU of the whole machine, in cores (2.0 = both cores busy).
    pub machine_cores: f64,
    /// The machine's busy CPU per request, in milliseconds.
    pub machine_ms_per_request: f64,
    /// Per group (each service, postgresql, rabbitmq, generator): ms of CPU per request. A
    /// process that exists in only one reading is left out of its group.
    pub ms_per_request: BTreeMap<String, f64>,
}

impl CpuCost {
    pub fn between(before: &CpuReading, after: &CpuReading, requests: usize) -> Self {
        let ticks = ticks_per_second();
        let window = after.at.saturating_duration_since(before.at);
        let per_request =
            |delta_ticks: u64| delta_ticks as f64 / ticks * 1000.0 / (requests.max(1) as f64);
        let ms_per_request = after
            .groups
            .iter()
            .map(|(group, pids)| {
                let delta: u64 = pids
                    .iter()
                    .filter_map(|(pid, ticks)| {
                        let earlier = before.groups.get(group)?.get(pid)?;
                        Some(ticks.saturating_sub(*earlier))
                    })
                    .sum();
                (group.clone(), per_request(delta))
            })
            .collect();
        let machine = after.machine.saturating_sub(before.machine);
        Self {
            window_seconds: window.as_secs_f64(),
            requests,
            machine_cores: machine as f64 / ticks / window.as_secs_f64().max(f64::EPSILON),
            machine_ms_per_request: per_request(machine),
            ms_per_request,
        }
    }
}

/// Samples the client connections to each service's database every second until told to
/// stop; returns the peak per service and of the sum (`all`).
pub struct ConnectionSampler {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<BTreeMap<String, i64>>,
}

impl ConnectionSampler {
    /// `databases`: (service, database name) pairs.
    pub fn start(pool: PgPool, databases: Vec<(String, String)>) -> Self {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let names: Vec<String> = databases.iter().map(|(_, name)| name.clone()).collect();
            let mut peak: BTreeMap<String, i64> = BTreeMap::new();
            loop {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT datname::text, count(*) FROM pg_stat_activity
                     WHERE backend_type = 'client backend' AND datname = ANY($1)
                       AND pid <> pg_backend_pid()
                     GROUP BY datname",
                )
                .bind(&names)
                .fetch_all(&pool)
                .await
                .unwrap_or_default();
                let total: i64 = rows.iter().map(|(_, count)| count).sum();
                let by_service = rows.into_iter().filter_map(|(database, count)| {
                    let service = databases.iter().find(|(_, name)| *name == database)?;
                    Some((service.0.clone(), count))
                });
                for (service, count) in by_service.chain([("all".to_owned(), total)]) {
                    let entry = peak.entry(service).or_default();
                    *entry = (*entry).max(count);
                }
                tokio::select! {
                    _ = stopped.changed() => return peak,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        });
        Self { stop, task }
    }

    pub async fn finish(self) -> anyhow::Result<BTreeMap<String, i64>> {
        let _sent = self.stop.send(true);
        Ok(self.task.await?)
    }
}

/// Commits so far in each service's database (`pg_stat_database.xact_commit`), by service:
/// read before and after a window, they say how many commits a request costs where.
pub async fn commits(
    pool: &PgPool,
    databases: &[(String, String)],
) -> anyhow::Result<BTreeMap<String, i64>> {
    let names: Vec<&str> = databases.iter().map(|(_, name)| name.as_str()).collect();
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT datname::text, xact_commit FROM pg_stat_database WHERE datname = ANY($1)",
    )
    .bind(&names)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(database, count)| {
            let service = databases.iter().find(|(_, name)| *name == database)?;
            Some((service.0.clone(), count))
        })
        .collect())
}

/// Commits per request in each service's database between two readings of [`commits`].
pub fn commits_per_request(
    before: &BTreeMap<String, i64>,
    after: &BTreeMap<String, i64>,
    requests: usize,
) -> BTreeMap<String, f64> {
    after
        .iter()
        .filter_map(|(service, count)| {
            let delta = count - before.get(service)?;
            Some((service.clone(), delta as f64 / requests.max(1) as f64))
        })
        .collect()
}
