//! Intake: where patronato operators file requests for citizens.

mod api;
mod list;
mod reminder;
mod reply;
mod settings;
mod status;
mod store;
pub mod validation;

use std::sync::Arc;

use anyhow::Context as _;
use combipat_platform::{RunningService, ServiceContext, ServiceDefinition};
use combipat_proto::intake::v1::intake_server::IntakeServer;
use sqlx::migrate::Migrator;
use tonic::service::Routes;

pub use status::QUEUE;

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

    async fn build(own: Self::Own, mut context: ServiceContext) -> anyhow::Result<RunningService> {
        let territory = Arc::new(
            own.territory
                .load()
                .context("cannot load the ANPR territory (territory.*)")?,
        );
        context.add_consumer(
            status::QUEUE,
            Arc::new(status::StatusHandler {
                pool: context.pool.clone(),
            }),
        );
        let api = api::IntakeApi {
            pool: context.pool.clone(),
            territory,
            outbox: context.outbox.clone(),
        };
        let api = IntakeServer::with_interceptor(api, context.auth_interceptor());
        context
            .bind(
                Routes::new(api),
                vec!["combipat.intake.v1.Intake"],
                axum::Router::new(),
            )
            .await
    }
}
