//! Who may write and read: mandates (registry, revocation, CSV import) and the matrix of
//! who reads which request, against the real servers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use combipat_proto::intake::v1::{
    ListMandatesRequest, ListRequestsRequest, RevokeMandateRequest, SubmitRequestRequest,
};
use combipat_testkit::with_token;
use common::{
    admin, get, good_request, operator, operator_of, start, stored_rows, submit, supervisor,
};
use tonic::Code;

#[tokio::test]
async fn a_request_needs_an_active_mandate_of_the_operators_patronato() {
    let mut harness = start().await;
    let unknown_citizen = SubmitRequestRequest {
        codice_fiscale: "VRDGPP80A01H501U".into(),
        ..good_request()
    };
    let refused = submit(&harness, unknown_citizen.clone(), &operator("INCA-MI-01"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(refused.message().contains("no mandate"), "{refused:?}");
    // Another patronato's mandate does not count.
    let acli = operator_of("ACLI", "ACLI-MI-1");
    let refused = submit(&harness, good_request(), &acli).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(stored_rows(&harness.database).await, (0, 0));

    // Revoked: refused, saying so; granted again: accepted.
    let revoked = harness
        .mandates
        .revoke_mandate(
            with_token(
                RevokeMandateRequest {
                    patronato: "INCA".into(),
                    codice_fiscale: "RSSMRA85T10A562S".into(),
                    reason: "revoca del cittadino".into(),
                },
                &admin(),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.status, "REVOKED");
    let refused = submit(&harness, good_request(), &operator("INCA-MI-01"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(refused.message().contains("revoked"), "{refused:?}");
    harness.grant("INCA", "RSSMRA85T10A562S").await;
    submit(&harness, good_request(), &operator("INCA-MI-01"))
        .await
        .unwrap();

    // Only admins keep the registry.
    let denied = harness
        .mandates
        .list_mandates(
            with_token(
                ListMandatesRequest {
                    patronato: "INCA".into(),
                    ..ListMandatesRequest::default()
                },
                &supervisor("INCA"),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let listed = harness
        .mandates
        .list_mandates(
            with_token(
                ListMandatesRequest {
                    patronato: "inca".into(),
                    page_size: 1,
                    ..ListMandatesRequest::default()
                },
                &admin(),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.mandates.len(), 1);
    assert!(
        !listed.next_page_token.is_empty(),
        "two mandates, pages of one"
    );
}

#[tokio::test]
async fn who_reads_which_request_is_a_matrix() {
    let mut harness = start().await;
    harness.grant("ACLI", "RSSMRA85T10A562S").await;
    let milano = submit(&harness, good_request(), &operator("INCA-MI-01"))
        .await
        .unwrap()
        .request_id;
    let torino = submit(
        &harness,
        SubmitRequestRequest {
            codice_fiscale: "BNZVCN32S10E573Z".into(),
            ..good_request()
        },
        &operator("INCA-TO-02"),
    )
    .await
    .unwrap()
    .request_id;
    let acli = submit(&harness, good_request(), &operator_of("ACLI", "ACLI-MI-1"))
        .await
        .unwrap()
        .request_id;

    let funzionario = combipat_testkit::token(
        combipat_platform::auth::Role::Funzionario,
        &[("inps_office", "SEDE-MI")],
    )
    .unwrap();
    let readers = [
        (
            "operator INCA-MI-01",
            operator("INCA-MI-01"),
            [true, false, false],
        ),
        (
            "operator INCA-TO-02",
            operator("INCA-TO-02"),
            [false, true, false],
        ),
        ("supervisor INCA", supervisor("INCA"), [true, true, false]),
        ("supervisor ACLI", supervisor("ACLI"), [false, false, true]),
        ("admin", admin(), [true, true, true]),
        ("funzionario", funzionario.clone(), [false, false, false]),
    ];
    let requests = [&milano, &torino, &acli];
    for (who, token, expected) in &readers {
        for (request_id, allowed) in requests.iter().zip(expected) {
            let outcome = get(&harness, request_id, token).await;
            assert_eq!(
                outcome.is_ok(),
                *allowed,
                "{who} reading {request_id}: {outcome:?}"
            );
            if let Err(status) = outcome {
                // Another office's request is missing, not forbidden: nothing leaks.
                let expected = if who.starts_with("funzionario") {
                    Code::PermissionDenied
                } else {
                    Code::NotFound
                };
                assert_eq!(status.code(), expected, "{who}");
            }
        }
        let listed = harness
            .client
            .clone()
            .list_requests(with_token(ListRequestsRequest::default(), token).unwrap())
            .await;
        match listed {
            Ok(page) => {
                let mut seen: Vec<String> = page
                    .into_inner()
                    .requests
                    .into_iter()
                    .map(|entry| entry.request_id)
                    .collect();
                seen.sort();
                let mut wanted: Vec<String> = requests
                    .iter()
                    .zip(expected)
                    .filter(|(_, allowed)| **allowed)
                    .map(|(id, _)| (*id).clone())
                    .collect();
                wanted.sort();
                assert_eq!(seen, wanted, "{who} listing");
            }
            Err(status) => {
                assert_eq!(status.code(), Code::PermissionDenied, "{who}");
                assert!(expected.iter().all(|allowed| !allowed), "{who}");
            }
        }
    }
    // A supervisor narrows to one office; an operator cannot widen to another.
    let one_office = harness
        .client
        .clone()
        .list_requests(
            with_token(
                ListRequestsRequest {
                    patronato_office: "INCA-TO-02".into(),
                    ..ListRequestsRequest::default()
                },
                &supervisor("INCA"),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one_office.requests.len(), 1);
    assert_eq!(one_office.requests[0].request_id, torino);
    let widened = harness
        .client
        .clone()
        .list_requests(
            with_token(
                ListRequestsRequest {
                    patronato_office: "INCA-TO-02".into(),
                    ..ListRequestsRequest::default()
                },
                &operator("INCA-MI-01"),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(widened.code(), Code::PermissionDenied);
    // Reading is not acting: a supervisor does not file requests.
    let refused = submit(&harness, good_request(), &supervisor("INCA"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn the_mandates_csv_import_is_all_or_nothing() {
    let harness = start().await;
    let pool = harness.database.connect().await.unwrap();
    let bad = "patronato,codice_fiscale,valid_from,valid_until,reference,revoked_on
ACLI,VRDGPP80A01H501U,2026-01-01,,M-1,
ACLI,VRDGPP80A01H501X,2026-01-01,,M-2,
ACLI,BNZVCN32S10E573Z,ieri,,M-3,
";
    let error = combipat_intake::import_mandates(&pool, bad.as_bytes())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("line 3: codice_fiscale"), "{error}");
    assert!(error.contains("line 4: valid_from"), "{error}");
    let acli: i64 = sqlx::query_scalar("SELECT count(*) FROM mandates WHERE patronato = 'ACLI'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(acli, 0, "nothing from a file with errors");

    let good = "patronato,codice_fiscale,valid_from,valid_until,reference,revoked_on
ACLI,VRDGPP80A01H501U,2026-01-01,,M-1,
acli,rssmra85t10a562s,2026-01-01,2030-12-31,M-2,2026-06-30
";
    let imported = combipat_intake::import_mandates(&pool, good.as_bytes())
        .await
        .unwrap();
    assert_eq!(
        imported,
        combipat_intake::Imported {
            stored: 2,
            revoked: 1
        }
    );
    let acli_operator = operator_of("ACLI", "ACLI-RM-1");
    submit(
        &harness,
        SubmitRequestRequest {
            codice_fiscale: "VRDGPP80A01H501U".into(),
            ..good_request()
        },
        &acli_operator,
    )
    .await
    .unwrap();
    let refused = submit(&harness, good_request(), &acli_operator)
        .await
        .unwrap_err();
    assert!(
        refused.message().contains("revoked on 2026-06-30"),
        "{refused:?}"
    );
}
