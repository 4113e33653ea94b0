//! Assembling and running a service: settings -> pool -> migrations -> servers, consumers
//! and the outbox relay -> one ordered shutdown.
//!
//! Shutdown order (all of it within `shutdown.deadline_ms` after the drain delay): readiness and gRPC health
//! go NOT_SERVING, then `shutdown.drain_delay_ms` passes; consumers stop taking deliveries and finish those in hand while the gRPC
//! server finishes in-flight calls; the outbox relay publishes what is left; the HTTP port
//! closes last so that `/metrics` stays readable until the end.

use std::net::SocketAddr;
use std::sync::Arc;

use futures::future::BoxFuture;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::service::Routes;

use crate::admin::{self, Readiness};
use crate::auth::{AuthInterceptor, Authenticator};
use crate::clock::Clock;
use crate::grpc::{GrpcServer, set_not_serving};
use crate::handler::{Transactional, TransactionalHandler};
use crate::jobs::{JobHandler, JobRunner};
use crate::messaging::{
    BatchHandler, Broker, Consumer, ConsumerHealth, QueueSpec, StartGate, StreamReader,
};
use crate::outbox::{OutboxWaker, RelayHealth, run_relay};
use crate::settings::{PlatformSettings, Settings};
use serde::de::DeserializeOwned;

/// What a service tells the platform: its name, defaults, migrations, and how to assemble
/// itself once the platform has connected the database and loaded the token keys.
pub trait ServiceDefinition: 'static {
    const NAME: &'static str;
    /// The service's defaults file (TOML), layered over the platform's.
    const DEFAULTS: &'static str;
    /// The service's own settings sections (the platform's come with them).
    type Own: DeserializeOwned + Send + 'static;

    fn migrations() -> &'static Migrator;

    /// Adds the service's consumers and APIs to `context` and binds the ports.
    fn build(
        own: Self::Own,
        context: ServiceContext,
    ) -> impl Future<Output = anyhow::Result<RunningService>> + Send;

    /// `<binary> admin ARGS...`: the service's own administration commands, run against its
    /// database without starting any server. None by default.
    fn admin(
        own: Self::Own,
        platform: PlatformSettings,
        args: Vec<String>,
    ) -> impl Future<Output = anyhow::Result<()>> + Send {
        async move {
            let _unused = (own, platform);
            anyhow::bail!("{} has no admin commands (got {args:?})", Self::NAME)
        }
    }
}

/// The service's settings from every layer, with `overrides` (tests) applied last.
pub fn load_settings<S: ServiceDefinition>(
    overrides: &[(String, String)],
) -> anyhow::Result<Settings<S::Own>> {
    crate::settings::load(S::DEFAULTS, overrides)
}

/// Starts the platform part (database, migrations, keys) and lets the service build on it.
pub async fn start<S: ServiceDefinition>(
    settings: Settings<S::Own>,
) -> anyhow::Result<RunningService> {
    start_with_clock::<S>(settings, Clock::system()).await
}

/// [`start`] with a clock of the caller's (tests move it to test time-dependent rules).
pub async fn start_with_clock<S: ServiceDefinition>(
    settings: Settings<S::Own>,
    clock: Clock,
) -> anyhow::Result<RunningService> {
    let mut context = ServiceContext::start(S::NAME, settings.platform, S::migrations()).await?;
    context.clock = clock;
    S::build(settings.service, context).await
}

type ConsumerStarter = Box<dyn FnOnce(CancellationToken) -> BoxFuture<'static, ()> + Send>;

/// What a service's `build` gets to assemble itself with.
pub struct ServiceContext {
    pub name: &'static str,
    pub settings: PlatformSettings,
    pub pool: PgPool,
    pub broker: Broker,
    pub outbox: OutboxWaker,
    /// What every time-dependent rule reads (tests move it).
    pub clock: Clock,
    authenticator: Authenticator,
    consumers: Vec<ConsumerStarter>,
    start_gate: StartGate,
    consumer_health: Vec<ConsumerHealth>,
    relay_health: RelayHealth,
}

