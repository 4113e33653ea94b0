use combipat_domain::TerritorySettings;
use serde::Deserialize;

pub const DEFAULTS: &str = include_str!("../defaults.toml");

/// This service's own sections; the platform's come with them.
#[derive(Debug, Clone, Deserialize)]
pub struct RouterSettings {
    pub territory: TerritorySettings,
    pub directory: DirectorySettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectorySettings {
    /// A directory file loaded and activated at start when no ruleset is active yet
    /// (local development and tests). Empty: an admin loads one.
    pub bootstrap_path: String,
    /// How often each replica checks the active ruleset besides the activation notice.
    pub reload_interval_ms: u64,
}
