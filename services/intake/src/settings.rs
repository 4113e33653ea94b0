use combipat_domain::TerritorySettings;
use serde::Deserialize;

pub const DEFAULTS: &str = include_str!("../defaults.toml");

/// This service's own sections; the platform's come with them.
#[derive(Debug, Clone, Deserialize)]
pub struct IntakeSettings {
    pub territory: TerritorySettings,
    pub router: combipat_platform::grpc_client::ClientSettings,
    pub attachments: combipat_platform::files::FileStoreSettings,
    pub rate_limit: combipat_platform::rate_limit::RateLimitSettings,
    pub pages: combipat_web::PageSettings,
    pub notifier: combipat_platform::grpc_client::ClientSettings,
    pub retention: crate::retention::RetentionSettings,
    pub submissions: SubmissionSettings,
}

/// The writers that settle submissions in batches (group commit, `group_submit`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmissionSettings {
    /// Batches settled at once, each on a connection of its own (at most the pool's size).
    pub writers: usize,
    /// Submissions settled in one transaction at most.
    pub max_batch: usize,
}
