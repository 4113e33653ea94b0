//! `ListRequests`: the operator's office's requests, newest first, filtered, a page at a time.
//! The cursor is (submitted_at, id) of the last row returned, so new requests never shift a
//! page that is being read.

use chrono::{DateTime, Utc};
use combipat_domain::CodiceFiscale;
use combipat_platform::time::{from_timestamp, to_timestamp};
use combipat_platform::{ApiError, Violation};
use combipat_proto::intake::v1::{ListRequestsRequest, ListRequestsResponse, RequestListEntry};
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::access::Scope;

const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 200;

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    protocol_number: String,
    motivo: i32,
    codice_fiscale: String,
    topic: String,
    subject: String,
    status: String,
    office_code: Option<String>,
    submitted_at: DateTime<Utc>,
    solleciti: i32,
    patronato_office: String,
}

/// The page token: the last row's submission time (µs) and id. None for the first page.
fn cursor(token: &str) -> Result<Option<(DateTime<Utc>, Uuid)>, ()> {
    if token.is_empty() {
        return Ok(None);
    }
    let (micros, id) = token.split_once('_').ok_or(())?;
    let at = DateTime::from_timestamp_micros(micros.parse().map_err(|_| ())?).ok_or(())?;
    Ok(Some((at, Uuid::parse_str(id).map_err(|_| ())?)))
}

pub async fn page(
    pool: &PgPool,
    scope: &Scope,
    request: &ListRequestsRequest,
) -> Result<ListRequestsResponse, ApiError> {
    let office_filter = request.patronato_office.trim();
    if let Scope::Office { office, .. } = scope
        && !office_filter.is_empty()
        && office_filter != office
    {
        return Err(ApiError::PermissionDenied(format!(
            "you see the requests of your office {office} only"
        )));
    }
    let mut violations = Vec::new();
    let limit = match request.page_size {
        0 => DEFAULT_PAGE_SIZE,
        1..=MAX_PAGE_SIZE => request.page_size,
        _ => {
            violations.push(Violation::new(
                "page_size",
                format!("must be at most {MAX_PAGE_SIZE}"),
            ));
            DEFAULT_PAGE_SIZE
        }
    };
    let codice_fiscale = if request.codice_fiscale.is_empty() {
        None
    } else {
        CodiceFiscale::parse(&request.codice_fiscale)
            .map_err(|error| violations.push(Violation::new("codice_fiscale", error.to_string())))
            .ok()
    };
    let time =
        |field: &str, value: Option<&prost_types::Timestamp>, violations: &mut Vec<Violation>| {
            value.and_then(|value| {
                let parsed = from_timestamp(Some(value));
                if parsed.is_none() {
                    violations.push(Violation::new(field, "is not a valid time"));
                }
                parsed
            })
        };
    let from = time(
        "submitted_from",
        request.submitted_from.as_ref(),
        &mut violations,
    );
    let to = time(
        "submitted_to",
        request.submitted_to.as_ref(),
        &mut violations,
    );
    let mut statuses =
        combipat_platform::bounds::filter_values("status", &request.status, &mut violations);
    // Empty values do not filter; any other must be a status (checked before it reaches SQL).
    statuses.retain(|status| !status.is_empty());
    for status in &statuses {
        if !crate::status::REQUEST_STATUSES.contains(&status.as_str()) {
            violations.push(Violation::new(
                "status",
                format!(
                    "`{}` is not a status (one of {})",
                    status.escape_debug(),
                    crate::status::REQUEST_STATUSES.join(", ")
                ),
            ));
        }
    }
    let motivi =
        combipat_platform::bounds::filter_values("motivo", &request.motivo, &mut violations);
    let after = cursor(&request.page_token).unwrap_or_else(|()| {
        violations.push(Violation::new(
            "page_token",
            "is not a token this service issued",
        ));
        None
    });
    if !violations.is_empty() {
        return Err(ApiError::InvalidArgument(violations));
    }

    let mut query: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT id, protocol_number, motivo, codice_fiscale, topic, subject, status, office_code, submitted_at, solleciti,
                patronato_office
         FROM requests WHERE true",
    );
    match scope {
        Scope::Office { patronato, office } => {
            query
                .push(" AND patronato = ")
                .push_bind(patronato.clone())
                .push(" AND patronato_office = ")
                .push_bind(office.clone());
        }
        Scope::Patronato(patronato) => {
            query.push(" AND patronato = ").push_bind(patronato.clone());
        }
        Scope::All => {}
    }
    if !office_filter.is_empty() {
        query
            .push(" AND patronato_office = ")
            .push_bind(office_filter.to_owned());
    }
    if !statuses.is_empty() {
        query
            .push(" AND status = ANY(")
            .push_bind(statuses)
            .push(")");
    }
    if !motivi.is_empty() {
        query.push(" AND motivo = ANY(").push_bind(motivi).push(")");
    }
    if let Some(from) = from {
        query.push(" AND submitted_at >= ").push_bind(from);
    }
    if let Some(to) = to {
        query.push(" AND submitted_at < ").push_bind(to);
    }
    if let Some(codice_fiscale) = &codice_fiscale {
        query
            .push(" AND codice_fiscale = ")
            .push_bind(codice_fiscale.as_str().to_owned());
    }
    if let Some((at, id)) = after {
        query
            .push(" AND (submitted_at, id) < (")
            .push_bind(at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    query
        .push(" ORDER BY submitted_at DESC, id DESC LIMIT ")
        .push_bind(i64::from(limit) + 1);
    let mut rows: Vec<Row> = query.build_query_as().fetch_all(pool).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_page_token = match (more, rows.last()) {
        (true, Some(last)) => format!("{}_{}", last.submitted_at.timestamp_micros(), last.id),
        _ => String::new(),
    };
    Ok(ListRequestsResponse {
        requests: rows
            .into_iter()
            .map(|row| RequestListEntry {
                request_id: row.id.to_string(),
                protocol_number: row.protocol_number,
                motivo: row.motivo,
                codice_fiscale: row.codice_fiscale,
                topic: row.topic,
                subject: row.subject,
                status: row.status,
                office_code: row.office_code.unwrap_or_default(),
                submitted_at: Some(to_timestamp(row.submitted_at)),
                solleciti: u32::try_from(row.solleciti).unwrap_or_default(),
                patronato_office: row.patronato_office,
            })
            .collect(),
        next_page_token,
    })
}
