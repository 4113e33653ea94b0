//! What PostgreSQL alone does on this machine with the writes the pipeline makes for one
//! request, on the six services' own schemas (their migrations), CONCURRENCY requests at a
//! time. The pipeline's throughput is reported against it.
//!
//! One request is the load generator's (the same traffic, `traffic.rs`: a new citizen with a
//! mandate, no idempotency key, no attachments), routed to the sede of its province, filed,
//! and followed by every consumer that takes its events. Each service's work is one
//! transaction, one commit, per event it handles, with the statements its code runs (the
//! inbox and outbox rows as the platform's handler writes them, `handler.rs`):
//!
//!  1. intake, SubmitRequest (`store.rs` `submit`): the mandate, the duplicate check under
//!     its lock, the protocol number, the request, its history entry, request.submitted in
//!     the outbox;
//!  2. router, request.submitted: inbox, the routing decision, request.routed in the outbox;
//!  3. intake, request.routed (`status.rs`): inbox, a history entry, the request's status;
//!  4. office-queue, request.routed (`consumer.rs` `file`): inbox, the filed check, the
//!     office's lock, the item, its history entry, request.sla_changed in the outbox;
//!  5. notifier, request.routed (`events.rs`, `fanout.rs`): inbox, the known request, the
//!     patronato office's sighting and directory row, the office's and the operator's
//!     preferences, the inbox notice, the patronato's webhook endpoints (none in the load
//!     run, and a routed request is not e-mailed by default: no e-mail, no delivery);
//!  6. reminder-scheduler, request.submitted (`consumer.rs`): inbox, the request's row
//!     (created, locked, saved), its pending timers, the sollecito timer (platform_jobs);
//!  7. reminder-scheduler, request.sla_changed: the same, with the three deadline timers
//!     (warning, overdue, escalation);
//!  8. reporting, request.submitted (stream reader, `projector.rs`): inbox, the generation's
//!     writer lock, the fact (read, written), its 20 cells, the generation's read counters,
//!     the stream position;
//!  9. reporting, request.routed: the same, with the office moved (4 cells; the DELETE of
//!     the 2 it shrank, when empty) and the office's label;
//! 10. reporting, request.sla_changed: the same, the fact only (no cell changes).
//!
//! Reporting's rows are written by reporting's own projection (`combipat_reporting::project`),
//! the timers by the platform's `jobs`, the inbox and outbox rows by the platform's `inbox`
//! and `outbox`; the rest are the services' statements, copied. The handlers take a batch of
//! deliveries in one transaction when several wait; here every event is a batch of one (the
//! most commits the pipeline can make for a request: reporting's writer lock makes its
//! transactions one at a time).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use combipat_platform::ServiceDefinition;
use combipat_platform::clock::Clock;
use combipat_platform::handler::Event;
use combipat_platform::jobs::{self, NewJob};
use combipat_platform::messaging::{new_envelope, sequenced_envelope};
use combipat_platform::time::{from_timestamp, to_timestamp};
use combipat_platform::{inbox, outbox};
use combipat_proto::common::v1::{Filer, OfficeRef, RequestSummary};
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::events::v1::{
    Envelope, RequestRouted, RequestSlaChanged, RequestSubmitted, SlaClock,
};
use combipat_reporting::places::Places;
use combipat_testkit::TestDatabase;
use prost::Message as _;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::traffic::{Planned, Traffic};

/// The commits one request makes in this model (the numbered list above).
pub const COMMITS_PER_REQUEST: usize = 10;

/// How many commits one request makes in this model.
pub fn commits_per_request() -> usize {
    COMMITS_PER_REQUEST
}

/// Reporting's active generation (its migration creates it) and its stream reader.
const GENERATION: i32 = 1;
const READER: &str = "reporting";

async fn migrated<S: ServiceDefinition>() -> anyhow::Result<PgPool> {
    let database = TestDatabase::create().await?;
    // Six pools within PostgreSQL's 100 connections; a request uses one at a time.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(12)
        .connect(&database.url)
        .await?;
    combipat_platform::db::migrate(&pool, S::migrations()).await?;
    Ok(pool)
}

/// The six databases, and what the model needs beside them.
struct Pipeline {
    intake: PgPool,
    router: PgPool,
    queue: PgPool,
    notifier: PgPool,
    scheduler: PgPool,
    reporting: PgPool,
    places: Places,
    clock: Clock,
    /// The history stream's offsets, for reporting's position.
    offsets: AtomicU64,
}

