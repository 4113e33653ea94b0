//! `combipat.reporting.v1.Reporting` over gRPC: who the caller is and what they may read,
//! the request's fields checked (a wrong one is named), then the answer from `tables.rs`.

use std::collections::HashMap;

use combipat_platform::auth::{Principal, Role, principal};
use combipat_platform::time::to_timestamp;
use combipat_platform::{ApiError, Violation};
use combipat_proto::reporting::v1::reporting_server::Reporting;
use combipat_proto::reporting::v1::{
    Dimension, GetReportRequest, GetSeriesRequest, GetSeriesResponse, GetStatusRequest,
    GetStatusResponse, GetSummaryRequest, GetSummaryResponse, GetTableRequest, GetTableResponse,
    ListReportsRequest, ListReportsResponse, MonthlyReport, Rebuild, ReportListing, Scope,
};
use prost::Message as _;
use tonic::{Request, Response, Status};

use crate::access::{Reach, reach};
use crate::directory::Directory;
use crate::labels;
use crate::model::dims::{ABROAD, Dim, NATION, within};
use crate::model::period::{Kind, Period};
use crate::query::{Reader, Target};
use crate::store::generations::{self, State};
use crate::store::offices::Office;
use crate::store::reports;
use crate::tables;

pub struct ReportingApi {
    pub reader: Reader,
    pub directory: Directory,
}

fn invalid(field: &str, reason: impl Into<String>) -> ApiError {
    ApiError::InvalidArgument(vec![Violation::new(field, reason)])
}

fn known_region(code: &str) -> bool {
    labels::REGIONS.contains(&code) || code == ABROAD
}

/// The target a scope names. `prefix` is where the scope is in the request ("" when its
/// fields are the request's own: `dimension`, `key`, `within_region`).
pub fn target_of(scope: &Scope, prefix: &str) -> Result<Target, ApiError> {
    let name = |field: &str| {
        if prefix.is_empty() {
            field.to_owned()
        } else {
            format!("{prefix}.{field}")
        }
    };
    let dimension = Dimension::try_from(scope.dimension)
        .map_err(|_| invalid(&name("dimension"), "unknown dimension"))?;
    let key = scope.key.trim();
    let region = scope.region_code.trim();
    let need_key = |what: &str| -> Result<String, ApiError> {
        if key.is_empty() {
            Err(invalid(&name("key"), format!("must name the {what}")))
        } else {
            Ok(key.to_owned())
        }
    };
    if !region.is_empty() && !known_region(region) {
        return Err(invalid(
            &name("within_region"),
            format!("`{region}` is not an ISTAT region code (01-20) or EE"),
        ));
    }
    let plain = match dimension {
        Dimension::Nation | Dimension::Unspecified => return Ok(Target::nation()),
        Dimension::Region => {
            let key = need_key("region (01-20, EE)")?;
            if !known_region(&key) {
                return Err(invalid(
                    &name("key"),
                    format!("`{key}` is not an ISTAT region code (01-20) or EE"),
                ));
            }
            Target {
                dim: Dim::Region,
                key,
            }
        }
        Dimension::Province => {
            let key = need_key("province (its sigla)")?.to_ascii_uppercase();
            if combipat_domain::province_name(&key).is_none() && key != ABROAD {
                return Err(invalid(
                    &name("key"),
                    format!("`{key}` is not a province's sigla"),
                ));
            }
            Target {
                dim: Dim::Province,
                key,
            }
        }
        Dimension::Office => Target {
            dim: Dim::Office,
            key: need_key("office (its code)")?,
        },
        Dimension::Patronato => Target {
            dim: Dim::Patronato,
            key: need_key("patronato")?,
        },
        Dimension::Motivo => {
            let key = need_key("motivo")?;
            if !labels::MOTIVI.contains(&key.as_str()) {
                return Err(invalid(
                    &name("key"),
                    "must be sollecito_pratica, info_pagamenti or richiesta_generica",
                ));
            }
            Target {
                dim: Dim::Motivo,
                key,
            }
        }
        Dimension::Topic => Target {
            dim: Dim::Topic,
            key: need_key("topic (its code)")?,
        },
    };
    if region.is_empty() {
        return Ok(plain);
    }
    match plain.dim.within_region() {
        Some(dim) => Ok(Target {
            dim,
            key: within(region, &plain.key),
        }),
        None => Err(invalid(
            &name("within_region"),
            "goes only with a topic, a motivo or a patronato",
        )),
    }
}

