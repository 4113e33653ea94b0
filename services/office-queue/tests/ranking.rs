//! The stored rank (`migrations/20261210000000_stored_rank.sql`, `src/ranking.rs`): pages by
//! priority, walked from the stored rank, are the order that scoring every item as of the
//! page's instant gives, at every instant: before an item's band boundary, exactly on it,
//! just after it before the service moves the item's rank and after; and a pass whose first
//! page was read before the move keeps ranking as of its own instant.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use combipat_platform::clock::Clock;
use combipat_proto::officequeue::v1::office_queue_client::OfficeQueueClient;
use combipat_proto::officequeue::v1::{Item, ListItemsRequest};
use combipat_testkit::{TestBus, TestDatabase, TestService, grpc_channel, overrides, with_token};
use common::official_named;
use sqlx::PgPool;
use tonic::transport::Channel;
use uuid::Uuid;

const OFFICE: &str = "SEDE-RK";

/// The order the rule of `priority.rs` gives as of `as_of`, every item scored and sorted: what
/// `ListItems` did before the stored rank, written out again as the reference.
async fn computed_order(pool: &PgPool, as_of: DateTime<Utc>) -> Vec<String> {
    sqlx::query_scalar::<_, Uuid>(
        "SELECT request_id FROM items WHERE office_code = $1
         ORDER BY (CASE WHEN status <> 'NEW' THEN 0 ELSE LEAST(solleciti, 9) + CASE
                       WHEN sla_due_at IS NULL OR sla_warn_at IS NULL THEN 0
                       WHEN sla_due_at <= $2 THEN 20
                       WHEN sla_warn_at <= $2 THEN 10 ELSE 0 END END) DESC,
                  submitted_at, request_id",
    )
    .bind(OFFICE)
    .bind(as_of)
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|id| id.to_string())
    .collect()
}

/// A small LCG: the same sample on every run.
struct Sample(u64);

impl Sample {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

/// Items whose band boundaries fall around `base` (some exactly on it, some a microsecond
/// either side), with solleciti from 0 to 12, every status, clocks stopped or missing, a
/// warning after the deadline, submission instants shared (so that `request_id` decides), and
/// stored ranks as of instants before, on and after their boundaries.
async fn fill(pool: &PgPool, base: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let offsets = [
        Duration::days(-20),
        Duration::hours(-2),
        Duration::microseconds(-1),
        Duration::zero(),
        Duration::microseconds(1),
        Duration::hours(1),
        Duration::days(3),
        Duration::days(40),
    ];
    let spans = [
        Duration::zero(),
        Duration::microseconds(1),
        Duration::hours(2),
        Duration::days(7),
        Duration::days(-1),
    ];
    let mut sample = Sample(15);
    let mut deadlines = Vec::new();
    for n in 0..260_u64 {
        let pick = |sample: &mut Sample, len: usize| {
            usize::try_from(sample.next(u64::try_from(len).unwrap())).unwrap()
        };
        let warn_at = base + offsets[pick(&mut sample, offsets.len())];
        let due_at = warn_at + spans[pick(&mut sample, spans.len())];
        let (status, clock) = match sample.next(20) {
            0 => ("INFO_REQUESTED", None),
            1 => ("ANSWERED", Some((due_at, warn_at))),
            2 => ("CLOSED", None),
            3 => ("NEW", None),
            _ => ("NEW", Some((due_at, warn_at))),
        };
        if let Some(deadline) = clock {
            deadlines.push(deadline);
        }
        let ranked_as_of = match sample.next(5) {
            0 => base - Duration::days(30),
            1 => warn_at,
            2 => due_at,
            3 => base + Duration::days(30),
            _ => base,
        };
        let solleciti = match sample.next(4) {
            0 => i32::try_from(sample.next(13)).unwrap(),
            _ => 0,
        };
        let submitted_at = base - Duration::days(30 + i64::try_from(sample.next(12)).unwrap());
        sqlx::query(
            "INSERT INTO items (request_id, protocol_number, office_code, motivo, topic, subject,
                                patronato, submitted_at, decision_sequence, routed,
                                ruleset_version, rule, status, solleciti, sla_due_at,
                                sla_warn_at, ranked_as_of)
             VALUES ($1, $2, $3, 1, 'pensioni', 'Richiesta', 'INCA', $4, 1, true, 'test',
                     'test', $5, $6, $7, $8, $9)",
        )
        .bind(Uuid::now_v7())
        .bind(format!("CP-2027-{n:08}"))
        .bind(OFFICE)
        .bind(submitted_at)
        .bind(status)
        .bind(solleciti)
        .bind(clock.map(|(due, _)| due))
        .bind(clock.map(|(_, warn)| warn))
        .bind(ranked_as_of)
        .execute(pool)
        .await
        .unwrap();
    }
    sqlx::query("ANALYZE items").execute(pool).await.unwrap();
    deadlines
}

struct Queue {
    client: OfficeQueueClient<Channel>,
    token: String,
}

impl Queue {
    async fn page(&self, page_size: u32, page_token: &str) -> (Vec<Item>, String) {
        let page = self
            .client
            .clone()
            .list_items(
                with_token(
                    ListItemsRequest {
                        office_code: OFFICE.into(),
                        page_size,
                        page_token: page_token.to_owned(),
                        ..ListItemsRequest::default()
                    },
                    &self.token,
                )
                .unwrap(),
            )
            .await
            .unwrap()
            .into_inner();
        (page.items, page.next_page_token)
    }

