//! What PostgreSQL alone does on this machine with the writes the pipeline makes for one
//! request: intake's transaction (request, history, outbox), router's (inbox, decision,
//! outbox) and office-queue's (inbox, item, history), on the services' own schemas (their
//! migrations), CONCURRENCY at a time. The pipeline's throughput is reported against it.

use std::time::Instant;

use combipat_platform::ServiceDefinition;
use combipat_testkit::TestDatabase;
use sqlx::PgPool;
use uuid::Uuid;

async fn migrated<S: ServiceDefinition>() -> anyhow::Result<PgPool> {
    let database = TestDatabase::create().await?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(40)
        .connect(&database.url)
        .await?;
    combipat_platform::db::migrate(&pool, S::migrations()).await?;
    Ok(pool)
}

/// The writes of one request through the three services.
async fn one_request(
    intake: &PgPool,
    router: &PgPool,
    queue: &PgPool,
    n: i64,
) -> anyhow::Result<()> {
    let id = Uuid::now_v7();
    let payload = vec![0u8; 300];
    let mut tx = intake.begin().await?;
    sqlx::query(
        "INSERT INTO requests (id, protocol_number, motivo, codice_fiscale, comune_residenza, topic, subject, body,
                               patronato, patronato_office, operator_id, submitted_at)
         VALUES ($1, 'BENCH-' || $2, 3, 'RSSMRA85T10A562S', 'F205', 'pensioni', 'Oggetto', 'Testo', 'INCA', 'INCA-MI-01', 'op', now())",
    )
    .bind(id)
    .bind(n.to_string())
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO request_history (request_id, at, status, detail) VALUES ($1, now(), 'SUBMITTED', 'bench')")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    outbox(&mut tx, &payload).await?;
    tx.commit().await?;

    let mut tx = router.begin().await?;
    inbox(&mut tx, "router").await?;
    sqlx::query(
        "INSERT INTO routing_decisions (request_id, kind, office_code, office_name, routed, ruleset_version, rule, explanation, decided_by, request)
         VALUES ($1, 'automatic', 'SEDE-MI', 'Sede di Milano', true, 'bench', 'province:MI', 'bench', 'router', $2)",
    )
    .bind(id)
    .bind(&payload)
    .execute(&mut *tx)
    .await?;
    outbox(&mut tx, &payload).await?;
    tx.commit().await?;

    let mut tx = queue.begin().await?;
    inbox(&mut tx, "office-queue").await?;
    sqlx::query(
        "INSERT INTO items (request_id, protocol_number, office_code, motivo, topic, subject, patronato, submitted_at,
                            decision_sequence, routed, ruleset_version, rule)
         VALUES ($1, 'BENCH-' || $2, 'SEDE-MI', 3, 'pensioni', 'Oggetto', 'INCA', now(), 1, true, 'bench', 'province:MI')",
    )
    .bind(id)
    .bind(n.to_string())
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO item_history (request_id, actor, action, text) VALUES ($1, 'router', 'filed', 'bench')")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn outbox(tx: &mut sqlx::PgConnection, payload: &[u8]) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO platform_outbox (event_id, routing_key, payload) VALUES ($1, 'bench', $2)",
    )
    .bind(Uuid::now_v7())
    .bind(payload)
    .execute(tx)
    .await?;
    Ok(())
}

async fn inbox(tx: &mut sqlx::PgConnection, consumer: &str) -> anyhow::Result<()> {
    sqlx::query("INSERT INTO platform_inbox (consumer, event_id) VALUES ($1, $2)")
        .bind(consumer)
        .bind(Uuid::now_v7())
        .execute(tx)
        .await?;
    Ok(())
}

/// Requests' worth of writes per second, `requests` of them, `concurrency` at a time.
pub async fn requests_per_second(requests: usize, concurrency: usize) -> anyhow::Result<f64> {
    let intake = migrated::<combipat_intake::Service>().await?;
    let router = migrated::<combipat_router::Service>().await?;
    let queue = migrated::<combipat_office_queue::Service>().await?;
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let (intake, router, queue) = (intake.clone(), router.clone(), queue.clone());
        workers.push(tokio::spawn(async move {
            let mut n = worker;
            while n < requests {
                one_request(&intake, &router, &queue, i64::try_from(n)?).await?;
                n += concurrency;
            }
            anyhow::Ok(())
        }));
    }
    for worker in workers {
        worker.await??;
    }
    Ok(requests as f64 / started.elapsed().as_secs_f64())
}
