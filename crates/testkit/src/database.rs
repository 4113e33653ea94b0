use anyhow::Context as _;
use sqlx::{Connection as _, PgConnection};

/// Where tests create their databases. `just test` exports it; the default suits the
/// development servers (trust authentication on 127.0.0.1).
const ADMIN_URL_ENV: &str = "COMBIPAT_TEST_ADMIN_DATABASE_URL";
const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database of this test's own, named `combipat_t_<unix seconds>_<random>`. `just test`
/// drops the ones earlier runs left (older than an hour, so a concurrent run keeps its own).
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create() -> anyhow::Result<Self> {
        let admin_url =
            std::env::var(ADMIN_URL_ENV).unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        Self::create_on(&admin_url).await
    }

    /// A database on another server (a test's own), through its `admin_url`.
    pub async fn create_on(admin_url: &str) -> anyhow::Result<Self> {
        let admin_url = admin_url.to_owned();
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|since| since.as_secs())
            .unwrap_or_default();
        let name = format!("combipat_t_{created}_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .with_context(|| format!("cannot reach PostgreSQL at {admin_url}; run `just setup`"))?;
        // The name is ours (a UUID), never input.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(base, _)| base);
        Ok(Self {
            url: format!("{base}/{name}"),
            name,
        })
    }

    pub async fn connect(&self) -> anyhow::Result<sqlx::PgPool> {
        Ok(sqlx::PgPool::connect(&self.url).await?)
    }

    /// A pool on this database with the platform's own tables (outbox, inbox, jobs) and no
    /// service's: for tests of the platform itself.
    pub async fn with_platform_tables(&self) -> anyhow::Result<sqlx::PgPool> {
        let pool = self.connect().await?;
        combipat_platform::db::migrate(&pool, &sqlx::migrate::Migrator::DEFAULT).await?;
        Ok(pool)
    }
}
