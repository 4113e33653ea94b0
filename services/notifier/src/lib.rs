//! Notifier: tells the patronati what happened to their requests: in the inbox, by e-mail and to their own systems (webhooks).

mod settings;

use combipat_platform::{RunningService, ServiceContext, ServiceDefinition};
use sqlx::migrate::Migrator;
use tonic::service::Routes;

pub const SERVICE_NAME: &str = "notifier";

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

pub struct Service;

impl ServiceDefinition for Service {
    const NAME: &'static str = SERVICE_NAME;
    const DEFAULTS: &'static str = settings::DEFAULTS;
    type Own = settings::NotifierSettings;

    fn migrations() -> &'static Migrator {
        &MIGRATIONS
    }

    async fn build(_own: Self::Own, context: ServiceContext) -> anyhow::Result<RunningService> {
        context
            .bind(Routes::default(), Vec::new(), axum::Router::new())
            .await
    }
}