impl ServiceContext {
    /// Connects to the database, migrates it when `database.migrate_on_start`, and loads the
    /// token key. Fails early, naming the setting, when any of them is wrong.
    pub async fn start(
        name: &'static str,
        settings: PlatformSettings,
        migrations: &Migrator,
    ) -> anyhow::Result<Self> {
        // Before anything records a metric: a series recorded earlier would be lost, and the
        // ones shown at zero from the start (`metrics::zero`) are recorded while building.
        crate::metrics::install();
        let authenticator = Authenticator::from_settings(&settings.auth).await?;
        let pool = crate::db::connect(&settings.database).await?;
        if settings.database.migrate_on_start {
            crate::db::migrate(&pool, migrations).await?;
        }
        let broker = Broker::new(name, settings.amqp.clone());
        let mut context = Self {
            name,
            settings,
            pool,
            broker,
            outbox: OutboxWaker::default(),
            clock: Clock::system(),
            authenticator,
            consumers: Vec::new(),
            start_gate: StartGate::default(),
            consumer_health: Vec::new(),
            relay_health: RelayHealth::default(),
        };
        context.add_platform_tasks();
        if !context.settings.auth.jwks_url.is_empty() {
            let authenticator = context.authenticator.clone();
            let url = context.settings.auth.jwks_url.clone();
            let interval =
                std::time::Duration::from_secs(context.settings.auth.jwks_refresh_secs.max(1));
            context.consumers.push(Box::new(move |stop| {
                Box::pin(authenticator.refresh_jwks(url, interval, stop))
            }));
        }
        Ok(context)
    }

    /// Wrap each gRPC service with this so that its calls carry a verified [`crate::auth::Principal`].
    pub fn auth_interceptor(&self) -> AuthInterceptor {
        AuthInterceptor(self.authenticator.clone())
    }

