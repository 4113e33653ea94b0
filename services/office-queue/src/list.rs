//! `ListItems`: one office's queue, filtered, a page at a time, by priority (the default) or
//! in arrival order.
//!
//! Both orders page with a keyset cursor, so pages neither repeat nor skip items while the
//! queue grows. By priority, the cursor also carries the instant the first page was read:
//! every page ranks items as of that instant, so an item crossing its deadline between two
//! pages does not jump back over the cursor. An item that arrives (or gains a sollecito)
//! ahead of the cursor is seen on the next pass or through WatchQueue.
//!
//! By priority, a page is an index walk over the items' stored rank (`ranking.rs`), with
//! the score computed only for the few items whose stored rank does not hold at the page's
//! instant ([`push_priority_page`]); the page is the one sorting by the computed score gives.

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

    let provenance_patronato = match Provenance::try_from(request.provenance) {
        Ok(Provenance::Unspecified) => false,
        Ok(Provenance::Patronato) => true,
        Err(_) => {
            return Err(ApiError::InvalidArgument(vec![Violation::new(
                "provenance",
                "unknown provenance",
            )]));
        }
    };
    let claimed = ClaimFilter::try_from(request.claimed).map_err(|_| {
        ApiError::InvalidArgument(vec![Violation::new("claimed", "unknown claim filter")])
    })?;
    let filters = Filters {
        office_code: &request.office_code,
        min_solleciti: request.min_solleciti,
        sla_states: &sla_states,
        statuses: &statuses,
        motivi: &motivi,
        topic: &request.topic,
        patronato: &request.patronato,
        provenance_patronato,
        submitted_before,
        claimed,
        as_of,
    };

    let mut query: QueryBuilder<Postgres> = QueryBuilder::new("");
    match cursor {
        Cursor::Arrival { after_seq } => {
            query.push(format!("SELECT {COLUMNS} FROM items WHERE "));
            filters.push(&mut query);
            query
                .push(" AND seq > ")
                .push_bind(*after_seq)
                .push(" ORDER BY seq LIMIT ")
                .push_bind(limit + 1);
        }
        Cursor::Priority { after, .. } => {
            push_priority_page(&mut query, &filters, after.as_ref(), limit + 1);
        }
    }
    let mut rows: Vec<ItemRow> = query.build_query_as().fetch_all(pool).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    Ok((rows, more))
}

/// The office and the caller's filters, as SQL conditions on `items`.
struct Filters<'a> {
    office_code: &'a str,
    min_solleciti: u32,
    sla_states: &'a [SlaState],
    statuses: &'a [String],
    motivi: &'a [i32],
    topic: &'a str,
    patronato: &'a str,
    provenance_patronato: bool,
    submitted_before: Option<DateTime<Utc>>,
    claimed: ClaimFilter,
    /// SLA states and claims are judged as of this instant.
    as_of: DateTime<Utc>,
}

impl Filters<'_> {
    fn push(&self, query: &mut QueryBuilder<Postgres>) {
        query.push("office_code = ").push_bind(self.office_code);
        if self.min_solleciti > 0 {
            query
                .push(" AND solleciti >= ")
                .push_bind(i32::try_from(self.min_solleciti).unwrap_or(i32::MAX));
        }
        if !self.sla_states.is_empty() {
            query.push(" AND (");
            for (index, state) in self.sla_states.iter().enumerate() {
                if index > 0 {
                    query.push(" OR ");
                }
                push_sla_condition(query, *state, self.as_of);
            }
            query.push(")");
        }
        if !self.statuses.is_empty() {
            query
                .push(" AND status = ANY(")
                .push_bind(self.statuses)
                .push(")");
        }
        if !self.motivi.is_empty() {
            query
                .push(" AND motivo = ANY(")
                .push_bind(self.motivi)
                .push(")");
        }
        if !self.topic.is_empty() {
            query.push(" AND topic = ").push_bind(self.topic);
        }
        if !self.patronato.is_empty() {
            query.push(" AND patronato = ").push_bind(self.patronato);
        }
        if self.provenance_patronato {
            query.push(" AND provenance = 'PATRONATO'");
        }
        if let Some(before) = self.submitted_before {
            query.push(" AND submitted_at < ").push_bind(before);
        }
        match self.claimed {
            ClaimFilter::Any => {}
            ClaimFilter::Claimed => {
                query.push(" AND lease_until > ").push_bind(self.as_of);
            }
            ClaimFilter::Unclaimed => {
                query
                    .push(" AND (lease_until IS NULL OR lease_until <= ")
                    .push_bind(self.as_of)
                    .push(")");
            }
        }
    }
}

/// A page by priority as of `filters.as_of`, after `after` (score, submitted_at,
/// request_id), of at most `limit` items.
///
/// The cursor's position as a row value: (minus its score, `submitted_at`, `request_id`).
fn push_cursor(query: &mut QueryBuilder<Postgres>, after: &(i64, DateTime<Utc>, Uuid)) {
    let (score, submitted_at, request_id) = after;
    query
        .push("(")
        .push_bind(-*score)
        .push(", ")
        .push_bind(*submitted_at)
        .push(", ")
        .push_bind(*request_id)
        .push(")");
}

/// The items whose stored rank holds at that instant (`rank_from <= as_of < rank_until`:
/// all but those whose band the clock crossed since `ranking.rs` last moved them, or, for a
/// page ranked as of an earlier instant, moved after it) come from a walk of
/// `items_office_rank`, which is in priority order for them: `rank_key` is minus their score
/// as of `as_of`. The others, few, are scored as of `as_of` with [`push_score`] and sorted.
/// Both halves are in the same order (score descending, `submitted_at`, `request_id`), and
/// every item is in exactly one of them, so merging their first `limit` items gives the page
/// that sorting the whole office by the computed score gives.
fn push_priority_page(
    query: &mut QueryBuilder<Postgres>,
    filters: &Filters<'_>,
    after: Option<&(i64, DateTime<Utc>, Uuid)>,
    limit: i64,
) {
    let as_of = filters.as_of;
    query.push(format!(
        "SELECT {COLUMNS} FROM ((SELECT {COLUMNS}, rank_key AS page_key FROM items WHERE "
    ));
    filters.push(query);
    query
        .push(" AND rank_from <= ")
        .push_bind(as_of)
        .push(" AND rank_until > ")
        .push_bind(as_of);
    if let Some(after) = after {
        query.push(" AND (rank_key, submitted_at, request_id) > ");
        push_cursor(query, after);
    }
    query
        .push(" ORDER BY rank_key, submitted_at, request_id LIMIT ")
        .push_bind(limit);

    query.push(format!(") UNION ALL (SELECT {COLUMNS}, -"));
    push_score(query, as_of);
    query.push(" AS page_key FROM items WHERE ");
    filters.push(query);
    // The literal bounds match the partial indexes' predicates.
    query
        .push(" AND ((rank_until <= ")
        .push_bind(as_of)
        .push(" AND rank_until < 'infinity'::timestamptz) OR (rank_from > ")
        .push_bind(as_of)
        .push(" AND rank_from > '-infinity'::timestamptz))");
    if let Some(after) = after {
        query.push(" AND (-");
        push_score(query, as_of);
        query.push(", submitted_at, request_id) > ");
        push_cursor(query, after);
    }
    query
        .push(" ORDER BY page_key, submitted_at, request_id LIMIT ")
        .push_bind(limit);
    query
        .push(")) AS ranked ORDER BY page_key, submitted_at, request_id LIMIT ")
        .push_bind(limit);
}
