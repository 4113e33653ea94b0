//! Reporting's own metric names (the stream reader's lag and outcomes are the platform's:
//! `combipat_stream_lag_seconds{reader}`, `combipat_stream_events_total{reader,outcome}`).

/// Requests whose fact changed, by generation.
pub const FACTS_CHANGED: &str = "combipat_reporting_facts_changed_total";
/// Cells whose sums a batch moved, by generation.
pub const CELLS_WRITTEN: &str = "combipat_reporting_cells_written_total";
/// Figures computed for an answer (a table, a summary, a series, a page), by what.
pub const FIGURES_COMPUTED: &str = "combipat_reporting_figures_computed_total";
/// How long computing them took, by what.
pub const FIGURES_SECONDS: &str = "combipat_reporting_figures_seconds";
/// Monthly reports frozen.
pub const REPORTS_FROZEN: &str = "combipat_reporting_reports_frozen_total";
/// Rebuilds by outcome (started, switched).
pub const REBUILDS: &str = "combipat_reporting_rebuilds_total";
/// The active generation.
pub const ACTIVE_GENERATION: &str = "combipat_reporting_active_generation";
