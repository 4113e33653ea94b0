//! The answers themselves, once the caller is known to be allowed: a member's summary beside
//! the nation, a dimension's table, a series. The API, the pages, the CSV and the frozen
//! monthly reports all come through here, so they cannot disagree.

use std::collections::HashMap;

use combipat_platform::ApiError;
use combipat_proto::reporting::v1::{
    Dimension, GetSeriesResponse, GetSummaryResponse, GetTableResponse, Period as PeriodMessage,
    Row as RowMessage, Scope, SeriesPoint,
};

use crate::labels;
use crate::model::dims::{ABROAD, Dim, NATION, member, within};
use crate::model::figures::Aggregate;
use crate::model::period::Period;
use crate::query::{Reader, Target, Timed};
use crate::store::cells::Members;
use crate::store::generations::Row;
use crate::store::offices::Office;

pub fn period_message(period: &Period) -> PeriodMessage {
    PeriodMessage {
        code: period.code(),
        kind: period.kind.as_str().to_owned(),
        label: period.label(),
        first_day: period.first.to_string(),
        last_day: period.last().to_string(),
    }
}

/// The API's dimension of an internal one (a member within a region is its member's).
pub fn dimension_of(dim: Dim) -> Dimension {
    match dim {
        Dim::Nation => Dimension::Nation,
        Dim::Region => Dimension::Region,
        Dim::Province => Dimension::Province,
        Dim::Office => Dimension::Office,
        Dim::Patronato | Dim::RegionPatronato => Dimension::Patronato,
        Dim::Motivo | Dim::RegionMotivo => Dimension::Motivo,
        Dim::Topic | Dim::RegionTopic => Dimension::Topic,
    }
}

/// The API's scope of a target.
pub fn scope_of(target: &Target) -> Scope {
    let region_code = match target.dim {
        Dim::RegionTopic | Dim::RegionPatronato | Dim::RegionMotivo => {
            target.key.split('|').next().unwrap_or_default().to_owned()
        }
        _ => String::new(),
    };
    Scope {
        dimension: dimension_of(target.dim) as i32,
        key: member(&target.key).to_owned(),
        region_code,
    }
}

/// A target in words: "Basilicata", "Pensioni in Basilicata".
pub fn target_label(target: &Target, offices: &HashMap<String, Office>) -> String {
    let name = labels::label(target.dim, &target.key, offices);
    match target.dim {
        Dim::RegionTopic | Dim::RegionPatronato | Dim::RegionMotivo => {
            let region = target.key.split('|').next().unwrap_or_default();
            format!("{name} in {}", labels::region(region))
        }
        _ => name,
    }
}

pub async fn summary(
    reader: &Reader,
    generation: &Row,
    target: &Target,
    period: Period,
) -> Result<GetSummaryResponse, ApiError> {
    let _timed = Timed::start("summary");
    let offices = reader.offices().await?;
    let points = reader.series(generation, target, period, 2).await?;
    let nation = reader
        .series(generation, &Target::nation(), period, 2)
        .await?;
    let [previous, current] = [&points[0], &points[1]];
    let figures = reader.figures(target.dim, &current.aggregate);
    let nation_figures = reader.figures(Dim::Nation, &nation[1].aggregate);
    Ok(GetSummaryResponse {
        received: figures.received,
        received_nation: nation_figures.received,
        period: Some(period_message(&current.period)),
        scope: Some(scope_of(target)),
        label: target_label(target, &offices),
        figures: Some(figures),
        nation: Some(nation_figures),
        previous_period: Some(period_message(&previous.period)),
        previous: Some(reader.figures(target.dim, &previous.aggregate)),
        previous_nation: Some(reader.figures(Dim::Nation, &nation[0].aggregate)),
        data_version: Some(reader.data_version(generation)),
        small_cell_threshold: reader.threshold,
    })
}

pub async fn series(
    reader: &Reader,
    generation: &Row,
    target: &Target,
    last: Period,
    count: usize,
) -> Result<GetSeriesResponse, ApiError> {
    let _timed = Timed::start("series");
    let offices = reader.offices().await?;
    let points = reader.series(generation, target, last, count).await?;
    let nation = reader
        .series(generation, &Target::nation(), last, count)
        .await?;
    Ok(GetSeriesResponse {
        scope: Some(scope_of(target)),
        label: target_label(target, &offices),
        points: points
            .iter()
            .zip(&nation)
            .map(|(point, nation)| SeriesPoint {
                period: Some(period_message(&point.period)),
                figures: Some(reader.figures(target.dim, &point.aggregate)),
                nation: Some(reader.figures(Dim::Nation, &nation.aggregate)),
            })
            .collect(),
        data_version: Some(reader.data_version(generation)),
        small_cell_threshold: reader.threshold,
    })
}

/// Which rows a table has: the dimension stored, the members, and what they are within.
#[derive(Debug, Clone)]
pub struct TableOf {
    pub dim: Dim,
    pub members: Members,
    /// The region or patronato the rows are within, as a target (for `within`).
    pub within: Option<Target>,
    /// What a row's stored key is shown as.
    pub shown: fn(&str) -> &str,
}

fn region_part(key: &str) -> &str {
    key.split('|').next().unwrap_or(key)
}

