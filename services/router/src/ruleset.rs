//! Ruleset versions in the database, and the active one in memory.
//!
//! Loading validates a directory and stores it as a new version; activating makes it the
//! one version every replica decides with. Activation commits with a `pg_notify`, on which
//! every replica reloads at once; a periodic check catches a notice missed while a replica
//! was reconnecting. Deciding never touches the database.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use combipat_domain::Territory;
use combipat_platform::listen::listen;
use sha2::{Digest as _, Sha256};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use combipat_platform::messaging::new_envelope;
use combipat_platform::outbox;
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::events::v1::{CalendarChanged, OfficeCalendarChange};

use crate::SERVICE_NAME;
use crate::directory::{RoutingIndex, build_index, parse};

const CHANNEL: &str = "combipat_router_ruleset";

#[derive(Debug, thiserror::Error)]
pub enum RulesetError {
    #[error("the directory is not valid:\n{}", .0.join("\n"))]
    Invalid(Vec<String>),
    #[error("{0}")]
    Conflict(String),
    #[error("no ruleset version `{0}`")]
    NotFound(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub version: String,
    pub offices: u32,
    pub poli: u32,
    pub already_loaded: bool,
}

pub struct Rulesets {
    pool: PgPool,
    territory: Arc<Territory>,
    active: RwLock<Option<Arc<RoutingIndex>>>,
}

fn validate(yaml: &str, territory: &Arc<Territory>) -> Result<RoutingIndex, RulesetError> {
    let file = parse(yaml).map_err(|error| RulesetError::Invalid(vec![error]))?;
    build_index(file, Arc::clone(territory)).map_err(RulesetError::Invalid)
}

impl Rulesets {
    pub fn new(pool: PgPool, territory: Arc<Territory>) -> Self {
        Self {
            pool,
            territory,
            active: RwLock::new(None),
        }
    }

    /// The ruleset decisions use now; None until one is active.
    pub fn current(&self) -> Option<Arc<RoutingIndex>> {
        self.active.read().ok().and_then(|active| active.clone())
    }

    /// Validates `yaml` and stores it as a new version. Loading the same version with the
    /// same content again is a no-op; with other content it is a conflict.
    pub async fn load(&self, yaml: &str, loaded_by: &str) -> Result<Loaded, RulesetError> {
        let index = validate(yaml, &self.territory)?;
        let sha256 = hex::encode(Sha256::digest(yaml.as_bytes()));
        let offices = u32::try_from(index.offices.len()).unwrap_or(u32::MAX);
        let poli = u32::try_from(index.poli.len()).unwrap_or(u32::MAX);
        let inserted = sqlx::query(
            "INSERT INTO rulesets (version, source, sha256, offices, poli, loaded_by)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (version) DO NOTHING",
        )
        .bind(&index.version)
        .bind(yaml)
        .bind(&sha256)
        .bind(i64::from(offices))
        .bind(i64::from(poli))
        .bind(loaded_by)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted == 0 {
            let stored: String =
                sqlx::query_scalar("SELECT sha256 FROM rulesets WHERE version = $1")
                    .bind(&index.version)
                    .fetch_one(&self.pool)
                    .await?;
            if stored != sha256 {
                return Err(RulesetError::Conflict(format!(
                    "version {} is already loaded with other content; give the new directory a new version",
                    index.version
                )));
            }
        }
        tracing::info!(ruleset.version = %index.version, offices, poli, "ruleset loaded");
        Ok(Loaded {
            version: index.version,
            offices,
            poli,
            already_loaded: inserted == 0,
        })
    }

