//! The region's page in a real browser (headless Chromium, JavaScript off,
//! tests/browser/reporting-region.mjs): the development sign-in of the direzione regionale,
//! the page for a month, its summary, charts and print stylesheet, the link from the slowest
//! offices to their figures, and the CSV of the summary and of the offices holding the same
//! numbers as the page.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use combipat_platform::clock::Clock;
use combipat_testkit::workspace_root;
use common::{events_of, march_history, start_with};

#[tokio::test]
async fn the_region_page_renders_without_scripts_and_its_csv_holds_the_same_numbers() {
    let scripts = workspace_root().join("tests/browser");
    assert!(
        scripts.join("node_modules/playwright-core").exists(),
        "playwright-core is missing: run scripts/ensure-tools.sh (npm ci in tests/browser)"
    );
    let mut harness = start_with(&[("pages.dev_sign_in", "true")], Clock::system()).await;
    harness.publish(&events_of(&march_history())).await;
    harness.read_all().await;

    let output = tokio::process::Command::new("node")
        .arg(scripts.join("reporting-region.mjs"))
        .env("BASE_URL", format!("http://{}", harness.service.http_addr))
        .env("PERIOD", "2026-03")
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
    let read: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(read["title"], "Tavolo tecnico: Basilicata");
    // The numbers the page shows are those of the hand-built month (tests/figures.rs).
    assert_eq!(read["summary"]["received"]["region"], "9");
    assert_eq!(read["summary"]["received"]["nation"], "12");
    assert_eq!(read["summary"]["received"]["previous"], "1");
    assert_eq!(read["summary"]["backlog"]["region"], "2");
    assert_eq!(read["summary"]["satisfaction"]["region"], "4,33");
    assert_eq!(read["summary"]["provenance"]["region"], "Patronato");
    assert_eq!(
        read["offices"],
        serde_json::json!(["IT", "within:17", "FALLBACK-17", "SEDE-MT", "SEDE-PZ"])
    );
    assert!(read["officeCharts"].as_u64().unwrap() >= 6);
}
