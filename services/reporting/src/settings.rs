use serde::Deserialize;

pub const DEFAULTS: &str = include_str!("../defaults.toml");

/// This service's own sections; the platform's come with them.
#[derive(Debug, Clone, Deserialize)]
pub struct ReportingSettings {
    pub reporting: Figures,
    pub territory: combipat_domain::territory::TerritorySettings,
    pub router: combipat_platform::grpc_client::ClientSettings,
    pub pages: crate::pages::PageSettings,
}

/// `[reporting]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Figures {
    /// A figure of an office's or a patronato's cell resting on fewer requests, answers or
    /// ratings than this is shown as "< N".
    pub small_cell_threshold: u32,
    /// A closed month is frozen once the reader has read past its end, or has been idle
    /// this long.
    pub freeze_after_minutes: u32,
    pub freeze_interval_ms: u64,
    /// How often each replica looks for a rebuild to run or to switch to.
    pub rebuild_interval_ms: u64,
    /// How long a retired generation's tables are kept after the switch (answers still
    /// reading it finish).
    pub retired_kept_seconds: u32,
}
