//! A person's path through the pages, in headless Chromium without JavaScript: sign in,
//! "Scrivi alla sede" with an attachment, the destination office shown before sending, the
//! request page, and the request found in "Le mie richieste"; and the notices: the unread
//! count on every page, "Notifiche", marking them read (tests/browser/).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use combipat_testkit::{TestDatabase, TestService, overrides, workspace_root};
use common::start_with;

#[tokio::test]
async fn an_operator_submits_through_the_form_and_finds_the_request_in_the_list() {
    let scripts = workspace_root().join("tests/browser");
    assert!(
        scripts.join("node_modules/playwright-core").exists(),
        "playwright-core is missing: run scripts/ensure-tools.sh (npm ci in tests/browser)"
    );
    // Router, for the destination shown before sending.
    let bus_for_router = combipat_testkit::TestBus::new();
    let router = TestService::start::<combipat_router::Service>(&overrides(
        &TestDatabase::create().await.unwrap(),
        &bus_for_router,
    ))
    .await
    .unwrap();
    let key = workspace_root().join("dev/keys/dev-jwt-private.pem");
    let router_endpoint = format!("http://{}", router.grpc_addr);
    let harness = start_with(&[
        ("pages.dev_sign_in", "true"),
        ("pages.dev_signing_key_path", key.to_str().unwrap()),
        ("router.endpoint", &router_endpoint),
    ])
    .await;

    let output = tokio::process::Command::new("node")
        .arg(scripts.join("submit-request.mjs"))
        .env("BASE_URL", format!("http://{}", harness.service.http_addr))
        .current_dir(&scripts)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser path failed:\n{stdout}\n{stderr}"
    );

    let protocol = stdout.trim();
    let pool = harness.database.connect().await.unwrap();
    let (stored, office, files): (String, String, i64) = sqlx::query_as(
        "SELECT r.protocol_number, r.patronato_office, (SELECT count(*) FROM attachments a WHERE a.request_id = r.id)
         FROM requests r",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (stored.as_str(), office.as_str(), files),
        (protocol, "INCA-MI-01", 1)
    );
    router.shutdown().await.unwrap();
}

/// Notifier's binary beside this test's (`cargo build --bins` builds it), on its own database
/// and bus; stopped when the returned child is dropped.
async fn notifier_process(
    bus: &combipat_testkit::TestBus,
) -> (tokio::process::Child, std::net::SocketAddr) {
    let exe = std::env::current_exe().unwrap();
    let binary = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("combipat-notifier");
    assert!(
        binary.exists(),
        "{} is missing: cargo build --bins first",
        binary.display()
    );
    let database = TestDatabase::create().await.unwrap();
    let free = || combipat_testkit::free_port().unwrap();
    let (grpc, http) = (free(), free());
    let mut env: Vec<(String, String)> = overrides(&database, bus);
    env.push(("grpc.port".into(), grpc.to_string()));
    env.push(("http.port".into(), http.to_string()));
    let child = tokio::process::Command::new(binary)
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(
            env.iter()
                .map(|(key, value)| (combipat_platform::settings::env_var_for(key), value)),
        )
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http_addr: std::net::SocketAddr = format!("127.0.0.1:{http}").parse().unwrap();
    combipat_testkit::eventually(std::time::Duration::from_secs(30), || async move {
        Ok(combipat_testkit::http_get(http_addr, "/health/readyz")
            .await
            .ok()
            .filter(|answer| answer.starts_with("HTTP/1.1 200")))
    })
    .await
    .unwrap();
    (child, format!("127.0.0.1:{grpc}").parse().unwrap())
}

#[tokio::test]
async fn the_operator_reads_the_office_question_in_notifiche_and_marks_it_read() {
    use combipat_platform::messaging::sequenced_envelope;
    use combipat_proto::common::v1::{Filer, OfficeRef, RequestSummary};
    use combipat_proto::events::v1::envelope::Payload;
    use combipat_proto::events::v1::{RequestInfoRequested, RequestRouted};

    let scripts = workspace_root().join("tests/browser");
    let bus = combipat_testkit::TestBus::new();
    let (_notifier, notifier_addr) = notifier_process(&bus).await;
    bus.wait_for_consumer("notifier.events").await.unwrap();

    // Router and office-queue's events for a request mario.rossi filed.
    let request = RequestSummary {
        filer: Some(Filer {
            patronato: "INCA".into(),
            patronato_office: "INCA-MI-01".into(),
            operator_id: "mario.rossi".into(),
        }),
        ..combipat_testkit::request_summary("F205", "pensioni", "CP-2026-00000777")
    };
    let office = OfficeRef {
        code: "SEDE-MI".into(),
        name: "Sede di Milano".into(),
        ..OfficeRef::default()
    };
    for (sequence, payload) in [
        (
            1,
            Payload::RequestRouted(RequestRouted {
                request: Some(request.clone()),
                office: Some(office.clone()),
                decision_sequence: 1,
                ..Default::default()
            }),
        ),
        (
            2,
            Payload::RequestInfoRequested(RequestInfoRequested {
                office: Some(office.clone()),
                question: "Serve il modulo AP70 firmato.".into(),
                asked_by: "anna".into(),
                attachments: Vec::new(),
            }),
        ),
    ] {
        bus.publish_envelope(&sequenced_envelope(
            "office-queue",
            &request.request_id,
            sequence,
            payload,
        ))
        .await
        .unwrap();
    }

    let key = workspace_root().join("dev/keys/dev-jwt-private.pem");
    let endpoint = format!("http://{notifier_addr}");
    let harness = start_with(&[
        ("pages.dev_sign_in", "true"),
        ("pages.dev_signing_key_path", key.to_str().unwrap()),
        ("notifier.endpoint", &endpoint),
    ])
    .await;
    let output = tokio::process::Command::new("node")
        .arg(scripts.join("notifications.mjs"))
        .env("BASE_URL", format!("http://{}", harness.service.http_addr))
        .current_dir(&scripts)
        .output()
        .await
        .expect("node runs");
    assert!(
        output.status.success(),
        "the browser path failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
