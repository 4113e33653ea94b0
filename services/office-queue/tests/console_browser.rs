//! Both paths end to end in headless Chromium without JavaScript (tests/browser/
//! console-walk.mjs): an operator files a request in intake's pages choosing the comune by
//! name; an official of SEDE-MI finds it in the office console, takes it and asks for
//! information; the operator reads the notice (notifier) and replies with a file; the
//! official answers with a file and closes; the operator reads the answer and rates it; a
//! responsabile reads the workload. axe-core checks every page on the way. The services run
//! as their real binaries (`cargo build --bins` first; `just test` does) on the test's own
//! databases and bus; the screenshots go to docs/screenshots/.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

use combipat_e2e::{Options, System};
use combipat_platform::settings::env_var_for;
use combipat_testkit::workspace_root;

#[tokio::test]
async fn an_operator_and_an_official_walk_a_request_from_filing_to_rating() {
    let scripts = workspace_root().join("tests/browser");
    assert!(
        scripts.join("node_modules/@axe-core/playwright").exists(),
        "@axe-core/playwright is missing: run scripts/ensure-tools.sh (npm ci in tests/browser)"
    );
    let key = workspace_root().join("dev/keys/dev-jwt-private.pem");
    let mut system = System::start_with(Options {
        // Started below, once they know where router and notifier listen.
        deferred: vec!["reporting", "reminder-scheduler", "office-queue", "intake"],
        settings: vec![
            ("pages.dev_sign_in".into(), "true".into()),
            (
                "pages.dev_signing_key_path".into(),
                key.display().to_string(),
            ),
        ],
        ..Options::default()
    })
    .await
    .unwrap();
    let router = format!("http://{}", system.router().grpc_addr);
    let notifier = format!("http://{}", system.service("notifier").grpc_addr);
    system
        .service_mut("office-queue")
        .set_env(&env_var_for("router.endpoint"), Some(&router));
    system.service_mut("office-queue").start().await.unwrap();
    let intake = system.service_mut("intake");
    intake.set_env(&env_var_for("router.endpoint"), Some(&router));
    intake.set_env(&env_var_for("notifier.endpoint"), Some(&notifier));
    intake.start().await.unwrap();
    system.grant_mandates().await.unwrap();

    let output = tokio::process::Command::new("node")
        .arg(scripts.join("console-walk.mjs"))
        .env(
            "INTAKE_URL",
            format!("http://{}", system.intake().http_addr),
        )
        .env(
            "CONSOLE_URL",
            format!("http://{}", system.office_queue().http_addr),
        )
        .env("SCREENSHOTS", workspace_root().join("docs/screenshots"))
        .current_dir(&scripts)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the walk failed:\n{stdout}\n{stderr}\nintake: {}\noffice-queue: {}",
        system.intake().log_tail(),
        system.office_queue().log_tail()
    );
    let walked: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let checked = walked["checked"].as_array().unwrap();
    assert!(checked.len() >= 15, "axe checked only {checked:?}");
    system.stop_all().await.unwrap();
}