    /// Every page from `page_token` on, and the instant they were ranked as of (from the
    /// tokens, which carry it).
    async fn rest(&self, page_size: u32, mut page_token: String) -> (Vec<String>, i64) {
        let mut ids = Vec::new();
        let mut as_of = None;
        loop {
            let (items, next) = self.page(page_size, &page_token).await;
            let scores: Vec<u32> = items
                .iter()
                .map(|item| item.priority.as_ref().unwrap().score)
                .collect();
            assert!(scores.is_sorted_by(|a, b| a >= b), "{scores:?}");
            ids.extend(items.into_iter().map(|item| item.request_id));
            if next.is_empty() {
                return (ids, as_of.expect("more than one page"));
            }
            as_of = Some(instant_of(&next));
            page_token = next;
        }
    }
}

fn instant_of(token: &str) -> i64 {
    token.split('.').nth(1).unwrap().parse().unwrap()
}

/// A token that starts a pass ranked as of `as_of` exactly (before every item).
fn token_at(as_of: DateTime<Utc>) -> String {
    format!("p.{}.1000.0.{}", as_of.timestamp_micros(), Uuid::nil())
}

fn micros(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap()
}

#[tokio::test]
async fn pages_from_the_stored_rank_are_the_computed_order_at_every_instant() {
    let base = Utc.with_ymd_and_hms(2027, 3, 1, 10, 0, 0).unwrap();
    let clock = Clock::system();
    clock.set(base - Duration::days(1));
    let bus = TestBus::new();
    let database = TestDatabase::create().await.unwrap();
    let service = TestService::start_with_clock::<combipat_office_queue::Service>(
        &overrides(&database, &bus),
        clock.clone(),
    )
    .await
    .unwrap();
    let queue = Queue {
        client: OfficeQueueClient::new(grpc_channel(service.grpc_addr).await.unwrap()),
        token: official_named(OFFICE, "anna"),
    };
    let pool = database.connect().await.unwrap();
    let deadlines = fill(&pool, base).await;

    // Exact instants: every boundary of the sample, a microsecond either side, and others.
    let mut instants = vec![
        base - Duration::days(60),
        base - Duration::days(1),
        base + Duration::days(1),
        base + Duration::days(100),
    ];
    for (due_at, warn_at) in &deadlines {
        for boundary in [*due_at, *warn_at] {
            for shift in [-1, 0] {
                instants.push(boundary + Duration::microseconds(shift));
            }
        }
    }
    instants.sort();
    instants.dedup();
    let check_exact = async |moved: &str| {
        for as_of in &instants {
            let (ids, _) = queue.rest(60, token_at(*as_of)).await;
            assert_eq!(
                ids,
                computed_order(&pool, *as_of).await,
                "as of {as_of}, {moved}"
            );
        }
    };
    check_exact("stored ranks as filled").await;

    // Two items that become due soon a while apart (their stored rank: on track).
    let crossing = |at: DateTime<Utc>| {
        deadlines
            .iter()
            .copied()
            .find(|(due_at, warn_at)| *warn_at == at && *due_at > *warn_at)
            .expect("an item due soon before its deadline")
            .1
    };
    let (first_crossing, second_crossing) = (
        crossing(base + Duration::hours(1)),
        crossing(base + Duration::days(3)),
    );

    // A pass whose first page was read before an item crossed, continued after the
    // service moved the item's rank: still ranked as of the first page, nothing repeated or
    // skipped.
    clock.set(first_crossing - Duration::seconds(10));
    let (first, token) = queue.page(7, "").await;
    let as_of = micros(instant_of(&token));
    assert!(as_of < first_crossing);
    clock.set(first_crossing + Duration::seconds(1));
    combipat_office_queue::rerank(&pool, clock.now())
        .await
        .unwrap();
    let unmoved: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM items WHERE sla_warn_at = $1 AND ranked_as_of < $1",
    )
    .bind(first_crossing)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(unmoved, 0, "the ranks of the items that crossed moved");
    let (rest, _) = queue.rest(7, token).await;
    let mut pass: Vec<String> = first.into_iter().map(|item| item.request_id).collect();
    pass.extend(rest);
    assert_eq!(pass, computed_order(&pool, as_of).await);

    // Instants read from the moved clock, before a boundary and just after it (the item
    // crossed it, its stored rank not moved yet), then after the service moved the ranks.
    for at in [
        second_crossing - Duration::seconds(10),
        second_crossing + Duration::milliseconds(1),
    ] {
        clock.set(at);
        let (ids, as_of) = queue.rest(7, String::new()).await;
        // The moved clock reads to the millisecond.
        assert!(
            micros(as_of) > at - Duration::milliseconds(1),
            "ranked as of the clock"
        );
        assert_eq!(
            ids,
            computed_order(&pool, micros(as_of)).await,
            "before the move, {at}"
        );
        combipat_office_queue::rerank(&pool, clock.now())
            .await
            .unwrap();
        let (ids, as_of) = queue.rest(7, String::new()).await;
        assert_eq!(
            ids,
            computed_order(&pool, micros(as_of)).await,
            "after the move, {at}"
        );
    }

    // Every rank moved as of the end of the sample: the same pages again.
    clock.set(base + Duration::days(100));
    combipat_office_queue::rerank(&pool, clock.now())
        .await
        .unwrap();
    check_exact("stored ranks moved to the end").await;
    service.shutdown().await.unwrap();
}
