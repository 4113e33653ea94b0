//! Every server's bound on the work it takes at once: past `max_in_flight` calls in progress,
//! a new one is refused at once (gRPC `UNAVAILABLE` with `RetryInfo`, HTTP 503 with
//! `Retry-After`) instead of queueing until it times out, so that an overload is answered in
//! milliseconds and the work already accepted finishes. Health, reflection and metrics are
//! never refused: probes must see the service, overloaded or not.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use tokio::sync::Semaphore;
use tonic_types::{ErrorDetails, StatusExt as _};

/// How long a refused caller is told to wait.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Counter {server=grpc|http}: calls refused because the server was full.
pub const SHED: &str = "combipat_requests_shed_total";

/// The calls a server has in progress, and how many it may.
#[derive(Debug, Clone)]
pub struct InFlight {
    permits: Arc<Semaphore>,
    server: &'static str,
}

impl InFlight {
    pub fn new(server: &'static str, max: usize) -> Self {
        metrics::counter!(SHED, "server" => server).increment(0);
        Self {
            permits: Arc::new(Semaphore::new(max.max(1))),
            server,
        }
    }
}

fn exempt(path: &str) -> bool {
    path.starts_with("/grpc.") || path.starts_with("/health/") || path == "/metrics"
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> tower::Layer<S> for InFlight {
    type Service = Shed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Shed {
            inner,
            in_flight: self.clone(),
        }
    }
}

/// The gRPC side: a call past the limit is refused with a status tonic sends as it is.
#[derive(Debug, Clone)]
pub struct Shed<S> {
    inner: S,
    in_flight: InFlight,
}

impl<S, B> tower::Service<http::Request<B>> for Shed<S>
where
    S: tower::Service<http::Request<B>>,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = BoxFuture<Result<S::Response, BoxError>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(context).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if exempt(request.uri().path()) {
            let call = self.inner.call(request);
            return Box::pin(async move { call.await.map_err(Into::into) });
        }
        let Ok(permit) = Arc::clone(&self.in_flight.permits).try_acquire_owned() else {
            metrics::counter!(SHED, "server" => self.in_flight.server).increment(1);
            let status = tonic::Status::with_error_details(
                tonic::Code::Unavailable,
                "the service is at capacity; retry shortly",
                ErrorDetails::with_retry_info(Some(RETRY_AFTER)),
            );
            return Box::pin(async move { Err(Box::new(status) as BoxError) });
        };
        let call = self.inner.call(request);
        Box::pin(async move {
            let response = call.await.map_err(Into::into);
            drop(permit);
            response
        })
    }
}

/// The HTTP side, as an axum middleware with the server's [`InFlight`] as its state.
pub async fn http(State(in_flight): State<InFlight>, request: Request, next: Next) -> Response {
    if exempt(request.uri().path()) {
        return next.run(request).await;
    }
    let Ok(_permit) = Arc::clone(&in_flight.permits).try_acquire_owned() else {
        metrics::counter!(SHED, "server" => in_flight.server).increment(1);
        let status = tonic::Status::with_error_details(
            tonic::Code::Unavailable,
            "the service is at capacity; retry shortly",
            ErrorDetails::with_retry_info(Some(RETRY_AFTER)),
        );
        return crate::json_api::Problem::from_status(&status).into_response();
    };
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::routing::get;
    use tokio::sync::Notify;
    use tower::{Layer as _, Service as _, ServiceExt as _};

    use super::*;

    #[tokio::test]
    async fn an_http_call_past_the_limit_is_refused_at_once_with_retry_after() {
        let release = Arc::new(Notify::new());
        let waiting = Arc::clone(&release);
        let app = axum::Router::new()
            .route(
                "/slow",
                get(move || {
                    let waiting = Arc::clone(&waiting);
                    async move {
                        waiting.notified().await;
                        "done"
                    }
                }),
            )
            .route("/health/readyz", get(|| async { "ready" }))
            .layer(axum::middleware::from_fn_with_state(
                InFlight::new("http", 1),
                http,
            ));
        let first = tokio::spawn(
            app.clone().oneshot(
                Request::get("/slow")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            ),
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        let refused = app
            .clone()
            .oneshot(
                Request::get("/slow")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert!(
            started.elapsed() < Duration::from_millis(50),
            "refused at once"
        );
        assert_eq!(refused.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.headers().get("retry-after").unwrap(), "1");
        // Probes still get through.
        let probe = app
            .clone()
            .oneshot(
                Request::get("/health/readyz")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(probe.status(), http::StatusCode::OK);
        release.notify_one();
        assert_eq!(first.await.unwrap().unwrap().status(), http::StatusCode::OK);
    }

    #[tokio::test]
    async fn a_grpc_call_past_the_limit_gets_unavailable_with_a_retry_hint() {
        let release = Arc::new(Notify::new());
        let waiting = Arc::clone(&release);
        let inner = tower::service_fn(move |_request: http::Request<()>| {
            let waiting = Arc::clone(&waiting);
            async move {
                waiting.notified().await;
                Ok::<_, BoxError>(http::Response::new(()))
            }
        });
        let mut service = InFlight::new("grpc", 1).layer(inner);
        let call = |path: &str| http::Request::get(path).body(()).unwrap();
        let first = service
            .ready()
            .await
            .unwrap()
            .call(call("/combipat.intake.v1.Intake/SubmitRequest"));
        let refused = service
            .ready()
            .await
            .unwrap()
            .call(call("/combipat.intake.v1.Intake/SubmitRequest"))
            .await
            .unwrap_err();
        let status = refused.downcast::<tonic::Status>().unwrap();
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert_eq!(
            status
                .get_details_retry_info()
                .and_then(|retry| retry.retry_delay),
            Some(RETRY_AFTER)
        );
        release.notify_one();
        first.await.unwrap();
    }
}
