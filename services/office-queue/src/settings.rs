use serde::Deserialize;

pub const DEFAULTS: &str = include_str!("../defaults.toml");

/// This service's own sections; the platform's come with them.
#[derive(Debug, Clone, Deserialize)]
pub struct OfficeQueueSettings {
    pub router: combipat_platform::grpc_client::ClientSettings,
    /// Notifier, where the console's "Avvisi" publishes and reads the counts.
    pub notifier: combipat_platform::grpc_client::ClientSettings,
    pub sla: combipat_domain::sla::SlaPolicy,
    pub attachments: combipat_platform::files::FileStoreSettings,
    pub rate_limit: combipat_platform::rate_limit::RateLimitSettings,
    /// The office console's pages (`console/`).
    pub pages: combipat_web::PageSettings,
}
