//! The harness the reporting tests share: the service on its own database and bus (router
//! beside it on a bus of its own, for the direzioni regionali), events published into the
//! test's history stream, and hand-built request stories.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "shared by several test crates, each using part of it"
)]

use std::time::Duration;

use chrono::{DateTime, TimeZone as _, Utc};
use chrono_tz::Europe::Rome;
use combipat_platform::auth::Role;
use combipat_platform::clock::Clock;
use combipat_proto::common::v1::OfficeRef;
use combipat_proto::events::v1::Envelope;
use combipat_proto::reporting::v1::reporting_client::ReportingClient;
use combipat_reporting::demo::{Story, office_of};
use combipat_testkit::{
    TestBus, TestDatabase, TestService, eventually, grpc_channel, overrides, token, with_token,
    workspace_root,
};
use sqlx::PgPool;
use tonic::transport::Channel;

pub const WAIT: Duration = Duration::from_secs(90);

pub struct Harness {
    pub bus: TestBus,
    pub database: TestDatabase,
    pub pool: PgPool,
    pub service: TestService,
    pub router: TestService,
    pub clock: Clock,
    pub client: ReportingClient<Channel>,
    /// Events published so far (the stream's next offset once all are read).
    pub published: u64,
}

pub fn settings(
    database: &TestDatabase,
    bus: &TestBus,
    router: &TestService,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let key = workspace_root()
        .join("dev/keys/dev-jwt-private.pem")
        .display()
        .to_string();
    let mut settings = overrides(database, bus);
    for (name, value) in [
        ("identity.dev_signing_key_path", key.as_str()),
        ("pages.dev_signing_key_path", key.as_str()),
        ("router.endpoint", &format!("http://{}", router.grpc_addr)),
        ("reporting.rebuild_interval_ms", "200"),
        ("reporting.freeze_interval_ms", "200"),
        ("reporting.retired_kept_seconds", "1"),
        ("amqp.batch_size", "50"),
        ("amqp.prefetch", "200"),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    {
        settings.retain(|(existing, _)| existing != name);
        settings.push((name.to_owned(), value.to_owned()));
    }
    settings
}

pub async fn start() -> Harness {
    start_with(&[], Clock::system()).await
}

pub async fn start_with(extra: &[(&str, &str)], clock: Clock) -> Harness {
    let router_bus = TestBus::new();
    let router = TestService::start::<combipat_router::Service>(&overrides(
        &TestDatabase::create().await.unwrap(),
        &router_bus,
    ))
    .await
    .unwrap();
    let bus = TestBus::new();
    let database = TestDatabase::create().await.unwrap();
    let service = TestService::start_with_clock::<combipat_reporting::Service>(
        &settings(&database, &bus, &router, extra),
        clock.clone(),
    )
    .await
    .unwrap();
    // The reader declares the stream: publish only once it exists.
    eventually(WAIT, || async {
        Ok(bus.queue_depth("combipat.history").await.ok().map(|_| ()))
    })
    .await
    .unwrap();
    let pool = database.connect().await.unwrap();
    let client = ReportingClient::new(grpc_channel(service.grpc_addr).await.unwrap());
    Harness {
        bus,
        database,
        pool,
        service,
        router,
        clock,
        client,
        published: 0,
    }
}

impl Harness {
    pub async fn publish(&mut self, events: &[Envelope]) {
        for event in events {
            self.bus.publish_envelope(event).await.unwrap();
        }
        self.published += events.len() as u64;
    }

    /// Waits until `reader` has read every event published.
    pub async fn read_all_as(&self, reader: &str) {
        let expected = i64::try_from(self.published).unwrap();
        eventually(WAIT, || async {
            let next: Option<i64> = sqlx::query_scalar(
                "SELECT next_offset FROM platform_stream_positions WHERE reader = $1",
            )
            .bind(reader)
            .fetch_optional(&self.pool)
            .await?;
            Ok((next >= Some(expected)).then_some(()))
        })
        .await
        .unwrap_or_else(|error| panic!("{reader} did not read the {expected} events: {error}"));
    }

    pub async fn read_all(&self) {
        self.read_all_as("reporting").await;
    }

    pub fn analista(&self) -> String {
        token(Role::Analista, &[]).unwrap()
    }
}

pub fn request<T>(message: T, token: &str) -> tonic::Request<T> {
    with_token(message, token).unwrap()
}

/// An instant in Italian time.
pub fn rome(year: i32, month: u32, day: u32, hour: u32) -> DateTime<Utc> {
    Rome.with_ymd_and_hms(year, month, day, hour, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// A request sent at `at` by `patronato` for a citizen of `comune` (province, region),
/// routed to the province's office, with nothing else happening yet.
pub fn story(
    index: u128,
    at: DateTime<Utc>,
    comune: &str,
    province: &str,
    region: &str,
    patronato: &'static str,
    topic: &'static str,
) -> Story {
    let office = office_of(province, region);
    let due_at = combipat_domain::sla::SlaPolicy::default()
        .deadline_at(
            at,
            &combipat_domain::calendar::OfficeCalendar::with_patron_day(&office.patron_day),
        )
        .due_at;
    Story {
        request_id: uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + index),
        protocol_number: format!("CP-2026-{index:08}"),
        submitted_at: at,
        comune: comune.to_owned(),
        region: region.to_owned(),
        province: province.to_owned(),
        patronato,
        motivo: 3,
        topic,
        office,
        unroutable: false,
        due_at,
        ..Story::default()
    }
}

pub fn office(province: &str, region: &str) -> OfficeRef {
    office_of(province, region)
}

/// A month of requests built by hand (March 2026), with a request sent in February and one
/// answered in April around it: Basilicata (Potenza G942, Matera F052), Milano (F205), and a
/// resident of Switzerland (Z133).
pub fn march_history() -> Vec<Story> {
    let policy = combipat_domain::sla::SlaPolicy::default();
    let mut stories = Vec::new();

    let mut one = story(
        1,
        rome(2026, 3, 2, 10),
        "G942",
        "PZ",
        "17",
        "INCA",
        "pensioni",
    );
    one.answered_at = Some(rome(2026, 3, 4, 12));
    one.closed_at = Some(rome(2026, 3, 5, 9));
    one.rating = Some((rome(2026, 3, 6, 9), 5));
    stories.push(one);

    let mut two = story(
        2,
        rome(2026, 3, 3, 9),
        "G942",
        "PZ",
        "17",
        "INCA",
        "pensioni",
    );
    two.solleciti = vec![rome(2026, 3, 18, 10)];
    two.answered_at = Some(rome(2026, 3, 20, 9));
    two.rating = Some((rome(2026, 3, 21, 9), 3));
    stories.push(two);

    let mut three = story(
        3,
        rome(2026, 3, 5, 11),
        "G942",
        "PZ",
        "17",
        "ACLI",
        "naspi_dis_coll",
    );
    let (asked, replied) = (rome(2026, 3, 6, 10), rome(2026, 3, 9, 10));
    let calendar =
        combipat_domain::calendar::OfficeCalendar::with_patron_day(&three.office.patron_day);
    let left = policy.remaining_at(
        &combipat_domain::sla::Deadline {
            due_at: three.due_at,
            warn_at: three.due_at,
        },
        asked,
        &calendar,
    );
    three.info = Some((
        asked,
        replied,
        policy.resume_at(left, replied, &calendar).due_at,
    ));
    three.answered_at = Some(rome(2026, 3, 12, 15));
    stories.push(three);

    let mut four = story(
        4,
        rome(2026, 3, 9, 10),
        "F052",
        "MT",
        "17",
        "INCA",
        "pensioni",
    );
    four.transfer = Some((rome(2026, 3, 10, 10), office("PZ", "17")));
    four.answered_at = Some(rome(2026, 3, 16, 10));
    stories.push(four);

    let mut five = story(
        5,
        rome(2026, 3, 10, 10),
        "F052",
        "MT",
        "17",
        "ACLI",
        "assegno_unico",
    );
    five.solleciti = vec![rome(2026, 3, 25, 11)];
    stories.push(five);

    let mut six = story(
        6,
        rome(2026, 3, 30, 16),
        "F052",
        "MT",
        "17",
        "INCA",
        "pensioni",
    );
    six.answered_at = Some(rome(2026, 4, 2, 10));
    stories.push(six);

    let mut seven = story(
        7,
        rome(2026, 3, 11, 10),
        "G942",
        "PZ",
        "17",
        "INCA",
        "pensioni",
    );
    seven.unroutable = true;
    seven.office = OfficeRef {
        code: "FALLBACK-17".into(),
        name: "Coda di ricaduta: Basilicata".into(),
        kind: "fallback".into(),
        region_code: "17".into(),
        ..OfficeRef::default()
    };
    seven.answered_at = Some(rome(2026, 3, 13, 10));
    stories.push(seven);

    let mut eight = story(
        8,
        rome(2026, 2, 27, 10),
        "G942",
        "PZ",
        "17",
        "INCA",
        "invalidita_civile",
    );
    eight.answered_at = Some(rome(2026, 3, 2, 10));
    stories.push(eight);

    let mut nine = story(
        9,
        rome(2026, 3, 2, 10),
        "F205",
        "MI",
        "03",
        "INCA",
        "pensioni",
    );
    nine.answered_at = Some(rome(2026, 3, 3, 10));
    nine.rating = Some((rome(2026, 3, 3, 18), 4));
    stories.push(nine);

    let mut ten = story(
        10,
        rome(2026, 3, 4, 10),
        "F205",
        "MI",
        "03",
        "ACLI",
        "pensioni",
    );
    // A shorter deadline than the others: the answer comes after it.
    ten.due_at = rome(2026, 3, 20, 0);
    ten.solleciti = vec![rome(2026, 3, 19, 12)];
    ten.answered_at = Some(rome(2026, 3, 30, 10));
    ten.rating = Some((rome(2026, 3, 31, 10), 2));
    stories.push(ten);

    let mut eleven = story(
        11,
        rome(2026, 3, 5, 10),
        "Z133",
        "EE",
        "EE",
        "INCA",
        "convenzioni_internazionali",
    );
    eleven.answered_at = Some(rome(2026, 3, 10, 10));
    stories.push(eleven);

    let mut twelve = story(
        12,
        rome(2026, 3, 23, 9),
        "G942",
        "PZ",
        "17",
        "INCA",
        "pensioni",
    );
    twelve.closed_at = Some(rome(2026, 3, 24, 9));
    stories.push(twelve);

    let mut thirteen = story(
        13,
        rome(2026, 3, 24, 10),
        "G942",
        "PZ",
        "17",
        "INCA",
        "pensioni",
    );
    thirteen.answered_at = Some(rome(2026, 3, 24, 15));
    thirteen.rating = Some((rome(2026, 3, 25, 9), 5));
    stories.push(thirteen);
    stories
}

/// Every event of `stories`, in the order they happened.
pub fn events_of(stories: &[Story]) -> Vec<Envelope> {
    let mut events: Vec<Envelope> = stories.iter().flat_map(Story::events).collect();
    events.sort_by_key(|event| event.occurred_at.as_ref().map(|at| (at.seconds, at.nanos)));
    events
}

/// Every cell of `generation`, as text, in one order: two projections hold the same figures
/// exactly when these are equal.
pub async fn cells_of(pool: &PgPool, generation: i32) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT concat_ws(' ', dim, span, key, day, received, unroutable, solleciti, transfers, info_requests,
                resolved, answered, within_15_days, with_deadline, within_deadline, ratings, rating_sum,
                left(calendar::text, 40), left(business::text, 40))
         FROM cells WHERE generation = $1 ORDER BY dim, span, day, key",
    )
    .bind(generation)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Fails, showing only the cells that differ, unless two projections hold the same cells.
pub fn assert_same_cells(got: &[String], expected: &[String], what: &str) {
    let missing: Vec<&String> = expected.iter().filter(|cell| !got.contains(cell)).collect();
    let extra: Vec<&String> = got.iter().filter(|cell| !expected.contains(cell)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: {} cells missing, {} unexpected\nmissing: {missing:#?}\nunexpected: {extra:#?}",
        missing.len(),
        extra.len()
    );
}
