//! Intake: where patronato operators file requests for citizens.

mod api;
mod settings;
mod store;
pub mod validation;

use std::sync::Arc;

use anyhow::Context as _;
use combipat_platform::cli::ServiceDefinition;
use combipat_platform::{RunningService, ServiceContext};
use combipat_proto::intake::v1::intake_server::IntakeServer;
use sqlx::migrate::Migrator;
use tonic::service::Routes;

pub use settings::Settings;

pub const SERVICE_NAME: &str = "intake";

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

pub struct Service;

impl ServiceDefinition for Service {
    const NAME: &'static str = SERVICE_NAME;
    const DEFAULTS: &'static str = settings::DEFAULTS;
    type Own = settings::IntakeSettings;

    fn migrations() -> &'static Migrator {
        &MIGRATIONS
    }

    async fn build(settings: Settings) -> anyhow::Result<RunningService> {
        build(settings).await
    }
}

/// Loads settings with test overrides applied last.
pub fn load_settings(overrides: &[(String, String)]) -> anyhow::Result<Settings> {
    combipat_platform::settings::load(settings::DEFAULTS, overrides)
}

pub async fn build(settings: Settings) -> anyhow::Result<RunningService> {
    let territory = Arc::new(
        settings
            .service
            .territory
            .load()
            .context("cannot load the ANPR territory (territory.*)")?,
    );
    let context = ServiceContext::start(SERVICE_NAME, settings.platform, &MIGRATIONS).await?;
    let api = IntakeServer::with_interceptor(
        api::IntakeApi {
            pool: context.pool.clone(),
            territory,
            outbox: context.outbox.clone(),
        },
        context.auth_interceptor(),
    );
    context
        .bind(
            Routes::new(api),
            vec!["combipat.intake.v1.Intake"],
            axum::Router::new(),
        )
        .await
}
