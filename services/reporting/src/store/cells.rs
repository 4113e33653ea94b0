//! Cells as stored: a batch's differences added in one statement, and the sums a table
//! needs read back: measures over a period from whole months' rows plus the days around
//! them, and the backlog at the period's end from every row before it.

use std::collections::HashMap;

use chrono::{Datelike as _, Days, Months, NaiveDate};
use sqlx::{PgConnection, PgPool};

use crate::model::contribution::{CellKey, Cells, Span};
use crate::model::dims::Dim;
use crate::model::figures::Aggregate;
use crate::model::measures::{Measures, histogram_text};

/// The columns of many cells' differences, for one `UNNEST`; and the cells that lost
/// something (they may have come to nothing, and are then deleted, so that a projection
/// holds the same rows whatever the order its events came in).
#[derive(Default)]
pub struct Columns {
    shrunk: Vec<usize>,
    dim: Vec<i16>,
    span: Vec<i16>,
    key: Vec<String>,
    day: Vec<NaiveDate>,
    counts: [Vec<i32>; 12],
    calendar: Vec<Option<String>>,
    business: Vec<Option<String>>,
}

fn narrow(value: i64) -> i32 {
    // A day's cell holds far fewer requests than 2^31; a batch's difference even fewer.
    i32::try_from(value).unwrap_or(if value < 0 { i32::MIN } else { i32::MAX })
}

impl Columns {
    pub fn from_cells(cells: &Cells) -> Self {
        let mut keys: Vec<&CellKey> = cells.keys().collect();
        // One order for every writer, so that two transactions never wait on each other.
        keys.sort();
        let mut columns = Self::default();
        for key in keys {
            columns.push(key, &cells[key]);
        }
        columns
    }

    pub fn push(&mut self, key: &CellKey, m: &Measures) {
        let lost = [
            m.received,
            m.unroutable,
            m.solleciti,
            m.transfers,
            m.info_requests,
            m.resolved,
            m.answered,
        ]
        .into_iter()
        .chain([
            m.within_15_days,
            m.with_deadline,
            m.within_deadline,
            m.ratings,
            m.rating_sum,
        ])
        .chain(m.calendar.iter().chain(&m.business).copied())
        .any(|value| value < 0);
        if lost {
            self.shrunk.push(self.dim.len());
        }
        self.dim.push(key.dim.code());
        self.span.push(key.span.code());
        self.key.push(key.key.clone());
        self.day.push(key.day);
        let values = [
            m.received,
            m.unroutable,
            m.solleciti,
            m.transfers,
            m.info_requests,
            m.resolved,
            m.answered,
            m.within_15_days,
            m.with_deadline,
            m.within_deadline,
            m.ratings,
            m.rating_sum,
        ];
        for (column, value) in self.counts.iter_mut().zip(values) {
            column.push(narrow(value));
        }
        self.calendar.push(histogram_text(&m.calendar));
        self.business.push(histogram_text(&m.business));
    }

    pub fn len(&self) -> usize {
        self.dim.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dim.is_empty()
    }
}

