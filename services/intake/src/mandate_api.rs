//! `combipat.intake.v1.Mandates`: the admin API of the mandate registry.

use combipat_platform::auth::{Role, principal};
use combipat_platform::{ApiError, Violation};
use combipat_proto::intake::v1::mandates_server::Mandates;
use combipat_proto::intake::v1::{
    ListMandatesRequest, ListMandatesResponse, Mandate, PutMandatesRequest, PutMandatesResponse,
    RevokeMandateRequest,
};
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::mandates;

const DEFAULT_PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 500;
const MAX_PUT: usize = 10_000;

pub struct MandatesApi {
    pub pool: PgPool,
}

fn admin_only<T>(request: &Request<T>) -> Result<(), Status> {
    let caller = principal(request)?;
    if caller.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied(format!(
            "the mandate registry is kept by admins, not by the role {}",
            caller.role.as_str()
        ))
        .into())
    }
}

#[tonic::async_trait]
impl Mandates for MandatesApi {
    async fn put_mandates(
        &self,
        request: Request<PutMandatesRequest>,
    ) -> Result<Response<PutMandatesResponse>, Status> {
        admin_only(&request)?;
        let call = request.into_inner();
        if call.mandates.is_empty() || call.mandates.len() > MAX_PUT {
            return Err(ApiError::InvalidArgument(vec![Violation::new(
                "mandates",
                format!("send 1 to {MAX_PUT} mandates per call"),
            )])
            .into());
        }
        let mut rows = Vec::with_capacity(call.mandates.len());
        let mut violations = Vec::new();
        for (index, mandate) in call.mandates.iter().enumerate() {
            match mandates::validate(index, mandate) {
                Ok(row) => rows.push(row),
                Err(found) => violations.extend(found),
            }
        }
        if !violations.is_empty() {
            return Err(ApiError::InvalidArgument(violations).into());
        }
        let stored = mandates::put(&self.pool, &rows)
            .await
            .map_err(ApiError::from)?;
        tracing::info!(stored, "mandates stored");
        Ok(Response::new(PutMandatesResponse { stored }))
    }

    async fn revoke_mandate(
        &self,
        request: Request<RevokeMandateRequest>,
    ) -> Result<Response<Mandate>, Status> {
        admin_only(&request)?;
        let call = request.into_inner();
        let revoked = mandates::revoke(
            &self.pool,
            &call.patronato,
            &call.codice_fiscale,
            &call.reason,
        )
        .await?;
        tracing::info!(patronato = %revoked.patronato, "mandate revoked");
        Ok(Response::new(revoked.into()))
    }

    async fn list_mandates(
        &self,
        request: Request<ListMandatesRequest>,
    ) -> Result<Response<ListMandatesResponse>, Status> {
        admin_only(&request)?;
        let call = request.into_inner();
        let page_size = match call.page_size {
            0 => DEFAULT_PAGE_SIZE,
            1..=MAX_PAGE_SIZE => call.page_size,
            _ => {
                return Err(ApiError::InvalidArgument(vec![Violation::new(
                    "page_size",
                    format!("must be at most {MAX_PAGE_SIZE}"),
                )])
                .into());
            }
        };
        if call.patronato.trim().is_empty() {
            return Err(ApiError::InvalidArgument(vec![Violation::new(
                "patronato",
                "must name the patronato",
            )])
            .into());
        }
        let mut rows = mandates::list(
            &self.pool,
            &call.patronato,
            &call.codice_fiscale,
            i64::from(page_size) + 1,
            &call.page_token,
        )
        .await
        .map_err(ApiError::from)?;
        let more = rows.len() > page_size as usize;
        rows.truncate(page_size as usize);
        let next_page_token = match (more, rows.last()) {
            (true, Some(last)) => last.codice_fiscale.clone(),
            _ => String::new(),
        };
        Ok(Response::new(ListMandatesResponse {
            mandates: rows.into_iter().map(Mandate::from).collect(),
            next_page_token,
        }))
    }
}
