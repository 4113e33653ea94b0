//! The monthly report of each tavolo tecnico is frozen when its month closes, with the data
//! version it came from: events arriving afterwards change the live figures, never the
//! report; reports are kept and listed; the table refuses any change.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use combipat_platform::clock::Clock;
use combipat_proto::reporting::v1::{GetReportRequest, GetSummaryRequest, ListReportsRequest};
use combipat_testkit::eventually;
use common::{WAIT, events_of, march_history, request, rome, start_with, story};

#[tokio::test]
async fn a_closed_month_is_frozen_with_its_data_version_and_late_events_do_not_change_it() {
    // The history is read while March is still open, so that the freezer, which may freeze
    // as soon as it has read one event past the month's end, freezes what was all read.
    let clock = Clock::system();
    clock.set(rome(2026, 3, 31, 23));
    let mut harness = start_with(&[("reporting.freeze_after_minutes", "1")], clock.clone()).await;
    harness.publish(&events_of(&march_history())).await;
    harness.read_all().await;
    clock.set(rome(2026, 4, 2, 12));
    let token = harness.analista();
    let mut client = harness.client.clone();

    // March has closed and the reader has read past its end (an answer of 2 April): frozen,
    // February too; April has not closed.
    let listed = eventually(WAIT, || {
        let (mut client, token) = (client.clone(), token.clone());
        async move {
            let reports = client
                .list_reports(request(ListReportsRequest::default(), &token))
                .await?
                .into_inner()
                .reports;
            Ok((reports.len() == 42).then_some(reports))
        }
    })
    .await
    .expect("twenty regions and the nation, for February and March");
    assert_eq!(listed[0].month, "2026-03", "newest first");
    assert!(listed.iter().all(|report| report.month != "2026-04"));
    let basilicata = listed
        .iter()
        .find(|report| report.month == "2026-03" && report.region_code == "17")
        .unwrap();
    assert_eq!(basilicata.label, "Basilicata — marzo 2026");
    let version = basilicata.data_version.clone().unwrap();
    assert_eq!(
        (version.generation, version.stream_offset),
        (1, harness.published),
        "frozen from everything read"
    );

    let live = |client: &mut combipat_proto::reporting::v1::reporting_client::ReportingClient<
        tonic::transport::Channel,
    >| {
        let mut client = client.clone();
        let token = token.clone();
        async move {
            client
                .get_summary(request(
                    GetSummaryRequest {
                        region_code: "17".into(),
                        period: "2026-03".into(),
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner()
        }
    };
    let frozen = client
        .get_report(request(
            GetReportRequest {
                month: "2026-03".into(),
                region_code: "17".into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let summary = frozen.summary.clone().unwrap();
    assert_eq!(
        summary.figures,
        live(&mut client).await.figures,
        "frozen as the figures stood"
    );
    let titles: Vec<&str> = frozen
        .tables
        .iter()
        .map(|table| table.title.as_str())
        .collect();
    assert_eq!(
        titles,
        ["Province", "Uffici", "Argomenti", "Patronati", "Motivi"]
    );
    assert_eq!(frozen.small_cell_threshold, 5);

    // A request of 31 March that arrives late counts in the live figures only.
    let late = story(
        77,
        rome(2026, 3, 31, 17),
        "G942",
        "PZ",
        "17",
        "INCA",
        "pensioni",
    );
    harness.publish(&late.events()).await;
    harness.read_all().await;
    assert_eq!(
        live(&mut client).await.figures.unwrap().received,
        summary.figures.as_ref().unwrap().received + 1
    );
    let again = client
        .get_report(request(
            GetReportRequest {
                month: "2026-03".into(),
                region_code: "17".into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, frozen, "the report does not move");
    let refused = sqlx::query("UPDATE monthly_reports SET label = 'changed'")
        .execute(&harness.pool)
        .await;
    assert!(refused.unwrap_err().to_string().contains("frozen"));

    // April closes; the reader has read nothing after it, and has been idle long enough.
    clock.set(rome(2026, 5, 1, 9));
    let april = eventually(WAIT, || {
        let (mut client, token) = (client.clone(), token.clone());
        async move {
            Ok(client
                .get_report(request(
                    GetReportRequest {
                        month: "2026-04".into(),
                        region_code: "IT".into(),
                    },
                    &token,
                ))
                .await
                .ok()
                .map(tonic::Response::into_inner))
        }
    })
    .await
    .expect("April frozen once closed and the reader idle");
    assert_eq!(april.label, "Italia — aprile 2026");
    let tables: Vec<&str> = april
        .tables
        .iter()
        .map(|table| table.title.as_str())
        .collect();
    assert_eq!(
        tables,
        ["Regioni", "Patronati", "Motivi", "Argomenti", "Uffici"]
    );
    harness
        .service
        .wait_for_metric("combipat_reporting_reports_frozen_total 63")
        .await
        .unwrap();

    // The direzione regionale reads its own reports, not the others.
    let dr = combipat_testkit::token(
        combipat_platform::auth::Role::Responsabile,
        &[("inps_office", "DR-BASILICATA")],
    )
    .unwrap();
    let own = client
        .list_reports(request(ListReportsRequest::default(), &dr))
        .await
        .unwrap()
        .into_inner()
        .reports;
    assert!(own.iter().all(|report| report.region_code == "17") && own.len() == 3);
    let other = client
        .get_report(request(
            GetReportRequest {
                month: "2026-03".into(),
                region_code: "03".into(),
            },
            &dr,
        ))
        .await;
    assert_eq!(other.unwrap_err().code(), tonic::Code::PermissionDenied);
}
