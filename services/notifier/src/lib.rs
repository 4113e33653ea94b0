//! Notifier: tells the patronati what happened to their requests (in the inbox, by e-mail and
//! to their own systems by webhook) and the INPS offices of their deadlines; and carries the
//! avvisi, what INPS shares with the patronati (`avvisi/`).

mod access;
mod admin;
mod api;
pub mod avvisi;
mod cursor;
pub mod dev;
mod email;
mod endpoints_api;
mod events;
mod fanout;
mod gauges;
mod http;
mod inbox;
mod metrics;
pub mod notice;
mod preferences;
mod requests;
mod settings;
mod unsubscribe;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use combipat_platform::auth::ServiceIdentity;
use combipat_platform::settings::PlatformSettings;
use combipat_platform::{RunningService, ServiceContext, ServiceDefinition};
use combipat_proto::notifier::v1::avvisi_server::AvvisiServer;
use combipat_proto::notifier::v1::endpoints_server::EndpointsServer;
use combipat_proto::notifier::v1::notifier_server::NotifierServer;
use sqlx::migrate::Migrator;
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;

pub use events::QUEUE;
pub use settings::Schedule;

pub const SERVICE_NAME: &str = "notifier";

/// The largest gRPC message the Avvisi service reads: a 5 MB file and its envelope.
const MAX_MESSAGE_BYTES: usize = 6 * 1024 * 1024;

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

pub struct Service;

impl ServiceDefinition for Service {
    const NAME: &'static str = SERVICE_NAME;
    const DEFAULTS: &'static str = settings::DEFAULTS;
    type Own = settings::NotifierSettings;

    fn migrations() -> &'static Migrator {
        &MIGRATIONS
    }

    async fn build(own: Self::Own, mut context: ServiceContext) -> anyhow::Result<RunningService> {
        metrics::show_from_zero();
        combipat_platform::files::FileStore::show_uploads_from(SERVICE_NAME);
        let fanout = fanout::Fanout {
            clock: context.clock.clone(),
            email: own.email.clone(),
        };
        context.add_consumer(
            QUEUE,
            events::EventHandler {
                fanout: fanout.clone(),
            },
        );

        context.add_jobs(avvisi::deliver::Deliverer {
            fanout: fanout.clone(),
            clock: context.clock.clone(),
            avviso_url_base: own.email.avviso_url_base.clone(),
        });

        let egress = webhooks::egress(&own.webhooks);
        context.add_jobs(webhooks::delivery::Deliverer {
            pool: context.pool.clone(),
            http: webhooks::delivery::client(
                egress,
                Duration::from_millis(own.webhooks.timeout_ms),
            )?,
            limiter: Arc::new(combipat_platform::rate_limit::RateLimiter::new(
                own.rate_limit.clone(),
                context.clock.clone(),
                &["webhook"],
            )?),
            egress,
            rules: webhooks::rules(&own.webhooks)?,
            clock: context.clock.clone(),
            excerpt_bytes: own.webhooks.response_excerpt_bytes,
            fanout,
        });
        context.add_jobs(email::send::Mailer {
            pool: context.pool.clone(),
            transport: email::smtp::transport(&own.smtp)?,
            settings: own.email.clone(),
            schedule: Schedule::parse(
                "email.retry_schedule_ms",
                &own.email.retry_schedule_ms,
                0.2,
            )?,
            clock: context.clock.clone(),
        });
        let (pool, every) = (
            context.pool.clone(),
            Duration::from_millis(own.webhooks.gauge_interval_ms.max(100)),
        );
        context.add_background(move |stop| Box::pin(gauges::run(pool, every, stop)));

        let notifier = Arc::new(api::NotifierApi {
            pool: context.pool.clone(),
            clock: context.clock.clone(),
        });
        let endpoints = Arc::new(endpoints_api::EndpointsApi {
            pool: context.pool.clone(),
            clock: context.clock.clone(),
            egress,
        });
        let identity = ServiceIdentity::new(SERVICE_NAME, context.settings.identity.clone())?;
        let avvisi = Arc::new(avvisi::api::AvvisiApi {
            pool: context.pool.clone(),
            clock: context.clock.clone(),
            directory: avvisi::directory::Directory::new(&own.router, identity)?,
            files: combipat_platform::files::FileStore::new(&own.attachments)
                .context("attachments.*")?,
        });
        // A file uploaded for an avviso that no version of any avviso took.
        context.add_sweep(combipat_platform::unused_uploads::sweep(
            context.pool.clone(),
            avvisi.files.clone(),
            combipat_platform::unused_uploads::Uploads {
                what: "unsent_avviso_files",
                table: "avviso_files",
                unused: "NOT EXISTS (SELECT 1 FROM avviso_version_files v WHERE v.file_id = avviso_files.id)",
            },
            own.attachments.unused_schedule(),
        ));
        let http = http::routes(
            Arc::clone(&notifier),
            Arc::clone(&endpoints),
            context.auth_interceptor(),
            unsubscribe::routes(context.pool.clone(), context.clock.clone()),
        )?
        .merge(avvisi::http::routes(
            Arc::clone(&avvisi),
            context.auth_interceptor(),
        )?);
        let routes = Routes::new(InterceptedService::new(
            NotifierServer::from_arc(notifier),
            context.auth_interceptor(),
        ))
        .add_service(InterceptedService::new(
            EndpointsServer::from_arc(endpoints),
            context.auth_interceptor(),
        ))
        .add_service(InterceptedService::new(
            AvvisiServer::from_arc(avvisi)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            context.auth_interceptor(),
        ));
        context
            .bind(
                routes,
                vec![
                    "combipat.notifier.v1.Notifier",
                    "combipat.notifier.v1.Endpoints",
                    "combipat.notifier.v1.Avvisi",
                ],
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