/// Adds the differences to the cells.
pub async fn add(
    connection: &mut PgConnection,
    generation: i32,
    columns: &Columns,
) -> sqlx::Result<()> {
    if columns.is_empty() {
        return Ok(());
    }
    let mut query = sqlx::query(
        "INSERT INTO cells AS c (generation, dim, span, key, day, received, unroutable, solleciti,
                                 transfers, info_requests, resolved, answered, within_15_days,
                                 with_deadline, within_deadline, ratings, rating_sum, calendar, business)
         SELECT $1, u.dim, u.span, u.key, u.day, u.received, u.unroutable, u.solleciti, u.transfers,
                u.info_requests, u.resolved, u.answered, u.within_15_days, u.with_deadline,
                u.within_deadline, u.ratings, u.rating_sum, u.calendar::integer[], u.business::integer[]
         FROM UNNEST($2::smallint[], $3::smallint[], $4::text[], $5::date[], $6::int[], $7::int[],
                     $8::int[], $9::int[], $10::int[], $11::int[], $12::int[], $13::int[], $14::int[],
                     $15::int[], $16::int[], $17::int[], $18::text[], $19::text[])
              AS u(dim, span, key, day, received, unroutable, solleciti, transfers, info_requests,
                   resolved, answered, within_15_days, with_deadline, within_deadline, ratings,
                   rating_sum, calendar, business)
         ON CONFLICT (generation, dim, span, day, key) DO UPDATE SET
             received = c.received + EXCLUDED.received,
             unroutable = c.unroutable + EXCLUDED.unroutable,
             solleciti = c.solleciti + EXCLUDED.solleciti,
             transfers = c.transfers + EXCLUDED.transfers,
             info_requests = c.info_requests + EXCLUDED.info_requests,
             resolved = c.resolved + EXCLUDED.resolved,
             answered = c.answered + EXCLUDED.answered,
             within_15_days = c.within_15_days + EXCLUDED.within_15_days,
             with_deadline = c.with_deadline + EXCLUDED.with_deadline,
             within_deadline = c.within_deadline + EXCLUDED.within_deadline,
             ratings = c.ratings + EXCLUDED.ratings,
             rating_sum = c.rating_sum + EXCLUDED.rating_sum,
             calendar = reporting_add_histograms(c.calendar, EXCLUDED.calendar),
             business = reporting_add_histograms(c.business, EXCLUDED.business)",
    )
    .bind(generation)
    .bind(&columns.dim)
    .bind(&columns.span)
    .bind(&columns.key)
    .bind(&columns.day);
    for column in &columns.counts {
        query = query.bind(column);
    }
    query
        .bind(&columns.calendar)
        .bind(&columns.business)
        .execute(&mut *connection)
        .await?;
    if columns.shrunk.is_empty() {
        return Ok(());
    }
    let dims: Vec<i16> = columns
        .shrunk
        .iter()
        .map(|index| columns.dim[*index])
        .collect();
    let spans: Vec<i16> = columns
        .shrunk
        .iter()
        .map(|index| columns.span[*index])
        .collect();
    let days: Vec<NaiveDate> = columns
        .shrunk
        .iter()
        .map(|index| columns.day[*index])
        .collect();
    let keys: Vec<&str> = columns
        .shrunk
        .iter()
        .map(|index| columns.key[*index].as_str())
        .collect();
    sqlx::query(
        "DELETE FROM cells c
         USING UNNEST($2::smallint[], $3::smallint[], $4::text[], $5::date[]) AS u(dim, span, key, day)
         WHERE c.generation = $1 AND c.dim = u.dim AND c.span = u.span AND c.day = u.day AND c.key = u.key
           AND c.received = 0 AND c.unroutable = 0 AND c.solleciti = 0 AND c.transfers = 0
           AND c.info_requests = 0 AND c.resolved = 0 AND c.answered = 0 AND c.within_15_days = 0
           AND c.with_deadline = 0 AND c.within_deadline = 0 AND c.ratings = 0 AND c.rating_sum = 0
           AND c.calendar IS NULL AND c.business IS NULL",
    )
    .bind(generation)
    .bind(dims)
    .bind(spans)
    .bind(keys)
    .bind(days)
    .execute(connection)
    .await
    .map(|_| ())
}

/// Which members of a dimension to read.
#[derive(Debug, Clone)]
pub enum Members {
    All,
    Keys(Vec<String>),
    /// Keys within a region: `17|`.
    Prefix(String),
}

impl Members {
    fn condition(&self, parameter: usize) -> String {
        match self {
            Self::All => "TRUE".to_owned(),
            Self::Keys(_) => format!("key = ANY(${parameter})"),
            Self::Prefix(_) => format!("starts_with(key, ${parameter})"),
        }
    }
}

/// The rows that cover `first..=last`: whole months from their month rows, the days around
/// them from day rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cover {
    months: Option<(NaiveDate, NaiveDate)>,
    days: [Option<(NaiveDate, NaiveDate)>; 2],
}