    pub fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }

    /// Registers a consumer of `spec`'s queue with a transactional handler, started when the
    /// service runs. The service reports ready only once it is attached to its queue, and not
    /// while it is paused by a dependency outage.
    pub fn add_consumer<H: TransactionalHandler>(&mut self, spec: QueueSpec, handler: H) {
        let consumer = self.consumer(spec, handler, true);
        self.consumers
            .push(Box::new(move |stop| Box::pin(consumer.run(stop))));
    }

    /// A consumer for the service to run itself (e.g. only once some condition holds, as
    /// router waits for an active ruleset). `counted`: readiness waits for it to attach.
    pub fn consumer<H: TransactionalHandler>(
        &mut self,
        spec: QueueSpec,
        handler: H,
        counted: bool,
    ) -> Consumer<Transactional<H>> {
        let handler = Arc::new(Transactional::new(
            self.pool.clone(),
            self.outbox.clone(),
            handler,
        ));
        self.batch_consumer(spec, handler, counted)
    }

    /// A consumer with a handler of its own making (no inbox or transaction from the
    /// platform); prefer [`Self::consumer`].
    pub fn batch_consumer<H: BatchHandler>(
        &mut self,
        spec: QueueSpec,
        handler: Arc<H>,
        counted: bool,
    ) -> Consumer<H> {
        let health = ConsumerHealth::new(spec.name);
        crate::metrics::zero::consumer(spec.name);
        self.consumer_health.push(health.clone());
        Consumer {
            broker: self.broker.clone(),
            spec,
            handler,
            health,
            deadline: self.settings.shutdown.deadline(),
            started: counted.then(|| self.start_gate.expect()),
        }
    }

    /// Runs `handler`'s durable jobs (timers) beside the service: any number of replicas
    /// share them, each job fires once.
    pub fn add_jobs<H: JobHandler>(&mut self, handler: H) {
        let runner = JobRunner {
            pool: self.pool.clone(),
            outbox: self.outbox.clone(),
            clock: self.clock.clone(),
            settings: self.settings.jobs.clone(),
            handler: Arc::new(handler),
        };
        self.add_background(move |stop| Box::pin(runner.run(stop)));
    }

    /// Reads the history stream as `reader` with `handler`, from the reader's stored position
    /// (or the first event kept), beside the service.
    pub fn add_stream_reader<H: TransactionalHandler>(&mut self, reader: &'static str, handler: H) {
        let stream = StreamReader::new(
            self.broker.clone(),
            self.pool.clone(),
            self.outbox.clone(),
            reader,
            handler,
        );
        self.consumer_health.push(stream.health.clone());
        self.add_background(move |stop| Box::pin(stream.run(stop)));
    }

    /// What every service runs beside its own work: its queues' depths as metrics, the
    /// outbox gauges and the inbox cleanup.
    fn add_platform_tasks(&mut self) {
        let broker = self.broker.clone();
        self.add_background(move |stop| {
            Box::pin(crate::messaging::report_queue_depths(broker, stop))
        });
        let (pool, outbox) = (self.pool.clone(), self.settings.outbox.clone());
        self.add_background(move |stop| Box::pin(crate::outbox::run_gauges(pool, outbox, stop)));
        self.add_sweep(crate::inbox::sweep(
            self.pool.clone(),
            self.settings.inbox.clone(),
        ));
        self.add_sweep(crate::audit::sweep(self.pool.clone(), &self.settings.audit));
    }

    /// Deletes a kind of expired row on its interval until the service stops.
    pub fn add_sweep(&mut self, sweep: crate::retention::Sweep) {
        self.add_background(move |stop| Box::pin(sweep.run(stop)));
    }

    /// Runs a task beside the servers until the service stops (e.g. a cache reloader).
    pub fn add_background<F>(&mut self, task: F)
    where
        F: FnOnce(CancellationToken) -> BoxFuture<'static, ()> + Send + 'static,
    {
        self.consumers.push(Box::new(task));
    }

    /// Binds the gRPC and HTTP ports (port 0 picks a free one).
    pub async fn bind(
        self,
        grpc_routes: Routes,
        grpc_service_names: Vec<&'static str>,
        http_routes: axum::Router,
    ) -> anyhow::Result<RunningService> {
        // Every service serves the audit of who read what in its database.
        let audit = crate::audit::AuditApi {
            pool: self.pool.clone(),
            service: self.name,
        };
        let grpc_routes =
            grpc_routes.add_service(tonic::service::interceptor::InterceptedService::new(
                audit.server(),
                self.auth_interceptor(),
            ));
        let mut grpc_service_names = grpc_service_names;
        grpc_service_names.push(crate::audit::GRPC_SERVICE);
        let http_routes = http_routes.merge(crate::audit::http_routes(
            self.pool.clone(),
            self.name,
            self.auth_interceptor(),
        )?);
        let grpc =
            GrpcServer::bind(&self.settings.grpc, grpc_routes, grpc_service_names.clone()).await?;
        let http = admin::bind(&self.settings.http.address()).await?;
        let grpc_addr = grpc.local_addr()?;
        let http_addr = http.local_addr()?;
        let readiness = Readiness::new(
            self.pool.clone(),
            self.start_gate.clone(),
            self.consumer_health.clone(),
            self.relay_health.clone(),
        );
        let http_router = admin::router(
            readiness.clone(),
            crate::metrics::install(),
            http_routes,
            &self.settings.http,
        );
        tracing::info!(service = self.name, grpc.address = %grpc_addr, http.address = %http_addr, "listening");
        Ok(RunningService {
            context: self,
            grpc,
            grpc_service_names,
            http,
            http_router,
            readiness,
            grpc_addr,
            http_addr,
            stop: CancellationToken::new(),
        })
    }
}

