//! An official reads the citizen and the text the patronato sent, and each read of them
//! (the item, a list that showed it) is recorded for the admin's audit of who read what.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use combipat_proto::audit::v1::ListReadsRequest;
use combipat_proto::audit::v1::read_audit_client::ReadAuditClient;
use combipat_testkit::{token, with_token};
use common::{filed, get, list, start};

#[tokio::test]
async fn the_official_reads_the_request_and_each_read_is_recorded() {
    let mut harness = start().await;
    let item = filed(&mut harness).await;
    assert_eq!(item.codice_fiscale, "RSSMRA85T10A562S");
    assert_eq!(item.comune_residenza, "F205");
    assert_eq!(item.patronato_office, "ACLI-MI-1");

    let read = get(&mut harness.client, &item.request_id).await;
    assert_eq!(read.body, "Il cittadino chiede lo stato della domanda.");
    list(&mut harness.client, "SEDE-MI", 10, "").await;

    let mut audit = ReadAuditClient::new(
        combipat_testkit::grpc_channel(harness.service.grpc_addr)
            .await
            .unwrap(),
    );
    let admin = token(combipat_platform::auth::Role::Admin, &[]).unwrap();
    let reads = audit
        .list_reads(
            with_token(
                ListReadsRequest {
                    codice_fiscale: item.codice_fiscale.clone(),
                    ..ListReadsRequest::default()
                },
                &admin,
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner()
        .reads;
    let calls: Vec<(&str, &str, &str)> = reads
        .iter()
        .map(|read| {
            (
                read.call.as_str(),
                read.organisation.as_str(),
                read.detail.as_str(),
            )
        })
        .collect();
    // Newest first: the list, the get, and the reads `filed` made while it waited for the
    // item (one GetItem that found it; the ones before found nothing and read nothing).
    assert_eq!(
        calls[..2],
        [
            (
                "combipat.officequeue.v1.OfficeQueue/ListItems",
                "SEDE-MI",
                "list"
            ),
            ("combipat.officequeue.v1.OfficeQueue/GetItem", "SEDE-MI", ""),
        ]
    );
    assert!(
        calls[2..]
            .iter()
            .all(|call| call.0 == "combipat.officequeue.v1.OfficeQueue/GetItem"),
        "{calls:?}"
    );
    assert!(reads.iter().all(|read| read.request_id == item.request_id
        && read.service == "office-queue"
        && read.role == "funzionario"));
}
