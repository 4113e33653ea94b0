//! Who read which citizen's data. A service that shows a person a citizen's request, its
//! files or its history records each request shown (who, when, through which call) in the
//! same database as the data, in the call that shows it: a read that cannot be recorded is
//! not served. Calls made by services on their own behalf are not recorded (a person's call
//! through a service is recorded where the person's token was checked). An admin lists the
//! reads by citizen or by reader through `combipat.audit.v1.ReadAudit`, which every service
//! serves (gRPC and `GET /v1/audit/reads`); rows older than `audit.retention_days` are swept.

use chrono::{DateTime, Utc};
use combipat_proto::audit::v1::read_audit_server::{ReadAudit, ReadAuditServer};
use combipat_proto::audit::v1::{ListReadsRequest, ListReadsResponse, Read};
use serde::Deserialize;
use sqlx::{PgExecutor, PgPool};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::auth::{Principal, Role, principal};
use crate::retention::Sweep;
use crate::time::{from_timestamp, to_timestamp};
use crate::{ApiError, Violation};

/// The gRPC service every service serves beside its own.
pub const GRPC_SERVICE: &str = "combipat.audit.v1.ReadAudit";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// How long a read is kept (the public body's retention for access logs).
    pub retention_days: u32,
    pub sweep_interval_ms: u64,
    pub sweep_batch: u32,
}

/// One request shown to a person.
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a> {
    pub request_id: Uuid,
    pub codice_fiscale: &'a str,
    /// What else was read: a file's id, `list` when a list showed it.
    pub detail: &'a str,
}

/// Records that `reader` was shown `shown` through `call` (a gRPC method path or a page).
pub async fn record(
    executor: impl PgExecutor<'_>,
    reader: &Principal,
    call: &str,
    shown: &[Shown<'_>],
) -> Result<(), ApiError> {
    if reader.role == Role::Service || shown.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = shown.iter().map(|read| read.request_id).collect();
    let citizens: Vec<&str> = shown.iter().map(|read| read.codice_fiscale).collect();
    let details: Vec<&str> = shown.iter().map(|read| read.detail).collect();
    sqlx::query(
        "INSERT INTO platform_read_audit (reader, role, organisation, call, request_id, codice_fiscale, detail)
         SELECT $1, $2, $3, $4, r.request_id, r.codice_fiscale, r.detail
         FROM unnest($5::uuid[], $6::text[], $7::text[]) AS r(request_id, codice_fiscale, detail)",
    )
    .bind(&reader.subject)
    .bind(reader.role.as_str())
    .bind(organisation(reader))
    .bind(call)
    .bind(&ids)
    .bind(&citizens)
    .bind(&details)
    .execute(executor)
    .await?;
    metrics::counter!(crate::metrics::READS_AUDITED, "call" => call.to_owned())
        .increment(u64::try_from(shown.len()).unwrap_or(u64::MAX));
    Ok(())
}

/// The organisation a token names: `INCA/INCA-MI-01`, `INCA`, `SEDE-MI`, or empty.
fn organisation(reader: &Principal) -> String {
    match (
        &reader.patronato,
        &reader.patronato_office,
        &reader.inps_office,
    ) {
        (Some(patronato), Some(office), _) => format!("{patronato}/{office}"),
        (Some(patronato), None, _) => patronato.clone(),
        (None, _, Some(office)) => office.clone(),
        _ => String::new(),
    }
}

/// Deletes reads older than the retention.
pub fn sweep(pool: PgPool, settings: &AuditSettings) -> Sweep {
    let (days, batch) = (settings.retention_days, settings.sweep_batch);
    Sweep {
        what: "read_audit",
        interval: std::time::Duration::from_millis(settings.sweep_interval_ms),
        batch_size: u64::from(batch),
        batch: Box::new(move || {
            let pool = pool.clone();
            Box::pin(async move {
                Ok(sqlx::query(
                    "DELETE FROM platform_read_audit WHERE id IN (
                         SELECT id FROM platform_read_audit
                         WHERE at < now() - make_interval(days => $1)
                         LIMIT $2 FOR UPDATE SKIP LOCKED)",
                )
                .bind(i32::try_from(days).unwrap_or(i32::MAX))
                .bind(i64::from(batch))
                .execute(&pool)
                .await?
                .rows_affected())
            })
        }),
    }
}

const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 500;

/// `ReadAudit` over this service's own table.
pub struct AuditApi {
    pub pool: PgPool,
    pub service: &'static str,
}

impl AuditApi {
    pub fn server(self) -> ReadAuditServer<Self> {
        ReadAuditServer::new(self)
    }
}

/// What to list, checked: every problem named at once.
struct Query {
    codice_fiscale: Option<String>,
    reader: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: u32,
    before_id: Option<i64>,
}

