//! Group commit of submissions: the submissions waiting at one moment are settled in one
//! transaction with a few set-based statements (locks, replays, mandates, likely duplicates,
//! protocol numbers, inserts, events) and one commit, instead of a transaction of about ten
//! statements each. Each gets the answer it would have got alone: the checks run in the
//! order of arrival, a submission seeing the ones accepted before it in the same batch as if
//! they were committed (a retry with the same key is their replay, an identical request
//! their likely duplicate).
//!
//! Submissions with attachments run alone after the batch commits (tying files is per
//! message). If the batch fails as a whole for another reason than an unavailable database,
//! each of its submissions runs alone, so that one bad submission never fails the others.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use combipat_platform::ApiError;
use combipat_platform::batcher::BatchWork;
use combipat_platform::outbox;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::mandates;
use crate::store::{
    self, DUPLICATE_WINDOW_HOURS, Submission, SubmissionStore, Submitted, duplicate_refusal,
    replay_or_conflict,
};

/// Answer: what the caller of `SubmitRequest` gets.
pub type Answer = Result<Submitted, ApiError>;

/// The batch handler of intake's submission writers.
pub struct GroupSubmit {
    pub store: SubmissionStore,
}

impl BatchWork for GroupSubmit {
    type Item = Submission;
    type Answer = Answer;

    async fn run(&self, items: Vec<Submission>) -> Vec<Answer> {
        let mut answers: Vec<Option<Answer>> = items.iter().map(|_| None).collect();
        let together: Vec<usize> = (0..items.len())
            .filter(|index| items[*index].request.attachment_ids.is_empty())
            .collect();
        if together.len() > 1 {
            let batch: Vec<&Submission> = together.iter().map(|index| &items[*index]).collect();
            match settle(&self.store, &batch).await {
                Ok(settled) => {
                    for (index, answer) in together.iter().zip(settled) {
                        answers[*index] = Some(answer);
                    }
                }
                Err(error) if combipat_platform::db::is_unavailable(&error) => {
                    for index in &together {
                        answers[*index] = Some(Err(ApiError::from(unavailable_copy(&error))));
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %error, size = batch.len(), "a batch of submissions failed; each runs alone");
                }
            }
        }
        let mut settled = Vec::with_capacity(items.len());
        for (submission, answer) in items.iter().zip(answers) {
            settled.push(match answer {
                Some(answer) => answer,
                None => store::submit_alone(&self.store, submission).await,
            });
        }
        settled
    }
}

/// The same unavailability for each caller (a `sqlx::Error` cannot be cloned).
fn unavailable_copy(error: &sqlx::Error) -> sqlx::Error {
    tracing::warn!(error = %error, "the database cannot take a batch of submissions");
    sqlx::Error::PoolTimedOut
}

/// What the checks decided for one submission before protocol numbers are drawn.
enum Verdict {
    Accept,
    /// The same key and content as an earlier submission, stored or in this batch.
    Replay(Submitted),
    ReplayOf(usize),
    Refuse(ApiError),
    /// The key of a submission accepted earlier in this batch, with other content.
    KeyTakenBy(usize),
    /// A likely duplicate of a submission accepted earlier in this batch.
    DuplicateOf(usize),
}

