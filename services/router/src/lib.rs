//! Router: finds the INPS office competent for each request, from a versioned office
//! directory held in memory, and keeps every decision with its reason.

mod admin;
mod api;
mod consumer;
mod decisions;
pub mod directory;
pub mod ruleset;
mod settings;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use combipat_domain::Territory;
use combipat_platform::settings::PlatformSettings;
use combipat_platform::{RunningService, ServiceContext, ServiceDefinition};
use combipat_proto::router::v1::router_server::RouterServer;
use sqlx::migrate::Migrator;
use tonic::service::Routes;

pub use consumer::QUEUE;

use crate::ruleset::Rulesets;

pub const SERVICE_NAME: &str = "router";

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

pub struct Service;

fn load_territory(own: &settings::RouterSettings) -> anyhow::Result<Arc<Territory>> {
    Ok(Arc::new(
        own.territory
            .load()
            .context("cannot load the ANPR territory (territory.*)")?,
    ))
}

impl ServiceDefinition for Service {
    const NAME: &'static str = SERVICE_NAME;
    const DEFAULTS: &'static str = settings::DEFAULTS;
    type Own = settings::RouterSettings;

    fn migrations() -> &'static Migrator {
        &MIGRATIONS
    }

    async fn build(own: Self::Own, mut context: ServiceContext) -> anyhow::Result<RunningService> {
        let rulesets = Arc::new(Rulesets::new(context.pool.clone(), load_territory(&own)?));
        rulesets
            .refresh()
            .await
            .context("cannot load the active ruleset")?;
        if rulesets.current().is_none() && !own.directory.bootstrap_path.is_empty() {
            admin::load_file(&rulesets, &own.directory.bootstrap_path, true).await?;
        }
        if rulesets.current().is_none() {
            tracing::warn!(
                "no ruleset is active: requests wait in the queue until an admin activates an office directory"
            );
        }
        let interval = Duration::from_millis(own.directory.reload_interval_ms.max(100));
        let watcher = Arc::clone(&rulesets);
        context.add_background(move |stop| Box::pin(watcher.watch(interval, stop)));
        consumer::show_metrics_from_zero();
        let handler = consumer::RequestsHandler {
            rulesets: Arc::clone(&rulesets),
        };
        if rulesets.current().is_some() {
            context.add_consumer(QUEUE, handler);
        } else {
            // Without a ruleset every request would go round the retry queues into the
            // dead-letter queue; they wait in the queue until one is active. Not counted for
            // readiness: router must answer (e.g. LoadDirectory) meanwhile.
            let consumer = context.consumer(QUEUE, handler, false);
            let gate = Arc::clone(&rulesets);
            context.add_background(move |stop| {
                Box::pin(async move {
                    if gate.wait_until_active(&stop).await {
                        consumer.run(stop).await;
                    }
                })
            });
        }
        let api = api::RouterApi {
            pool: context.pool.clone(),
            rulesets,
        };
        let api = RouterServer::with_interceptor(api, context.auth_interceptor());
        context
            .bind(
                Routes::new(api),
                vec!["combipat.router.v1.Router"],
                axum::Router::new(),
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
        let rulesets = Rulesets::new(pool, load_territory(&own)?);
        admin::run(&rulesets, &args).await
    }
}
