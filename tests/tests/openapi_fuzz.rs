//! Schemathesis (PyPI) against every OpenAPI document of the running system, with all its
//! checks and phases (tests/schemathesis/schemathesis.toml says which rules JSON Schema
//! cannot express, and only those relax "a schema-valid request is accepted"). A finding on
//! any document fails the test, with schemathesis's report. `scripts/ensure-tools.sh`
//! installs schemathesis.

#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a failed assumption in a test is a failed test"
)]

use combipat_e2e::System;
use combipat_platform::auth::Role;
use combipat_testkit::{token, workspace_root};

#[tokio::test]
async fn schemathesis_finds_nothing_in_any_openapi_document() {
    let system = System::start(None).await.unwrap();
    let operatore = token(
        Role::Operatore,
        &[("patronato", "INCA"), ("patronato_office", "INCA-MI-01")],
    )
    .unwrap();
    let funzionario = token(Role::Funzionario, &[("inps_office", "SEDE-MI")]).unwrap();
    let responsabile = token(Role::Responsabile, &[("inps_office", "DR-LOMBARDIA")]).unwrap();
    let documents = [
        ("intake", "/openapi.json", &operatore),
        ("intake", "/openapi/mandates.json", &operatore),
        ("office-queue", "/openapi.json", &funzionario),
        ("notifier", "/openapi.json", &operatore),
        ("notifier", "/openapi/endpoints.json", &operatore),
        ("notifier", "/openapi/avvisi.json", &operatore),
        ("reminder-scheduler", "/openapi.json", &funzionario),
        ("reporting", "/openapi.json", &responsabile),
    ];
    let config = workspace_root().join("tests/schemathesis/schemathesis.toml");
    // All at once: each run mostly waits on its service.
    let mut runs = tokio::task::JoinSet::new();
    for (service, path, bearer) in documents {
        let url = format!("http://{}{path}", system.service(service).http_addr);
        let (config, authorization) = (config.clone(), format!("Authorization: Bearer {bearer}"));
        runs.spawn(async move {
            let run = tokio::process::Command::new("schemathesis")
                .arg("--config-file")
                .arg(&config)
                .args(["run", &url, "-H", &authorization])
                .env("NO_COLOR", "1")
                .output()
                .await
                .expect("schemathesis (scripts/ensure-tools.sh installs it)");
            (service, path, run)
        });
    }
    let mut findings = Vec::new();
    while let Some(done) = runs.join_next().await {
        let (service, path, run) = done.unwrap();
        let report = String::from_utf8_lossy(&run.stdout);
        let summary = report.lines().last().unwrap_or_default().to_owned();
        println!("{service} {path}: {summary}");
        if !run.status.success() {
            findings.push(format!(
                "{service} {path}:\n{report}\n{}",
                String::from_utf8_lossy(&run.stderr)
            ));
        }
    }
    assert!(findings.is_empty(), "{}", findings.join("\n\n"));
}
