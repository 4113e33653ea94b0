//! `ListItems`: one office's queue, filtered, a page at a time, by priority (the default) or
//! in arrival order.
//!
//! Both orders page with a keyset cursor, so pages neither repeat nor skip items while the
//! queue grows. By priority, the cursor also carries the instant the first page was read:
//! every page ranks items as of that instant, so an item crossing its deadline between two
//! pages does not jump back over the cursor. An item that arrives (or gains a sollecito)
//! ahead of the cursor is seen on the next pass or through WatchQueue.

use chrono::{DateTime, Utc};
use combipat_platform::time::from_timestamp;
use combipat_platform::{ApiError, Violation};
use combipat_proto::common::v1::Provenance;
use combipat_proto::officequeue::v1::{ClaimFilter, ListItemsRequest, ListOrder, SlaState};
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::items::{COLUMNS, ItemRow};
use crate::priority::{push_score, push_sla_condition};
use combipat_platform::bounds::filter_values;

const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 200;
const STATUSES: [&str; 4] = ["NEW", "INFO_REQUESTED", "ANSWERED", "CLOSED"];

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

/// Where the previous page ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// Arrival order: the insertion sequence of the last item returned. Items filed later
    /// get a higher one.
    Arrival { after_seq: i64 },
    /// Priority order: the ranking instant and the last item's place in it.
    Priority {
        as_of: DateTime<Utc>,
        after: Option<(i64, DateTime<Utc>, Uuid)>,
    },
}

impl Cursor {
    pub fn first(order: ListOrder, now: DateTime<Utc>) -> Self {
        match order {
            ListOrder::Arrival => Self::Arrival { after_seq: 0 },
            ListOrder::Priority => Self::Priority {
                as_of: now,
                after: None,
            },
        }
    }

    pub fn as_of(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::Arrival { .. } => now,
            Self::Priority { as_of, .. } => *as_of,
        }
    }

    /// The token that continues after `last`.
    pub fn next(&self, last: &ItemRow) -> String {
        match self {
            Self::Arrival { .. } => format!("a.{}", last.seq),
            Self::Priority { as_of, .. } => format!(
                "p.{}.{}.{}.{}",
                as_of.timestamp_micros(),
                last.priority(*as_of).score,
                last.submitted_at.timestamp_micros(),
                last.request_id
            ),
        }
    }

    pub fn parse(token: &str, order: ListOrder, now: DateTime<Utc>) -> Result<Self, ApiError> {
        if token.is_empty() {
            return Ok(Self::first(order, now));
        }
        let parts: Vec<&str> = token.split('.').collect();
        let micros = |text: &str| {
            text.parse::<i64>()
                .ok()
                .and_then(DateTime::<Utc>::from_timestamp_micros)
        };
        let cursor = match (order, parts.as_slice()) {
            (ListOrder::Arrival, ["a", seq]) => seq
                .parse::<i64>()
                .ok()
                .map(|after_seq| Self::Arrival { after_seq }),
            (ListOrder::Priority, ["p", as_of, score, submitted, id]) => {
                match (
                    micros(as_of),
                    score.parse::<i64>(),
                    micros(submitted),
                    Uuid::parse_str(id),
                ) {
                    (Some(as_of), Ok(score), Some(submitted), Ok(id)) => Some(Self::Priority {
                        as_of,
                        after: Some((score, submitted, id)),
                    }),
                    _ => None,
                }
            }
            _ => None,
        };
        cursor.ok_or_else(|| {
            ApiError::InvalidArgument(vec![Violation::new(
                "page_token",
                "is not a token this service issued for this order",
            )])
        })
    }
}

/// One page (and whether there is more) for an already authorised office.
pub async fn page(
    pool: &PgPool,
    request: &ListItemsRequest,
    cursor: &Cursor,
    now: DateTime<Utc>,
) -> Result<(Vec<ItemRow>, bool), ApiError> {
    let limit = page_size(request.page_size)?;
    let as_of = cursor.as_of(now);
    let mut violations = Vec::new();
    let statuses = filter_values("status", &request.status, &mut violations);
    let motivi = filter_values("motivo", &request.motivo, &mut violations);
    let sla_states = filter_values("sla_state", &request.sla_state, &mut violations);
    if let Some(bad) = statuses
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
    if motivi
        .iter()
        .any(|motivo| combipat_proto::common::v1::Motivo::try_from(*motivo).is_err())
    {
        violations.push(Violation::new("motivo", "holds an unknown motivo"));
    }
    if !violations.is_empty() {
        return Err(ApiError::InvalidArgument(violations));
    }

    let sla_states = sla_states
        .iter()
        .map(|state| {
            SlaState::try_from(*state).map_err(|_| {
                ApiError::InvalidArgument(vec![Violation::new("sla_state", "unknown SLA state")])
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let mut query: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT {COLUMNS} FROM items WHERE office_code = "));
    query.push_bind(&request.office_code);
    match cursor {
        Cursor::Arrival { after_seq } => {
            query.push(" AND seq > ").push_bind(*after_seq);
        }
        Cursor::Priority {
            after: Some((score, submitted_at, request_id)),
            ..
        } => {
            // (score descending, submitted_at, request_id) after the last item's.
            query.push(" AND (-");
            push_score(&mut query, as_of);
            query
                .push(", submitted_at, request_id) > (")
                .push_bind(-*score)
                .push(", ")
                .push_bind(*submitted_at)
                .push(", ")
                .push_bind(*request_id)
                .push(")");
        }
        Cursor::Priority { after: None, .. } => {}
    }
    if request.min_solleciti > 0 {
        query
            .push(" AND solleciti >= ")
            .push_bind(i32::try_from(request.min_solleciti).unwrap_or(i32::MAX));
    }
    if !sla_states.is_empty() {
        query.push(" AND (");
        for (index, state) in sla_states.iter().enumerate() {
            if index > 0 {
                query.push(" OR ");
            }
            push_sla_condition(&mut query, *state, as_of);
        }
        query.push(")");
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
            query.push(" AND lease_until > ").push_bind(as_of);
        }
        Ok(ClaimFilter::Unclaimed) => {
            query
                .push(" AND (lease_until IS NULL OR lease_until <= ")
                .push_bind(as_of)
                .push(")");
        }
        Err(_) => {
            return Err(ApiError::InvalidArgument(vec![Violation::new(
                "claimed",
                "unknown claim filter",
            )]));
        }
    }
    match cursor {
        Cursor::Arrival { .. } => {
            query.push(" ORDER BY seq");
        }
        Cursor::Priority { .. } => {
            query.push(" ORDER BY ");
            push_score(&mut query, as_of);
            query.push(" DESC, submitted_at, request_id");
        }
    }
    query.push(" LIMIT ").push_bind(limit + 1);
    let mut rows: Vec<ItemRow> = query.build_query_as().fetch_all(pool).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    Ok((rows, more))
}
