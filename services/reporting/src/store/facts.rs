//! Facts as stored: read for a batch's requests, written back merged, in the batch's
//! transaction (under the generation's writer lock).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::model::facts::{Detail, Fact, FirstAnswer, OfficeAt, Summary};

#[derive(sqlx::FromRow)]
struct FactRow {
    request_id: Uuid,
    submitted_at: Option<DateTime<Utc>>,
    region: Option<String>,
    province: Option<String>,
    patronato: Option<String>,
    motivo: Option<i16>,
    topic: Option<String>,
    office_code: Option<String>,
    office_seq: Option<i64>,
    office_patron_day: Option<String>,
    unroutable: bool,
    first_answer_at: Option<DateTime<Utc>>,
    first_answer_seq: Option<i64>,
    answer_office: Option<String>,
    closed_at: Option<DateTime<Utc>>,
    solleciti: i32,
    detail: sqlx::types::Json<Detail>,
}

fn seq(value: Option<i64>) -> u64 {
    value
        .and_then(|value| u64::try_from(value).ok())
        .unwrap_or(0)
}

impl FactRow {
    fn into_fact(self) -> (Uuid, Fact) {
        let summary = self.submitted_at.map(|submitted_at| Summary {
            submitted_at,
            region: self.region.unwrap_or_default(),
            province: self.province.unwrap_or_default(),
            patronato: self.patronato.unwrap_or_default(),
            motivo: self.motivo.unwrap_or_default(),
            topic: self.topic.unwrap_or_default(),
        });
        let office = self.office_code.map(|code| OfficeAt {
            seq: seq(self.office_seq),
            code,
            patron_day: self.office_patron_day.unwrap_or_default(),
        });
        let first_answer = self.first_answer_at.map(|at| FirstAnswer {
            at,
            seq: seq(self.first_answer_seq),
            office: self.answer_office.unwrap_or_default(),
        });
        let fact = Fact {
            summary,
            office,
            unroutable: self.unroutable,
            first_answer,
            closed_at: self.closed_at,
            solleciti: u32::try_from(self.solleciti).unwrap_or(0),
            detail: self.detail.0,
        };
        (self.request_id, fact)
    }
}

