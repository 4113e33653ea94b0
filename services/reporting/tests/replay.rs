//! The projection does not depend on how events arrive: a rebuild by replay into a fresh
//! generation holds the same cells and answers the same figures, and takes over without the
//! API ever failing or going back; events redelivered, in any order, change nothing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use combipat_proto::reporting::v1::{Dimension, GetSummaryRequest, GetTableRequest};
use combipat_reporting::store::generations;
use combipat_testkit::eventually;
use common::{
    WAIT, assert_same_cells, cells_of, events_of, march_history, request, rome, start, story,
};

/// The figures the tests compare: every table of March 2026, without the data version.
async fn tables(harness: &common::Harness) -> Vec<String> {
    let token = harness.analista();
    let mut client = harness.client.clone();
    let mut tables = Vec::new();
    for (dimension, region) in [
        (Dimension::Region, ""),
        (Dimension::Province, ""),
        (Dimension::Office, ""),
        (Dimension::Patronato, ""),
        (Dimension::Motivo, ""),
        (Dimension::Topic, "17"),
    ] {
        let mut table = client
            .get_table(request(
                GetTableRequest {
                    dimension: dimension as i32,
                    period: "2026-03".into(),
                    region_code: region.into(),
                    ..Default::default()
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner();
        table.data_version = None;
        tables.push(format!("{table:?}"));
    }
    tables
}

#[tokio::test]
async fn a_rebuild_by_replay_gives_the_same_figures_and_takes_over_without_downtime() {
    let mut harness = start().await;
    harness.publish(&events_of(&march_history())).await;
    harness.read_all().await;
    let before = cells_of(&harness.pool, 1).await;
    let figures_before = tables(&harness).await;
    assert!(!before.is_empty());

    // Readers ask all along; none may fail or see fewer requests than before.
    let stop = Arc::new(AtomicBool::new(false));
    let (asked, least) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(u64::MAX)),
    );
    let reader = {
        let (mut client, token, stop, asked, least) = (
            harness.client.clone(),
            harness.analista(),
            Arc::clone(&stop),
            Arc::clone(&asked),
            Arc::clone(&least),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let summary = client
                    .get_summary(request(
                        GetSummaryRequest {
                            period: "2026-03".into(),
                            ..Default::default()
                        },
                        &token,
                    ))
                    .await
                    .expect("the API answers during the rebuild")
                    .into_inner();
                least.fetch_min(summary.received_nation, Ordering::SeqCst);
                asked.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
    };

    let rebuilt = generations::start_rebuild(&harness.pool).await.unwrap();
    assert_eq!(rebuilt, 2);
    assert!(matches!(
        generations::start_rebuild(&harness.pool).await,
        Err(generations::RebuildError::AlreadyBuilding(2))
    ));
    eventually(WAIT, || async {
        Ok((generations::active(&harness.pool).await?.generation == 2).then_some(()))
    })
    .await
    .expect("the rebuilt generation takes over once it has caught up");
    harness.read_all_as("reporting-g2").await;
    stop.store(true, Ordering::SeqCst);
    reader.await.unwrap();
    assert!(asked.load(Ordering::SeqCst) > 0);
    assert_eq!(
        least.load(Ordering::SeqCst),
        12,
        "never fewer than the month's requests, before, during or after the switch"
    );

    assert_same_cells(&cells_of(&harness.pool, 2).await, &before, "the replay");
    assert_eq!(
        tables(&harness).await,
        figures_before,
        "and answers the same figures"
    );

    // The new generation goes on reading: a request sent now counts.
    let mut late = story(
        99,
        rome(2026, 3, 31, 11),
        "F052",
        "MT",
        "17",
        "INCA",
        "pensioni",
    );
    late.answered_at = Some(rome(2026, 3, 31, 12));
    harness.publish(&late.events()).await;
    harness.read_all_as("reporting-g2").await;
    let token = harness.analista();
    let summary = harness
        .client
        .clone()
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
        .into_inner();
    assert_eq!(summary.received, 10);
    assert_eq!(summary.data_version.unwrap().generation, 2);

    // The retired generation's tables go.
    eventually(WAIT, || async {
        Ok(generations::get(&harness.pool, 1)
            .await?
            .and_then(|row| row.dropped_at)
            .map(|_| ()))
    })
    .await
    .expect("generation 1 is dropped after the switch");
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_tables WHERE tablename IN ('cells_g1', 'facts_g1')",
    )
    .fetch_one(&harness.pool)
    .await
    .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn redelivered_and_out_of_order_events_change_nothing() {
    let events = events_of(&march_history());
    let mut in_order = start().await;
    let mut scrambled = start().await;
    in_order.publish(&events).await;

    // Backwards (answers before submissions, ratings before answers), every third event twice.
    let mut backwards: Vec<_> = events.iter().rev().cloned().collect();
    let copies: Vec<_> = events.iter().step_by(3).cloned().collect();
    backwards.splice(5..5, copies);
    scrambled.publish(&backwards).await;
    in_order.read_all().await;
    scrambled.read_all().await;
    let expected = cells_of(&in_order.pool, 1).await;
    assert_same_cells(
        &cells_of(&scrambled.pool, 1).await,
        &expected,
        "any order, with copies",
    );
    assert_eq!(tables(&scrambled).await, tables(&in_order).await);

    // Copies arriving much later, after everything was counted, change nothing either.
    let late_copies: Vec<_> = events.iter().skip(1).step_by(2).cloned().collect();
    scrambled.publish(&late_copies).await;
    scrambled.read_all().await;
    assert_same_cells(
        &cells_of(&scrambled.pool, 1).await,
        &expected,
        "late copies",
    );
    let facts: i64 = sqlx::query_scalar("SELECT count(*) FROM facts")
        .fetch_one(&scrambled.pool)
        .await
        .unwrap();
    assert_eq!(facts, 13, "one fact per request");
}
