//! `ListItems`: one office's queue, filtered, in `seq` order, a page at a time.

use combipat_platform::time::from_timestamp;
use combipat_platform::{ApiError, Violation};
use combipat_proto::common::v1::Provenance;
use combipat_proto::officequeue::v1::{ClaimFilter, ListItemsRequest};
use sqlx::{PgPool, Postgres, QueryBuilder};

use crate::items::{COLUMNS, ItemRow};

const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 200;
const STATUSES: [&str; 3] = ["NEW", "ANSWERED", "CLOSED"];

pub fn page_size(requested: u32) -> Result<i64, ApiError> {
    match requested {
        0 => Ok(i64::from(DEFAULT_PAGE_SIZE)),
        1..=MAX_PAGE_SIZE => Ok(i64::from(requested)),
        _ => Err(ApiError::InvalidArgument(vec![Violation::new(
            "page_size",
            format!("must be at most {MAX_PAGE_SIZE}"),
        )])),
    }
}

/// The cursor is the insertion sequence of the last item returned: items filed later get a
/// higher one, so pages neither skip nor repeat items while the queue grows.
pub fn after_seq(page_token: &str) -> Result<i64, ApiError> {
    if page_token.is_empty() {
        return Ok(0);
    }
    page_token.parse::<i64>().map_err(|_| {
        ApiError::InvalidArgument(vec![Violation::new(
            "page_token",
            "is not a token this service issued",
        )])
    })
}

/// One page (and whether there is more) for an already authorised office.
pub async fn page(
    pool: &PgPool,
    request: &ListItemsRequest,
) -> Result<(Vec<ItemRow>, bool), ApiError> {
    let limit = page_size(request.page_size)?;
    let after = after_seq(&request.page_token)?;
    let mut violations = Vec::new();
    if let Some(bad) = request
        .status
        .iter()
        .find(|status| !STATUSES.contains(&status.as_str()))
    {
        violations.push(Violation::new(
            "status",
            format!("`{bad}` is not one of {}", STATUSES.join(", ")),
        ));
    }
    let submitted_before = match &request.submitted_before {
        None => None,
        Some(timestamp) => Some(from_timestamp(Some(timestamp)).ok_or_else(|| {
            ApiError::InvalidArgument(vec![Violation::new(
                "submitted_before",
                "is not a valid time",
            )])
        })?),
    };
    if !violations.is_empty() {
        return Err(ApiError::InvalidArgument(violations));
    }

    let mut query: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT {COLUMNS} FROM items WHERE office_code = "));
    query
        .push_bind(&request.office_code)
        .push(" AND seq > ")
        .push_bind(after);
    if !request.status.is_empty() {
        query
            .push(" AND status = ANY(")
            .push_bind(&request.status)
            .push(")");
    }
    if !request.motivo.is_empty() {
        query
            .push(" AND motivo = ANY(")
            .push_bind(&request.motivo)
            .push(")");
    }
    if !request.topic.is_empty() {
        query.push(" AND topic = ").push_bind(&request.topic);
    }
    if !request.patronato.is_empty() {
        query
            .push(" AND patronato = ")
            .push_bind(&request.patronato);
    }
    match Provenance::try_from(request.provenance) {
        Ok(Provenance::Unspecified) => {}
        Ok(Provenance::Patronato) => {
            query.push(" AND provenance = 'PATRONATO'");
        }
        Err(_) => {
            return Err(ApiError::InvalidArgument(vec![Violation::new(
                "provenance",
                "unknown provenance",
            )]));
        }
    }
    if let Some(before) = submitted_before {
        query.push(" AND submitted_at < ").push_bind(before);
    }
    match ClaimFilter::try_from(request.claimed) {
        Ok(ClaimFilter::Any) => {}
        Ok(ClaimFilter::Claimed) => {
            query.push(" AND lease_until > now()");
        }
        Ok(ClaimFilter::Unclaimed) => {
            query.push(" AND (lease_until IS NULL OR lease_until <= now())");
        }
        Err(_) => {
            return Err(ApiError::InvalidArgument(vec![Violation::new(
                "claimed",
                "unknown claim filter",
            )]));
        }
    }
    query.push(" ORDER BY seq LIMIT ").push_bind(limit + 1);
    let mut rows: Vec<ItemRow> = query.build_query_as().fetch_all(pool).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    Ok((rows, more))
}
