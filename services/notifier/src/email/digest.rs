//! An office's daily digest: instead of one e-mail per notice, one a day at `email.digest_hour`
//! (Europe/Rome) with the notices of the 24 hours before it. The first notice of the day
//! schedules the office's job (one per office and day); when it fires, the day's notices become
//! one message, sent like any other. Notices that need action still go at once.

use chrono::{DateTime, Duration, NaiveTime, TimeZone as _, Utc};
use chrono_tz::Europe::Rome;
use combipat_platform::clock::Clock;
use combipat_platform::handler::Effects;
use combipat_platform::jobs::{self, Job, NewJob};
use combipat_platform::messaging::HandleError;
use sqlx::PgConnection;

use super::templates::{self, DigestLine};
use super::{DIGEST_KIND, queue};
use crate::notice::rome;
use crate::settings::EmailSettings;

/// The next digest time after `now`: today's hour in Rome, or tomorrow's.
pub fn next_digest(now: DateTime<Utc>, hour: u32) -> DateTime<Utc> {
    let local = now.with_timezone(&Rome).date_naive();
    let at = |day: chrono::NaiveDate| {
        let time = NaiveTime::from_hms_opt(hour.min(23), 0, 0).unwrap_or(NaiveTime::MIN);
        Rome.from_local_datetime(&day.and_time(time))
            .earliest()
            .map_or(now, |at| at.with_timezone(&Utc))
    };
    let today = at(local);
    if today > now {
        today
    } else {
        at(local + Duration::days(1))
    }
}

/// Schedules `office`'s digest of the day; `patronato` (empty for an INPS office) keeps a
/// patronato office's digest to its own patronato's notices, since office codes are unique
/// only within a patronato.
pub async fn schedule(
    connection: &mut PgConnection,
    patronato: &str,
    office: &str,
    address: &str,
    clock: &Clock,
    settings: &EmailSettings,
) -> sqlx::Result<()> {
    if address.is_empty() {
        return Ok(());
    }
    let due = next_digest(clock.now(), settings.digest_hour);
    let day = due.with_timezone(&Rome).date_naive();
    let subject = if patronato.is_empty() {
        format!("{office}/{day}")
    } else {
        format!("{patronato}/{office}/{day}")
    };
    // Scheduled once a day per office: scheduling again would push a running one aside.
    if !jobs::pending(&mut *connection, &subject).await?.is_empty() {
        return Ok(());
    }
    jobs::schedule(
        connection,
        &NewJob {
            kind: DIGEST_KIND,
            subject: &subject,
            due_at: due,
            payload: serde_json::json!({ "office": office, "patronato": patronato, "address": address }),
        },
    )
    .await
}

/// The digest job fired: the office's notices of the last 24 hours become one message.
pub async fn gather(
    effects: &mut Effects<'_>,
    job: &Job,
    now: DateTime<Utc>,
) -> Result<(), HandleError> {
    let field = |name: &str| {
        job.payload
            .get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                HandleError::permanent(format!("digest job {} without {name}", job.subject))
            })
    };
    let (office, address) = (field("office")?, field("address")?);
    // Absent in jobs scheduled before digests were kept to their patronato.
    let patronato = field("patronato").unwrap_or_default();
    let rows: Vec<(String, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT title, body, created_at FROM notifications
         WHERE audience_code = $1 AND created_at > $2 AND created_at <= $3
           AND ($4 = '' OR audience <> 'patronato_office' OR patronato = $4)
         ORDER BY created_at",
    )
    .bind(&office)
    .bind(job.due_at - Duration::hours(24))
    .bind(job.due_at)
    .bind(&patronato)
    .fetch_all(effects.db())
    .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let lines: Vec<DigestLine> = rows
        .into_iter()
        .map(|(title, text, at)| DigestLine {
            title,
            text,
            at: rome(at),
        })
        .collect();
    let day = job
        .due_at
        .with_timezone(&Rome)
        .format("%d/%m/%Y")
        .to_string();
    let rendered = templates::digest(&office, &day, &lines);
    queue::insert(
        effects.db(),
        uuid::Uuid::now_v7(),
        &address,
        "digest",
        &rendered,
        now,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_goes_at_the_hour_in_rome_today_or_tomorrow() {
        let morning = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
        assert_eq!(
            next_digest(morning, 18),
            Utc.with_ymd_and_hms(2026, 12, 1, 17, 0, 0).unwrap()
        );
        let evening = Utc.with_ymd_and_hms(2026, 7, 1, 19, 0, 0).unwrap();
        assert_eq!(
            next_digest(evening, 18),
            Utc.with_ymd_and_hms(2026, 7, 2, 16, 0, 0).unwrap()
        );
    }
}