/// What intake's submission leaves for the others: the request as its events carry it.
struct Submitted {
    id: Uuid,
    summary: RequestSummary,
    submitted_at: DateTime<Utc>,
    envelope: Envelope,
}

/// The writes of one request through the six services.
async fn one_request(pipeline: &Pipeline, planned: &Planned) -> anyhow::Result<()> {
    let submitted = submit(&pipeline.intake, planned).await?;
    let routed = route(&pipeline.router, &submitted, &pipeline.places).await?;
    intake_status(&pipeline.intake, &submitted, &routed).await?;
    let sla_changed = file(&pipeline.queue, &submitted, &routed).await?;
    notify(&pipeline.notifier, &submitted, &routed).await?;
    schedule(&pipeline.scheduler, &submitted.envelope).await?;
    schedule(&pipeline.scheduler, &sla_changed).await?;
    for envelope in [&submitted.envelope, &routed, &sla_changed] {
        project(pipeline, envelope).await?;
    }
    Ok(())
}

/// Intake's SubmitRequest (services/intake/src/store.rs `submit`, mandates.rs `find`).
async fn submit(pool: &PgPool, planned: &Planned) -> anyhow::Result<Submitted> {
    let request = &planned.request;
    // The first two motivi keep the prestazione in `topic` (validation.rs).
    let topic = if request.topic.is_empty() {
        request.prestazione.clone()
    } else {
        request.topic.clone()
    };
    let operator_id = operator(planned);
    let id = Uuid::now_v7();
    let submitted_at = Utc::now();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "SELECT patronato, codice_fiscale, valid_from, valid_until, reference, revoked_at, revocation_reason
         FROM mandates WHERE patronato = $1 AND codice_fiscale = $2",
    )
    .bind(planned.patronato)
    .bind(&request.codice_fiscale)
    .fetch_optional(&mut *tx)
    .await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 1))")
        .bind(format!("{}\n{}", planned.patronato, request.codice_fiscale))
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "SELECT id, protocol_number, submitted_at FROM requests
         WHERE patronato = $1 AND codice_fiscale = $2 AND motivo = $3 AND topic = $4
           AND pratica_protocol_number = $5 AND submitted_at > now() - make_interval(hours => $6)
         ORDER BY submitted_at DESC LIMIT 1",
    )
    .bind(planned.patronato)
    .bind(&request.codice_fiscale)
    .bind(request.motivo)
    .bind(&topic)
    .bind(&request.pratica_protocol_number)
    .bind(24_i32)
    .fetch_optional(&mut *tx)
    .await?;
    let sequence: i64 = sqlx::query_scalar("SELECT nextval('protocol_numbers')")
        .fetch_one(&mut *tx)
        .await?;
    let protocol_number = format!("CP-{}-{sequence:08}", submitted_at.format("%Y"));
    sqlx::query(
        "INSERT INTO requests (id, protocol_number, motivo, codice_fiscale, comune_residenza, topic,
                               subject, body, patronato, patronato_office, operator_id, submitted_at,
                               pratica_protocol_number)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(id)
    .bind(&protocol_number)
    .bind(request.motivo)
    .bind(&request.codice_fiscale)
    .bind(&request.comune_residenza)
    .bind(&topic)
    .bind(&request.subject)
    .bind(&request.body)
    .bind(planned.patronato)
    .bind(&planned.patronato_office)
    .bind(&operator_id)
    .bind(submitted_at)
    .bind(&request.pratica_protocol_number)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO request_history (request_id, at, status, detail) VALUES ($1, $2, 'SUBMITTED', $3)",
    )
    .bind(id)
    .bind(submitted_at)
    .bind(format!(
        "submitted by {operator_id} for {}",
        planned.patronato_office
    ))
    .execute(&mut *tx)
    .await?;
    let summary = RequestSummary {
        request_id: id.to_string(),
        protocol_number,
        motivo: request.motivo,
        codice_fiscale: request.codice_fiscale.clone(),
        comune_residenza: request.comune_residenza.clone(),
        topic,
        subject: request.subject.clone(),
        filer: Some(Filer {
            patronato: planned.patronato.to_owned(),
            patronato_office: planned.patronato_office.clone(),
            operator_id,
        }),
        submitted_at: Some(to_timestamp(submitted_at)),
        attachments: Vec::new(),
        pratica_protocol_number: request.pratica_protocol_number.clone(),
        body: request.body.clone(),
    };
    let envelope = new_envelope(
        "intake",
        &id.to_string(),
        Payload::RequestSubmitted(RequestSubmitted {
            request: Some(summary.clone()),
        }),
    );
    outbox::enqueue(&mut tx, &envelope).await?;
    tx.commit().await?;
    Ok(Submitted {
        id,
        summary,
        submitted_at,
        envelope,
    })
}

