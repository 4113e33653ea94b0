//! Every unary method of every service, called by every role with malformed protobuf and
//! with an empty message, answers with a clear refusal (or a result) and never with UNKNOWN,
//! INTERNAL or a hang; every service is still up afterwards. The methods come from the
//! descriptor set, so a method added later is covered without touching this test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

use std::time::Duration;

use combipat_e2e::System;
use combipat_platform::auth::Role;
use combipat_testkit::{grpc_channel, raw_call, token};
use prost::Message as _;
use tonic::Code;

/// Bytes that are not a valid message of any type: a truncated varint, a length past the
/// end, invalid UTF-8 in a string field, a field of wire type 7, a group never closed.
const MALFORMED: [&[u8]; 6] = [
    &[0xff, 0xff, 0xff],
    &[0x0a, 0x10, b'a'],
    &[0x0a, 0x02, 0xc3, 0x28],
    &[0x0f],
    &[0x0b, 0x08, 0x01],
    &[
        0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
    ],
];

/// The process that serves a gRPC package (the read audit is served by every one).
fn served_by(package: &str) -> Vec<&'static str> {
    match package {
        "combipat.intake.v1" => vec!["intake"],
        "combipat.router.v1" => vec!["router"],
        "combipat.officequeue.v1" => vec!["office-queue"],
        "combipat.notifier.v1" => vec!["notifier"],
        "combipat.reminderscheduler.v1" => vec!["reminder-scheduler"],
        "combipat.reporting.v1" => vec!["reporting"],
        "combipat.audit.v1" => combipat_testkit::services()
            .iter()
            .map(|service| service.name)
            .collect(),
        other => panic!("no service serves {other}: add it here"),
    }
}

fn callers() -> Vec<(&'static str, String)> {
    vec![
        ("admin", token(Role::Admin, &[]).unwrap()),
        (
            "operatore",
            token(
                Role::Operatore,
                &[("patronato", "INCA"), ("patronato_office", "INCA-MI-01")],
            )
            .unwrap(),
        ),
        (
            "supervisore",
            token(Role::Supervisore, &[("patronato", "INCA")]).unwrap(),
        ),
        (
            "funzionario",
            token(Role::Funzionario, &[("inps_office", "SEDE-MI")]).unwrap(),
        ),
        (
            "responsabile",
            token(Role::Responsabile, &[("inps_office", "SEDE-MI")]).unwrap(),
        ),
        ("analista", token(Role::Analista, &[]).unwrap()),
    ]
}

#[tokio::test]
async fn every_method_of_every_service_refuses_malformed_input_clearly() {
    let mut system = System::start(None).await.unwrap();
    let descriptors =
        prost_types::FileDescriptorSet::decode(combipat_proto::FILE_DESCRIPTOR_SET).unwrap();
    let callers = callers();
    let mut calls = 0;
    let mut failures = Vec::new();
    for file in &descriptors.file {
        let package = file.package();
        if !package.starts_with("combipat.") {
            continue;
        }
        for service in &file.service {
            for method in &service.method {
                if method.client_streaming() || method.server_streaming() {
                    continue;
                }
                let path = format!("/{package}.{}/{}", service.name(), method.name());
                for process in served_by(package) {
                    let channel = grpc_channel(system.service(process).grpc_addr)
                        .await
                        .unwrap();
                    let mut inputs: Vec<Vec<u8>> =
                        MALFORMED.iter().map(|bytes| bytes.to_vec()).collect();
                    inputs.push(Vec::new());
                    for (role, token) in &callers {
                        for input in &inputs {
                            calls += 1;
                            let outcome = tokio::time::timeout(
                                Duration::from_secs(15),
                                raw_call(channel.clone(), &path, input.clone(), token),
                            )
                            .await;
                            let code = match outcome {
                                Err(_elapsed) => {
                                    failures.push(format!("{path} ({role}): no answer in 15 s"));
                                    continue;
                                }
                                Ok(Ok(_)) => continue,
                                Ok(Err(status)) => status,
                            };
                            let malformed = !input.is_empty();
                            let bad = matches!(
                                code.code(),
                                Code::Unknown
                                    | Code::Internal
                                    | Code::DataLoss
                                    | Code::Unimplemented
                                    | Code::Unavailable
                                    | Code::DeadlineExceeded
                            ) || (malformed
                                && !matches!(
                                    code.code(),
                                    Code::InvalidArgument | Code::PermissionDenied
                                ));
                            if bad {
                                failures.push(format!(
                                    "{path} ({role}, {} bytes): {:?} {}",
                                    input.len(),
                                    code.code(),
                                    code.message()
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    for process in &system.processes {
        assert!(process.is_running(), "{} died", process.name);
    }
    system.stop_all().await.unwrap();
    #[allow(clippy::print_stdout, reason = "the figure is the test's report")]
    {
        println!("{calls} calls, {} unclear answers", failures.len());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        calls > 500,
        "the descriptor set names every method: {calls}"
    );
}
