use serde::Deserialize;

pub const DEFAULTS: &str = include_str!("../defaults.toml");

/// This service's own sections; the platform's come with them.
#[derive(Debug, Clone, Deserialize)]
pub struct OfficeQueueSettings {
    pub router: RouterClientSettings,
    pub sla: combipat_domain::sla::SlaPolicy,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterClientSettings {
    pub endpoint: String,
    pub timeout_ms: u64,
}
