//! Reminder-scheduler: keeps the 15-day sollecito rule and the offices' deadlines as durable
//! timers that any number of replicas share, and says when each falls due and why.

mod api;
mod consumer;
mod firing;
mod http;
mod reconcile;
mod settings;
mod state;
mod timers;

use std::sync::Arc;

use combipat_platform::{RunningService, ServiceContext, ServiceDefinition};
use combipat_proto::reminderscheduler::v1::reminder_scheduler_server::ReminderSchedulerServer;
use sqlx::migrate::Migrator;
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;

pub use consumer::QUEUE;

pub const SERVICE_NAME: &str = "reminder-scheduler";

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

pub struct Service;

impl ServiceDefinition for Service {
    const NAME: &'static str = SERVICE_NAME;
    const DEFAULTS: &'static str = settings::DEFAULTS;
    type Own = settings::SchedulerSettings;

    fn migrations() -> &'static Migrator {
        &MIGRATIONS
    }

    async fn build(own: Self::Own, mut context: ServiceContext) -> anyhow::Result<RunningService> {
        context.add_consumer(
            QUEUE,
            consumer::EventsHandler {
                ladder: own.ladder.clone(),
            },
        );
        context.add_jobs(firing::Firing { ladder: own.ladder });
        let api = Arc::new(api::SchedulerApi {
            pool: context.pool.clone(),
            clock: context.clock.clone(),
        });
        let http = http::routes(Arc::clone(&api), context.auth_interceptor())?;
        let grpc = InterceptedService::new(
            ReminderSchedulerServer::from_arc(api),
            context.auth_interceptor(),
        );
        context
            .bind(
                Routes::new(grpc),
                vec!["combipat.reminderscheduler.v1.ReminderScheduler"],
                http,
            )
            .await
    }
}
