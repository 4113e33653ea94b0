//! Bad input at the edges, generated: malformed protobuf, JSON of the wrong shape, wrong
//! types, oversized fields and invalid UTF-8, over gRPC and HTTP. Every one gets a clear
//! error (a 4xx, or a gRPC status that is not INTERNAL or UNKNOWN), the service stays up,
//! and nothing is stored.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use combipat_proto::intake::v1::SubmitRequestRequest;
use combipat_testkit::{raw_call, with_token};
use common::{Harness, good_request, operator, start_with, stored_rows};
use proptest::prelude::*;
use prost::Message as _;
use tonic::Code;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// What a well-behaved refusal looks like over gRPC.
fn clear_refusal(status: &tonic::Status) -> bool {
    !matches!(status.code(), Code::Internal | Code::Unknown | Code::Ok)
        && !status.message().is_empty()
}

fn arbitrary_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        "[\\x00-\\x1f\\u{7f}-\\u{9f}]{1,20}",
        Just("x".repeat(10_000)),
        "[A-Z0-9]{16}",
        "\\PC{0,200}",
    ]
}

fn arbitrary_request() -> impl Strategy<Value = SubmitRequestRequest> {
    (
        -3i32..6,
        arbitrary_text(),
        arbitrary_text(),
        arbitrary_text(),
        arbitrary_text(),
        arbitrary_text(),
        arbitrary_text(),
        proptest::collection::vec(arbitrary_text(), 0..8),
        arbitrary_text(),
    )
        .prop_map(
            |(motivo, cf, comune, topic, prestazione, subject, body, ids, key)| {
                SubmitRequestRequest {
                    motivo,
                    codice_fiscale: cf,
                    comune_residenza: comune,
                    topic,
                    prestazione,
                    subject,
                    body,
                    attachment_ids: ids,
                    idempotency_key: key,
                    ..SubmitRequestRequest::default()
                }
            },
        )
}

/// Random bytes, and valid messages with one byte flipped or cut short.
fn malformed_protobuf() -> impl Strategy<Value = Vec<u8>> {
    let valid = good_request().encode_to_vec();
    let len = valid.len();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 1..512),
        (0..len, any::<u8>()).prop_map(move |(at, byte)| {
            let mut bytes = good_request().encode_to_vec();
            bytes[at] ^= byte | 1;
            bytes
        }),
        (1..len).prop_map(move |cut| good_request().encode_to_vec()[..cut].to_vec()),
        // A string field whose bytes are not UTF-8.
        Just(vec![0x12, 0x04, 0xff, 0xfe, 0xc3, 0x28]),
    ]
}

fn bad_json() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        Just(b"[1,2,3]".to_vec()),
        Just(b"{\"motivo\": 42.5}".to_vec()),
        Just(b"{\"codice_fiscale\": [\"RSSMRA85T10A562S\"]}".to_vec()),
        Just(b"{\"subject\": \"\xff\xfe\"}".to_vec()),
        Just(b"{\"attachment_ids\": \"not-a-list\", \"confirm_duplicate\": \"yes\"}".to_vec()),
        arbitrary_text().prop_map(|text| serde_json::json!({
            "motivo": "MOTIVO_RICHIESTA_GENERICA", "codice_fiscale": text, "subject": text, "body": text
        }).to_string().into_bytes()),
        any::<i64>().prop_map(|n| format!("{{\"motivo\": {n}, \"topic\": {n}}}").into_bytes()),
    ]
}

struct Target {
    harness: Harness,
    channel: tonic::transport::Channel,
    http: reqwest::Client,
    token: String,
}

fn target(runtime: &tokio::runtime::Runtime) -> Target {
    runtime.block_on(async {
        // Many calls in a row: the rate limit has its own test.
        let harness = start_with(&[("rate_limit.calls_per_window", "0")]).await;
        let channel = combipat_testkit::grpc_channel(harness.service.grpc_addr)
            .await
            .unwrap();
        Target {
            harness,
            channel,
            http: reqwest::Client::new(),
            token: operator("INCA-MI-01"),
        }
    })
}

#[test]
fn malformed_and_hostile_input_is_refused_clearly_and_stores_nothing() {
    let runtime = runtime();
    let target = target(&runtime);
    let config = ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    };

    let accepted = std::sync::atomic::AtomicI64::new(0);
    proptest!(config.clone(), |(bytes in malformed_protobuf())| {
        let outcome = runtime.block_on(raw_call(
            target.channel.clone(),
            "/combipat.intake.v1.Intake/SubmitRequest",
            bytes,
            &target.token,
        ));
        match &outcome {
            // A flipped byte can leave a valid request: then it is filed, and counted.
            Ok(_) => {
                accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            // tonic refuses undecodable messages itself; nothing may answer UNKNOWN.
            Err(status) => prop_assert!(status.code() != Code::Unknown, "{status:?}"),
        }
    });

    proptest!(config.clone(), |(request in arbitrary_request())| {
        let outcome = runtime.block_on(async {
            target
                .harness
                .client
                .clone()
                .submit_request(with_token(request, &target.token).unwrap())
                .await
        });
        match outcome {
            Ok(accepted) => prop_assert!(false, "accepted nonsense: {accepted:?}"),
            Err(status) => prop_assert!(clear_refusal(&status), "{status:?}"),
        }
    });

    let url = format!("http://{}/v1/requests", target.harness.service.http_addr);
    proptest!(config, |(body in bad_json())| {
        let (status, content_type) = runtime.block_on(async {
            let response = target
                .http
                .post(&url)
                .bearer_auth(&target.token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let content_type = response
                .headers()
                .get("content-type")
                .map(|value| value.to_str().unwrap_or_default().to_owned())
                .unwrap_or_default();
            (response.status(), content_type)
        });
        prop_assert!(status.is_client_error(), "{status}");
        prop_assert_eq!(content_type, "application/problem+json");
    });

    runtime.block_on(async {
        // A path segment that is not UTF-8: problem+json naming the path, once the token
        // holds, and without one the token's refusal.
        let url = format!(
            "http://{}/v1/requests/%FF%FE",
            target.harness.service.http_addr
        );
        for (token, expected) in [(Some(&target.token), 422), (None, 401)] {
            let mut call = target.http.get(&url);
            if let Some(token) = token {
                call = call.bearer_auth(token);
            }
            let response = call.send().await.unwrap();
            assert_eq!(response.status().as_u16(), expected);
            assert_eq!(
                response.headers()["content-type"].to_str().unwrap(),
                "application/problem+json"
            );
            let problem: serde_json::Value = response.json().await.unwrap();
            if expected == 422 {
                assert_eq!(problem["violations"][0]["field"], "path", "{problem}");
            }
        }
    });

    runtime.block_on(async {
        // Nothing stored but what was accepted, and the service still serves.
        let accepted = accepted.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(
            stored_rows(&target.harness.database).await,
            (accepted, accepted)
        );
        let body = combipat_testkit::http_get(target.harness.service.http_addr, "/health/readyz")
            .await
            .unwrap();
        assert!(body.starts_with("HTTP/1.1 200"), "{body}");
        target
            .harness
            .client
            .clone()
            .submit_request(
                with_token(
                    SubmitRequestRequest {
                        confirm_duplicate: true,
                        ..good_request()
                    },
                    &target.token,
                )
                .unwrap(),
            )
            .await
            .unwrap();
    });
}