/// Settles `batch` in one transaction: one answer per submission, or the error that failed
/// the transaction (nothing of the batch is then stored).
async fn settle(store: &SubmissionStore, batch: &[&Submission]) -> sqlx::Result<Vec<Answer>> {
    let mut transaction = store.pool.begin().await?;
    store::lock_all(&mut transaction, batch).await?;
    let stored_keys = stored_keys(&mut transaction, batch).await?;
    let mandates = mandates::find_many(
        &mut transaction,
        &batch
            .iter()
            .map(|s| {
                (
                    s.operator.patronato.clone(),
                    s.request.codice_fiscale.as_str().to_owned(),
                )
            })
            .collect::<Vec<_>>(),
    )
    .await?;
    let stored_duplicates = stored_duplicates(&mut transaction, batch).await?;

    // In order of arrival, each seeing what the ones before it left.
    let mut keys_here: HashMap<(&str, &str), usize> = HashMap::new();
    let mut requests_here: HashMap<(String, String, i32, String, String), usize> = HashMap::new();
    let mut verdicts = Vec::with_capacity(batch.len());
    for (index, submission) in batch.iter().enumerate() {
        let verdict = check(
            store,
            submission,
            &keys_here,
            &stored_keys,
            &mandates,
            &requests_here,
            stored_duplicates.get(&index),
            batch,
        );
        if matches!(verdict, Verdict::Accept) {
            if let Some(key) = &submission.request.idempotency_key {
                keys_here.insert((submission.operator.id.as_str(), key.as_str()), index);
            }
            requests_here.insert(submission.duplicate_key(), index);
        }
        verdicts.push(verdict);
    }

    let accepted: Vec<usize> = (0..batch.len())
        .filter(|index| matches!(verdicts[*index], Verdict::Accept))
        .collect();
    let sequences: Vec<i64> =
        sqlx::query_scalar("SELECT nextval('protocol_numbers') FROM generate_series(1, $1)")
            .bind(i32::try_from(accepted.len()).unwrap_or(i32::MAX))
            .fetch_all(&mut *transaction)
            .await?;
    let mut numbers: HashMap<usize, String> = HashMap::new();
    for (index, sequence) in accepted.iter().zip(&sequences) {
        numbers.insert(
            *index,
            store::protocol_number(batch[*index].submitted_at, *sequence),
        );
    }
    let rows: Vec<(&Submission, String)> = accepted
        .iter()
        .filter_map(|index| Some((batch[*index], numbers.get(index)?.clone())))
        .collect();
    if !rows.is_empty() {
        store::insert_requests(&mut transaction, &rows).await?;
        let events: Vec<_> = rows
            .iter()
            .map(|(submission, number)| store::submitted_event(submission, number, Vec::new()))
            .collect();
        outbox::enqueue_many(&mut transaction, &events)
            .await
            .map_err(|error| sqlx::Error::Protocol(format!("{error:#}")))?;
        store.outbox.commit(transaction).await?;
    } else {
        transaction.commit().await?;
    }

    let accepted_answer = |index: usize| -> Submitted {
        let submission = batch[index];
        Submitted {
            request_id: submission.request_id,
            protocol_number: numbers.get(&index).cloned().unwrap_or_default(),
            submitted_at: submission.submitted_at,
            replayed: false,
        }
    };
    Ok(verdicts
        .into_iter()
        .enumerate()
        .map(|(index, verdict)| match verdict {
            Verdict::Accept => Ok(accepted_answer(index)),
            Verdict::Replay(first) => Ok(first),
            Verdict::ReplayOf(first) => Ok(Submitted {
                replayed: true,
                ..accepted_answer(first)
            }),
            Verdict::Refuse(error) => Err(error),
            Verdict::KeyTakenBy(first) => {
                let first_answer = accepted_answer(first);
                replay_or_conflict(
                    batch[index]
                        .request
                        .idempotency_key
                        .as_deref()
                        .unwrap_or_default(),
                    false,
                    first_answer.request_id,
                    first_answer.protocol_number,
                    first_answer.submitted_at,
                )
            }
            Verdict::DuplicateOf(first) => {
                let first_answer = accepted_answer(first);
                Err(duplicate_refusal(
                    &batch[index].request,
                    first_answer.request_id,
                    &first_answer.protocol_number,
                    first_answer.submitted_at,
                ))
            }
        })
        .collect())
}

/// The checks of one submission, in the order the single path makes them: its key, its
/// mandate, its likely duplicates.
#[allow(
    clippy::too_many_arguments,
    reason = "what the batch has found so far, by kind"
)]
fn check(
    store: &SubmissionStore,
    submission: &Submission,
    keys_here: &HashMap<(&str, &str), usize>,
    stored_keys: &HashMap<(String, String), StoredKey>,
    mandates: &HashMap<(String, String), mandates::MandateRow>,
    requests_here: &HashMap<(String, String, i32, String, String), usize>,
    stored_duplicate: Option<&(Uuid, String, DateTime<Utc>)>,
    batch: &[&Submission],
) -> Verdict {
    let (operator, request) = (&submission.operator, &submission.request);
    if let Some(key) = &request.idempotency_key {
        if let Some(first) = keys_here.get(&(operator.id.as_str(), key.as_str())) {
            return if batch[*first].content_hash == submission.content_hash {
                Verdict::ReplayOf(*first)
            } else {
                Verdict::KeyTakenBy(*first)
            };
        }
        if let Some(first) = stored_keys
            .get(&(operator.id.clone(), key.clone()))
            .filter(|first| {
                first.created_at > submission.window_start(store.idempotency_window_hours)
            })
        {
            return match replay_or_conflict(
                key,
                first.content_hash == submission.content_hash,
                first.request_id,
                first.protocol_number.clone(),
                first.submitted_at,
            ) {
                Ok(replayed) => Verdict::Replay(replayed),
                Err(error) => Verdict::Refuse(error),
            };
        }
    }
    let mandate = mandates.get(&(
        operator.patronato.clone(),
        request.codice_fiscale.as_str().to_owned(),
    ));
    if let Some(reason) = mandates::refusal(
        &operator.patronato,
        request.codice_fiscale.as_str(),
        mandate,
        submission.submitted_at,
    ) {
        return Verdict::Refuse(ApiError::PermissionDenied(reason));
    }
    if !request.confirm_duplicate {
        if let Some(first) = requests_here.get(&submission.duplicate_key()) {
            return Verdict::DuplicateOf(*first);
        }
        if let Some((id, protocol_number, submitted_at)) = stored_duplicate {
            return Verdict::Refuse(duplicate_refusal(
                request,
                *id,
                protocol_number,
                *submitted_at,
            ));
        }
    }
    Verdict::Accept
}

