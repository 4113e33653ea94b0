//! Small numbers are not shown: an office's or a patronato's figure resting on fewer than the
//! threshold of requests, answers or ratings is hidden (in the API, the pages and the CSV);
//! the nation's, a region's and a topic's never are; the threshold is a setting.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use combipat_platform::clock::Clock;
use combipat_proto::reporting::v1::{Dimension, GetTableRequest, GetTableResponse, Row};
use combipat_testkit::eventually;
use common::{WAIT, events_of, march_history, request, start, start_with};

fn row<'t>(table: &'t GetTableResponse, key: &str) -> &'t Row {
    table
        .rows
        .iter()
        .find(|row| row.key == key)
        .unwrap_or_else(|| panic!("no row {key}"))
}

fn hidden(row: &Row) -> Vec<String> {
    row.figures.as_ref().unwrap().hidden.clone()
}

async fn offices_of_basilicata(harness: &common::Harness) -> GetTableResponse {
    harness
        .client
        .clone()
        .get_table(request(
            GetTableRequest {
                dimension: Dimension::Office as i32,
                period: "2026-03".into(),
                region_code: "17".into(),
                ..Default::default()
            },
            &harness.analista(),
        ))
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn figures_of_fewer_than_five_requests_are_hidden_at_office_and_patronato_level() {
    let mut harness = start().await;
    harness.publish(&events_of(&march_history())).await;
    harness.read_all().await;
    let token = harness.analista();

    let offices = offices_of_basilicata(&harness).await;
    assert_eq!(offices.small_cell_threshold, 5);
    // Matera: two requests received (a third was sent on to Potenza), none answered in March.
    let matera = row(&offices, "SEDE-MT");
    let figures = matera.figures.as_ref().unwrap();
    assert_eq!(
        (figures.received, figures.answered, figures.backlog),
        (0, 0, 0)
    );
    for field in [
        "received",
        "answered",
        "backlog",
        "solleciti_per_100",
        "first_answer_days_p50",
        "satisfaction",
    ] {
        assert!(
            hidden(matera).contains(&field.to_owned()),
            "{field} of SEDE-MT is hidden"
        );
    }
    // Potenza: six received and six answered are shown; its three ratings are not.
    let potenza = row(&offices, "SEDE-PZ");
    let figures = potenza.figures.as_ref().unwrap();
    assert_eq!((figures.received, figures.answered), (6, 6));
    assert!(figures.first_answer_days_p50.is_some());
    assert_eq!((figures.satisfaction, figures.ratings), (None, 0));
    assert!(
        hidden(potenza).contains(&"satisfaction".to_owned())
            && !hidden(potenza).contains(&"received".to_owned())
    );
    // The region itself is never hidden, however few.
    let region = offices.within.as_ref().unwrap().figures.as_ref().unwrap();
    assert_eq!((region.ratings, region.hidden.len()), (3, 0));

    // Patronati within the region: ACLI filed two.
    let patronati = harness
        .client
        .clone()
        .get_table(request(
            GetTableRequest {
                dimension: Dimension::Patronato as i32,
                period: "2026-03".into(),
                region_code: "17".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(hidden(row(&patronati, "ACLI")).contains(&"received".to_owned()));
    assert_eq!(
        row(&patronati, "INCA").figures.as_ref().unwrap().received,
        7
    );
    // Topics are not an office's or a patronato's cells: shown however few.
    let topics = harness
        .client
        .clone()
        .get_table(request(
            GetTableRequest {
                dimension: Dimension::Topic as i32,
                period: "2026-03".into(),
                region_code: "17".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        row(&topics, "assegno_unico")
            .figures
            .as_ref()
            .unwrap()
            .received,
        1
    );

    // The CSV says "< 5" where the API hides.
    let csv = reqwest::Client::new()
        .get(format!(
            "http://{}/v1/export/tables/DIMENSION_OFFICE?region_code=17&period=2026-03",
            harness.service.http_addr
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    let matera_line = text
        .lines()
        .find(|line| line.starts_with("SEDE-MT;"))
        .unwrap();
    assert!(matera_line.contains(";< 5;"), "{matera_line}");
    assert!(
        matera_line.ends_with(";Patronato"),
        "the provenance: {matera_line}"
    );
}

#[tokio::test]
async fn the_threshold_is_a_setting() {
    let mut harness = start_with(&[("reporting.small_cell_threshold", "2")], Clock::system()).await;
    harness.publish(&events_of(&march_history())).await;
    harness.read_all().await;
    let offices = eventually(WAIT, || async {
        Ok(Some(offices_of_basilicata(&harness).await))
    })
    .await
    .unwrap();
    assert_eq!(offices.small_cell_threshold, 2);
    let matera = row(&offices, "SEDE-MT");
    assert_eq!(
        matera.figures.as_ref().unwrap().received,
        2,
        "two requests are shown with a threshold of 2"
    );
    assert!(
        hidden(matera).contains(&"answered".to_owned()),
        "no answer is still fewer than 2"
    );
}