/// The operator who files `planned` (one per patronato office in the load run's tokens).
fn operator(planned: &Planned) -> String {
    format!("{}-op", planned.patronato_office)
}

/// The sede of the citizen's province, as router's directory describes one.
fn office_of(summary: &RequestSummary, places: &Places) -> OfficeRef {
    let (region, province) = places.of(&summary.comune_residenza);
    OfficeRef {
        code: format!("SEDE-{province}"),
        name: format!("Sede provinciale INPS di {province}"),
        kind: "sede_provinciale".to_owned(),
        region_code: region.clone(),
        province_code: province,
        patron_day: String::new(),
        parent_code: format!("DR-{region}"),
    }
}

/// Records the event in `consumer`'s inbox, as the handler does first.
async fn received(
    tx: &mut PgConnection,
    consumer: &'static str,
    envelope: &Envelope,
) -> anyhow::Result<()> {
    inbox::first_deliveries(tx, consumer, &[Uuid::parse_str(&envelope.event_id)?]).await?;
    Ok(())
}

/// Router on request.submitted (services/router/src/consumer.rs `decide`, decisions.rs
/// `record` and `announcement`). Returns request.routed.
async fn route(pool: &PgPool, submitted: &Submitted, places: &Places) -> anyhow::Result<Envelope> {
    let office = office_of(&submitted.summary, places);
    let rule = format!("province:{}", office.province_code);
    let mut tx = pool.begin().await?;
    received(&mut tx, "router", &submitted.envelope).await?;
    let sequence: i64 = sqlx::query_scalar(
        "INSERT INTO routing_decisions
             (request_id, kind, office_code, office_name, routed, ruleset_version, rule, explanation, decided_by, request)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING sequence",
    )
    .bind(submitted.id)
    .bind("automatic")
    .bind(&office.code)
    .bind(&office.name)
    .bind(true)
    .bind("2026.1")
    .bind(&rule)
    .bind(format!(
        "residenza {} in provincia di {}: competente {}",
        submitted.summary.comune_residenza, office.province_code, office.name
    ))
    .bind("router")
    .bind(submitted.summary.encode_to_vec())
    .fetch_one(&mut *tx)
    .await?;
    let routed = sequenced_envelope(
        "router",
        &submitted.id.to_string(),
        1,
        Payload::RequestRouted(RequestRouted {
            request: Some(submitted.summary.clone()),
            office: Some(office),
            ruleset_version: "2026.1".to_owned(),
            rule,
            decision_sequence: u64::try_from(sequence)?,
            kind: "automatic".to_owned(),
        }),
    );
    outbox::enqueue(&mut tx, &routed).await?;
    tx.commit().await?;
    Ok(routed)
}

fn routed_office(routed: &Envelope) -> anyhow::Result<(&RequestRouted, &OfficeRef)> {
    match &routed.payload {
        Some(Payload::RequestRouted(event)) => {
            let office = event
                .office
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("no office"))?;
            Ok((event, office))
        }
        _ => anyhow::bail!("not a request.routed"),
    }
}

