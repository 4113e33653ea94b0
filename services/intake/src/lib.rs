//! Intake: where patronato operators file requests for citizens.

mod access;
mod admin;
mod api;
mod attachments;
mod group_submit;
mod http;
mod list;
mod mandate_api;
mod mandates;
mod notifier_client;
mod pages;
mod rating;
mod reminder;
mod reply;
mod retention;
mod router_client;
mod settings;
mod status;
mod store;
pub mod validation;

use std::sync::Arc;

use anyhow::Context as _;
use combipat_platform::batcher::Batcher;
use combipat_platform::settings::PlatformSettings;
use combipat_platform::{RunningService, ServiceContext, ServiceDefinition};
use combipat_proto::intake::v1::intake_server::IntakeServer;
use combipat_proto::intake::v1::mandates_server::MandatesServer;
use sqlx::migrate::Migrator;
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;

pub use admin::{Imported, import as import_mandates};
pub use status::QUEUE;

pub const SERVICE_NAME: &str = "intake";

/// The largest gRPC message intake reads: a 5 MB attachment and its envelope.
const MAX_MESSAGE_BYTES: usize = 6 * 1024 * 1024;

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
        context.add_consumer(status::QUEUE, status::StatusHandler);
        api::show_metrics_from_zero();
        combipat_platform::files::FileStore::show_uploads_from(SERVICE_NAME);
        let files =
            combipat_platform::files::FileStore::new(&own.attachments).context("attachments.*")?;
        context.add_sweep(retention::unsent_attachments(
            context.pool.clone(),
            files.clone(),
            &own.attachments,
        ));
        context.add_sweep(retention::idempotency_keys(
            context.pool.clone(),
            &own.retention,
        ));
        let api = Arc::new(api::IntakeApi {
            pool: context.pool.clone(),
            desk: store::Desk {
                pool: context.pool.clone(),
                outbox: context.outbox.clone(),
                clock: context.clock.clone(),
                submissions: Batcher::start(
                    "intake.submissions",
                    group_submit::GroupSubmit {
                        store: store::SubmissionStore {
                            pool: context.pool.clone(),
                            outbox: context.outbox.clone(),
                            idempotency_window_hours: own.retention.idempotency_key_hours,
                        },
                    },
                    own.submissions.writers,
                    own.submissions.max_batch,
                ),
            },
            territory,
            attachments: attachments::Attachments::new(files, context.pool.clone()),
            limiter: Arc::new(combipat_platform::rate_limit::RateLimiter::new(
                own.rate_limit.clone(),
                context.clock.clone(),
                &api::RATE_LIMIT_SCOPES,
            )?),
            router: router_client::Router::new(&own.router)?,
        });
        let mandates = Arc::new(mandate_api::MandatesApi {
            pool: context.pool.clone(),
        });
        let http = http::routes(
            Arc::clone(&api),
            Arc::clone(&mandates),
            context.auth_interceptor(),
        )?
        .merge(
            pages::Pages::new(
                Arc::clone(&api),
                context.auth_interceptor(),
                own.pages,
                notifier_client::Notifier::new(&own.notifier)?,
            )
            .routes(),
        );
        let intake = InterceptedService::new(
            IntakeServer::from_arc(api)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            context.auth_interceptor(),
        );
        let mandates = InterceptedService::new(
            MandatesServer::from_arc(mandates),
            context.auth_interceptor(),
        );
        context
            .bind(
                Routes::new(intake).add_service(mandates),
                vec!["combipat.intake.v1.Intake", "combipat.intake.v1.Mandates"],
                http,
            )
            .await
    }

    async fn admin(
        _own: Self::Own,
        platform: PlatformSettings,
        args: Vec<String>,
    ) -> anyhow::Result<()> {
        let pool = combipat_platform::db::connect(&platform.database).await?;
        combipat_platform::db::migrate(&pool, &MIGRATIONS).await?;
        admin::run(&pool, &args).await
    }
}
