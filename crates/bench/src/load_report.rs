//! The load generator's result: its figures as JSON and as a Markdown report.

use std::collections::BTreeMap;

use crate::resources::CpuCost;
use crate::{Summary, db_limit};

/// One run's figures, as the JSON result and the Markdown report give them.
#[derive(serde::Serialize)]
pub struct Outcome {
    pub label: String,
    pub seconds: u64,
    pub cores: usize,
    pub offered: usize,
    pub accepted: usize,
    pub refused: usize,
    pub refused_by_code: BTreeMap<String, usize>,
    pub refused_with_retry_hint: usize,
    pub refused_in_recovery: usize,
    pub refusals: Option<Summary>,
    pub filed: usize,
    pub lost: usize,
    /// Accepted, still on its way when the wait for the backlog ended (DRAIN).
    pub not_filed_in_time: usize,
    pub carried: f64,
    pub db_alone: f64,
    pub broker_alone: f64,
    pub cpu: CpuCost,
    pub commits_per_request: BTreeMap<String, f64>,
    pub peak_rss_mb: BTreeMap<String, f64>,
    pub peak_connections: BTreeMap<String, i64>,
    pub summaries: [Summary; 3],
}

impl Outcome {
    pub fn markdown(&self, stem: &str) -> String {
        let mut text = format!(
            "# Load: {}, {} s, {} cores\n\n| stage | requests | per second | p50 ms | p90 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|\n",
            self.label, self.seconds, self.cores
        );
        for summary in self.summaries.iter().chain(self.refusals.as_ref()) {
            text.push_str(&format!(
                "| {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
                summary.name,
                summary.messages,
                summary.per_second,
                summary.p50_ms,
                summary.p90_ms,
                summary.p99_ms,
                summary.max_ms
            ));
        }
        text.push_str(&format!(
            "\nOffered {}, accepted {}, refused {} ({:?}; {} with a retry hint, {} in the recovery phase), filed {}, lost {}, not filed within 180 s of the end {}. Carried end to end: {:.0} requests/s; PostgreSQL alone with the same writes: {:.0}/s (ratio {:.2}); RabbitMQ alone: {:.0} messages/s (ratio {:.3}).\n",
            self.offered,
            self.accepted,
            self.refused,
            self.refused_by_code,
            self.refused_with_retry_hint,
            self.refused_in_recovery,
            self.filed,
            self.lost,
            self.not_filed_in_time,
            self.carried,
            self.db_alone,
            self.carried / self.db_alone,
            self.broker_alone,
            self.carried / self.broker_alone
        ));
        text.push_str(&format!(
            "\nCPU over {:.0} s of steady sending ({} requests filed in it): the machine {:.2} cores busy, {:.2} ms per request; by process (ms per request): {}.\n",
            self.cpu.window_seconds,
            self.cpu.requests,
            self.cpu.machine_cores,
            self.cpu.machine_ms_per_request,
            self.cpu
                .ms_per_request
                .iter()
                .map(|(group, ms)| format!("{group} {ms:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        text.push_str(&format!(
            "\nCommits per request in the same window, by service: {} (the model of PostgreSQL alone: {}).\n",
            self.commits_per_request
                .iter()
                .map(|(service, commits)| format!("{service} {commits:.2}"))
                .collect::<Vec<_>>()
                .join(", "),
            db_limit::commits_per_request()
        ));
        text.push_str(&format!(
            "\nPeak RSS (MB): {}. PostgreSQL client connections, peak: {}.\n\n![submit -> filed]({stem}.svg)\n",
            self.peak_rss_mb
                .iter()
                .map(|(name, mb)| format!("{name} {mb:.0}"))
                .collect::<Vec<_>>()
                .join(", "),
            self.peak_connections
                .iter()
                .map(|(database, count)| format!("{database} {count}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        text
    }
}
