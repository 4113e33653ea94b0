//! A person's path through the pages, in headless Chromium without JavaScript: sign in,
//! "Scrivi alla sede" with an attachment, the destination office shown before sending, the
//! request page, and the request found in "Le mie richieste" (tests/browser/).

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
