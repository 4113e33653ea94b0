//! `combipat.notifier.v1.Endpoints` over gRPC: a patronato's administrator manages its own
//! webhook endpoints (another patronato's are NOT_FOUND, so they do not show).

use chrono::Duration;
use combipat_platform::auth::{Principal, principal};
use combipat_platform::clock::Clock;
use combipat_platform::time::from_timestamp;
use combipat_platform::{ApiError, Violation};
use combipat_proto::notifier::v1::endpoints_server::Endpoints;
use combipat_proto::notifier::v1::{
    Delivery, DeliveryWithAttempts, DisableEndpointRequest, EnableEndpointRequest, Endpoint,
    EndpointWithSecret, GetDeliveryRequest, ListDeliveriesRequest, ListDeliveriesResponse,
    ListEndpointsRequest, ListEndpointsResponse, RegisterEndpointRequest, ReplayDeliveryRequest,
    ReplaySinceRequest, ReplaySinceResponse, RotateSecretRequest, SendTestEventRequest,
};
use sqlx::{PgConnection, PgPool};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::notice::Kind;
use crate::preferences::looks_like_address;
use crate::webhooks::deliveries::{self, DeliveryRow};
use crate::webhooks::egress::{self, Egress};
use crate::webhooks::endpoints::{self, EndpointRow, NewEndpoint};
use crate::webhooks::{queue, signature};
use crate::{access, cursor};

/// The longest grace period of a rotation.
const MAX_GRACE_SECONDS: u32 = 7 * 86_400;
const DEFAULT_GRACE_SECONDS: u32 = 86_400;

pub struct EndpointsApi {
    pub pool: PgPool,
    pub clock: Clock,
    pub egress: Egress,
}

fn id_field(field: &str, text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text.trim())
        .map_err(|_| ApiError::InvalidArgument(vec![Violation::new(field, "is not an id (UUID)")]))
}

/// The endpoint, if the caller manages its patronato; NOT_FOUND otherwise.
async fn owned_endpoint(
    connection: &mut PgConnection,
    caller: &Principal,
    id: Uuid,
    lock: bool,
) -> Result<EndpointRow, ApiError> {
    let found = if lock {
        endpoints::lock(connection, id).await?
    } else {
        endpoints::find(connection, id).await?
    };
    found
        .filter(|endpoint| access::may_manage(caller, &endpoint.patronato))
        .ok_or_else(|| ApiError::NotFound(format!("no endpoint {id} of yours")))
}

