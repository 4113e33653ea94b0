//! The gRPC server every service runs: its own services plus the standard health service
//! and server reflection, with a server span per call continuing the caller's trace.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower_http::trace::{MakeSpan, OnResponse, TraceLayer};

use crate::propagation::{carrier_from_headers, set_parent_from_carrier};

/// Makes a server span named `package.Service/Method` with the RPC semantic conventions.
#[derive(Debug, Clone, Copy)]
pub struct GrpcMakeSpan;

impl<B> MakeSpan<B> for GrpcMakeSpan {
    fn make_span(&mut self, request: &http::Request<B>) -> tracing::Span {
        let path = request.uri().path().trim_start_matches('/');
        let (service, method) = path.split_once('/').unwrap_or((path, ""));
        let span = tracing::info_span!(
            "grpc",
            otel.name = path,
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        set_parent_from_carrier(&span, &carrier_from_headers(request.headers()));
        span
    }
}

/// Records `rpc.grpc.status_code`: a failed unary call carries it in the headers
/// (trailers-only response); a successful one in the trailers, so absent means OK.
#[derive(Debug, Clone, Copy)]
pub struct GrpcOnResponse;

impl<B> OnResponse<B> for GrpcOnResponse {
    fn on_response(
        self,
        response: &http::Response<B>,
        latency: std::time::Duration,
        span: &tracing::Span,
    ) {
        let code = response
            .headers()
            .get("grpc-status")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<i32>().ok())
            .unwrap_or(0);
        span.record("rpc.grpc.status_code", code);
        if code != 0 {
            span.record("otel.status_code", "ERROR");
        }
        tracing::debug!(parent: span, duration_ms = latency.as_millis(), grpc_status = code, "rpc finished");
    }
}

/// A bound gRPC server, not yet serving.
pub struct GrpcServer {
    listener: TcpListener,
    routes: Routes,
    health: HealthReporter,
    service_names: Vec<&'static str>,
    limits: crate::settings::ListenSettings,
}

impl GrpcServer {
    /// Binds `address` and adds health and reflection to `routes`. `service_names` are the
    /// fully qualified names reported by the health service.
    pub async fn bind(
        settings: &crate::settings::ListenSettings,
        routes: Routes,
        service_names: Vec<&'static str>,
    ) -> anyhow::Result<Self> {
        let address = settings.address();
        let listener = TcpListener::bind(&address)
            .await
            .map_err(|error| anyhow::anyhow!("cannot bind the gRPC port {address}: {error}"))?;
        let (health, health_service) = tonic_health::server::health_reporter();
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(combipat_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        // Both versions: grpcurl 1.8 and many other clients still ask v1alpha.
        Ok(Self {
            listener,
            routes: routes
                .add_service(health_service)
                .add_service(reflection().build_v1()?)
                .add_service(reflection().build_v1alpha()?),
            health,
            service_names,
            limits: settings.clone(),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn health(&self) -> HealthReporter {
        self.health.clone()
    }

    /// Marks every service SERVING and serves until `stop`, then finishes in-flight calls.
    pub async fn serve(self, stop: CancellationToken) -> anyhow::Result<()> {
        for name in &self.service_names {
            self.health
                .set_service_status(*name, ServingStatus::Serving)
                .await;
        }
        self.health
            .set_service_status("", ServingStatus::Serving)
            .await;
        tonic::transport::Server::builder()
            .timeout(self.limits.request_timeout())
            .layer(
                tower::ServiceBuilder::new()
                    .layer(
                        TraceLayer::new_for_grpc()
                            .make_span_with(GrpcMakeSpan)
                            .on_response(GrpcOnResponse),
                    )
                    .layer(crate::server_metrics::RpcMetricsLayer)
                    .layer(crate::italian::ItalianLayer)
                    .layer(crate::overload::InFlight::new(
                        "grpc",
                        self.limits.max_in_flight,
                    )),
            )
            .add_routes(self.routes)
            .serve_with_incoming_shutdown(
                // Without TCP_NODELAY a small unary response waits for the client's delayed
                // ACK (Nagle): about 40 ms on every call, measured by the office-queue bench.
                tonic::transport::server::TcpIncoming::from(self.listener).with_nodelay(Some(true)),
                stop.cancelled_owned(),
            )
            .await?;
        Ok(())
    }
}

/// Reports every listed service (and the server as a whole) NOT_SERVING.
pub async fn set_not_serving(health: &HealthReporter, service_names: &[&'static str]) {
    for name in service_names {
        health
            .set_service_status(*name, ServingStatus::NotServing)
            .await;
    }
    health
        .set_service_status("", ServingStatus::NotServing)
        .await;
}