/// A bound service: call [`RunningService::run_until_stopped`].
pub struct RunningService {
    context: ServiceContext,
    grpc: GrpcServer,
    grpc_service_names: Vec<&'static str>,
    http: tokio::net::TcpListener,
    http_router: axum::Router,
    readiness: Readiness,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    stop: CancellationToken,
}

impl RunningService {
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Cancel it to begin the graceful shutdown (the binary does so on SIGTERM/SIGINT).
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Self {
            context,
            grpc,
            grpc_service_names,
            http,
            http_router,
            readiness,
            stop,
            ..
        } = self;
        let name = context.name;

        let work = TaskTracker::new();
        let consumers_stop = CancellationToken::new();
        let servers_stop = CancellationToken::new();
        let relay_stop = CancellationToken::new();
        let http_stop = CancellationToken::new();

        let health = grpc.health();
        let mut grpc_task = tokio::spawn(grpc.serve(servers_stop.clone()));
        let mut http_task = tokio::spawn(admin::serve(http, http_router, http_stop.clone()));
        for start in context.consumers {
            work.spawn(start(consumers_stop.clone()));
        }
        let mut relay_task = tokio::spawn(run_relay(
            context.pool.clone(),
            context.broker.clone(),
            context.settings.outbox.clone(),
            context.outbox.clone(),
            context.relay_health.clone(),
            relay_stop.clone(),
        ));
        readiness.set_accepting(true);

        let server_failure = tokio::select! {
            () = stop.cancelled() => None,
            result = &mut grpc_task => Some(result),
        };
        tracing::info!(service = name, "shutting down");
        // One budget for the whole shutdown, so that it ends inside the orchestrator's grace
        // period (Kubernetes: 30 s by default) whatever stage is slow.
        let deadline = tokio::time::Instant::now()
            + context.settings.shutdown.drain_delay()
            + context.settings.shutdown.deadline();

        // 1. Tell load balancers and probes first, and give them a moment to notice.
        readiness.set_accepting(false);
        set_not_serving(&health, &grpc_service_names).await;
        tokio::time::sleep(context.settings.shutdown.drain_delay()).await;

        // 2. Stop taking work; finish what is in hand (consumers' deliveries, in-flight RPCs).
        consumers_stop.cancel();
        servers_stop.cancel();
        work.close();
        if tokio::time::timeout_at(deadline, work.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "consumers did not stop within the shutdown deadline; the broker redelivers what they held"
            );
        }
        if server_failure.is_none() && finish(&mut grpc_task, deadline).await.is_none() {
            tracing::warn!("in-flight gRPC calls did not finish within the shutdown deadline");
        }

        // 3. Publish what those last transactions wrote to the outbox.
        relay_stop.cancel();
        if finish(&mut relay_task, deadline).await.is_none() {
            tracing::warn!(
                "the outbox relay did not empty the outbox within the shutdown deadline; the next start relays the rest"
            );
        }

        // 4. The HTTP port last, so /metrics can be scraped until the end.
        http_stop.cancel();
        if finish(&mut http_task, deadline).await.is_none() {
            tracing::warn!("the HTTP port did not close within the shutdown deadline");
        }
        context.pool.close().await;
        tracing::info!(service = name, "stopped");

        match server_failure {
            None => Ok(()),
            Some(Ok(Ok(()))) => Err(anyhow::anyhow!("the gRPC server stopped by itself")),
            Some(Ok(Err(error))) => Err(error.context("the gRPC server failed")),
            Some(Err(join_error)) => {
                Err(anyhow::anyhow!("the gRPC server task failed: {join_error}"))
            }
        }
    }
}

/// Waits until `deadline` for a task; aborts it when the deadline passes.
async fn finish<T>(
    task: &mut tokio::task::JoinHandle<T>,
    deadline: tokio::time::Instant,
) -> Option<T> {
    match tokio::time::timeout_at(deadline, &mut *task).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(join_error)) => {
            tracing::error!(error = %join_error, "a service task failed");
            None
        }
        Err(_elapsed) => {
            task.abort();
            None
        }
    }
}
