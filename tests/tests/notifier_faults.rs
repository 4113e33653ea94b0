//! Notifier under faults: the patronato's webhook receiver is down for longer than the first
//! retries, and notifier is SIGKILLed in the middle of the burst and started again. Every
//! request's notice must reach the receiver once it is back, and no notice may arrive under
//! two different webhook-ids (the same id twice is allowed: that is what receivers
//! deduplicate on). Short real retry delays stand in for the production schedule, since the
//! time runs across processes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use combipat_e2e::fixtures::{operator, request};
use combipat_e2e::{Options, System};
use combipat_platform::auth::Role;
use combipat_proto::intake::v1::intake_client::IntakeClient;
use combipat_proto::notifier::v1::endpoints_client::EndpointsClient;
use combipat_proto::notifier::v1::notifier_client::NotifierClient;
use combipat_proto::notifier::v1::{CountUnreadRequest, RegisterEndpointRequest};
use combipat_testkit::{eventually, grpc_channel, token, with_token};
use nix::sys::signal::Signal;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

const REQUESTS: usize = 40;

/// (webhook-id, request id) of every POST received, in order.
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A webhook receiver on a fixed port that can be taken down (nothing listens) and back.
struct Receiver {
    addr: SocketAddr,
    received: Received,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut receiver = Self {
            addr: listener.local_addr().unwrap(),
            received: Received::default(),
            task: None,
        };
        receiver.serve(listener);
        receiver
    }

    fn serve(&mut self, listener: TcpListener) {
        let received = Arc::clone(&self.received);
        self.task = Some(tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let received = Arc::clone(&received);
                tokio::spawn(async move {
                    if let Some(hook) = read_request(&mut stream).await {
                        received.lock().unwrap().push(hook);
                        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                    }
                });
            }
        }));
    }

    fn down(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    async fn up(&mut self) {
        let listener = eventually(Duration::from_secs(10), || async {
            Ok(TcpListener::bind(self.addr).await.ok())
        })
        .await
        .unwrap();
        self.serve(listener);
    }
}

/// One HTTP/1.1 request: its webhook-id and the request id in its body.
async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<(String, String)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(at) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_lowercase();
    let header = |name: &str| {
        head.lines()
            .find_map(|line| line.strip_prefix(&format!("{name}:")))
            .map(|value| value.trim().to_owned())
    };
    let length: usize = header("content-length")?.parse().ok()?;
    while buffer.len() < head_end + length {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let body = String::from_utf8_lossy(&buffer[head_end..head_end + length]).into_owned();
    let request_id = body
        .split("\"request_id\":\"")
        .nth(1)
        .and_then(|rest| rest.get(..36))
        .unwrap_or_default()
        .to_owned();
    body.contains("\"type\":\"request.routed\"")
        .then(|| (header("webhook-id").unwrap_or_default(), request_id))
}

#[tokio::test]
async fn receiver_down_and_notifier_sigkilled_mid_burst_every_notice_arrives_under_one_webhook_id()
{
    let settings = [
        ("webhooks.allow_loopback", "true"),
        ("webhooks.allow_http", "true"),
        (
            "webhooks.retry_schedule_ms",
            "0,200,400,800,1000,1500,2000,3000,3000,3000,3000,3000,3000,3000,3000,3000",
        ),
        ("webhooks.circuit_open_ms", "1000"),
        ("jobs.poll_interval_ms", "50"),
        ("rate_limit.calls_per_window", "0"),
    ];
    let mut system = System::start_with(Options {
        settings: settings
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect(),
        ..Options::default()
    })
    .await
    .unwrap();
    let mut receiver = Receiver::start().await;
    let notifier_addr = system.service("notifier").grpc_addr;
    let supervisore = token(
        Role::Supervisore,
        &[("patronato", "INCA"), ("sub", "admin-inca")],
    )
    .unwrap();
    EndpointsClient::new(grpc_channel(notifier_addr).await.unwrap())
        .register_endpoint(
            with_token(
                RegisterEndpointRequest {
                    url: format!("http://{}/hook", receiver.addr),
                    event_types: vec!["request.routed".into()],
                    ..Default::default()
                },
                &supervisore,
            )
            .unwrap(),
        )
        .await
        .unwrap();

    // The receiver goes down; the burst starts; notifier is killed in the middle of it.
    receiver.down();
    let mut intake = IntakeClient::new(grpc_channel(system.intake().grpc_addr).await.unwrap());
    let mut submitted = HashSet::new();
    for n in 0..REQUESTS {
        if n == REQUESTS / 2 {
            let notifier = system.service_mut("notifier");
            assert_eq!(
                notifier.stop(Signal::SIGKILL).await.unwrap(),
                None,
                "notifier was killed"
            );
            notifier.start().await.unwrap();
        }
        let accepted = intake
            .submit_request(
                with_token(request("F205", &format!("Domanda {n}")), &operator()).unwrap(),
            )
            .await
            .unwrap()
            .into_inner();
        submitted.insert(accepted.request_id);
    }
    // Down for longer than the first retries (0, 0.2, 0.4, 0.8 s), then back.
    tokio::time::sleep(Duration::from_secs(4)).await;
    receiver.up().await;

    let received = Arc::clone(&receiver.received);
    let ids_by_request = eventually(Duration::from_secs(120), || {
        let received = Arc::clone(&received);
        let submitted = submitted.clone();
        async move {
            let mut ids: HashMap<String, HashSet<String>> = HashMap::new();
            for (id, request_id) in received.lock().unwrap().iter() {
                ids.entry(request_id.clone())
                    .or_default()
                    .insert(id.clone());
            }
            Ok(submitted
                .iter()
                .all(|request_id| ids.contains_key(request_id))
                .then_some(ids))
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "not every notice arrived; logs in {}: {}",
            system.log_dir.display(),
            system.service("notifier").log_tail()
        )
    });
    for request_id in &submitted {
        assert_eq!(
            ids_by_request[request_id].len(),
            1,
            "request {request_id} arrived under several webhook-ids"
        );
    }
    assert!(
        ids_by_request
            .keys()
            .all(|request_id| submitted.contains(request_id)),
        "a notice for no request"
    );

    // The inbox too: one notice per request for the filer's office.
    let mut inbox = NotifierClient::new(
        grpc_channel(system.service("notifier").grpc_addr)
            .await
            .unwrap(),
    );
    let unread = inbox
        .count_unread(with_token(CountUnreadRequest {}, &operator()).unwrap())
        .await
        .unwrap()
        .into_inner()
        .unread;
    assert_eq!(unread as usize, REQUESTS, "one inbox notice per request");
    system.stop_all().await.unwrap();
}
