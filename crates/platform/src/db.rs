//! PostgreSQL: the pool and the migrations (the platform's tables plus the service's own).

use std::time::Duration;

use anyhow::Context as _;
use secrecy::ExposeSecret as _;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;

use crate::settings::DatabaseSettings;

static PLATFORM_MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
        .connect(settings.url.expose_secret())
        .await
        .context("cannot connect to the database (database.url)")
}

/// The platform's migrations and the service's, in version order, as one migrator. Both
/// share one version sequence: a platform migration added later takes a version (a time of
/// day too, e.g. `20261203120000`) that no service uses, and [`migrate`] refuses a clash by
/// name.
pub fn migrator(service: &Migrator) -> Migrator {
    let mut migrations: Vec<_> = PLATFORM_MIGRATIONS
        .iter()
        .chain(service.iter())
        .cloned()
        .collect();
    migrations.sort_by_key(|migration| migration.version);
    Migrator::with_migrations(migrations)
}

pub async fn migrate(pool: &PgPool, service: &Migrator) -> anyhow::Result<()> {
    for ours in PLATFORM_MIGRATIONS.iter() {
        if let Some(theirs) = service
            .iter()
            .find(|migration| migration.version == ours.version)
        {
            anyhow::bail!(
                "migration version {} is both the platform's ({}) and the service's ({}): rename the service's",
                ours.version,
                ours.description,
                theirs.description
            );
        }
    }
    migrator(service)
        .run(pool)
        .await
        .context("database migration failed")
}

/// Whether `error` means the database cannot be reached or cannot take work now (no
/// connection, a pool timeout, a server shutting down or refusing connections), as opposed to
/// a failure of this statement. The first is a dependency outage (consumers pause, APIs
/// answer UNAVAILABLE); the second is the operation's own.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database) => database.code().is_some_and(|code| {
            // Class 08: connection exceptions. 57P01-57P03: the server is shutting down or
            // starting. 53300: too many connections. 55000 at connect time: the database does
            // not accept connections (ALTER DATABASE ... ALLOW_CONNECTIONS false).
            code.starts_with("08")
                || matches!(
                    code.as_ref(),
                    "57P01" | "57P02" | "57P03" | "53300" | "55000"
                )
        }),
        _ => false,
    }
}

/// Takes transaction-level advisory locks on `keys` (text, seed) at once and in one order
/// (by lock number), so that two transactions that lock overlapping keys this way never wait
/// for each other in a cycle. Locks already held by this transaction are taken again at no
/// cost. Nothing to do for no keys.
pub async fn advisory_locks(
    connection: &mut sqlx::PgConnection,
    keys: &[(String, i64)],
) -> sqlx::Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let (texts, seeds): (Vec<&str>, Vec<i64>) = keys
        .iter()
        .map(|(text, seed)| (text.as_str(), *seed))
        .unzip();
    // The aggregate takes the sorted rows in order: the locks are taken in that order.
    sqlx::query(
        "SELECT count(pg_advisory_xact_lock(lock)) FROM (
             SELECT DISTINCT hashtextextended(key, seed) AS lock
             FROM unnest($1::text[], $2::int8[]) AS k(key, seed) ORDER BY lock) AS ordered",
    )
    .bind(&texts)
    .bind(&seeds)
    .execute(connection)
    .await?;
    Ok(())
}