fn month_start(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

fn cover(first: NaiveDate, last: NaiveDate) -> Cover {
    // The first whole month at or after `first`, and the month after the last whole one.
    let whole_from = if first.day() == 1 {
        first
    } else {
        month_start(first) + Months::new(1)
    };
    let after_last = last + Days::new(1);
    let whole_until = month_start(after_last);
    if whole_from >= whole_until {
        return Cover {
            months: None,
            days: [Some((first, last)), None],
        };
    }
    let before = (first < whole_from).then(|| (first, whole_from - Days::new(1)));
    let after = (whole_until <= last).then_some((whole_until, last));
    Cover {
        months: Some((whole_from, whole_until - Months::new(1))),
        days: [before, after],
    }
}

#[derive(sqlx::FromRow)]
pub struct MeasureRow {
    key: String,
    received: i32,
    unroutable: i32,
    solleciti: i32,
    transfers: i32,
    info_requests: i32,
    resolved: i32,
    answered: i32,
    within_15_days: i32,
    with_deadline: i32,
    within_deadline: i32,
    ratings: i32,
    rating_sum: i32,
    calendar: Option<Vec<i32>>,
    business: Option<Vec<i32>>,
}

fn widen(values: Option<Vec<i32>>) -> Vec<i64> {
    values
        .map(|values| values.into_iter().map(i64::from).collect())
        .unwrap_or_default()
}

impl MeasureRow {
    pub fn split(self) -> (String, Measures) {
        (
            self.key,
            Measures {
                received: self.received.into(),
                unroutable: self.unroutable.into(),
                solleciti: self.solleciti.into(),
                transfers: self.transfers.into(),
                info_requests: self.info_requests.into(),
                resolved: self.resolved.into(),
                answered: self.answered.into(),
                within_15_days: self.within_15_days.into(),
                with_deadline: self.with_deadline.into(),
                within_deadline: self.within_deadline.into(),
                ratings: self.ratings.into(),
                rating_sum: self.rating_sum.into(),
                calendar: widen(self.calendar),
                business: widen(self.business),
            },
        )
    }
}

/// Days PostgreSQL can hold, before and after any figure (chrono's extremes it cannot).
#[allow(
    clippy::expect_used,
    reason = "constant dates that exist, checked at compile time"
)]
pub const EARLIEST: NaiveDate = NaiveDate::from_ymd_opt(1900, 1, 1).expect("a valid date");
#[allow(
    clippy::expect_used,
    reason = "constant dates that exist, checked at compile time"
)]
pub const LATEST: NaiveDate = NaiveDate::from_ymd_opt(9999, 12, 31).expect("a valid date");
/// A range that holds no day.
const NO_RANGE: (NaiveDate, NaiveDate) = (LATEST, EARLIEST);

/// What the members of `dim` sum to over `first..=last`, with the backlog at `last`.
pub async fn aggregates(
    pool: &PgPool,
    generation: i32,
    dim: Dim,
    members: &Members,
    first: NaiveDate,
    last: NaiveDate,
) -> sqlx::Result<HashMap<String, Aggregate>> {
    let cover = cover(first, last);
    let months = cover.months.unwrap_or(NO_RANGE);
    let before = cover.days[0].unwrap_or(NO_RANGE);
    let after = cover.days[1].unwrap_or(NO_RANGE);
    let sql = format!(
        "SELECT key, received, unroutable, solleciti, transfers, info_requests, resolved, answered,
                within_15_days, with_deadline, within_deadline, ratings, rating_sum, calendar, business
         FROM cells
         WHERE generation = $1 AND dim = $2 AND {}
           AND ((span = 2 AND day BETWEEN $4 AND $5)
             OR (span = 1 AND (day BETWEEN $6 AND $7 OR day BETWEEN $8 AND $9)))",
        members.condition(3)
    );
    let query = sqlx::query_as::<_, MeasureRow>(sqlx::AssertSqlSafe(sql))
        .bind(generation)
        .bind(dim.code());
    let rows: Vec<MeasureRow> = bind_as(query, members)
        .bind(months.0)
        .bind(months.1)
        .bind(before.0)
        .bind(before.1)
        .bind(after.0)
        .bind(after.1)
        .fetch_all(pool)
        .await?;
    let mut sums: HashMap<String, Aggregate> = HashMap::new();
    for row in rows {
        let (key, measures) = row.split();
        sums.entry(key).or_default().measures.add(&measures);
    }
    for (key, backlog) in backlogs(pool, generation, dim, members, last).await? {
        sums.entry(key).or_default().backlog = backlog;
    }
    Ok(sums)
}

fn bind_as<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    members: &'q Members,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    match members {
        Members::All => query.bind(true),
        Members::Keys(keys) => query.bind(keys),
        Members::Prefix(prefix) => query.bind(prefix),
    }
}

/// Open requests at the end of `last`: everything received minus everything resolved.
pub async fn backlogs(
    pool: &PgPool,
    generation: i32,
    dim: Dim,
    members: &Members,
    last: NaiveDate,
) -> sqlx::Result<Vec<(String, i64)>> {
    let after_last = last + Days::new(1);
    // Whole months before the month after `last`, then the days of `last`'s month.
    let (months_until, days) = if after_last.day() == 1 {
        (month_start(last), NO_RANGE)
    } else {
        (month_start(last) - Days::new(1), (month_start(last), last))
    };
    let sql = format!(
        "SELECT key, sum(received - resolved)::bigint
         FROM cells
         WHERE generation = $1 AND dim = $2 AND {}
           AND ((span = 2 AND day <= $4) OR (span = 1 AND day BETWEEN $5 AND $6))
         GROUP BY key",
        members.condition(3)
    );
    let query = sqlx::query_as::<_, (String, i64)>(sqlx::AssertSqlSafe(sql))
        .bind(generation)
        .bind(dim.code());
    bind_as(query, members)
        .bind(months_until)
        .bind(days.0)
        .bind(days.1)
        .fetch_all(pool)
        .await
}