    /// Makes `version` the active ruleset for every replica, atomically.
    pub async fn activate(&self, version: &str, activated_by: &str) -> Result<(), RulesetError> {
        let mut transaction = self.pool.begin().await?;
        let source: Option<String> =
            sqlx::query_scalar("SELECT source FROM rulesets WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *transaction)
                .await?;
        let source = source.ok_or_else(|| RulesetError::NotFound(version.to_owned()))?;
        // Validated again: the territory may have changed since the load.
        let index = validate(&source, &self.territory)?;
        let previous: Option<(String, String)> = sqlx::query_as(
            "SELECT r.version, r.source FROM active_ruleset a JOIN rulesets r ON r.version = a.version FOR UPDATE OF a",
        )
        .fetch_optional(&mut *transaction)
        .await?;
        if let Some((previous_version, previous_source)) = previous
            && previous_version != version
            && let Some(changed) = calendar_changes(&previous_version, &previous_source, &index)
        {
            tracing::info!(ruleset.version = %version, offices = changed.offices.len(), "the activation changes office calendars");
            outbox::enqueue(
                &mut transaction,
                &new_envelope(SERVICE_NAME, "", Payload::CalendarChanged(changed)),
            )
            .await
            .map_err(|error| RulesetError::Conflict(format!("{error:#}")))?;
        }
        sqlx::query(
            "INSERT INTO active_ruleset (singleton, version, activated_by) VALUES (TRUE, $1, $2)
             ON CONFLICT (singleton) DO UPDATE SET version = $1, activated_by = $2, activated_at = now()",
        )
        .bind(version)
        .bind(activated_by)
        .execute(&mut *transaction)
        .await?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(version)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        tracing::info!(ruleset.version = %version, "ruleset activated");
        self.refresh().await
    }

    /// Loads the active version into memory when it differs from the one held.
    pub async fn refresh(&self) -> Result<(), RulesetError> {
        let active: Option<(String, String)> = sqlx::query_as(
            "SELECT r.version, r.source FROM active_ruleset a JOIN rulesets r ON r.version = a.version",
        )
        .fetch_optional(&self.pool)
        .await?;
        let Some((version, source)) = active else {
            return Ok(());
        };
        if self
            .current()
            .is_some_and(|current| current.version == version)
        {
            return Ok(());
        }
        let index = Arc::new(validate(&source, &self.territory)?);
        if let Ok(mut active) = self.active.write() {
            *active = Some(index);
        }
        tracing::info!(ruleset.version = %version, "routing with ruleset");
        Ok(())
    }

    /// Reloads on every activation notice, after a lost notice connection, and every
    /// `interval` in case a notice was missed anyway.
    pub async fn watch(self: Arc<Self>, interval: Duration, stop: CancellationToken) {
        let reload = || async {
            if let Err(error) = self.refresh().await {
                tracing::error!(error = %error, "cannot reload the active ruleset; keeping the current one");
            }
        };
        let notices = listen(self.pool.clone(), CHANNEL, stop.clone(), |_notice| reload());
        let polling = async {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(interval) => reload().await,
                }
            }
        };
        tokio::join!(notices, polling);
    }

    /// Resolves once a ruleset is active (true), or when `stop` is cancelled first (false).
    pub async fn wait_until_active(&self, stop: &CancellationToken) -> bool {
        loop {
            if self.current().is_some() {
                return true;
            }
            tokio::select! {
                () = stop.cancelled() => return false,
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }

    pub async fn versions(
        &self,
    ) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>, bool)>, RulesetError> {
        Ok(sqlx::query_as(
            "SELECT r.version, r.loaded_at, a.version IS NOT NULL
             FROM rulesets r LEFT JOIN active_ruleset a ON a.version = r.version ORDER BY r.loaded_at",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

/// The offices whose patron saint's day differs between the previous directory and `next`
/// (offices that are new, or gone, count as changed only if a day is named), as the event
/// office-queue moves its deadlines on.
fn calendar_changes(
    previous_version: &str,
    previous_source: &str,
    next: &RoutingIndex,
) -> Option<CalendarChanged> {
    let previous = parse(previous_source).ok()?;
    let before: std::collections::HashMap<&str, String> = previous
        .offices
        .iter()
        .map(|office| {
            (
                office.code.as_str(),
                office.patron_day.clone().unwrap_or_default(),
            )
        })
        .collect();
    let offices: Vec<OfficeCalendarChange> = next
        .offices
        .values()
        .filter_map(|office| {
            let now = office.patron_day.clone().unwrap_or_default();
            let then = before
                .get(office.code.as_str())
                .cloned()
                .unwrap_or_default();
            (now != then).then(|| OfficeCalendarChange {
                office_code: office.code.clone(),
                previous_patron_day: then,
                patron_day: now,
            })
        })
        .collect();
    (!offices.is_empty()).then(|| CalendarChanged {
        ruleset_version: next.version.clone(),
        previous_ruleset_version: previous_version.to_owned(),
        offices,
    })
}