/// A stored idempotency key and the request it names.
#[derive(sqlx::FromRow)]
struct StoredKey {
    operator_id: String,
    key: String,
    content_hash: String,
    created_at: DateTime<Utc>,
    request_id: Uuid,
    protocol_number: String,
    submitted_at: DateTime<Utc>,
}

/// The stored keys of the batch's keyed submissions, by (operator, key).
async fn stored_keys(
    connection: &mut PgConnection,
    batch: &[&Submission],
) -> sqlx::Result<HashMap<(String, String), StoredKey>> {
    let (operators, keys): (Vec<String>, Vec<String>) = batch
        .iter()
        .filter_map(|s| Some((s.operator.id.clone(), s.request.idempotency_key.clone()?)))
        .unzip();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let found: Vec<StoredKey> = sqlx::query_as(
        "SELECT k.operator_id, k.key, k.content_hash, k.created_at, r.id AS request_id,
                r.protocol_number, r.submitted_at
         FROM idempotency_keys k JOIN requests r ON r.id = k.request_id
         WHERE (k.operator_id, k.key) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
    )
    .bind(&operators)
    .bind(&keys)
    .fetch_all(connection)
    .await?;
    Ok(found
        .into_iter()
        .map(|row| ((row.operator_id.clone(), row.key.clone()), row))
        .collect())
}

/// For each submission that checks for likely duplicates (by its index in the batch), the
/// latest stored request that it likely duplicates.
async fn stored_duplicates(
    connection: &mut PgConnection,
    batch: &[&Submission],
) -> sqlx::Result<HashMap<usize, (Uuid, String, DateTime<Utc>)>> {
    let checked: Vec<usize> = (0..batch.len())
        .filter(|index| !batch[*index].request.confirm_duplicate)
        .collect();
    if checked.is_empty() {
        return Ok(HashMap::new());
    }
    let keys: Vec<_> = checked
        .iter()
        .map(|index| batch[*index].duplicate_key())
        .collect();
    let found: Vec<(i64, Uuid, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT u.n, r.id, r.protocol_number, r.submitted_at
         FROM unnest($1::text[], $2::text[], $3::int4[], $4::text[], $5::text[])
              WITH ORDINALITY AS u(patronato, codice_fiscale, motivo, topic, pratica, n)
         CROSS JOIN LATERAL (
             SELECT id, protocol_number, submitted_at FROM requests
             WHERE patronato = u.patronato AND codice_fiscale = u.codice_fiscale
               AND motivo = u.motivo AND topic = u.topic AND pratica_protocol_number = u.pratica
               AND submitted_at > now() - make_interval(hours => $6)
             ORDER BY submitted_at DESC LIMIT 1) AS r",
    )
    .bind(keys.iter().map(|k| k.0.clone()).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.1.clone()).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.2).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.3.clone()).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.4.clone()).collect::<Vec<_>>())
    .bind(i32::try_from(DUPLICATE_WINDOW_HOURS).unwrap_or(24))
    .fetch_all(connection)
    .await?;
    Ok(found
        .into_iter()
        .filter_map(|(n, id, number, at)| {
            let position = usize::try_from(n).ok()?.checked_sub(1)?;
            Some((*checked.get(position)?, (id, number, at)))
        })
        .collect())
}
