//! Figures from a hand-built month of events match the figures computed here, independently,
//! from the same requests' stories (counts, the backlog, percentiles by nearest rank, shares,
//! solleciti, transfers, information requests, unroutable requests, satisfaction).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use chrono::{DateTime, Days, NaiveDate, TimeZone as _, Utc};
use chrono_tz::Europe::Rome;
use combipat_domain::calendar::OfficeCalendar;
use combipat_proto::reporting::v1::{Dimension, Figures, GetSummaryRequest, GetTableRequest};
use combipat_reporting::demo::Story;
use common::{events_of, march_history, request, start};

fn day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Rome).date_naive()
}

fn in_march(at: DateTime<Utc>) -> bool {
    let day = day(at);
    day >= NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
        && day <= NaiveDate::from_ymd_opt(2026, 3, 31).unwrap()
}

fn nearest_rank(mut values: Vec<f64>, quantile: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = (quantile * values.len() as f64).ceil().max(1.0) as usize;
    Some(values[rank - 1])
}

/// What the figures of `stories` must be for March 2026, computed from the stories alone.
struct Expected {
    received: u64,
    answered: u64,
    backlog: u64,
    days: Vec<f64>,
    business_days: Vec<f64>,
    within_15: u64,
    within_deadline: u64,
    solleciti: u64,
    transfers: u64,
    info_requests: u64,
    unroutable: u64,
    ratings: Vec<u8>,
}

