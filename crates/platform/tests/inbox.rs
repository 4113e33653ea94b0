//! The inbox keeps a processed event's id as long as it may be delivered again, then deletes
//! it: rows older than the retention go, in batches; younger ones stay.

#![allow(
    clippy::unwrap_used,
    reason = "a failed assumption in a test is a failed test"
)]

use combipat_platform::inbox;
use combipat_platform::settings::InboxSettings;
use combipat_testkit::TestDatabase;

#[tokio::test]
async fn rows_older_than_the_retention_are_deleted_in_batches_and_younger_ones_kept() {
    let pool = TestDatabase::create()
        .await
        .unwrap()
        .with_platform_tables()
        .await
        .unwrap();
    // 12,000 ids processed eight days ago, 500 an hour ago.
    sqlx::query(
        "INSERT INTO platform_inbox (consumer, event_id, processed_at)
         SELECT 'test', gen_random_uuid(), now() - interval '8 days' FROM generate_series(1, 12000)",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO platform_inbox (consumer, event_id, processed_at)
         SELECT 'test', gen_random_uuid(), now() - interval '1 hour' FROM generate_series(1, 500)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let settings = InboxSettings {
        retention_hours: 168,
        cleanup_interval_ms: 1_000,
        cleanup_batch: 5_000,
    };
    let started = std::time::Instant::now();
    let deleted = inbox::sweep(pool.clone(), settings.clone())
        .pass()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(deleted, 12_000);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM platform_inbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        left, 500,
        "the last week's ids stay: they may still be delivered again"
    );
    assert_eq!(
        inbox::sweep(pool.clone(), settings.clone())
            .pass()
            .await
            .unwrap(),
        0
    );
    #[allow(clippy::print_stdout, reason = "the figure is the test's report")]
    {
        println!("deleted 12,000 expired inbox rows in {elapsed:?}");
    }
}
