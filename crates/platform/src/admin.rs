//! The HTTP port: `/health/livez`, `/health/readyz`, `/metrics`, plus whatever HTTP routes
//! the service adds (JSON API, pages).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::messaging::{ConsumerHealth, StartGate};
use crate::outbox::RelayHealth;

/// Whether this replica should receive traffic: up after start, down first at shutdown,
/// down whenever the database does not answer or a consumer is paused by an outage. A broker
/// outage is reported but keeps the replica ready: the outbox holds the events meanwhile, so
/// the APIs can go on accepting work (taking every replica out of service would refuse it).
#[derive(Debug, Clone)]
pub struct Readiness {
    accepting: Arc<AtomicBool>,
    pool: PgPool,
    consumers: StartGate,
    paused: Vec<ConsumerHealth>,
    relay: RelayHealth,
}

impl Readiness {
    pub fn new(
        pool: PgPool,
        consumers: StartGate,
        paused: Vec<ConsumerHealth>,
        relay: RelayHealth,
    ) -> Self {
        Self {
            accepting: Arc::new(AtomicBool::new(false)),
            pool,
            consumers,
            paused,
            relay,
        }
    }

    pub fn set_accepting(&self, accepting: bool) {
        self.accepting.store(accepting, Ordering::SeqCst);
    }

    /// `Ok(warnings)` when ready, `Err(problems)` when not.
    async fn check(&self) -> Result<Vec<String>, Vec<String>> {
        let mut problems = Vec::new();
        if !self.accepting.load(Ordering::SeqCst) {
            problems.push("not accepting work (starting or shutting down)".to_owned());
        }
        if !self.consumers.all_started() {
            problems.push("consumers are not attached to their queues yet".to_owned());
        }
        problems.extend(self.paused.iter().filter_map(ConsumerHealth::problem));
        let ping = sqlx::query("SELECT 1").execute(&self.pool);
        match tokio::time::timeout(Duration::from_secs(2), ping).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => problems.push("database not reachable".to_owned()),
        }
        let warnings: Vec<String> = self.relay.problem().into_iter().collect();
        if problems.is_empty() {
            Ok(warnings)
        } else {
            problems.extend(warnings);
            Err(problems)
        }
    }
}

#[derive(Clone)]
struct AdminState {
    readiness: Readiness,
    metrics: PrometheusHandle,
}

/// The admin routes merged with the service's own `routes`.
pub fn router(
    readiness: Readiness,
    metrics: PrometheusHandle,
    routes: axum::Router,
    limits: &crate::settings::ListenSettings,
) -> axum::Router {
    let admin = axum::Router::new()
        .route("/health/livez", get(|| async { "alive" }))
        .route("/health/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .with_state(AdminState { readiness, metrics });
    routes
        .merge(admin)
        .route_layer(axum::middleware::from_fn(crate::server_metrics::http))
        .layer(axum::middleware::from_fn_with_state(
            crate::overload::InFlight::new("http", limits.max_in_flight),
            crate::overload::http,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            http::StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout(),
        ))
}

async fn readyz(State(state): State<AdminState>) -> impl IntoResponse {
    match state.readiness.check().await {
        Ok(warnings) => (
            StatusCode::OK,
            std::iter::once("ready".to_owned())
                .chain(
                    warnings
                        .into_iter()
                        .map(|warning| format!("warning: {warning}")),
                )
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        Err(problems) => (StatusCode::SERVICE_UNAVAILABLE, problems.join("\n")),
    }
}

async fn render_metrics(State(state): State<AdminState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
}

pub async fn bind(address: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .map_err(|error| anyhow::anyhow!("cannot bind the HTTP port {address}: {error}"))
}

pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    use axum::serve::ListenerExt as _;
    // As on the gRPC port: small JSON answers must not wait for the client's delayed ACK.
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY on an HTTP connection");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await?;
    Ok(())
}
