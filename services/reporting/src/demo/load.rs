//! Writing a generated history straight into a generation's tables, as if its events had
//! been read: the facts with COPY, the cells summed in memory from the same contribution
//! function the reader uses, then added in a few large statements. The demo and the bench
//! load this way; a rebuild from the stream does not see what was loaded so (it is not in
//! the stream).

use std::fmt::Write as _;
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::mpsc;

use super::{Generator, Profile};
use crate::model::contribution::{CellKey, Cells, contribute};
use crate::model::facts::Fact;
use crate::places::Places;
use crate::store::{cells, offices};

#[derive(Debug, Clone, Copy, Default)]
pub struct LoadSummary {
    pub requests: u64,
    pub cells: usize,
    pub seconds: f64,
}

/// COPY's text format: backslash, tab and line breaks escaped; `\N` for NULL.
fn text(into: &mut String, value: Option<&str>) {
    match value {
        None => into.push_str("\\N"),
        Some(value) => {
            for character in value.chars() {
                match character {
                    '\\' => into.push_str("\\\\"),
                    '\t' => into.push_str("\\t"),
                    '\n' => into.push_str("\\n"),
                    '\r' => into.push_str("\\r"),
                    other => into.push(other),
                }
            }
        }
    }
}

fn time(into: &mut String, value: Option<DateTime<Utc>>) {
    match value {
        None => into.push_str("\\N"),
        Some(at) => {
            let _ = write!(into, "{}", at.format("%Y-%m-%d %H:%M:%S%.6f+00"));
        }
    }
}

fn number(into: &mut String, value: Option<impl std::fmt::Display>) {
    match value {
        None => into.push_str("\\N"),
        Some(value) => {
            let _ = write!(into, "{value}");
        }
    }
}

/// One fact as a line of COPY text.
fn line(into: &mut String, generation: i32, id: uuid::Uuid, fact: &Fact) -> anyhow::Result<()> {
    let summary = fact.summary.as_ref();
    let office = fact.office.as_ref();
    let answer = fact.first_answer.as_ref();
    let _ = write!(into, "{generation}\t{id}\t");
    time(into, summary.map(|s| s.submitted_at));
    into.push('\t');
    text(into, summary.map(|s| s.region.as_str()));
    into.push('\t');
    text(into, summary.map(|s| s.province.as_str()));
    into.push('\t');
    text(into, summary.map(|s| s.patronato.as_str()));
    into.push('\t');
    number(into, summary.map(|s| s.motivo));
    into.push('\t');
    text(into, summary.map(|s| s.topic.as_str()));
    into.push('\t');
    text(into, office.map(|o| o.code.as_str()));
    into.push('\t');
    number(into, office.map(|o| o.seq));
    into.push('\t');
    text(into, office.map(|o| o.patron_day.as_str()));
    into.push('\t');
    into.push_str(if fact.unroutable { "t" } else { "f" });
    into.push('\t');
    time(into, answer.map(|a| a.at));
    into.push('\t');
    number(into, answer.map(|a| a.seq));
    into.push('\t');
    text(into, answer.map(|a| a.office.as_str()));
    into.push('\t');
    time(into, fact.closed_at);
    into.push('\t');
    number(into, Some(fact.solleciti));
    into.push('\t');
    text(into, Some(&serde_json::to_string(&fact.detail)?));
    into.push('\n');
    Ok(())
}

const CHUNK_BYTES: usize = 4 * 1024 * 1024;
const CELLS_PER_STATEMENT: usize = 20_000;

/// Generates `profile`'s history and writes it into `generation`.
pub async fn load(
    pool: &PgPool,
    generation: i32,
    places: &Places,
    profile: Profile,
) -> anyhow::Result<LoadSummary> {
    let started = Instant::now();
    let (chunks, mut received) = mpsc::channel::<String>(4);
    let places_owned = places.clone();
    let generating = tokio::task::spawn_blocking(move || -> anyhow::Result<(u64, Cells)> {
        let mut generator = Generator::new(&places_owned, profile.seed);
        let mut sums = Cells::new();
        let mut chunk = String::with_capacity(CHUNK_BYTES + 4096);
        let mut requests = 0;
        for (day, count) in generator.days(&profile) {
            for _ in 0..count {
                let story = generator.story(day, profile.now);
                let fact = story.fact();
                contribute(&fact, 1, &mut sums);
                line(&mut chunk, generation, story.request_id, &fact)?;
                requests += 1;
                if chunk.len() >= CHUNK_BYTES {
                    let full =
                        std::mem::replace(&mut chunk, String::with_capacity(CHUNK_BYTES + 4096));
                    chunks.blocking_send(full).context("the writer stopped")?;
                }
            }
        }
        if !chunk.is_empty() {
            chunks.blocking_send(chunk).context("the writer stopped")?;
        }
        Ok((requests, sums))
    });
    let mut connection = pool.acquire().await?;
    let mut copy = connection
        .copy_in_raw(&format!(
            "COPY facts_g{generation} (generation, request_id, submitted_at, region, province, patronato, motivo,
                 topic, office_code, office_seq, office_patron_day, unroutable, first_answer_at,
                 first_answer_seq, answer_office, closed_at, solleciti, detail) FROM STDIN"
        ))
        .await?;
    while let Some(chunk) = received.recv().await {
        copy.send(chunk.into_bytes()).await?;
    }
    copy.finish().await?;
    drop(connection);
    let (requests, sums) = generating.await??;

    let mut keys: Vec<&CellKey> = sums.keys().collect();
    keys.sort();
    let mut transaction = pool.begin().await?;
    for slice in keys.chunks(CELLS_PER_STATEMENT) {
        let mut columns = cells::Columns::default();
        for key in slice {
            columns.push(key, &sums[*key]);
        }
        cells::add(&mut transaction, generation, &columns).await?;
    }
    let generator = Generator::new(places, profile.seed);
    let described = generator.offices();
    let described: Vec<_> = described.iter().collect();
    offices::remember(&mut transaction, &described).await?;
    transaction.commit().await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE facts_g{generation}")))
        .execute(pool)
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE cells_g{generation}")))
        .execute(pool)
        .await?;
    Ok(LoadSummary {
        requests,
        cells: sums.len(),
        seconds: started.elapsed().as_secs_f64(),
    })
}
