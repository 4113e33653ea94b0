//! `RateAnswer`: the operator rates the office's latest answer, 1 to 5, once per answer.
//! The figures feed the quality evaluation the national protocol asks for.

use chrono::{DateTime, Utc};
use combipat_platform::messaging::new_envelope;
use combipat_platform::time::to_timestamp;
use combipat_platform::{ApiError, Violation, outbox};
use combipat_proto::common::v1::{Filer, OfficeRef};
use combipat_proto::events::v1::RequestRated;
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::intake::v1::Rating;
use sqlx::PgPool;
use uuid::Uuid;

use crate::SERVICE_NAME;
use crate::store::{Desk, Operator};

const COMMENT_MAX_CHARS: usize = 500;

#[derive(sqlx::FromRow)]
struct Row {
    answer_number: i32,
    rating: i32,
    comment: String,
    rated_at: DateTime<Utc>,
}

impl From<Row> for Rating {
    fn from(row: Row) -> Self {
        Rating {
            answer_number: u32::try_from(row.answer_number).unwrap_or_default(),
            rating: u32::try_from(row.rating).unwrap_or_default(),
            comment: row.comment,
            rated_at: Some(to_timestamp(row.rated_at)),
        }
    }
}

pub async fn rate(
    desk: &Desk,
    operator: &Operator,
    request_id: Uuid,
    rating: u32,
    comment: &str,
) -> Result<Rating, ApiError> {
    let mut violations = Vec::new();
    if !(1..=5).contains(&rating) {
        violations.push(Violation::new("rating", "must be from 1 to 5"));
    }
    let comment = combipat_domain::text::clean(comment, COMMENT_MAX_CHARS, true)
        .or_else(|reason| {
            if comment.trim().is_empty() {
                Ok(String::new())
            } else {
                Err(reason)
            }
        })
        .map_err(|reason| violations.push(Violation::new("comment", reason)))
        .unwrap_or_default();
    if !violations.is_empty() {
        return Err(ApiError::InvalidArgument(violations));
    }
    let mut transaction = desk.pool.begin().await?;
    let found: Option<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT patronato, patronato_office, office_code, office_name FROM requests
         WHERE id = $1 FOR UPDATE",
    )
    .bind(request_id)
    .fetch_optional(&mut *transaction)
    .await?;
    let Some((_, _, office_code, office_name)) =
        found.filter(|(patronato, office, _, _)| operator.owns(patronato, office))
    else {
        return Err(ApiError::NotFound(format!("no request {request_id}")));
    };
    let answers: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM request_history WHERE request_id = $1 AND status = 'ANSWERED'",
    )
    .bind(request_id)
    .fetch_one(&mut *transaction)
    .await?;
    if answers == 0 {
        return Err(ApiError::FailedPrecondition(
            "the office has not answered yet: there is nothing to rate".to_owned(),
        ));
    }
    let stored: Option<Row> = sqlx::query_as(
        "INSERT INTO ratings (request_id, answer_number, rating, comment, operator_id)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING
         RETURNING answer_number, rating, comment, rated_at",
    )
    .bind(request_id)
    .bind(i32::try_from(answers).unwrap_or(i32::MAX))
    .bind(i32::try_from(rating).unwrap_or_default())
    .bind(&comment)
    .bind(&operator.id)
    .fetch_optional(&mut *transaction)
    .await?;
    let stored = stored.ok_or_else(|| {
        ApiError::Conflict(format!(
            "answer n. {answers} of this request is already rated"
        ))
    })?;
    // Reporting's satisfaction figures come from this event.
    let event = Payload::RequestRated(RequestRated {
        rating,
        comment: stored.comment.clone(),
        answer_number: u32::try_from(stored.answer_number).unwrap_or_default(),
        filer: Some(Filer {
            patronato: operator.patronato.clone(),
            patronato_office: operator.patronato_office.clone(),
            operator_id: operator.id.clone(),
        }),
        office: Some(OfficeRef {
            code: office_code.unwrap_or_default(),
            name: office_name.unwrap_or_default(),
            ..OfficeRef::default()
        }),
    });
    outbox::enqueue(
        &mut transaction,
        &new_envelope(SERVICE_NAME, &request_id.to_string(), event),
    )
    .await?;
    desk.outbox.commit(transaction).await?;
    metrics::counter!(RATED, "rating" => rating.to_string()).increment(1);
    Ok(stored.into())
}

/// Counter {rating=1..5}: answers rated by the patronati.
const RATED: &str = "combipat_answers_rated_total";

pub fn show_metrics_from_zero() {
    for rating in 1..=5 {
        metrics::counter!(RATED, "rating" => rating.to_string()).increment(0);
    }
}

pub async fn of_request(pool: &PgPool, request_id: Uuid) -> sqlx::Result<Vec<Rating>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT answer_number, rating, comment, rated_at FROM ratings WHERE request_id = $1 ORDER BY answer_number",
    )
    .bind(request_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Rating::from).collect())
}