fn expected(stories: &[&Story]) -> Expected {
    let end = Rome
        .with_ymd_and_hms(2026, 4, 1, 0, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let received: Vec<&&Story> = stories
        .iter()
        .filter(|story| in_march(story.submitted_at))
        .collect();
    let answered: Vec<&&Story> = stories
        .iter()
        .filter(|story| story.answered_at.is_some_and(in_march))
        .collect();
    let open_at_end = stories
        .iter()
        .filter(|story| story.submitted_at < end)
        .filter(|story| {
            story.answered_at.is_none_or(|at| at >= end)
                && story.closed_at.is_none_or(|at| at >= end)
        })
        .count();
    let mut expected = Expected {
        received: received.len() as u64,
        answered: answered.len() as u64,
        backlog: open_at_end as u64,
        days: Vec::new(),
        business_days: Vec::new(),
        within_15: 0,
        within_deadline: 0,
        solleciti: received
            .iter()
            .map(|story| story.solleciti.len() as u64)
            .sum(),
        transfers: received
            .iter()
            .filter(|story| story.transfer.is_some())
            .count() as u64,
        info_requests: received.iter().filter(|story| story.info.is_some()).count() as u64,
        unroutable: received.iter().filter(|story| story.unroutable).count() as u64,
        ratings: stories
            .iter()
            .filter_map(|story| story.rating)
            .filter(|(at, _)| in_march(*at))
            .map(|(_, value)| value)
            .collect(),
    };
    for story in answered {
        let at = story.answered_at.unwrap();
        expected
            .days
            .push((at - story.submitted_at).num_seconds() as f64 / 86_400.0);
        let office = story.transfer.as_ref().map_or(&story.office, |(_, to)| to);
        let calendar = OfficeCalendar::with_patron_day(&office.patron_day);
        let mut business = 0;
        let mut date = day(story.submitted_at);
        while date < day(at) {
            date = date + Days::new(1);
            business += u32::from(calendar.is_business_day(date));
        }
        expected.business_days.push(f64::from(business));
        let fifteen = story
            .submitted_at
            .with_timezone(&Rome)
            .checked_add_days(Days::new(15))
            .unwrap()
            .with_timezone(&Utc);
        expected.within_15 += u64::from(at < fifteen);
        let deadline = story.info.map_or(story.due_at, |(_, _, resumed)| resumed);
        expected.within_deadline += u64::from(at <= deadline);
    }
    expected
}

fn assert_figures(scope: &str, got: &Figures, want: &Expected) {
    assert_eq!(got.received, want.received, "{scope}: received");
    assert_eq!(got.answered, want.answered, "{scope}: answered");
    assert_eq!(
        got.backlog, want.backlog,
        "{scope}: backlog at the end of March"
    );
    for (quantile, read) in [
        (0.5, got.first_answer_days_p50),
        (0.9, got.first_answer_days_p90),
    ] {
        let exact = nearest_rank(want.days.clone(), quantile).unwrap();
        let read = read.unwrap();
        // Histogram buckets are 10% wide (the first 15 minutes).
        assert!(
            (read - exact).abs() <= exact * 0.1 + 15.0 / 1440.0,
            "{scope}: p{quantile} {read} days against {exact}"
        );
    }
    assert_eq!(
        got.first_answer_business_days_p50,
        nearest_rank(want.business_days.clone(), 0.5),
        "{scope}: business p50"
    );
    assert_eq!(
        got.first_answer_business_days_p90,
        nearest_rank(want.business_days.clone(), 0.9),
        "{scope}: business p90"
    );
    let share = |part: u64, whole: u64| (whole > 0).then(|| part as f64 / whole as f64);
    assert_eq!(
        got.share_within_15_days,
        share(want.within_15, want.answered),
        "{scope}: within 15 days"
    );
    assert_eq!(
        got.share_within_deadline,
        share(want.within_deadline, want.answered),
        "{scope}: within the deadline"
    );
    assert_eq!(
        got.answered_with_deadline, want.answered,
        "{scope}: every answer has its deadline"
    );
    assert_eq!(got.solleciti, want.solleciti, "{scope}: solleciti");
    assert_eq!(
        got.solleciti_per_100,
        share(want.solleciti * 100, want.received),
        "{scope}: solleciti per 100"
    );
    assert_eq!(got.transfers, want.transfers, "{scope}: transfers");
    assert_eq!(
        got.info_requests, want.info_requests,
        "{scope}: information requests"
    );
    assert_eq!(got.unroutable, want.unroutable, "{scope}: unroutable");
    assert_eq!(got.ratings, want.ratings.len() as u64, "{scope}: ratings");
    let mean = (!want.ratings.is_empty()).then(|| {
        want.ratings
            .iter()
            .map(|value| f64::from(*value))
            .sum::<f64>()
            / want.ratings.len() as f64
    });
    match (got.satisfaction, mean) {
        (Some(got), Some(mean)) => assert!(
            (got - mean).abs() < 1e-9,
            "{scope}: satisfaction {got} against {mean}"
        ),
        (got, mean) => assert_eq!(got, mean, "{scope}: satisfaction"),
    }
    assert!(
        got.hidden.is_empty(),
        "{scope}: nothing hidden at this level"
    );
}

#[tokio::test]
async fn figures_from_a_hand_built_month_match_those_computed_from_its_stories() {
    let mut harness = start().await;
    let stories = march_history();
    harness.publish(&events_of(&stories)).await;
    harness.read_all().await;
    let token = harness.analista();
    let mut client = harness.client.clone();

    let summary = |region_code: &str| GetSummaryRequest {
        region_code: region_code.into(),
        period: "2026-03".into(),
        ..Default::default()
    };
    let basilicata = client
        .get_summary(request(summary("17"), &token))
        .await
        .unwrap()
        .into_inner();
    let all: Vec<&Story> = stories.iter().collect();
    let lucani: Vec<&Story> = stories
        .iter()
        .filter(|story| story.region == "17")
        .collect();
    assert_eq!(basilicata.label, "Basilicata");
    assert_figures(
        "Basilicata",
        basilicata.figures.as_ref().unwrap(),
        &expected(&lucani),
    );
    assert_figures(
        "Italia",
        basilicata.nation.as_ref().unwrap(),
        &expected(&all),
    );
    assert_eq!(basilicata.previous_period.as_ref().unwrap().code, "2026-02");
    assert_eq!(
        basilicata.previous.as_ref().unwrap().received,
        1,
        "one request sent in February"
    );
    assert_eq!(
        basilicata.previous.as_ref().unwrap().backlog,
        1,
        "still open at the end of February"
    );

    // The same figures by other cuts: the patronato INCA, the topic pensioni within Basilicata.
    let inca = client
        .get_summary(request(
            GetSummaryRequest {
                period: "2026-03".into(),
                dimension: Dimension::Patronato as i32,
                key: "INCA".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let of_inca: Vec<&Story> = stories
        .iter()
        .filter(|story| story.patronato == "INCA")
        .collect();
    let inca_figures = inca.figures.unwrap();
    assert_eq!(
        (inca_figures.received, inca_figures.answered),
        (expected(&of_inca).received, expected(&of_inca).answered)
    );
    let pensioni = client
        .get_summary(request(
            GetSummaryRequest {
                period: "2026-03".into(),
                dimension: Dimension::Topic as i32,
                key: "pensioni".into(),
                within_region: "17".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pensioni.label, "Pensioni in Basilicata");
    let lucane_pensioni: Vec<&Story> = lucani
        .iter()
        .copied()
        .filter(|story| story.topic == "pensioni")
        .collect();
    assert_eq!(
        pensioni.figures.unwrap().received,
        expected(&lucane_pensioni).received
    );

    // The table of regions: each row is the region's summary, the nation beside them.
    let regions = client
        .get_table(request(
            GetTableRequest {
                dimension: Dimension::Region as i32,
                period: "2026-03".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let keys: Vec<&str> = regions.rows.iter().map(|row| row.key.as_str()).collect();
    assert_eq!(keys, ["03", "17", "EE"]);
    assert_eq!(regions.rows[1].figures, basilicata.figures);
    assert_eq!(regions.nation, basilicata.nation);
    let milano: Vec<&Story> = stories
        .iter()
        .filter(|story| story.region == "03")
        .collect();
    assert_figures(
        "Lombardia",
        regions.rows[0].figures.as_ref().unwrap(),
        &expected(&milano),
    );

    // A week and a day are cut from day cells, a year from month cells: the same requests.
    let week = client
        .get_summary(request(
            GetSummaryRequest {
                region_code: "17".into(),
                period: "2026-W10".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let week_of: Vec<&Story> = lucani
        .iter()
        .copied()
        .filter(|story| {
            (NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
                ..=NaiveDate::from_ymd_opt(2026, 3, 8).unwrap())
                .contains(&day(story.submitted_at))
        })
        .collect();
    assert_eq!(week.figures.unwrap().received, week_of.len() as u64);
    let year = client
        .get_summary(request(
            GetSummaryRequest {
                region_code: "17".into(),
                period: "2026".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(year.figures.unwrap().received, lucani.len() as u64);
}