/// The rows of one member of one span between two days (inclusive), oldest first.
pub async fn member_rows(
    pool: &PgPool,
    generation: i32,
    dim: Dim,
    key: &str,
    span: Span,
    from: NaiveDate,
    to: NaiveDate,
) -> sqlx::Result<Vec<(NaiveDate, Measures)>> {
    let rows: Vec<DayRow> = sqlx::query_as(
        "SELECT day, key, received, unroutable, solleciti, transfers, info_requests, resolved, answered,
                within_15_days, with_deadline, within_deadline, ratings, rating_sum, calendar, business
         FROM cells
         WHERE generation = $1 AND dim = $2 AND span = $3 AND key = $4 AND day BETWEEN $5 AND $6
         ORDER BY day",
    )
    .bind(generation)
    .bind(dim.code())
    .bind(span.code())
    .bind(key)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(DayRow::split).collect())
}

#[derive(sqlx::FromRow)]
pub struct DayRow {
    pub day: NaiveDate,
    #[sqlx(flatten)]
    pub measures: MeasureRow,
}

impl DayRow {
    pub fn split(self) -> (NaiveDate, Measures) {
        (self.day, self.measures.split().1)
    }
}

/// A member's day, as [`for_each_day`] sends it.
pub type MemberDay = (String, NaiveDate, Measures);

/// Every day row of the members of `dim` between two days, by member then day, sent to
/// `rows` as it comes from the database (a cursor: no row cap, little memory); stops when
/// the receiver goes away.
pub async fn for_each_day(
    pool: PgPool,
    generation: i32,
    dim: Dim,
    members: Members,
    first: NaiveDate,
    last: NaiveDate,
    rows: tokio::sync::mpsc::Sender<MemberDay>,
) -> sqlx::Result<()> {
    use futures::TryStreamExt as _;
    let sql = format!(
        "SELECT day, key, received, unroutable, solleciti, transfers, info_requests, resolved, answered,
                within_15_days, with_deadline, within_deadline, ratings, rating_sum, calendar, business
         FROM cells
         WHERE generation = $1 AND dim = $2 AND {} AND span = 1 AND day BETWEEN $4 AND $5
         ORDER BY key, day",
        members.condition(3)
    );
    let query = sqlx::query_as::<_, DayRow>(sqlx::AssertSqlSafe(sql))
        .bind(generation)
        .bind(dim.code());
    let mut stream = bind_as(query, &members).bind(first).bind(last).fetch(&pool);
    while let Some(row) = stream.try_next().await? {
        let day = row.day;
        let (key, measures) = row.measures.split();
        if rows.send((key, day, measures)).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// The first day any request was received (for the frozen reports: nothing to freeze before).
pub async fn first_day(pool: &PgPool, generation: i32) -> sqlx::Result<Option<NaiveDate>> {
    sqlx::query_scalar(
        "SELECT min(day) FROM cells WHERE generation = $1 AND dim = $2 AND span = 1 AND received > 0",
    )
    .bind(generation)
    .bind(Dim::Nation.code())
    .fetch_one(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_period_is_covered_by_whole_months_and_the_days_around_them() {
        assert_eq!(
            cover(date(2026, 11, 1), date(2026, 11, 30)),
            Cover {
                months: Some((date(2026, 11, 1), date(2026, 11, 1))),
                days: [None, None]
            }
        );
        assert_eq!(
            cover(date(2026, 1, 1), date(2026, 12, 31)).months,
            Some((date(2026, 1, 1), date(2026, 12, 1)))
        );
        // A week across two months: days only.
        assert_eq!(
            cover(date(2026, 11, 30), date(2026, 12, 6)),
            Cover {
                months: None,
                days: [Some((date(2026, 11, 30), date(2026, 12, 6))), None]
            }
        );
        assert_eq!(
            cover(date(2026, 10, 20), date(2026, 12, 3)),
            Cover {
                months: Some((date(2026, 11, 1), date(2026, 11, 1))),
                days: [
                    Some((date(2026, 10, 20), date(2026, 10, 31))),
                    Some((date(2026, 12, 1), date(2026, 12, 3)))
                ],
            }
        );
    }
}