/// The rows of a table of `dimension`, optionally within a region or (for regions) of a
/// patronato; the error names the field that cannot go with the others.
pub async fn table_of(
    reader: &Reader,
    dimension: Dimension,
    region: Option<&str>,
    patronato: Option<&str>,
) -> Result<TableOf, ApiError> {
    let invalid = |field: &str, reason: &str| {
        ApiError::InvalidArgument(vec![combipat_platform::Violation::new(field, reason)])
    };
    let region_target = |region: &str| Target {
        dim: Dim::Region,
        key: region.to_owned(),
    };
    if patronato.is_some() && dimension != Dimension::Region {
        return Err(invalid(
            "patronato",
            "goes only with the table of regions (DIMENSION_REGION)",
        ));
    }
    let identity: fn(&str) -> &str = |key| key;
    Ok(match (dimension, region) {
        (Dimension::Region, Some(_)) => {
            return Err(invalid(
                "region_code",
                "a table of regions cannot be within a region",
            ));
        }
        (Dimension::Region, None) => match patronato {
            Some(patronato) => {
                let keys = labels::REGIONS
                    .iter()
                    .copied()
                    .chain([ABROAD, ""])
                    .map(|region| within(region, patronato))
                    .collect();
                TableOf {
                    dim: Dim::RegionPatronato,
                    members: Members::Keys(keys),
                    within: Some(Target {
                        dim: Dim::Patronato,
                        key: patronato.to_owned(),
                    }),
                    shown: region_part,
                }
            }
            None => TableOf {
                dim: Dim::Region,
                members: Members::All,
                within: None,
                shown: identity,
            },
        },
        (Dimension::Province, region) => TableOf {
            dim: Dim::Province,
            members: region.map_or(Members::All, |region| {
                Members::Keys(reader.provinces_of(region))
            }),
            within: region.map(region_target),
            shown: identity,
        },
        (Dimension::Office, region) => TableOf {
            dim: Dim::Office,
            members: match region {
                Some(region) => Members::Keys(
                    crate::store::offices::in_region(&reader.pool, region)
                        .await
                        .map_err(ApiError::from)?,
                ),
                None => Members::All,
            },
            within: region.map(region_target),
            shown: identity,
        },
        (Dimension::Patronato | Dimension::Motivo | Dimension::Topic, region) => {
            let plain = match dimension {
                Dimension::Patronato => Dim::Patronato,
                Dimension::Motivo => Dim::Motivo,
                _ => Dim::Topic,
            };
            match region {
                Some(region) => TableOf {
                    dim: plain.within_region().unwrap_or(plain),
                    members: Members::Prefix(format!("{region}|")),
                    within: Some(region_target(region)),
                    shown: member,
                },
                None => TableOf {
                    dim: plain,
                    members: Members::All,
                    within: None,
                    shown: identity,
                },
            }
        }
        (Dimension::Nation | Dimension::Unspecified, _) => {
            return Err(invalid(
                "dimension",
                "choose DIMENSION_REGION, DIMENSION_PROVINCE, DIMENSION_OFFICE, DIMENSION_PATRONATO, DIMENSION_MOTIVO or DIMENSION_TOPIC",
            ));
        }
    })
}

pub async fn table(
    reader: &Reader,
    generation: &Row,
    of: &TableOf,
    period: Period,
) -> Result<GetTableResponse, ApiError> {
    let _timed = Timed::start("table");
    let offices = reader.offices().await?;
    let sums = reader
        .table(generation, of.dim, &of.members, period)
        .await?;
    let nation = reader
        .table(
            generation,
            Dim::Nation,
            &Members::Keys(vec![NATION.to_owned()]),
            period,
        )
        .await?
        .remove(NATION)
        .unwrap_or_default();
    let within = match &of.within {
        Some(target) => {
            let aggregate = reader
                .table(
                    generation,
                    target.dim,
                    &Members::Keys(vec![target.key.clone()]),
                    period,
                )
                .await?
                .remove(&target.key)
                .unwrap_or_default();
            Some(RowMessage {
                key: target.key.clone(),
                label: target_label(target, &offices),
                figures: Some(reader.figures(target.dim, &aggregate)),
            })
        }
        None => None,
    };
    let shown_dim = match of.dim {
        // Regions of a patronato are named as regions.
        Dim::RegionPatronato if matches!(of.members, Members::Keys(_)) => Dim::Region,
        dim => dim,
    };
    let mut rows: Vec<RowMessage> = sums
        .iter()
        .filter(|(_, aggregate)| **aggregate != Aggregate::default())
        .map(|(key, aggregate)| {
            let shown = (of.shown)(key);
            RowMessage {
                key: shown.to_owned(),
                label: labels::label(shown_dim, shown, &offices),
                figures: Some(reader.figures(of.dim, aggregate)),
            }
        })
        .collect();
    rows.sort_by(|left, right| left.key.cmp(&right.key));
    Ok(GetTableResponse {
        period: Some(period_message(&period)),
        dimension: dimension_of(of.dim) as i32,
        rows,
        nation: Some(reader.figures(Dim::Nation, &nation)),
        within,
        data_version: Some(reader.data_version(generation)),
        small_cell_threshold: reader.threshold,
    })
}
