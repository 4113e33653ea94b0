//! `combipat.reminderscheduler.v1.ReminderScheduler`: what will fire, when and why.

use combipat_platform::auth::{Principal, Role, principal};
use combipat_platform::clock::Clock;
use combipat_platform::error::request_id;
use combipat_platform::jobs;
use combipat_platform::time::to_timestamp;
use combipat_platform::{ApiError, Violation};
use combipat_proto::reminderscheduler::v1::reminder_scheduler_server::ReminderScheduler;
use combipat_proto::reminderscheduler::v1::{
    ListDueRequest, ListDueResponse, ListTimersRequest, ListTimersResponse, Timer,
};
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::state::{self, Request as Known};
use crate::timers::reminder_kind;

pub struct SchedulerApi {
    pub pool: PgPool,
    pub clock: Clock,
}

/// Who may read a request's timers.
fn may_read(caller: &Principal, request: &Known) -> bool {
    match caller.role {
        Role::Admin => true,
        Role::Funzionario | Role::Responsabile => {
            caller.inps_office.as_deref().is_some_and(|office| {
                office == request.office_code
                    || (!request.office_direzione.is_empty() && office == request.office_direzione)
            })
        }
        Role::Operatore => {
            caller.patronato_office.as_deref() == Some(request.patronato_office.as_str())
                && caller.patronato.as_deref() == Some(request.patronato.as_str())
        }
        Role::Supervisore => caller.patronato.as_deref() == Some(request.patronato.as_str()),
        Role::Analista | Role::Service => false,
    }
}

fn explanation(payload: &serde_json::Value) -> String {
    payload
        .get("explanation")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

#[tonic::async_trait]
impl ReminderScheduler for SchedulerApi {
    async fn list_timers(
        &self,
        request: Request<ListTimersRequest>,
    ) -> Result<Response<ListTimersResponse>, Status> {
        let caller = principal(&request)?.clone();
        let id = request_id(&request.get_ref().request_id)?;
        let mut connection = self.pool.acquire().await.map_err(ApiError::from)?;
        let known = state::find(&mut connection, id)
            .await
            .map_err(ApiError::from)?
            .filter(|known| may_read(&caller, known))
            // Someone else's request is as unknown as a missing one.
            .ok_or_else(|| ApiError::NotFound(format!("no request {id}")))?;
        let pending = jobs::pending(&mut connection, &id.to_string())
            .await
            .map_err(ApiError::from)?;
        let timers = pending
            .into_iter()
            .map(|job| Timer {
                kind: reminder_kind(&job.kind) as i32,
                due_at: Some(to_timestamp(job.due_at)),
                explanation: explanation(&job.payload),
                office_code: known.office_code.clone(),
                request_id: id.to_string(),
                protocol_number: known.protocol_number.clone(),
            })
            .collect();
        Ok(Response::new(ListTimersResponse { timers }))
    }

    async fn list_due(
        &self,
        request: Request<ListDueRequest>,
    ) -> Result<Response<ListDueResponse>, Status> {
        let caller = principal(&request)?.clone();
        let call = request.into_inner();
        let mut violations = Vec::new();
        if call.office_code.trim().is_empty() {
            violations.push(Violation::new("office_code", "must name an office"));
        }
        let days = match call.days {
            0 => 7,
            1..=31 => call.days,
            _ => {
                violations.push(Violation::new("days", "must be from 1 to 31"));
                7
            }
        };
        let page_size = match call.page_size {
            0 => 100,
            1..=500 => call.page_size,
            _ => {
                violations.push(Violation::new("page_size", "must be at most 500"));
                100
            }
        };
        if !violations.is_empty() {
            return Err(ApiError::InvalidArgument(violations).into());
        }
        let allowed = caller.role == Role::Admin
            || (caller.role == Role::Responsabile
                && caller.inps_office.as_deref() == Some(call.office_code.as_str()));
        if !allowed {
            return Err(ApiError::PermissionDenied(format!(
                "only the responsabile of {} sees what falls due there",
                call.office_code
            ))
            .into());
        }
        let now = self.clock.now();
        let until = now + chrono::Duration::days(i64::from(days));
        let rows: Vec<(
            String,
            chrono::DateTime<chrono::Utc>,
            serde_json::Value,
            String,
            String,
        )> = sqlx::query_as(
            "SELECT j.kind, j.due_at, j.payload, r.request_id::text, r.protocol_number
             FROM platform_jobs j JOIN requests r ON r.request_id::text = j.subject
             WHERE r.office_code = $1 AND j.dead_at IS NULL AND j.due_at <= $2
             ORDER BY j.due_at LIMIT $3",
        )
        .bind(&call.office_code)
        .bind(until)
        .bind(i64::from(page_size) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(ApiError::from)?;
        let truncated = rows.len() > usize::try_from(page_size).unwrap_or(usize::MAX);
        let timers = rows
            .into_iter()
            .take(usize::try_from(page_size).unwrap_or(usize::MAX))
            .map(
                |(kind, due_at, payload, request_id, protocol_number)| Timer {
                    kind: reminder_kind(&kind) as i32,
                    due_at: Some(to_timestamp(due_at)),
                    explanation: explanation(&payload),
                    office_code: call.office_code.clone(),
                    request_id,
                    protocol_number,
                },
            )
            .collect();
        Ok(Response::new(ListDueResponse { timers, truncated }))
    }
}
