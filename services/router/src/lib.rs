//! Router: finds the INPS office competent for each request.

mod api;
mod consumer;
pub mod decision;
mod settings;

use std::sync::Arc;

use anyhow::Context as _;
use combipat_platform::{RunningService, ServiceContext, ServiceDefinition};
use combipat_proto::router::v1::router_server::RouterServer;
use sqlx::migrate::Migrator;
use tonic::service::Routes;

pub use consumer::{QUEUE, UNROUTABLE_QUEUE};

pub const SERVICE_NAME: &str = "router";

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

pub struct Service;

impl ServiceDefinition for Service {
    const NAME: &'static str = SERVICE_NAME;
    const DEFAULTS: &'static str = settings::DEFAULTS;
    type Own = settings::RouterSettings;

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
            QUEUE,
            Arc::new(consumer::SubmittedHandler {
                pool: context.pool.clone(),
                territory: Arc::clone(&territory),
                outbox: context.outbox.clone(),
            }),
        );
        context.add_parking_queue(UNROUTABLE_QUEUE);
        let api = RouterServer::with_interceptor(
            api::RouterApi { territory },
            context.auth_interceptor(),
        );
        context
            .bind(
                Routes::new(api),
                vec!["combipat.router.v1.Router"],
                axum::Router::new(),
            )
            .await
    }
}
