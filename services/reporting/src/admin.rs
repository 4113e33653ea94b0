//! `combipat-reporting admin ...`: commands run against the database without starting the
//! service.
//!
//! - `rebuild`: start a rebuild (a new generation read from the history stream; the running
//!   service switches to it once it has caught up);
//! - `status`: the generations, what each has read, and the frozen reports;
//! - `demo-history [--months 13] [--per-month 40000] [--seed 1] [--until YYYY-MM]`: a
//!   synthetic national history written straight into the active generation (the demo of
//!   `just up`); nothing is loaded when the generation already has figures.

#![allow(clippy::print_stdout, reason = "an admin command reports on stdout")]

use anyhow::Context as _;
use sqlx::PgPool;

use crate::demo::{Profile, load};
use crate::model::period::{Kind, Period};
use crate::places::Places;
use crate::settings::ReportingSettings;
use crate::store::generations;

const USAGE: &str = "usage: combipat-reporting admin rebuild | status | demo-history [--months N] [--per-month N] [--seed N] [--until YYYY-MM]";

pub async fn run(pool: &PgPool, own: &ReportingSettings, args: &[String]) -> anyhow::Result<()> {
    match args.first().map(String::as_str) {
        Some("rebuild") => {
            let generation = generations::start_rebuild(pool).await?;
            println!(
                "generation {generation} is being built from the history stream; the service switches to it once it has caught up"
            );
            Ok(())
        }
        Some("status") => status(pool).await,
        Some("demo-history") => demo_history(pool, own, &args[1..]).await,
        _ => anyhow::bail!("{USAGE}"),
    }
}

async fn status(pool: &PgPool) -> anyhow::Result<()> {
    for row in generations::all(pool).await? {
        println!(
            "generation {} ({}): reader {}, stream offset {}, {} events read, newest {}{}",
            row.generation,
            row.state,
            row.reader,
            row.stream_offset(),
            row.events_read,
            row.newest_event_at
                .map_or_else(|| "none".to_owned(), |at| at.to_rfc3339()),
            if row.dropped_at.is_some() {
                ", tables dropped"
            } else {
                ""
            },
        );
    }
    let reports: i64 = sqlx::query_scalar("SELECT count(*) FROM monthly_reports")
        .fetch_one(pool)
        .await?;
    println!("{reports} monthly reports frozen");
    Ok(())
}

fn value<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|arg| arg == name)
        .and_then(|at| args.get(at + 1))
        .map(String::as_str)
}

async fn demo_history(
    pool: &PgPool,
    own: &ReportingSettings,
    args: &[String],
) -> anyhow::Result<()> {
    for arg in args.iter().filter(|arg| arg.starts_with("--")) {
        if !["--months", "--per-month", "--seed", "--until"].contains(&arg.as_str()) {
            anyhow::bail!("unknown option {arg}; {USAGE}");
        }
    }
    let number = |name: &str, default: u64| -> anyhow::Result<u64> {
        value(args, name).map_or(Ok(default), |text| {
            text.parse()
                .with_context(|| format!("{name} `{text}` is not a number"))
        })
    };
    let now = chrono::Utc::now();
    let until = match value(args, "--until") {
        Some(text) => Period::parse(text)
            .ok()
            .filter(|period| period.kind == Kind::Month)
            .with_context(|| format!("--until `{text}` is not a month (YYYY-MM)"))?,
        // Up to the current month, so that the pages of today have figures.
        None => Period::containing(Kind::Month, combipat_domain::sla::rome_date(now)),
    };
    let profile = Profile {
        until: until.first,
        months: u32::try_from(number("--months", 13)?).context("--months is too large")?,
        requests_per_month: number("--per-month", 40_000)?,
        seed: number("--seed", 1)?,
        now,
    };
    let active = generations::active(pool).await?;
    let loaded: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM facts WHERE generation = $1)")
            .bind(active.generation)
            .fetch_one(pool)
            .await?;
    if loaded {
        println!(
            "generation {} already has figures: no demo history loaded",
            active.generation
        );
        return Ok(());
    }
    let places = Places::load(&own.territory)?;
    let summary = load(pool, active.generation, &places, profile).await?;
    println!(
        "loaded {} demo requests ({} months to {}, seed {}) into generation {}: {} cells, {:.1} s",
        summary.requests,
        profile.months,
        until.code(),
        profile.seed,
        active.generation,
        summary.cells,
        summary.seconds
    );
    Ok(())
}