fn query(request: &ListReadsRequest) -> Result<Query, ApiError> {
    let mut violations = Vec::new();
    let codice_fiscale = request.codice_fiscale.trim().to_uppercase();
    let reader = request.reader.trim().to_owned();
    match (codice_fiscale.is_empty(), reader.is_empty()) {
        (true, true) => violations.push(Violation::new(
            "codice_fiscale",
            "give the citizen's codice fiscale or the reader",
        )),
        (false, false) => violations.push(Violation::new(
            "reader",
            "give either codice_fiscale or reader, not both",
        )),
        _ => {}
    }
    if !codice_fiscale.is_empty()
        && let Err(error) = combipat_domain::CodiceFiscale::parse(&codice_fiscale)
    {
        violations.push(Violation::new("codice_fiscale", error.to_string()));
    }
    if reader.chars().count() > 200 {
        violations.push(Violation::new("reader", "is longer than 200 characters"));
    }
    let mut time = |field: &str, value: Option<&prost_types::Timestamp>| {
        value.and_then(|value| {
            let parsed = from_timestamp(Some(value));
            if parsed.is_none() {
                violations.push(Violation::new(field, "is not a valid time"));
            }
            parsed
        })
    };
    let from = time("from", request.from.as_ref());
    let to = time("to", request.to.as_ref());
    let limit = match request.page_size {
        0 => DEFAULT_PAGE,
        size @ 1..=MAX_PAGE => size,
        _ => {
            violations.push(Violation::new(
                "page_size",
                format!("must be at most {MAX_PAGE}"),
            ));
            DEFAULT_PAGE
        }
    };
    let before_id = if request.page_token.is_empty() {
        None
    } else {
        request
            .page_token
            .parse::<i64>()
            .map_err(|_| {
                violations.push(Violation::new(
                    "page_token",
                    "is not a token this service issued",
                ));
            })
            .ok()
    };
    if !violations.is_empty() {
        return Err(ApiError::InvalidArgument(violations));
    }
    Ok(Query {
        codice_fiscale: (!codice_fiscale.is_empty()).then_some(codice_fiscale),
        reader: (!reader.is_empty()).then_some(reader),
        from,
        to,
        limit,
        before_id,
    })
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    at: DateTime<Utc>,
    reader: String,
    role: String,
    organisation: String,
    call: String,
    request_id: Uuid,
    codice_fiscale: String,
    detail: String,
}

#[tonic::async_trait]
impl ReadAudit for AuditApi {
    async fn list_reads(
        &self,
        request: Request<ListReadsRequest>,
    ) -> Result<Response<ListReadsResponse>, Status> {
        if principal(&request)?.role != Role::Admin {
            return Err(ApiError::PermissionDenied(
                "only an admin reads the audit of who read what".to_owned(),
            )
            .into());
        }
        let query = query(request.get_ref())?;
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, at, reader, role, organisation, call, request_id, codice_fiscale, detail
             FROM platform_read_audit
             WHERE ($1::text IS NULL OR codice_fiscale = $1)
               AND ($2::text IS NULL OR reader = $2)
               AND ($3::timestamptz IS NULL OR at >= $3)
               AND ($4::timestamptz IS NULL OR at < $4)
               AND ($5::bigint IS NULL OR id < $5)
             ORDER BY id DESC LIMIT $6",
        )
        .bind(&query.codice_fiscale)
        .bind(&query.reader)
        .bind(query.from)
        .bind(query.to)
        .bind(query.before_id)
        .bind(i64::from(query.limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(ApiError::from)?;
        let more = rows.len() > usize::try_from(query.limit).unwrap_or(usize::MAX);
        let page: Vec<Row> = rows
            .into_iter()
            .take(usize::try_from(query.limit).unwrap_or(usize::MAX))
            .collect();
        let next_page_token = if more {
            page.last()
                .map(|row| row.id.to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(ListReadsResponse {
            reads: page
                .into_iter()
                .map(|row| Read {
                    at: Some(to_timestamp(row.at)),
                    reader: row.reader,
                    role: row.role,
                    organisation: row.organisation,
                    call: row.call,
                    request_id: row.request_id.to_string(),
                    codice_fiscale: row.codice_fiscale,
                    detail: row.detail,
                    service: self.service.to_owned(),
                })
                .collect(),
            next_page_token,
        }))
    }
}

/// `GET /v1/audit/reads` (query parameters as in `ListReadsRequest`), with its OpenAPI
/// document at `/openapi/audit.json`.
pub fn http_routes(
    pool: PgPool,
    service: &'static str,
    auth: crate::auth::AuthInterceptor,
) -> anyhow::Result<axum::Router> {
    let api = std::sync::Arc::new(AuditApi { pool, service });
    Ok(
        crate::json_api::JsonApi::new(combipat_proto::FILE_DESCRIPTOR_SET, GRPC_SERVICE, auth)?
            .route(
                axum::http::Method::GET,
                "/v1/audit/reads",
                "ListReads",
                crate::grpc_method!(api, list_reads),
            )?
            .into_router_at(
                &format!("COMBIPAT {service}: who read which citizen's data"),
                "/openapi/audit.json",
            ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_names_one_citizen_or_one_reader_and_valid_bounds() {
        let refused = |request: ListReadsRequest| match query(&request) {
            Err(ApiError::InvalidArgument(violations)) => violations
                .into_iter()
                .map(|violation| violation.field)
                .collect::<Vec<_>>(),
            other => panic!("{:?}", other.map(|_| ())),
        };
        assert_eq!(refused(ListReadsRequest::default()), ["codice_fiscale"]);
        assert_eq!(
            refused(ListReadsRequest {
                codice_fiscale: "RSSMRA85T10A562S".into(),
                reader: "anna".into(),
                ..ListReadsRequest::default()
            }),
            ["reader"]
        );
        assert_eq!(
            refused(ListReadsRequest {
                codice_fiscale: "RSSMRA85T10A56".into(),
                page_size: 501,
                page_token: "x".into(),
                ..ListReadsRequest::default()
            }),
            ["codice_fiscale", "page_size", "page_token"]
        );
        let ok = query(&ListReadsRequest {
            codice_fiscale: " rssmra85t10a562s ".into(),
            ..ListReadsRequest::default()
        })
        .unwrap();
        assert_eq!(ok.codice_fiscale.as_deref(), Some("RSSMRA85T10A562S"));
        assert_eq!(ok.limit, DEFAULT_PAGE);
    }
}
