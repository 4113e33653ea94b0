//! A webhook receiver: keeps every request it gets (the Standard Webhooks headers, the body,
//! and whether a signature verified with the secrets it knows), and answers the status it is
//! told to (with a Retry-After, if set).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::webhooks::signature;

#[derive(Debug, Clone)]
pub struct ReceivedHook {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
    pub body: String,
    /// Which of the receiver's secrets verified the signature (their index), if any.
    pub verified_by: Vec<usize>,
    /// What the receiver answered.
    pub status: u16,
    /// When it arrived (for latency measurements).
    pub at: std::time::Instant,
}

struct State {
    received: Mutex<Vec<ReceivedHook>>,
    secrets: Mutex<Vec<String>>,
    answer: Mutex<(u16, Option<String>)>,
}

pub struct WebhookReceiver {
    pub addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WebhookReceiver {
    /// Listens on `addr` (`127.0.0.1:0` for a free port), answering 204.
    pub async fn start(addr: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            received: Mutex::new(Vec::new()),
            secrets: Mutex::new(Vec::new()),
            answer: Mutex::new((204, None)),
        });
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(Arc::clone(&state));
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(error = %error, "the webhook receiver stopped");
            }
        });
        Ok(Self { addr, state, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// The secrets signatures are checked against (a rotation adds the new one).
    pub fn trust(&self, secret: &str) {
        if let Ok(mut secrets) = self.state.secrets.lock() {
            secrets.push(secret.to_owned());
        }
    }

    /// From now on, answer `status` (and this Retry-After).
    pub fn answer(&self, status: u16, retry_after: Option<&str>) {
        if let Ok(mut answer) = self.state.answer.lock() {
            *answer = (status, retry_after.map(str::to_owned));
        }
    }

    /// How many requests arrived so far.
    pub fn count(&self) -> usize {
        self.state
            .received
            .lock()
            .map(|received| received.len())
            .unwrap_or_default()
    }

    pub fn received(&self) -> Vec<ReceivedHook> {
        self.state
            .received
            .lock()
            .map(|received| received.clone())
            .unwrap_or_default()
    }
}

async fn receive(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, signature_header) = (header("webhook-id"), header("webhook-signature"));
    let timestamp = header("webhook-timestamp")
        .parse::<i64>()
        .unwrap_or_default();
    let secrets = state
        .secrets
        .lock()
        .map(|secrets| secrets.clone())
        .unwrap_or_default();
    let verified_by = secrets
        .iter()
        .enumerate()
        .filter(|(_, secret)| {
            signature::verify(secret, &id, timestamp, body.as_bytes(), &signature_header)
        })
        .map(|(index, _)| index)
        .collect();
    let (status, retry_after) = state
        .answer
        .lock()
        .map(|answer| answer.clone())
        .unwrap_or((500, None));
    if let Ok(mut received) = state.received.lock() {
        received.push(ReceivedHook {
            id,
            timestamp,
            signature: signature_header,
            body,
            verified_by,
            status,
            at: std::time::Instant::now(),
        });
    }
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match retry_after {
        Some(after) => (code, [("retry-after", after)], "").into_response(),
        None => (code, "ok").into_response(),
    }
}
