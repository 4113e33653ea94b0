//! Shared pieces of the benchmarks: latency summaries and where results are written, the
//! load generator's traffic model and report, and the database-alone measurement.

pub mod broker_limit;
pub mod db_limit;
pub mod load_report;
pub mod report;
pub mod resources;
pub mod traffic;

use std::path::PathBuf;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latency percentiles in milliseconds, and the throughput of one run.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub name: String,
    pub messages: u64,
    pub seconds: f64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Summary {
    pub fn new(name: &str, latencies: &Histogram<u64>, elapsed: Duration) -> Self {
        let ms = |micros: u64| micros as f64 / 1000.0;
        let messages = latencies.len();
        Self {
            name: name.to_owned(),
            messages,
            seconds: elapsed.as_secs_f64(),
            per_second: messages as f64 / elapsed.as_secs_f64().max(f64::EPSILON),
            p50_ms: ms(latencies.value_at_quantile(0.50)),
            p90_ms: ms(latencies.value_at_quantile(0.90)),
            p99_ms: ms(latencies.value_at_quantile(0.99)),
            max_ms: ms(latencies.max()),
        }
    }

    pub fn line(&self) -> String {
        format!(
            "{:<28} {:>8} msgs {:>9.0}/s  p50 {:>7.2} ms  p90 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
            self.name,
            self.messages,
            self.per_second,
            self.p50_ms,
            self.p90_ms,
            self.p99_ms,
            self.max_ms
        )
    }
}

/// A histogram of microseconds from 1 µs to 10 minutes.
pub fn latency_histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 600_000_000, 3)?)
}

/// `target/bench` (or `$CARGO_TARGET_DIR/bench`), created.
pub fn results_dir() -> anyhow::Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| combipat_testkit::workspace_root().join("target"));
    let dir = target.join("bench");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