async fn owned_delivery(
    connection: &mut PgConnection,
    caller: &Principal,
    id: Uuid,
) -> Result<DeliveryRow, ApiError> {
    let delivery = deliveries::find(&mut *connection, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no delivery {id} of yours")))?;
    owned_endpoint(connection, caller, delivery.endpoint_id, false)
        .await
        .map_err(|_| ApiError::NotFound(format!("no delivery {id} of yours")))?;
    Ok(delivery)
}

impl EndpointsApi {
    fn validate(&self, call: &RegisterEndpointRequest) -> Result<String, ApiError> {
        let mut violations = Vec::new();
        let url = match egress::check_url(&self.egress, &call.url) {
            Ok(url) => url.to_string(),
            Err(reason) => {
                violations.push(Violation::new("url", reason));
                String::new()
            }
        };
        for (index, kind) in call.event_types.iter().enumerate() {
            if Kind::parse(kind).is_none() && kind != queue::TEST_EVENT {
                violations.push(Violation::new(
                    format!("event_types[{index}]"),
                    format!("unknown kind `{kind}`"),
                ));
            }
        }
        if !call.contact_email.is_empty() && !looks_like_address(call.contact_email.trim()) {
            violations.push(Violation::new("contact_email", "is not an e-mail address"));
        }
        if call.description.chars().count() > 200 {
            violations.push(Violation::new("description", "at most 200 characters"));
        }
        if violations.is_empty() {
            Ok(url)
        } else {
            Err(ApiError::InvalidArgument(violations))
        }
    }

    async fn set_active(
        &self,
        caller: &Principal,
        id: &str,
        active: bool,
        reason: &str,
    ) -> Result<Endpoint, ApiError> {
        let id = id_field("endpoint_id", id)?;
        let mut transaction = self.pool.begin().await?;
        owned_endpoint(&mut transaction, caller, id, true).await?;
        let reason = if reason.trim().is_empty() {
            format!("disabled by {}", caller.subject)
        } else {
            reason.trim().to_owned()
        };
        let endpoint = endpoints::set_active(&mut transaction, id, active, &reason).await?;
        transaction.commit().await?;
        Ok(endpoint.into_proto())
    }
}

#[tonic::async_trait]
impl Endpoints for EndpointsApi {
    async fn register_endpoint(
        &self,
        request: Request<RegisterEndpointRequest>,
    ) -> Result<Response<EndpointWithSecret>, Status> {
        let caller = principal(&request)?.clone();
        let call = request.into_inner();
        let patronato = access::endpoint_manager(&caller, &call.patronato)?;
        let url = self.validate(&call)?;
        let secret = signature::new_secret();
        let mut connection = self.pool.acquire().await.map_err(ApiError::from)?;
        let endpoint = endpoints::create(
            &mut connection,
            &NewEndpoint {
                patronato: &patronato,
                url: &url,
                description: call.description.trim(),
                event_types: &call.event_types,
                contact_email: call.contact_email.trim(),
                secret: &secret,
            },
            self.clock.now(),
        )
        .await
        .map_err(ApiError::from)?;
        tracing::info!(endpoint.id = %endpoint.id, patronato = %patronato, "webhook endpoint registered");
        Ok(Response::new(EndpointWithSecret {
            endpoint: Some(endpoint.into_proto()),
            secret,
        }))
    }

    async fn list_endpoints(
        &self,
        request: Request<ListEndpointsRequest>,
    ) -> Result<Response<ListEndpointsResponse>, Status> {
        let caller = principal(&request)?.clone();
        let patronato = access::endpoint_manager(&caller, &request.get_ref().patronato)?;
        let mut connection = self.pool.acquire().await.map_err(ApiError::from)?;
        let rows = endpoints::of_patronato(&mut connection, &patronato)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(ListEndpointsResponse {
            endpoints: rows.into_iter().map(EndpointRow::into_proto).collect(),
        }))
    }

    async fn send_test_event(
        &self,
        request: Request<SendTestEventRequest>,
    ) -> Result<Response<Delivery>, Status> {
        let caller = principal(&request)?.clone();
        let id = id_field("endpoint_id", &request.get_ref().endpoint_id)?;
        let mut transaction = self.pool.begin().await.map_err(ApiError::from)?;
        let endpoint = owned_endpoint(&mut transaction, &caller, id, false).await?;
        if !endpoint.is_active() {
            return Err(ApiError::FailedPrecondition(
                "the endpoint is disabled: enable it first".to_owned(),
            )
            .into());
        }
        let delivery_id = queue::test_event(&mut transaction, &endpoint, self.clock.now())
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!("the test delivery was not created"))
            })?;
        let delivery = deliveries::find(&mut transaction, delivery_id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the test delivery vanished")))?;
        transaction.commit().await.map_err(ApiError::from)?;
        Ok(Response::new(delivery.into_proto()))
    }

    async fn rotate_secret(
        &self,
        request: Request<RotateSecretRequest>,
    ) -> Result<Response<EndpointWithSecret>, Status> {
        let caller = principal(&request)?.clone();
        let call = request.into_inner();
        let id = id_field("endpoint_id", &call.endpoint_id)?;
        let grace = match call.grace_period_seconds {
            0 => DEFAULT_GRACE_SECONDS,
            seconds if seconds <= MAX_GRACE_SECONDS => seconds,
            _ => {
                return Err(ApiError::InvalidArgument(vec![Violation::new(
                    "grace_period_seconds",
                    format!("at most {MAX_GRACE_SECONDS} (7 days)"),
                )])
                .into());
            }
        };
        let mut transaction = self.pool.begin().await.map_err(ApiError::from)?;
        owned_endpoint(&mut transaction, &caller, id, true).await?;
        let secret = signature::new_secret();
        let until = self.clock.now() + Duration::seconds(i64::from(grace));
        let endpoint = endpoints::rotate(&mut transaction, id, &secret, until)
            .await
            .map_err(ApiError::from)?;
        transaction.commit().await.map_err(ApiError::from)?;
        Ok(Response::new(EndpointWithSecret {
            endpoint: Some(endpoint.into_proto()),
            secret,
        }))
    }

    async fn disable_endpoint(
        &self,
        request: Request<DisableEndpointRequest>,
    ) -> Result<Response<Endpoint>, Status> {
        let caller = principal(&request)?.clone();
        let call = request.into_inner();
        Ok(Response::new(
            self.set_active(&caller, &call.endpoint_id, false, &call.reason)
                .await?,
        ))
    }

    async fn enable_endpoint(
        &self,
        request: Request<EnableEndpointRequest>,
    ) -> Result<Response<Endpoint>, Status> {
        let caller = principal(&request)?.clone();
        let call = request.into_inner();
        Ok(Response::new(
            self.set_active(&caller, &call.endpoint_id, true, "")
                .await?,
        ))
    }

    async fn list_deliveries(
        &self,
        request: Request<ListDeliveriesRequest>,
    ) -> Result<Response<ListDeliveriesResponse>, Status> {
        let caller = principal(&request)?.clone();
        let call = request.into_inner();
        let id = id_field("endpoint_id", &call.endpoint_id)?;
        let size = cursor::page_size(call.page_size)?;
        let after = cursor::parse(&call.page_token)?;
        let mut connection = self.pool.acquire().await.map_err(ApiError::from)?;
        owned_endpoint(&mut connection, &caller, id, false).await?;
        let mut rows = deliveries::page(
            &mut connection,
            id,
            call.status.trim(),
            after,
            i64::try_from(size + 1).unwrap_or(101),
        )
        .await
        .map_err(ApiError::from)?;
        let more = rows.len() > size;
        rows.truncate(size);
        let next_page_token = match (more, rows.last()) {
            (true, Some(last)) => cursor::format(last.created_at, last.id),
            _ => String::new(),
        };
        Ok(Response::new(ListDeliveriesResponse {
            deliveries: rows.into_iter().map(DeliveryRow::into_proto).collect(),
            next_page_token,
        }))
    }

    async fn get_delivery(
        &self,
        request: Request<GetDeliveryRequest>,
    ) -> Result<Response<DeliveryWithAttempts>, Status> {
        let caller = principal(&request)?.clone();
        let id = id_field("delivery_id", &request.get_ref().delivery_id)?;
        let mut connection = self.pool.acquire().await.map_err(ApiError::from)?;
        let delivery = owned_delivery(&mut connection, &caller, id).await?;
        let attempts = deliveries::attempts(&mut connection, id)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(DeliveryWithAttempts {
            delivery: Some(delivery.into_proto()),
            attempts,
        }))
    }

    async fn replay_delivery(
        &self,
        request: Request<ReplayDeliveryRequest>,
    ) -> Result<Response<Delivery>, Status> {
        let caller = principal(&request)?.clone();
        let id = id_field("delivery_id", &request.get_ref().delivery_id)?;
        let mut transaction = self.pool.begin().await.map_err(ApiError::from)?;
        owned_delivery(&mut transaction, &caller, id).await?;
        let delivery = deliveries::lock(&mut transaction, id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::NotFound(format!("no delivery {id} of yours")))?;
        if delivery.status == "pending" {
            return Err(ApiError::FailedPrecondition(
                "the delivery is still being tried".to_owned(),
            )
            .into());
        }
        deliveries::replay(&mut transaction, id, self.clock.now())
            .await
            .map_err(ApiError::from)?;
        let delivery = deliveries::find(&mut transaction, id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::NotFound(format!("no delivery {id} of yours")))?;
        transaction.commit().await.map_err(ApiError::from)?;
        Ok(Response::new(delivery.into_proto()))
    }

    async fn replay_since(
        &self,
        request: Request<ReplaySinceRequest>,
    ) -> Result<Response<ReplaySinceResponse>, Status> {
        let caller = principal(&request)?.clone();
        let call = request.into_inner();
        let id = id_field("endpoint_id", &call.endpoint_id)?;
        let since = from_timestamp(call.since.as_ref()).ok_or_else(|| {
            ApiError::InvalidArgument(vec![Violation::new("since", "a time is required")])
        })?;
        let mut transaction = self.pool.begin().await.map_err(ApiError::from)?;
        let endpoint = owned_endpoint(&mut transaction, &caller, id, true).await?;
        if !endpoint.is_active() {
            return Err(ApiError::FailedPrecondition(
                "the endpoint is disabled: enable it first".to_owned(),
            )
            .into());
        }
        let replayed = deliveries::replay_since(
            &mut transaction,
            id,
            since,
            call.include_delivered,
            self.clock.now(),
        )
        .await
        .map_err(ApiError::from)?;
        transaction.commit().await.map_err(ApiError::from)?;
        Ok(Response::new(ReplaySinceResponse {
            replayed: u32::try_from(replayed).unwrap_or(u32::MAX),
        }))
    }
}
