//! Reporting: figures for the regional technical tables, from every event in the history
//! stream. See README.md for the map of this crate.

mod access;
mod admin;
mod api;
mod csv_export;
pub mod demo;
mod directory;
mod events;
mod format;
mod freeze;
mod http;
mod labels;
mod metrics;
pub mod model;
mod pages;
pub mod places;
mod projector;
mod query;
mod rebuild;
mod settings;
pub mod store;
mod tables;

use std::sync::Arc;
use std::time::Duration;

use combipat_platform::auth::ServiceIdentity;
use combipat_platform::settings::PlatformSettings;
use combipat_platform::{RunningService, ServiceContext, ServiceDefinition};
use combipat_proto::reporting::v1::reporting_server::ReportingServer;
use sqlx::migrate::Migrator;
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;

pub use projector::project;

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

    async fn build(own: Self::Own, mut context: ServiceContext) -> anyhow::Result<RunningService> {
        let places = Arc::new(places::Places::load(&own.territory)?);
        let figures = own.reporting;
        let supervisor = rebuild::Supervisor {
            pool: context.pool.clone(),
            broker: context.broker.clone(),
            outbox: context.outbox.clone(),
            places: Arc::clone(&places),
            clock: context.clock.clone(),
            interval: Duration::from_millis(figures.rebuild_interval_ms.max(100)),
            retired_kept: chrono::Duration::seconds(i64::from(figures.retired_kept_seconds)),
        };
        rebuild::start(&mut context, Arc::clone(&places), supervisor).await?;
        let reader = query::Reader {
            pool: context.pool.clone(),
            threshold: figures.small_cell_threshold,
            places,
            clock: context.clock.clone(),
        };
        let freezer = freeze::Freezer {
            reader: reader.clone(),
            after: chrono::Duration::minutes(i64::from(figures.freeze_after_minutes)),
            interval: Duration::from_millis(figures.freeze_interval_ms.max(100)),
        };
        context.add_background(move |stop| Box::pin(freezer.run(stop)));
        let identity = ServiceIdentity::new(SERVICE_NAME, context.settings.identity.clone())?;
        let api = Arc::new(api::ReportingApi {
            reader,
            directory: directory::Directory::new(&own.router, identity)?,
        });
        let http = http::routes(Arc::clone(&api), context.auth_interceptor(), own.pages)?;
        let grpc =
            InterceptedService::new(ReportingServer::from_arc(api), context.auth_interceptor());
        context
            .bind(
                Routes::new(grpc),
                vec!["combipat.reporting.v1.Reporting"],
                http,
            )
            .await
    }

    async fn admin(
        own: Self::Own,
        platform: PlatformSettings,
        args: Vec<String>,
    ) -> anyhow::Result<()> {
        let pool = combipat_platform::db::connect(&platform.database).await?;
        combipat_platform::db::migrate(&pool, &MIGRATIONS).await?;
        admin::run(&pool, &own, &args).await
    }
}
