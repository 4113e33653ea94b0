//! Reading figures from the active generation: a member's series of periods, a dimension's
//! table for a period, each turned into `Figures` with the small cells hidden where they must
//! be. Every answer reads the active generation once, so a switch during it cannot mix two
//! copies, and says which data version it was computed from.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{Days, NaiveDate};
use combipat_platform::ApiError;
use combipat_platform::clock::Clock;
use combipat_platform::time::to_timestamp;
use combipat_proto::reporting::v1::{DataVersion, Figures};
use sqlx::PgPool;

use crate::metrics as m;
use crate::model::contribution::Span;
use crate::model::dims::{Dim, NATION};
use crate::model::figures::{Aggregate, figures};
use crate::model::measures::Measures;
use crate::model::period::{Kind, Period};
use crate::places::Places;
use crate::store::cells::{self, Members};
use crate::store::generations::{self, Row};
use crate::store::offices::{self, Office};

/// A member to compute figures for: its dimension and its key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub dim: Dim,
    pub key: String,
}

impl Target {
    pub fn nation() -> Self {
        Self {
            dim: Dim::Nation,
            key: NATION.to_owned(),
        }
    }
}

#[derive(Clone)]
pub struct Reader {
    pub pool: PgPool,
    pub threshold: u32,
    pub places: Arc<Places>,
    pub clock: Clock,
}

/// A period's figures of one member, and the answer's data version.
pub struct Point {
    pub period: Period,
    pub aggregate: Aggregate,
}

/// Counts and times one kind of answer.
pub struct Timed(&'static str, Instant);

impl Timed {
    pub fn start(what: &'static str) -> Self {
        Self(what, Instant::now())
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        metrics::counter!(m::FIGURES_COMPUTED, "what" => self.0).increment(1);
        metrics::histogram!(m::FIGURES_SECONDS, "what" => self.0)
            .record(self.1.elapsed().as_secs_f64());
    }
}

fn database(error: sqlx::Error) -> ApiError {
    ApiError::from(error)
}

impl Reader {
    /// The generation every read of one answer uses.
    pub async fn active(&self) -> Result<Row, ApiError> {
        generations::active(&self.pool).await.map_err(database)
    }

    pub fn data_version(&self, generation: &Row) -> DataVersion {
        DataVersion {
            generation: u32::try_from(generation.generation).unwrap_or_default(),
            stream_offset: generation.stream_offset(),
            newest_event_at: generation.newest_event_at.map(to_timestamp),
            computed_at: Some(to_timestamp(self.clock.now())),
            label: format!("g{}@{}", generation.generation, generation.stream_offset()),
        }
    }

    /// Today in Italy, by the service's clock.
    pub fn today(&self) -> NaiveDate {
        combipat_domain::sla::rome_date(self.clock.now())
    }

    /// The period a caller named, or the last complete month.
    pub fn period(&self, text: &str, field: &str) -> Result<Period, ApiError> {
        if text.trim().is_empty() {
            return Ok(Period::last_complete_month(self.today()));
        }
        Period::parse(text).map_err(|reason| {
            ApiError::InvalidArgument(vec![combipat_platform::Violation::new(field, reason)])
        })
    }

    pub fn threshold_for(&self, dim: Dim) -> Option<u32> {
        dim.is_small_cell_level().then_some(self.threshold)
    }

    pub fn figures(&self, dim: Dim, aggregate: &Aggregate) -> Figures {
        figures(aggregate, self.threshold_for(dim))
    }

    pub async fn offices(&self) -> Result<HashMap<String, Office>, ApiError> {
        offices::all(&self.pool).await.map_err(database)
    }

    /// `count` periods of `last`'s kind ending with it, for one member.
    pub async fn series(
        &self,
        generation: &Row,
        target: &Target,
        last: Period,
        count: usize,
    ) -> Result<Vec<Point>, ApiError> {
        let periods = last.series(count.max(1));
        let first = periods[0].first;
        let (rows, mut open) = match last.kind {
            // Months and years from month rows: all of them up to the end, for the backlog.
            Kind::Month | Kind::Year => {
                let rows = cells::member_rows(
                    &self.pool,
                    generation.generation,
                    target.dim,
                    &target.key,
                    Span::Month,
                    cells::EARLIEST,
                    last.last(),
                )
                .await
                .map_err(database)?;
                (rows, 0)
            }
            Kind::Day | Kind::Week => {
                let rows = cells::member_rows(
                    &self.pool,
                    generation.generation,
                    target.dim,
                    &target.key,
                    Span::Day,
                    first,
                    last.last(),
                )
                .await
                .map_err(database)?;
                let before = cells::backlogs(
                    &self.pool,
                    generation.generation,
                    target.dim,
                    &Members::Keys(vec![target.key.clone()]),
                    first - Days::new(1),
                )
                .await
                .map_err(database)?;
                (rows, before.first().map_or(0, |(_, open)| *open))
            }
        };
        let mut points = Vec::with_capacity(periods.len());
        let mut rows = rows.into_iter().peekable();
        for period in periods {
            let mut measures = Measures::default();
            while let Some((day, row)) = rows.next_if(|(day, _)| *day <= period.last()) {
                open += row.received - row.resolved;
                if day >= period.first {
                    measures.add(&row);
                }
            }
            points.push(Point {
                period,
                aggregate: Aggregate {
                    measures,
                    backlog: open,
                },
            });
        }
        Ok(points)
    }

    /// The members of `dim` chosen by `members` over `period`.
    pub async fn table(
        &self,
        generation: &Row,
        dim: Dim,
        members: &Members,
        period: Period,
    ) -> Result<HashMap<String, Aggregate>, ApiError> {
        cells::aggregates(
            &self.pool,
            generation.generation,
            dim,
            members,
            period.first,
            period.last(),
        )
        .await
        .map_err(database)
    }

    /// The provinces of a region (from ANPR), for its table.
    pub fn provinces_of(&self, region: &str) -> Vec<String> {
        self.places
            .provinces()
            .iter()
            .filter(|(of, _)| of == region)
            .map(|(_, province)| province.clone())
            .collect()
    }

    /// The region a province is in.
    pub fn region_of_province(&self, province: &str) -> Option<String> {
        self.places
            .provinces()
            .iter()
            .find(|(_, sigla)| sigla == province)
            .map(|(region, _)| region.clone())
    }
}
