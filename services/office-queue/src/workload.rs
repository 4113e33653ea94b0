//! `GetWorkload`: what a responsabile needs to share out an office's work.

use chrono::{DateTime, Utc};
use combipat_platform::ApiError;
use combipat_platform::auth::{Principal, Role};
use combipat_proto::officequeue::v1::{OfficialLoad, SlaCount, SlaState, StatusCount, Workload};
use sqlx::{PgPool, Postgres, QueryBuilder};

use crate::priority::push_sla_condition;

/// A responsabile of the office, or an admin.
pub fn authorise(caller: &Principal, office_code: &str) -> Result<(), ApiError> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Responsabile if caller.inps_office.as_deref() == Some(office_code) => Ok(()),
        _ => Err(ApiError::PermissionDenied(format!(
            "only a responsabile of office {office_code} sees its workload"
        ))),
    }
}

const SLA_STATES: [SlaState; 5] = [
    SlaState::OnTrack,
    SlaState::DueSoon,
    SlaState::Overdue,
    SlaState::Paused,
    SlaState::Done,
];

pub async fn workload(
    pool: &PgPool,
    office_code: &str,
    as_of: DateTime<Utc>,
) -> Result<Workload, ApiError> {
    let by_status: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, count(*) FROM items WHERE office_code = $1 GROUP BY status ORDER BY status",
    )
    .bind(office_code)
    .fetch_all(pool)
    .await?;

    // One pass over the office's items, one count per SLA state.
    let mut query: QueryBuilder<Postgres> = QueryBuilder::new("SELECT ");
    for (index, state) in SLA_STATES.iter().enumerate() {
        if index > 0 {
            query.push(", ");
        }
        query.push("count(*) FILTER (WHERE ");
        push_sla_condition(&mut query, *state, as_of);
        query.push(")");
    }
    query
        .push(" FROM items WHERE office_code = ")
        .push_bind(office_code);
    let row = query.build().fetch_one(pool).await?;
    let mut by_sla_state = Vec::new();
    for (index, state) in SLA_STATES.iter().enumerate() {
        let items: i64 = sqlx::Row::try_get(&row, index)?;
        by_sla_state.push(SlaCount {
            sla_state: *state as i32,
            items: u64::try_from(items).unwrap_or_default(),
        });
    }

    let by_official: Vec<(String, i64)> = sqlx::query_as(
        "SELECT claimed_by, count(*) FROM items
         WHERE office_code = $1 AND claimed_by IS NOT NULL AND lease_until > $2
         GROUP BY claimed_by ORDER BY count(*) DESC, claimed_by",
    )
    .bind(office_code)
    .bind(as_of)
    .fetch_all(pool)
    .await?;

    Ok(Workload {
        office_code: office_code.to_owned(),
        by_status: by_status
            .into_iter()
            .map(|(status, items)| StatusCount {
                status,
                items: u64::try_from(items).unwrap_or_default(),
            })
            .collect(),
        by_sla_state,
        by_official: by_official
            .into_iter()
            .map(|(official, claimed)| OfficialLoad {
                official,
                claimed: u64::try_from(claimed).unwrap_or_default(),
            })
            .collect(),
    })
}