fn optional(text: &str) -> Option<&str> {
    let text = text.trim();
    (!text.is_empty()).then_some(text)
}

impl ReportingApi {
    pub async fn reach_of(&self, caller: &Principal) -> Result<Reach, ApiError> {
        reach(caller, &self.directory).await
    }

    /// Checks that `reach` covers `target` (the region of a province from ANPR, of an office
    /// from the offices the events described).
    fn check(
        &self,
        reach: &Reach,
        target: &Target,
        offices: &HashMap<String, Office>,
    ) -> Result<(), ApiError> {
        reach.check(target, |dim, key| match dim {
            Dim::Province => self.reader.region_of_province(key),
            Dim::Office => offices.get(key).map(|office| office.region.clone()),
            _ => None,
        })
    }

    pub async fn authorised_target(
        &self,
        caller: &Principal,
        target: &Target,
    ) -> Result<(), ApiError> {
        let reach = self.reach_of(caller).await?;
        let offices = self.reader.offices().await?;
        self.check(&reach, target, &offices)
    }
}

#[tonic::async_trait]
impl Reporting for ReportingApi {
    async fn get_summary(
        &self,
        request: Request<GetSummaryRequest>,
    ) -> Result<Response<GetSummaryResponse>, Status> {
        let caller = principal(&request)?.clone();
        let call = request.into_inner();
        let scoped = call.dimension != Dimension::Unspecified as i32;
        let target = match (scoped, optional(&call.region_code)) {
            (true, Some(_)) => {
                return Err(invalid(
                    "region_code",
                    "give either region_code or dimension and key, not both",
                )
                .into());
            }
            (true, None) => target_of(
                &Scope {
                    dimension: call.dimension,
                    key: call.key,
                    region_code: call.within_region,
                },
                "",
            )?,
            (false, Some(region)) => target_of(
                &Scope {
                    dimension: Dimension::Region as i32,
                    key: region.to_owned(),
                    region_code: String::new(),
                },
                "",
            )
            .map_err(|_| {
                invalid(
                    "region_code",
                    format!("`{region}` is not an ISTAT region code (01-20) or EE"),
                )
            })?,
            (false, None) => Target::nation(),
        };
        let period = self.reader.period(&call.period, "period")?;
        self.authorised_target(&caller, &target).await?;
        let generation = self.reader.active().await?;
        Ok(Response::new(
            tables::summary(&self.reader, &generation, &target, period).await?,
        ))
    }

    async fn get_table(
        &self,
        request: Request<GetTableRequest>,
    ) -> Result<Response<GetTableResponse>, Status> {
        let caller = principal(&request)?.clone();
        let call = request.into_inner();
        let dimension = Dimension::try_from(call.dimension)
            .map_err(|_| invalid("dimension", "unknown dimension"))?;
        let region = optional(&call.region_code);
        if let Some(region) = region
            && !known_region(region)
        {
            return Err(invalid(
                "region_code",
                format!("`{region}` is not an ISTAT region code (01-20) or EE"),
            )
            .into());
        }
        let patronato = optional(&call.patronato);
        let period = self.reader.period(&call.period, "period")?;
        let of = tables::table_of(&self.reader, dimension, region, patronato).await?;
        self.reach_of(&caller)
            .await?
            .check_table(of.dim, region, patronato)?;
        let generation = self.reader.active().await?;
        Ok(Response::new(
            tables::table(&self.reader, &generation, &of, period).await?,
        ))
    }

    async fn get_series(
        &self,
        request: Request<GetSeriesRequest>,
    ) -> Result<Response<GetSeriesResponse>, Status> {
        let caller = principal(&request)?.clone();
        let call = request.into_inner();
        let target = target_of(
            &Scope {
                dimension: call.dimension,
                key: call.key.clone(),
                region_code: call.within_region.clone(),
            },
            "",
        )?;
        let granularity = optional(&call.granularity)
            .map(|text| {
                Kind::parse(text)
                    .ok_or_else(|| invalid("granularity", "must be day, week, month or year"))
            })
            .transpose()?;
        let until = self.reader.period(&call.until, "until")?;
        let last = match granularity {
            Some(kind) if kind != until.kind => Period::containing(kind, until.last()),
            _ => until,
        };
        let count = match call.count {
            0 => 12,
            count @ 1..=400 => usize::try_from(count).unwrap_or(12),
            _ => return Err(invalid("count", "must be 1 to 400 (0 means 12)").into()),
        };
        self.authorised_target(&caller, &target).await?;
        let generation = self.reader.active().await?;
        Ok(Response::new(
            tables::series(&self.reader, &generation, &target, last, count).await?,
        ))
    }

