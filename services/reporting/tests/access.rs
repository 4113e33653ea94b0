//! Each role reads only its scope: an analista the nation, a direzione regionale's official
//! their region (from router's directory), a patronato's supervisore their patronato against
//! all patronati; nobody else reads figures.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use combipat_platform::auth::Role;
use combipat_proto::reporting::v1::{
    Dimension, GetSummaryRequest, GetTableRequest, GetTableResponse, ListReportsRequest,
};
use combipat_testkit::token;
use common::{events_of, march_history, request, start};
use tonic::Code;

fn region(code: &str) -> GetSummaryRequest {
    GetSummaryRequest {
        region_code: code.into(),
        period: "2026-03".into(),
        ..Default::default()
    }
}

fn member(dimension: Dimension, key: &str, within_region: &str) -> GetSummaryRequest {
    GetSummaryRequest {
        period: "2026-03".into(),
        dimension: dimension as i32,
        key: key.into(),
        within_region: within_region.into(),
        ..Default::default()
    }
}

fn table(dimension: Dimension, region_code: &str, patronato: &str) -> GetTableRequest {
    GetTableRequest {
        dimension: dimension as i32,
        period: "2026-03".into(),
        region_code: region_code.into(),
        patronato: patronato.into(),
    }
}

/// The reason of a refusal, which must be PERMISSION_DENIED.
fn denied<T>(result: Result<T, tonic::Status>, what: &str) -> String {
    match result {
        Err(status) if status.code() == Code::PermissionDenied => status.message().to_owned(),
        Err(status) => panic!("{what}: {status:?}, not PERMISSION_DENIED"),
        Ok(_) => panic!("{what} should be refused"),
    }
}

#[tokio::test]
async fn each_role_reads_only_its_scope() {
    let mut harness = start().await;
    harness.publish(&events_of(&march_history())).await;
    harness.read_all().await;
    let mut client = harness.client.clone();

    let summaries = client.clone();
    let summary = |token: String, asked: GetSummaryRequest| {
        let mut client = summaries.clone();
        async move {
            client
                .get_summary(request(asked, &token))
                .await
                .map(tonic::Response::into_inner)
        }
    };

    // The analyst: everything.
    let analista = harness.analista();
    assert!(summary(analista.clone(), region("03")).await.is_ok());
    assert!(
        client
            .get_table(request(table(Dimension::Office, "", ""), &analista))
            .await
            .is_ok()
    );

    // The direzione regionale of Basilicata: its region, its provinces and offices, its
    // topics and patronati, the nation beside them; nothing of another region.
    let basilicata = token(Role::Responsabile, &[("inps_office", "DR-BASILICATA")]).unwrap();
    let own = summary(basilicata.clone(), region("17")).await.unwrap();
    assert_eq!(
        own.nation.unwrap().received,
        12,
        "the national figure beside its own"
    );
    assert!(
        summary(basilicata.clone(), member(Dimension::Province, "PZ", ""))
            .await
            .is_ok()
    );
    assert!(
        summary(basilicata.clone(), member(Dimension::Office, "SEDE-MT", ""))
            .await
            .is_ok()
    );
    assert!(
        summary(
            basilicata.clone(),
            member(Dimension::Topic, "pensioni", "17")
        )
        .await
        .is_ok()
    );
    let offices: GetTableResponse = client
        .get_table(request(table(Dimension::Office, "17", ""), &basilicata))
        .await
        .unwrap()
        .into_inner();
    let codes: Vec<&str> = offices.rows.iter().map(|row| row.key.as_str()).collect();
    assert_eq!(
        codes,
        ["FALLBACK-17", "SEDE-MT", "SEDE-PZ"],
        "the offices in the region only"
    );
    let reason = denied(
        summary(basilicata.clone(), region("03")).await,
        "another region",
    );
    assert!(reason.contains("region 17"), "{reason}");
    denied(
        summary(basilicata.clone(), member(Dimension::Province, "MI", "")).await,
        "another region's province",
    );
    denied(
        summary(basilicata.clone(), member(Dimension::Office, "SEDE-MI", "")).await,
        "another region's office",
    );
    denied(
        summary(basilicata.clone(), member(Dimension::Topic, "pensioni", "")).await,
        "a topic nationwide",
    );
    denied(
        summary(basilicata.clone(), member(Dimension::Patronato, "INCA", "")).await,
        "a patronato nationwide",
    );
    denied(
        client
            .get_table(request(table(Dimension::Region, "", ""), &basilicata))
            .await,
        "the table of regions",
    );
    denied(
        client
            .get_table(request(table(Dimension::Office, "03", ""), &basilicata))
            .await,
        "another region's offices",
    );
    let lombardia = token(Role::Funzionario, &[("inps_office", "DR-LOMBARDIA")]).unwrap();
    denied(
        summary(lombardia.clone(), region("17")).await,
        "Lombardia's official on Basilicata",
    );
    assert!(summary(lombardia, region("03")).await.is_ok());

    // A patronato's supervisore: the patronato, in the nation and region by region.
    let inca = token(Role::Supervisore, &[("patronato", "INCA")]).unwrap();
    let own = summary(inca.clone(), member(Dimension::Patronato, "INCA", ""))
        .await
        .unwrap();
    assert_eq!(own.label, "INCA");
    assert!(
        summary(inca.clone(), member(Dimension::Patronato, "INCA", "17"))
            .await
            .is_ok()
    );
    let by_region = client
        .get_table(request(table(Dimension::Region, "", "INCA"), &inca))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_region.within.unwrap().label, "INCA");
    denied(
        summary(inca.clone(), member(Dimension::Patronato, "ACLI", "")).await,
        "another patronato",
    );
    denied(summary(inca.clone(), region("17")).await, "a region");
    denied(
        client
            .get_table(request(table(Dimension::Region, "", "ACLI"), &inca))
            .await,
        "another patronato's regions",
    );
    denied(
        client
            .get_table(request(table(Dimension::Patronato, "", ""), &inca))
            .await,
        "every patronato",
    );
    let listed = client
        .list_reports(request(ListReportsRequest::default(), &inca))
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed.reports.is_empty(),
        "the tavoli's reports are not a patronato's"
    );

    // Nobody else.
    for (role, claims) in [
        (Role::Funzionario, vec![("inps_office", "SEDE-PZ")]),
        (Role::Responsabile, vec![("inps_office", "SEDE-MI")]),
        (
            Role::Operatore,
            vec![("patronato", "INCA"), ("patronato_office", "INCA-PZ-01")],
        ),
        (Role::Admin, vec![]),
        (Role::Service, vec![]),
    ] {
        let caller = token(role, &claims).unwrap();
        denied(
            summary(
                caller.clone(),
                GetSummaryRequest {
                    period: "2026-03".into(),
                    ..Default::default()
                },
            )
            .await,
            role.as_str(),
        );
    }
    let office = denied(
        summary(
            token(Role::Funzionario, &[("inps_office", "SEDE-PZ")]).unwrap(),
            region("17"),
        )
        .await,
        "a sede",
    );
    assert!(office.contains("sede_provinciale"), "{office}");
    let anonymous = client
        .get_summary(tonic::Request::new(region("17")))
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
}