pub async fn load(
    connection: &mut PgConnection,
    generation: i32,
    ids: &[Uuid],
) -> sqlx::Result<HashMap<Uuid, Fact>> {
    let rows: Vec<FactRow> = sqlx::query_as(
        "SELECT request_id, submitted_at, region, province, patronato, motivo, topic, office_code,
                office_seq, office_patron_day, unroutable, first_answer_at, first_answer_seq,
                answer_office, closed_at, solleciti, detail
         FROM facts WHERE generation = $1 AND request_id = ANY($2)",
    )
    .bind(generation)
    .bind(ids)
    .fetch_all(connection)
    .await?;
    Ok(rows.into_iter().map(FactRow::into_fact).collect())
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The columns of many facts, for one `UNNEST` (also the bench's and the demo's loader).
#[derive(Default)]
pub struct Columns {
    pub ids: Vec<Uuid>,
    pub submitted_at: Vec<Option<DateTime<Utc>>>,
    pub region: Vec<Option<String>>,
    pub province: Vec<Option<String>>,
    pub patronato: Vec<Option<String>>,
    pub motivo: Vec<Option<i16>>,
    pub topic: Vec<Option<String>>,
    pub office_code: Vec<Option<String>>,
    pub office_seq: Vec<Option<i64>>,
    pub office_patron_day: Vec<Option<String>>,
    pub unroutable: Vec<bool>,
    pub first_answer_at: Vec<Option<DateTime<Utc>>>,
    pub first_answer_seq: Vec<Option<i64>>,
    pub answer_office: Vec<Option<String>>,
    pub closed_at: Vec<Option<DateTime<Utc>>>,
    pub solleciti: Vec<i32>,
    pub detail: Vec<String>,
}

impl Columns {
    pub fn push(&mut self, id: Uuid, fact: &Fact) -> serde_json::Result<()> {
        let summary = fact.summary.as_ref();
        self.ids.push(id);
        self.submitted_at.push(summary.map(|s| s.submitted_at));
        self.region.push(summary.map(|s| s.region.clone()));
        self.province.push(summary.map(|s| s.province.clone()));
        self.patronato.push(summary.map(|s| s.patronato.clone()));
        self.motivo.push(summary.map(|s| s.motivo));
        self.topic.push(summary.map(|s| s.topic.clone()));
        let office = fact.office.as_ref();
        self.office_code.push(office.map(|o| o.code.clone()));
        self.office_seq.push(office.map(|o| to_i64(o.seq)));
        self.office_patron_day
            .push(office.map(|o| o.patron_day.clone()));
        self.unroutable.push(fact.unroutable);
        let answer = fact.first_answer.as_ref();
        self.first_answer_at.push(answer.map(|a| a.at));
        self.first_answer_seq.push(answer.map(|a| to_i64(a.seq)));
        self.answer_office.push(answer.map(|a| a.office.clone()));
        self.closed_at.push(fact.closed_at);
        self.solleciti
            .push(i32::try_from(fact.solleciti).unwrap_or(i32::MAX));
        self.detail.push(serde_json::to_string(&fact.detail)?);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Writes the facts (new or merged) of one batch.
pub async fn save(
    connection: &mut PgConnection,
    generation: i32,
    columns: &Columns,
) -> sqlx::Result<()> {
    if columns.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO facts (generation, request_id, submitted_at, region, province, patronato, motivo,
                            topic, office_code, office_seq, office_patron_day, unroutable,
                            first_answer_at, first_answer_seq, answer_office, closed_at, solleciti, detail)
         SELECT $1, u.id, u.submitted_at, u.region, u.province, u.patronato, u.motivo, u.topic,
                u.office_code, u.office_seq, u.office_patron_day, u.unroutable, u.first_answer_at,
                u.first_answer_seq, u.answer_office, u.closed_at, u.solleciti, u.detail::jsonb
         FROM UNNEST($2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::smallint[],
                     $8::text[], $9::text[], $10::bigint[], $11::text[], $12::bool[], $13::timestamptz[],
                     $14::bigint[], $15::text[], $16::timestamptz[], $17::int[], $18::text[])
              AS u(id, submitted_at, region, province, patronato, motivo, topic, office_code, office_seq,
                   office_patron_day, unroutable, first_answer_at, first_answer_seq, answer_office,
                   closed_at, solleciti, detail)
         ON CONFLICT (generation, request_id) DO UPDATE SET
             submitted_at = EXCLUDED.submitted_at, region = EXCLUDED.region,
             province = EXCLUDED.province, patronato = EXCLUDED.patronato,
             motivo = EXCLUDED.motivo, topic = EXCLUDED.topic, office_code = EXCLUDED.office_code,
             office_seq = EXCLUDED.office_seq, office_patron_day = EXCLUDED.office_patron_day,
             unroutable = EXCLUDED.unroutable, first_answer_at = EXCLUDED.first_answer_at,
             first_answer_seq = EXCLUDED.first_answer_seq, answer_office = EXCLUDED.answer_office,
             closed_at = EXCLUDED.closed_at, solleciti = EXCLUDED.solleciti, detail = EXCLUDED.detail",
    )
    .bind(generation)
    .bind(&columns.ids)
    .bind(&columns.submitted_at)
    .bind(&columns.region)
    .bind(&columns.province)
    .bind(&columns.patronato)
    .bind(&columns.motivo)
    .bind(&columns.topic)
    .bind(&columns.office_code)
    .bind(&columns.office_seq)
    .bind(&columns.office_patron_day)
    .bind(&columns.unroutable)
    .bind(&columns.first_answer_at)
    .bind(&columns.first_answer_seq)
    .bind(&columns.answer_office)
    .bind(&columns.closed_at)
    .bind(&columns.solleciti)
    .bind(&columns.detail)
    .execute(connection)
    .await
    .map(|_| ())
}
