//! Reporting: figures for the regional technical tables, from every event in the history stream.

mod settings;

use combipat_platform::{RunningService, ServiceContext, ServiceDefinition};
use sqlx::migrate::Migrator;
use tonic::service::Routes;

pub const SERVICE_NAME: &str = "reporting";

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

pub struct Service;

impl ServiceDefinition for Service {
    const NAME: &'static str = SERVICE_NAME;
    const DEFAULTS: &'static str = settings::DEFAULTS;
    type Own = settings::ReportingSettings;

    fn migrations() -> &'static Migrator {
        &MIGRATIONS
    }

    async fn build(_own: Self::Own, context: ServiceContext) -> anyhow::Result<RunningService> {
        context
            .bind(Routes::default(), Vec::new(), axum::Router::new())
            .await
    }
}
