//! Office-queue: the queues the INPS offices work from.

mod api;
mod attachments;
mod calendar_change;
mod console;
mod consumer;
mod escalation;
mod http;
mod items;
mod lifecycle;
mod list;
mod priority;
mod ranking;
mod router_client;
mod settings;
mod sla_gauge;
mod watch;
mod work;
mod workload;

use std::sync::Arc;

use combipat_platform::{RunningService, ServiceContext, ServiceDefinition};
use combipat_proto::officequeue::v1::office_queue_server::OfficeQueueServer;
use sqlx::migrate::Migrator;
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;

pub use consumer::QUEUE;
/// Moves the stored rank of the items whose deadline band the clock crossed (the service does
/// every 30 seconds); public for the tests, which move the clock.
pub use ranking::rerank;

pub const SERVICE_NAME: &str = "office-queue";

/// The largest gRPC message office-queue reads: a 5 MB attachment and its envelope.
const MAX_MESSAGE_BYTES: usize = 6 * 1024 * 1024;

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

pub struct Service;

impl ServiceDefinition for Service {
    const NAME: &'static str = SERVICE_NAME;
    const DEFAULTS: &'static str = settings::DEFAULTS;
    type Own = settings::OfficeQueueSettings;

    fn migrations() -> &'static Migrator {
        &MIGRATIONS
    }

    async fn build(own: Self::Own, mut context: ServiceContext) -> anyhow::Result<RunningService> {
        let router = router_client::Router::new(&own.router)?;
        consumer::show_metrics_from_zero();
        combipat_platform::files::FileStore::show_uploads_from(SERVICE_NAME);
        let (gauge_pool, gauge_clock) = (context.pool.clone(), context.clock.clone());
        context.add_background(move |stop| Box::pin(sla_gauge::run(gauge_pool, gauge_clock, stop)));
        let (rank_pool, rank_clock) = (context.pool.clone(), context.clock.clone());
        context.add_background(move |stop| Box::pin(ranking::run(rank_pool, rank_clock, stop)));
        let changes = watch::Changes::new();
        let (listener, listener_pool) = (changes.clone(), context.pool.clone());
        context.add_background(move |stop| Box::pin(listener.listen(listener_pool, stop)));
        context.add_consumer(
            QUEUE,
            consumer::DecisionHandler {
                sla: own.sla,
                clock: context.clock.clone(),
            },
        );
        let api = Arc::new(api::OfficeQueueApi {
            limiter: combipat_platform::rate_limit::RateLimiter::new(
                own.rate_limit,
                context.clock.clone(),
                &api::RATE_LIMIT_SCOPES,
            )?,
            desk: work::Desk {
                pool: context.pool.clone(),
                outbox: context.outbox.clone(),
                sla: own.sla,
                clock: context.clock.clone(),
            },
            router,
            changes,
            files: combipat_platform::files::FileStore::new(&own.attachments)
                .map_err(|error| anyhow::anyhow!("attachments.*: {error:#}"))?,
        });
        // An official's upload that no answer or question took (the patronato's files
        // arrive with their request).
        context.add_sweep(combipat_platform::unused_uploads::sweep(
            context.pool.clone(),
            api.files.clone(),
            combipat_platform::unused_uploads::Uploads {
                what: "unsent_attachments",
                table: "attachments",
                unused: "request_id IS NULL",
            },
            own.attachments.unused_schedule(),
        ));
        let console = console::Console::new(
            Arc::clone(&api),
            context.auth_interceptor(),
            own.pages,
            &own.router,
            &own.notifier,
        )?;
        let http =
            http::routes(Arc::clone(&api), context.auth_interceptor())?.merge(console.routes());
        let grpc = InterceptedService::new(
            OfficeQueueServer::from_arc(api)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            context.auth_interceptor(),
        );
        context
            .bind(
                Routes::new(grpc),
                vec!["combipat.officequeue.v1.OfficeQueue"],
                http,
            )
            .await
    }
}
