//! Bad input at the edges of office-queue, generated: malformed protobuf, wrong JSON,
//! oversized and control-character text, invalid UTF-8. Every one gets a clear error, the
//! service stays up, and the item is not changed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use combipat_proto::officequeue::v1::{AnswerRequest, ListItemsRequest};
use combipat_testkit::{raw_call, with_token};
use common::{filed, official_named, start};
use proptest::prelude::*;
use prost::Message as _;
use tonic::Code;

#[test]
fn malformed_and_hostile_input_changes_nothing_and_gets_a_clear_error() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (mut harness, item) = runtime.block_on(async {
        let mut harness = start().await;
        let item = filed(&mut harness).await;
        (harness, item)
    });
    let anna = official_named("SEDE-MI", "anna");
    let channel = runtime
        .block_on(combipat_testkit::grpc_channel(harness.service.grpc_addr))
        .unwrap();
    let config = ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let answer = AnswerRequest {
        request_id: item.request_id.clone(),
        expected_version: item.version,
        text: "Risposta".into(),
        ..AnswerRequest::default()
    };

    // Not claimed: even a well-formed answer is refused, so the item must stay as it is.
    let bytes = prop_oneof![
        proptest::collection::vec(any::<u8>(), 1..256),
        (0..answer.encode_to_vec().len(), 1u8..=255).prop_map({
            let valid = answer.encode_to_vec();
            move |(at, flip)| {
                let mut bytes = valid.clone();
                bytes[at] ^= flip;
                bytes
            }
        }),
        Just(vec![0x1a, 0x03, 0xc3, 0x28, 0xff]),
    ];
    proptest!(config.clone(), |(message in bytes)| {
        let outcome = runtime.block_on(raw_call(
            channel.clone(),
            "/combipat.officequeue.v1.OfficeQueue/Answer",
            message,
            &anna,
        ));
        let status = outcome.expect_err("nothing may answer an unclaimed item");
        prop_assert!(status.code() != Code::Unknown, "{status:?}");
    });

    let text = prop_oneof![
        ".{0,40}",
        "[\\x00-\\x1f]{1,10}",
        Just("x".repeat(100_000)),
        "\\PC{0,300}"
    ];
    proptest!(config.clone(), |(topic in text.clone(), patronato in text, page_size in any::<u32>(), page_token in ".{0,60}")| {
        let outcome = runtime.block_on(harness.client.clone().list_items(
            with_token(
                ListItemsRequest {
                    office_code: "SEDE-MI".into(),
                    topic,
                    patronato,
                    page_size,
                    page_token,
                    ..ListItemsRequest::default()
                },
                &anna,
            )
            .unwrap(),
        ));
        if let Err(status) = outcome {
            prop_assert!(
                matches!(status.code(), Code::InvalidArgument) && !status.message().is_empty(),
                "{status:?}"
            );
        }
    });

    let url = format!(
        "http://{}/v1/items/{}/answer",
        harness.service.http_addr, item.request_id
    );
    let http = reqwest::Client::new();
    let json = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        Just(b"{\"expected_version\": -1}".to_vec()),
        Just(b"{\"expected_version\": 1e999}".to_vec()),
        Just(b"{\"text\": \"\\ud800\"}".to_vec()),
        Just(b"{\"attachment_ids\": {\"a\": 1}}".to_vec()),
        any::<i64>()
            .prop_map(|n| format!("{{\"expected_version\": \"{n}\", \"text\": {n}}}").into_bytes()),
    ];
    proptest!(config, |(body in json)| {
        let status = runtime.block_on(async {
            http.post(&url)
                .bearer_auth(&anna)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        });
        prop_assert!(status.is_client_error(), "{status}");
    });

    runtime.block_on(async {
        let now = common::get(&mut harness.client, &item.request_id).await;
        let now = now.item.unwrap();
        assert_eq!(
            (now.version, now.status.as_str()),
            (item.version, "NEW"),
            "unchanged"
        );
        let body = combipat_testkit::http_get(harness.service.http_addr, "/health/readyz")
            .await
            .unwrap();
        assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    });
}
