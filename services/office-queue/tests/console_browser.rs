//! Both paths end to end in headless Chromium without JavaScript (tests/browser/
//! console-walk.mjs): an operator files a request in intake's pages choosing the comune by
//! name; an official of SEDE-MI finds it in the office console, takes it and asks for
//! information; the operator reads the notice (notifier) and replies with a file; the
//! official answers with a file and closes; the operator reads the answer and rates it; a
//! responsabile reads the workload. Avvisi (tests/browser/avvisi-walk.mjs): the responsabile
//! of the Direzione regionale Lombardia publishes from the console (a region outside its own
//! refused), an operator of INCA-MI-01 sees it unread in intake's "Avvisi", finds it by
//! another inflection and opens it, and the publisher sees the office read it. axe-core checks
//! every page on the way. The services run as their real binaries (`cargo build --bins`
//! first; `just test` does) on the test's own databases and bus; the screenshots go to
//! docs/screenshots/.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

use std::path::PathBuf;

use combipat_e2e::{Options, System};
use combipat_platform::auth::Role;
use combipat_platform::settings::env_var_for;
use combipat_proto::notifier::v1::avvisi_client::AvvisiClient;
use combipat_proto::notifier::v1::{ImportPatronatoOfficesRequest, PatronatoOffice};
use combipat_testkit::{grpc_channel, token, with_token, workspace_root};

/// The browser scripts' folder, with its tools installed.
fn scripts() -> PathBuf {
    let scripts = workspace_root().join("tests/browser");
    assert!(
        scripts.join("node_modules/@axe-core/playwright").exists(),
        "@axe-core/playwright is missing: run scripts/ensure-tools.sh (npm ci in tests/browser)"
    );
    scripts
}

fn screenshots() -> PathBuf {
    workspace_root().join("docs/screenshots")
}

/// The development sign-in on every page, as the walks sign in.
fn with_pages(options: Options) -> Options {
    let key = workspace_root().join("dev/keys/dev-jwt-private.pem");
    Options {
        settings: vec![
            ("pages.dev_sign_in".into(), "true".into()),
            (
                "pages.dev_signing_key_path".into(),
                key.display().to_string(),
            ),
        ],
        ..options
    }
}

/// Runs `script` against intake's pages and the console; what it printed (the pages axe
/// checked), or a failure with the services' logs.
async fn walk(system: &System, script: &str, env: &[(&str, PathBuf)]) -> Vec<serde_json::Value> {
    let output = tokio::process::Command::new("node")
        .arg(scripts().join(script))
        .env(
            "INTAKE_URL",
            format!("http://{}", system.intake().http_addr),
        )
        .env(
            "CONSOLE_URL",
            format!("http://{}", system.office_queue().http_addr),
        )
        .envs(env.iter().map(|(key, value)| (*key, value)))
        .current_dir(scripts())
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the walk failed:\n{stdout}\n{stderr}\nintake: {}\noffice-queue: {}\nnotifier: {}",
        system.intake().log_tail(),
        system.office_queue().log_tail(),
        system.service("notifier").log_tail()
    );
    let walked: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    walked["checked"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_operator_and_an_official_walk_a_request_from_filing_to_rating() {
    let mut system = System::start_with(with_pages(Options {
        // Started below, once they know where router and notifier listen.
        deferred: vec!["reporting", "reminder-scheduler", "office-queue", "intake"],
        ..Options::default()
    }))
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

    let checked = walk(
        &system,
        "console-walk.mjs",
        &[("SCREENSHOTS", screenshots())],
    )
    .await;
    assert!(checked.len() >= 15, "axe checked only {checked:?}");
    system.stop_all().await.unwrap();
}

#[tokio::test]
async fn a_direzione_regionale_publishes_and_an_operator_of_its_region_reads() {
    let mut system = System::start_with(with_pages(Options::default()))
        .await
        .unwrap();
    // Where INCA-MI-01 is (in production learned from its requests, or imported as here).
    AvvisiClient::new(
        grpc_channel(system.service("notifier").grpc_addr)
            .await
            .unwrap(),
    )
    .import_patronato_offices(
        with_token(
            ImportPatronatoOfficesRequest {
                offices: vec![PatronatoOffice {
                    patronato: "INCA".into(),
                    office: "INCA-MI-01".into(),
                    province_code: "MI".into(),
                    ..PatronatoOffice::default()
                }],
            },
            &token(Role::Admin, &[]).unwrap(),
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let checked = walk(
        &system,
        "avvisi-walk.mjs",
        &[("SCREENSHOTS", screenshots())],
    )
    .await;
    assert_eq!(checked.len(), 6, "axe checked {checked:?}");
    system.stop_all().await.unwrap();
}