    async fn list_reports(
        &self,
        request: Request<ListReportsRequest>,
    ) -> Result<Response<ListReportsResponse>, Status> {
        let caller = principal(&request)?.clone();
        let call = request.into_inner();
        let reach = self.reach_of(&caller).await?;
        let scopes = match (optional(&call.region_code), reach.report_scopes()) {
            (Some(region), _) => {
                reach.check_report(region)?;
                Some(vec![region.to_owned()])
            }
            (None, scopes) => scopes,
        };
        let listed = reports::list(&self.reader.pool, scopes.as_deref())
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(ListReportsResponse {
            reports: listed
                .into_iter()
                .map(|report| ReportListing {
                    month: report.month.format("%Y-%m").to_string(),
                    region_code: report.region_code,
                    label: report.label,
                    frozen_at: Some(to_timestamp(report.frozen_at)),
                    data_version: Some(combipat_proto::reporting::v1::DataVersion {
                        generation: u32::try_from(report.generation).unwrap_or_default(),
                        stream_offset: u64::try_from(report.stream_offset).unwrap_or_default(),
                        newest_event_at: report.newest_event_at.map(to_timestamp),
                        computed_at: Some(to_timestamp(report.frozen_at)),
                        label: format!("g{}@{}", report.generation, report.stream_offset),
                    }),
                })
                .collect(),
        }))
    }

    async fn get_report(
        &self,
        request: Request<GetReportRequest>,
    ) -> Result<Response<MonthlyReport>, Status> {
        let caller = principal(&request)?.clone();
        let call = request.into_inner();
        let month = Period::parse(&call.month)
            .ok()
            .filter(|period| period.kind == Kind::Month)
            .ok_or_else(|| invalid("month", "must be a month, e.g. 2026-11"))?;
        let region = optional(&call.region_code).unwrap_or(NATION);
        if region != NATION && !labels::REGIONS.contains(&region) {
            return Err(invalid("region_code", "must be a region code (01-20) or IT").into());
        }
        self.reach_of(&caller).await?.check_report(region)?;
        let stored = reports::get(&self.reader.pool, month.first, region)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| {
                ApiError::NotFound(format!("no report of {region} frozen for {}", month.code()))
            })?;
        let report = MonthlyReport::decode(stored.as_slice()).map_err(|error| {
            ApiError::Internal(anyhow::anyhow!("the frozen report cannot be read: {error}"))
        })?;
        Ok(Response::new(report))
    }

    async fn get_status(
        &self,
        request: Request<GetStatusRequest>,
    ) -> Result<Response<GetStatusResponse>, Status> {
        let caller = principal(&request)?.clone();
        if !matches!(caller.role, Role::Analista | Role::Admin) {
            return Err(ApiError::PermissionDenied(
                "the status is for analisti and admins".to_owned(),
            )
            .into());
        }
        let all = generations::all(&self.reader.pool)
            .await
            .map_err(ApiError::from)?;
        let active = all
            .iter()
            .find(|row| row.state() == State::Active)
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no active generation")))?;
        let rebuild = all
            .iter()
            .find(|row| row.state() == State::Building)
            .map(|row| Rebuild {
                generation: u32::try_from(row.generation).unwrap_or_default(),
                stream_offset: row.stream_offset(),
                started_at: Some(to_timestamp(row.created_at)),
                newest_event_at: row.newest_event_at.map(to_timestamp),
            });
        #[allow(clippy::cast_precision_loss, reason = "milliseconds shown in seconds")]
        let lag_seconds = active.newest_event_at.map_or(0.0, |newest| {
            (self.reader.clock.now() - newest).num_milliseconds().max(0) as f64 / 1000.0
        });
        Ok(Response::new(GetStatusResponse {
            active: Some(self.reader.data_version(active)),
            rebuild,
            lag_seconds,
        }))
    }
}