/// Intake on request.routed (services/intake/src/status.rs `apply`).
async fn intake_status(
    pool: &PgPool,
    submitted: &Submitted,
    routed: &Envelope,
) -> anyhow::Result<()> {
    let (event, office) = routed_office(routed)?;
    let mut tx = pool.begin().await?;
    received(&mut tx, "intake", routed).await?;
    sqlx::query(
        "INSERT INTO request_history (request_id, at, status, office_code, office_name, detail, event_id, sequence)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(submitted.id)
    .bind(Utc::now())
    .bind("ROUTED")
    .bind(&office.code)
    .bind(&office.name)
    .bind(format!(
        "routed by rule {} of ruleset {}",
        event.rule, event.ruleset_version
    ))
    .bind(Uuid::parse_str(&routed.event_id)?)
    .bind(1_i64)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE requests SET status = $2, office_code = $3, office_name = $4, state_sequence = $5
         WHERE id = $1 AND state_sequence < $5",
    )
    .bind(submitted.id)
    .bind("ROUTED")
    .bind(&office.code)
    .bind(&office.name)
    .bind(1_i64)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Office-queue on request.routed (services/office-queue/src/consumer.rs `file`,
/// items.rs `lock_office` and `record`, lifecycle.rs `sla_changed`). Returns
/// request.sla_changed.
async fn file(pool: &PgPool, submitted: &Submitted, routed: &Envelope) -> anyhow::Result<Envelope> {
    let (event, office) = routed_office(routed)?;
    let request = &submitted.summary;
    let filer = request.filer.clone().unwrap_or_default();
    // About 30 business days; the exact calendar does not change the writes.
    let due_at = submitted.submitted_at + Duration::days(42);
    let warn_at = due_at - Duration::days(7);
    let mut tx = pool.begin().await?;
    received(&mut tx, "office-queue", routed).await?;
    sqlx::query_scalar::<_, i32>("SELECT 1 FROM items WHERE request_id = $1")
        .bind(submitted.id)
        .fetch_optional(&mut *tx)
        .await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(&office.code)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO items (request_id, protocol_number, office_code, motivo, topic, subject, patronato,
                            submitted_at, decision_sequence, routed, ruleset_version, rule,
                            sla_due_at, sla_warn_at, office_patron_day, office_direzione, office_region,
                            codice_fiscale, comune_residenza, pratica_protocol_number,
                            patronato_office, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                 $18, $19, $20, $21, $22)
         ON CONFLICT (request_id) DO NOTHING RETURNING *",
    )
    .bind(submitted.id)
    .bind(&request.protocol_number)
    .bind(&office.code)
    .bind(request.motivo)
    .bind(&request.topic)
    .bind(&request.subject)
    .bind(&filer.patronato)
    .bind(submitted.submitted_at)
    .bind(i64::try_from(event.decision_sequence)?)
    .bind(true)
    .bind(&event.ruleset_version)
    .bind(&event.rule)
    .bind(due_at)
    .bind(warn_at)
    .bind(&office.patron_day)
    .bind(&office.parent_code)
    .bind(&office.region_code)
    .bind(&request.codice_fiscale)
    .bind(&request.comune_residenza)
    .bind(&request.pratica_protocol_number)
    .bind(&filer.patronato_office)
    .bind(&request.body)
    .fetch_optional(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO item_history (request_id, actor, action, text, internal) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(submitted.id)
    .bind("router")
    .bind("filed")
    .bind(format!("at {} ({})", office.code, event.rule))
    .bind(false)
    .execute(&mut *tx)
    .await?;
    // The new item's version is 1: its events are at 2.
    let sla_changed = sequenced_envelope(
        "office-queue",
        &submitted.id.to_string(),
        2,
        Payload::RequestSlaChanged(RequestSlaChanged {
            office: Some(OfficeRef {
                code: office.code.clone(),
                patron_day: office.patron_day.clone(),
                parent_code: office.parent_code.clone(),
                ..OfficeRef::default()
            }),
            clock: SlaClock::Running as i32,
            due_at: Some(to_timestamp(due_at)),
            warn_at: Some(to_timestamp(warn_at)),
            business_days_left: 0,
            motivo: request.motivo,
            topic: request.topic.clone(),
            protocol_number: request.protocol_number.clone(),
            calendar_version: "2026".to_owned(),
            reason: "filed: the office's deadline starts".to_owned(),
        }),
    );
    outbox::enqueue(&mut tx, &sla_changed).await?;
    tx.commit().await?;
    Ok(sla_changed)
}

/// Notifier on request.routed (services/notifier/src/events.rs `notices` and `remember`,
/// requests.rs `remember`, avvisi/offices.rs `learn`, fanout.rs `send_with`,
/// preferences.rs `profile`, inbox.rs `insert`, webhooks/queue.rs `for_notice`).
async fn notify(pool: &PgPool, submitted: &Submitted, routed: &Envelope) -> anyhow::Result<()> {
    let (_, office) = routed_office(routed)?;
    let request = &submitted.summary;
    let filer = request.filer.clone().unwrap_or_default();
    let occurred_at = Utc::now();
    let mut tx = pool.begin().await?;
    received(&mut tx, "notifier", routed).await?;
    sqlx::query(
        "INSERT INTO requests (request_id, protocol_number, patronato, patronato_office, operator_id, office_code, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (request_id) DO NOTHING",
    )
    .bind(submitted.id)
    .bind(&request.protocol_number)
    .bind(&filer.patronato)
    .bind(&filer.patronato_office)
    .bind(&filer.operator_id)
    .bind(&office.code)
    .bind(occurred_at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO patronato_office_sightings (office, province_code, patronato, region_code, requests, last_seen)
         VALUES ($1, $2, $3, $4, 1, $5)
         ON CONFLICT (office, province_code) DO UPDATE
             SET requests = patronato_office_sightings.requests + 1, patronato = $3, region_code = $4,
                 last_seen = GREATEST(patronato_office_sightings.last_seen, $5)",
    )
    .bind(&filer.patronato_office)
    .bind(&office.province_code)
    .bind(&filer.patronato)
    .bind(&office.region_code)
    .bind(occurred_at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO patronato_offices (office, patronato, province_code, region_code, source, updated_at)
         SELECT office, patronato, province_code, region_code, 'learned', $2
         FROM patronato_office_sightings WHERE office = $1
         ORDER BY requests DESC, last_seen DESC, province_code LIMIT 1
         ON CONFLICT (office) DO UPDATE
             SET patronato = EXCLUDED.patronato, province_code = EXCLUDED.province_code,
                 region_code = EXCLUDED.region_code, updated_at = EXCLUDED.updated_at
             WHERE patronato_offices.source = 'learned'",
    )
    .bind(&filer.patronato_office)
    .bind(occurred_at)
    .execute(&mut *tx)
    .await?;
    // The preferences of the office (PATRONATO/OFFICE) and of the operator who filed.
    for (scope, subject) in [
        (
            "office",
            format!("{}/{}", filer.patronato, filer.patronato_office),
        ),
        ("operator", filer.operator_id.clone()),
    ] {
        sqlx::query(
            "SELECT email, daily_digest FROM preference_profiles WHERE scope = $1 AND subject = $2",
        )
        .bind(scope)
        .bind(&subject)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "SELECT event_type, inbox, email FROM channel_preferences WHERE scope = $1 AND subject = $2",
        )
        .bind(scope)
        .bind(&subject)
        .fetch_all(&mut *tx)
        .await?;
    }
    sqlx::query(
        "INSERT INTO notifications (id, event_id, audience, audience_code, patronato, operator_id, request_id,
                                    protocol_number, event_type, title, body, action_needed, created_at, avviso_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (event_id, audience, audience_code) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(Uuid::parse_str(&routed.event_id)?)
    .bind("patronato_office")
    .bind(&filer.patronato_office)
    .bind(&filer.patronato)
    .bind(&filer.operator_id)
    .bind(submitted.id)
    .bind(&request.protocol_number)
    .bind("request.routed")
    .bind(format!(
        "Richiesta {} assegnata alla sede",
        request.protocol_number
    ))
    .bind(format!(
        "La richiesta {} è stata assegnata a {} ({}).",
        request.protocol_number, office.name, office.code
    ))
    .bind(false)
    .bind(occurred_at)
    .bind(None::<Uuid>)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "SELECT id, patronato, url, description, event_types, contact_email, secret, previous_secret,
                previous_secret_until, status, disabled_reason, consecutive_failures, failing_since,
                circuit_open_until, created_at
         FROM webhook_endpoints WHERE patronato = $1 ORDER BY created_at, id",
    )
    .bind(&filer.patronato)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The reminder-scheduler's row of a request (services/reminder-scheduler/src/state.rs).
#[derive(sqlx::FromRow)]
struct Known {
    protocol_number: String,
    patronato: String,
    patronato_office: String,
    operator_id: String,
    motivo: i32,
    topic: String,
    submitted_at: Option<DateTime<Utc>>,
    last_sollecito_at: Option<DateTime<Utc>>,
    answered_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    sla_sequence: i64,
    sla_clock: String,
    due_at: Option<DateTime<Utc>>,
    office_code: String,
    office_patron_day: String,
    office_direzione: String,
    sla_reason: String,
}

/// The timers the scheduler keeps for `known` after `envelope`: (kind, due, explanation).
fn timers(
    known: &mut Known,
    envelope: &Envelope,
) -> anyhow::Result<Vec<(&'static str, DateTime<Utc>, String)>> {
    match &envelope.payload {
        Some(Payload::RequestSubmitted(event)) => {
            let summary = event.request.clone().unwrap_or_default();
            let filer = summary.filer.unwrap_or_default();
            let at = from_timestamp(summary.submitted_at.as_ref()).unwrap_or_else(Utc::now);
            known.protocol_number = summary.protocol_number;
            known.patronato = filer.patronato;
            known.patronato_office = filer.patronato_office;
            known.operator_id = filer.operator_id;
            known.motivo = summary.motivo;
            known.topic = summary.topic;
            known.submitted_at = Some(at);
            Ok(vec![(
                "sollecito_possible",
                at + Duration::days(15),
                format!(
                    "15 giorni dall'invio del {} (ora di Roma)",
                    at.format("%-d/%m/%Y alle %H:%M")
                ),
            )])
        }
        Some(Payload::RequestSlaChanged(event)) => {
            let due_at = from_timestamp(event.due_at.as_ref()).unwrap_or_else(Utc::now);
            let office = event.office.clone().unwrap_or_default();
            known.sla_sequence = i64::try_from(envelope.sequence)?;
            known.sla_clock = "RUNNING".to_owned();
            known.due_at = Some(due_at);
            known.office_code = office.code;
            known.office_patron_day = office.patron_day;
            known.office_direzione = office.parent_code;
            known.sla_reason.clone_from(&event.reason);
            let note = format!(
                "giorni lavorativi dell'ufficio {}: festività nazionali escluse; ultimo cambiamento: {}",
                known.office_code, known.sla_reason
            );
            let last_day = (due_at - Duration::days(1)).format("%-d/%m/%Y");
            // The sollecito timer, in line since request.submitted, is left as it is.
            Ok(vec![
                (
                    "sla_warning",
                    due_at - Duration::days(7),
                    format!("5 giorni lavorativi prima della scadenza del {last_day} ({note})"),
                ),
                (
                    "sla_overdue",
                    due_at,
                    format!("la scadenza del {last_day} è passata senza risposta ({note})"),
                ),
                (
                    "sla_escalation",
                    due_at + Duration::days(7),
                    format!(
                        "5 giorni lavorativi di ritardo dopo la scadenza del {last_day} ({note})"
                    ),
                ),
            ])
        }
        _ => anyhow::bail!("the scheduler does not take {}", envelope.event_type),
    }
}

/// The reminder-scheduler on request.submitted or request.sla_changed
/// (services/reminder-scheduler/src/consumer.rs `apply`, state.rs `lock` and `save`,
/// reconcile.rs `timers`, platform jobs).
async fn schedule(pool: &PgPool, envelope: &Envelope) -> anyhow::Result<()> {
    let request_id = Uuid::parse_str(&envelope.request_id)?;
    let subject = request_id.to_string();
    let mut tx = pool.begin().await?;
    received(&mut tx, "reminder-scheduler", envelope).await?;
    sqlx::query("INSERT INTO requests (request_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(request_id)
        .execute(&mut *tx)
        .await?;
    let mut known: Known = sqlx::query_as(
        "SELECT request_id, protocol_number, patronato, patronato_office, operator_id, motivo, topic,
                submitted_at, last_sollecito_at, answered_at, closed_at, sla_sequence, sla_clock, due_at,
                office_code, office_patron_day, office_direzione, sla_reason
         FROM requests WHERE request_id = $1 FOR UPDATE",
    )
    .bind(request_id)
    .fetch_one(&mut *tx)
    .await?;
    let timers = timers(&mut known, envelope)?;
    sqlx::query(
        "UPDATE requests SET protocol_number = $2, patronato = $3, patronato_office = $4,
                operator_id = $5, motivo = $6, topic = $7, submitted_at = $8,
                last_sollecito_at = $9, answered_at = $10, closed_at = $11, sla_sequence = $12,
                sla_clock = $13, due_at = $14, office_code = $15, office_patron_day = $16,
                office_direzione = $17, sla_reason = $18
         WHERE request_id = $1",
    )
    .bind(request_id)
    .bind(&known.protocol_number)
    .bind(&known.patronato)
    .bind(&known.patronato_office)
    .bind(&known.operator_id)
    .bind(known.motivo)
    .bind(&known.topic)
    .bind(known.submitted_at)
    .bind(known.last_sollecito_at)
    .bind(known.answered_at)
    .bind(known.closed_at)
    .bind(known.sla_sequence)
    .bind(&known.sla_clock)
    .bind(known.due_at)
    .bind(&known.office_code)
    .bind(&known.office_patron_day)
    .bind(&known.office_direzione)
    .bind(&known.sla_reason)
    .execute(&mut *tx)
    .await?;
    jobs::pending(&mut tx, &subject).await?;
    for (kind, due_at, explanation) in timers {
        jobs::schedule(
            &mut tx,
            &NewJob {
                kind,
                subject: &subject,
                due_at,
                payload: serde_json::json!({ "explanation": explanation }),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Reporting's stream reader on one event, a batch of one (platform handler.rs `together`
/// and messaging/stream.rs `Positioned`, around services/reporting/src/projector.rs).
async fn project(pipeline: &Pipeline, envelope: &Envelope) -> anyhow::Result<()> {
    let offset = pipeline.offsets.fetch_add(1, Ordering::Relaxed);
    let event = Event {
        stream_offset: Some(offset),
        ..Event::parse(envelope)?
    };
    let mut tx = pipeline.reporting.begin().await?;
    received(&mut tx, "reporting", envelope).await?;
    combipat_reporting::project(
        &mut tx,
        GENERATION,
        &pipeline.places,
        &pipeline.clock,
        &[&event],
    )
    .await?;
    sqlx::query(
        "INSERT INTO platform_stream_positions (reader, next_offset) VALUES ($1, $2)
         ON CONFLICT (reader) DO UPDATE
             SET next_offset = GREATEST(platform_stream_positions.next_offset, EXCLUDED.next_offset),
                 updated_at = now()",
    )
    .bind(READER)
    .bind(i64::try_from(offset + 1)?)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The load run's traffic for `requests` requests, and intake's mandates for its citizens
/// (the load generator writes them before it sends).
async fn plan(
    intake: &PgPool,
    territory: &combipat_domain::Territory,
    requests: usize,
) -> anyhow::Result<Vec<Planned>> {
    let mut traffic = Traffic::new(territory, 42)?;
    let planned = (0..requests)
        .map(|n| traffic.next(n))
        .collect::<anyhow::Result<Vec<Planned>>>()?;
    let patronati: Vec<&str> = planned.iter().map(|planned| planned.patronato).collect();
    let citizens: Vec<&str> = planned
        .iter()
        .map(|planned| planned.request.codice_fiscale.as_str())
        .collect();
    sqlx::query(
        "INSERT INTO mandates (patronato, codice_fiscale, valid_from, reference)
         SELECT patronato, codice_fiscale, now() - interval '1 day', 'bench'
         FROM UNNEST($1::text[], $2::text[]) AS given(patronato, codice_fiscale)
         ON CONFLICT DO NOTHING",
    )
    .bind(&patronati)
    .bind(&citizens)
    .execute(intake)
    .await?;
    Ok(planned)
}

/// Requests' worth of writes per second, `requests` of them, `concurrency` at a time.
pub async fn requests_per_second(requests: usize, concurrency: usize) -> anyhow::Result<f64> {
    let intake = migrated::<combipat_intake::Service>().await?;
    let territory = combipat_domain::Territory::load_dir(&combipat_testkit::shared_data_dir())?;
    let planned = Arc::new(plan(&intake, &territory, requests).await?);
    let pipeline = Arc::new(Pipeline {
        intake,
        router: migrated::<combipat_router::Service>().await?,
        queue: migrated::<combipat_office_queue::Service>().await?,
        notifier: migrated::<combipat_notifier::Service>().await?,
        scheduler: migrated::<combipat_reminder_scheduler::Service>().await?,
        reporting: migrated::<combipat_reporting::Service>().await?,
        places: Places::from_territory(&territory),
        clock: Clock::system(),
        offsets: AtomicU64::new(0),
    });
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..concurrency.max(1) {
        let (pipeline, planned) = (Arc::clone(&pipeline), Arc::clone(&planned));
        let step = concurrency.max(1);
        workers.push(tokio::spawn(async move {
            for planned in planned.iter().skip(worker).step_by(step) {
                one_request(&pipeline, planned).await?;
            }
            anyhow::Ok(())
        }));
    }
    for worker in workers {
        worker.await??;
    }
    Ok(requests as f64 / started.elapsed().as_secs_f64())
}
