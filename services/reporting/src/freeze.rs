//! The monthly reports of the tavoli tecnici, frozen when a month closes: for each region and
//! for the nation, the month's summary and tables as they stand, stored once with the data
//! version they came from, and never recomputed. A month is frozen once it has ended in
//! Italy and the active generation has read past its end (an event after it), or has been
//! idle for `freeze_after_minutes` (a quiet channel, or history loaded without the stream);
//! a reader still catching up with an old history is neither, so it never freezes a month
//! half read.

use std::time::Duration;

use chrono::{DateTime, Utc};
use combipat_domain::sla::start_of_day;
use combipat_platform::ApiError;
use combipat_platform::time::to_timestamp;
use combipat_proto::reporting::v1::{Dimension, MonthlyReport, Table};
use prost::Message as _;
use tokio_util::sync::CancellationToken;

use crate::labels;
use crate::metrics as m;
use crate::model::dims::{Dim, NATION};
use crate::model::period::{Kind, Period};
use crate::query::{Reader, Target};
use crate::store::generations::Row;
use crate::store::{cells, reports};
use crate::tables;

pub struct Freezer {
    pub reader: Reader,
    /// How long the reader must have been idle before a month it has not read past is frozen.
    pub after: chrono::Duration,
    pub interval: Duration,
}

/// When a month ends in Italy.
fn closes_at(month: &Period) -> DateTime<Utc> {
    start_of_day(month.next().first)
}

impl Freezer {
    pub async fn run(self, stop: CancellationToken) {
        loop {
            match self.freeze_due().await {
                Ok(0) => {}
                Ok(frozen) => tracing::info!(
                    reports = frozen,
                    "froze the monthly reports of the months that closed"
                ),
                Err(error) => tracing::warn!(
                    error = format!("{error:#}"),
                    "cannot freeze the monthly reports now; trying again"
                ),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    fn ready(&self, generation: &Row, month: &Period, now: DateTime<Utc>) -> bool {
        let closes = closes_at(month);
        if now < closes {
            return false;
        }
        let read_past = generation
            .newest_event_at
            .is_some_and(|newest| newest >= closes);
        let idle = generation
            .read_at
            .is_none_or(|read| now - read >= self.after);
        read_past || (idle && now - closes >= self.after)
    }

    /// Freezes every closed month that has figures and no report yet; answers how many
    /// reports were stored.
    pub async fn freeze_due(&self) -> anyhow::Result<usize> {
        let generation = self.reader.active().await?;
        let Some(first) = cells::first_day(&self.reader.pool, generation.generation).await? else {
            return Ok(0);
        };
        let frozen = reports::frozen_months(&self.reader.pool).await?;
        let now = self.reader.clock.now();
        let mut month = Period::containing(Kind::Month, first);
        let mut stored = 0;
        while self.ready(&generation, &month, now) {
            if !frozen.contains(&month.first) {
                stored += self.freeze(&generation, month, now).await?;
            }
            month = month.next();
        }
        Ok(stored)
    }

    /// The national report and each region's for `month`.
    pub async fn freeze(
        &self,
        generation: &Row,
        month: Period,
        now: DateTime<Utc>,
    ) -> anyhow::Result<usize> {
        let mut stored = 0;
        // Regions first, the nation last: the nation's row says the month is done.
        for region in labels::REGIONS.iter().copied().chain([NATION]) {
            let report = self.report(generation, month, region, now).await?;
            let frozen = reports::Frozen {
                month: month.first,
                region_code: region,
                label: &report.label,
                frozen_at: now,
                generation: generation.generation,
                stream_offset: i64::try_from(generation.stream_offset()).unwrap_or(i64::MAX),
                newest_event_at: generation.newest_event_at,
                small_cell_threshold: self.reader.threshold,
                report: report.encode_to_vec(),
            };
            if reports::freeze(&self.reader.pool, &frozen).await? {
                stored += 1;
                metrics::counter!(m::REPORTS_FROZEN).increment(1);
            }
        }
        Ok(stored)
    }

    /// What the report of `region` ("IT": the nation) for `month` holds.
    pub async fn report(
        &self,
        generation: &Row,
        month: Period,
        region: &str,
        now: DateTime<Utc>,
    ) -> Result<MonthlyReport, ApiError> {
        let reader = &self.reader;
        let (target, dimensions, within) = if region == NATION {
            (
                Target::nation(),
                vec![
                    Dimension::Region,
                    Dimension::Patronato,
                    Dimension::Motivo,
                    Dimension::Topic,
                    Dimension::Office,
                ],
                None,
            )
        } else {
            (
                Target {
                    dim: Dim::Region,
                    key: region.to_owned(),
                },
                vec![
                    Dimension::Province,
                    Dimension::Office,
                    Dimension::Topic,
                    Dimension::Patronato,
                    Dimension::Motivo,
                ],
                Some(region),
            )
        };
        let summary = tables::summary(reader, generation, &target, month).await?;
        let mut report_tables = Vec::new();
        for dimension in dimensions {
            let of = tables::table_of(reader, dimension, within, None).await?;
            let table = tables::table(reader, generation, &of, month).await?;
            report_tables.push(Table {
                dimension: dimension as i32,
                title: labels::dimension_title(of.dim).to_owned(),
                rows: table.rows,
            });
        }
        Ok(MonthlyReport {
            month: month.code(),
            region_code: region.to_owned(),
            label: format!("{} — {}", labels::region(region), month.label()),
            frozen_at: Some(to_timestamp(now)),
            data_version: summary.data_version.clone(),
            small_cell_threshold: reader.threshold,
            summary: Some(summary),
            tables: report_tables,
        })
    }
}
