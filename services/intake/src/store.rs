//! Writing and reading requests. A submission and its `request.submitted` event commit
//! together, or not at all.

use chrono::{DateTime, Datelike as _, Utc};
use combipat_platform::auth::Principal;
use combipat_platform::messaging::new_envelope;
use combipat_platform::outbox;
use combipat_platform::time::to_timestamp;
use combipat_proto::common::v1::{Filer, RequestSummary};
use combipat_proto::events::v1::RequestSubmitted;
use combipat_proto::events::v1::envelope::Payload;
use sqlx::PgPool;
use uuid::Uuid;

use crate::SERVICE_NAME;
use crate::validation::ValidRequest;

/// The patronato, its office and the operator, as the token says.
#[derive(Debug, Clone)]
pub struct Operator {
    pub id: String,
    pub patronato: String,
    pub patronato_office: String,
}

impl Operator {
    pub fn from_principal(principal: &Principal) -> Option<Self> {
        Some(Self {
            id: principal.subject.clone(),
            patronato: principal.patronato.clone()?,
            patronato_office: principal.patronato_office.clone()?,
        })
    }
}

pub struct Submitted {
    pub request_id: Uuid,
    pub protocol_number: String,
    pub submitted_at: DateTime<Utc>,
}

pub async fn submit(
    pool: &PgPool,
    operator: &Operator,
    request: &ValidRequest,
) -> anyhow::Result<Submitted> {
    let request_id = Uuid::now_v7();
    let submitted_at = Utc::now();
    let mut transaction = pool.begin().await?;
    let sequence: i64 = sqlx::query_scalar("SELECT nextval('protocol_numbers')")
        .fetch_one(&mut *transaction)
        .await?;
    let protocol_number = format!("CP-{}-{sequence:08}", submitted_at.year());
    sqlx::query(
        "INSERT INTO requests (id, protocol_number, motivo, codice_fiscale, comune_residenza, topic,
                               subject, body, patronato, patronato_office, operator_id, submitted_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(request_id)
    .bind(&protocol_number)
    .bind(request.motivo as i32)
    .bind(request.codice_fiscale.as_str())
    .bind(&request.comune_residenza)
    .bind(request.topic.code())
    .bind(&request.subject)
    .bind(&request.body)
    .bind(&operator.patronato)
    .bind(&operator.patronato_office)
    .bind(&operator.id)
    .bind(submitted_at)
    .execute(&mut *transaction)
    .await?;
    sqlx::query(
        "INSERT INTO request_history (request_id, at, status, detail) VALUES ($1, $2, 'SUBMITTED', $3)",
    )
    .bind(request_id)
    .bind(submitted_at)
    .bind(format!("submitted by {} for {}", operator.id, operator.patronato_office))
    .execute(&mut *transaction)
    .await?;

    let summary = RequestSummary {
        request_id: request_id.to_string(),
        protocol_number: protocol_number.clone(),
        motivo: request.motivo as i32,
        codice_fiscale: request.codice_fiscale.as_str().to_owned(),
        comune_residenza: request.comune_residenza.clone(),
        topic: request.topic.code().to_owned(),
        subject: request.subject.clone(),
        filer: Some(Filer {
            patronato: operator.patronato.clone(),
            patronato_office: operator.patronato_office.clone(),
            operator_id: operator.id.clone(),
        }),
        submitted_at: Some(to_timestamp(submitted_at)),
        attachments: Vec::new(),
    };
    let event = new_envelope(
        SERVICE_NAME,
        &request_id.to_string(),
        Payload::RequestSubmitted(RequestSubmitted {
            request: Some(summary),
        }),
    );
    outbox::enqueue(&mut transaction, &event).await?;
    transaction.commit().await?;
    Ok(Submitted {
        request_id,
        protocol_number,
        submitted_at,
    })
}

#[derive(sqlx::FromRow)]
pub struct StoredRequest {
    pub id: Uuid,
    pub protocol_number: String,
    pub motivo: i32,
    pub codice_fiscale: String,
    pub comune_residenza: String,
    pub topic: String,
    pub subject: String,
    pub body: String,
    pub patronato: String,
    pub patronato_office: String,
    pub operator_id: String,
    pub status: String,
    pub submitted_at: DateTime<Utc>,
    pub office_code: Option<String>,
    pub office_name: Option<String>,
}

pub async fn find(pool: &PgPool, request_id: Uuid) -> sqlx::Result<Option<StoredRequest>> {
    sqlx::query_as(
        "SELECT id, protocol_number, motivo, codice_fiscale, comune_residenza, topic, subject, body,
                patronato, patronato_office, operator_id, status, submitted_at, office_code, office_name
         FROM requests WHERE id = $1",
    )
    .bind(request_id)
    .fetch_optional(pool)
    .await
}
