//! The RED metrics of every server, with the OpenTelemetry semantic conventions' names:
//! `rpc_server_call_duration_seconds{rpc_service,rpc_method,rpc_grpc_status_code}` for gRPC
//! and `http_server_request_duration_seconds{http_request_method,http_route,
//! http_response_status_code}` for HTTP (the route template, never the raw path, so that ids
//! do not multiply the series). The count of a histogram is the rate; its codes, the errors.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

pub const RPC_DURATION: &str = "rpc_server_call_duration_seconds";
pub const HTTP_DURATION: &str = "http_server_request_duration_seconds";

/// A tower layer that times every gRPC call.
#[derive(Debug, Clone, Copy, Default)]
pub struct RpcMetricsLayer;

impl<S> tower::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics { inner }
    }
}

#[derive(Debug, Clone)]
pub struct RpcMetrics<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, ResBody> tower::Service<http::Request<B>> for RpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path().trim_start_matches('/').to_owned();
        let started = Instant::now();
        let call = self.inner.call(request);
        Box::pin(async move {
            let response = call.await?;
            let (service, method) = path.split_once('/').unwrap_or((path.as_str(), ""));
            // A failed unary call answers in the headers (trailers-only); absent means OK
            // (or a status in the trailers of a stream).
            let code = response
                .headers()
                .get("grpc-status")
                .and_then(|value| value.to_str().ok())
                .unwrap_or("0")
                .to_owned();
            metrics::histogram!(
                RPC_DURATION,
                "rpc_service" => service.to_owned(),
                "rpc_method" => method.to_owned(),
                "rpc_grpc_status_code" => code
            )
            .record(started.elapsed().as_secs_f64());
            Ok(response)
        })
    }
}

/// An axum middleware (`route_layer`) that times every HTTP request by its route template.
pub async fn http(request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    metrics::histogram!(
        HTTP_DURATION,
        "http_request_method" => method,
        "http_route" => route,
        "http_response_status_code" => response.status().as_u16().to_string()
    )
    .record(started.elapsed().as_secs_f64());
    response
}
