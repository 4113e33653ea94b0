//! The harness the office-queue tests share: a service on its own database and bus, and
//! router's decisions to file items with.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "shared by several test crates, each using part of it"
)]

use std::time::Duration;

use combipat_platform::auth::Role;
use combipat_platform::messaging::new_envelope;
use combipat_proto::common::v1::{Filer, Motivo, OfficeRef, RequestSummary};
use combipat_proto::events::v1::RequestRouted;
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::officequeue::v1::office_queue_client::OfficeQueueClient;
use combipat_proto::officequeue::v1::{
    ClaimRequest, GetItemRequest, GetItemResponse, Item, ListItemsRequest,
};
use combipat_testkit::{
    TestBus, TestDatabase, TestService, eventually, grpc_channel, overrides, request_summary,
    token, with_token,
};
use tonic::transport::Channel;

pub const WAIT: Duration = Duration::from_secs(10);

pub struct Harness {
    pub bus: TestBus,
    pub database: TestDatabase,
    pub service: TestService,
    pub client: OfficeQueueClient<Channel>,
}

pub async fn start() -> Harness {
    start_with(&[]).await
}

/// The service with settings of its own on top of the test defaults.
pub async fn start_with(extra: &[(&str, &str)]) -> Harness {
    let bus = TestBus::new();
    let database = TestDatabase::create().await.unwrap();
    let mut settings = overrides(&database, &bus);
    settings.extend(
        extra
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned())),
    );
    let service = TestService::start::<combipat_office_queue::Service>(&settings)
        .await
        .unwrap();
    bus.wait_for_consumer(combipat_office_queue::QUEUE.name)
        .await
        .unwrap();
    let client = OfficeQueueClient::new(grpc_channel(service.grpc_addr).await.unwrap());
    Harness {
        bus,
        database,
        service,
        client,
    }
}

pub fn routed(office: &str, protocol_number: &str) -> combipat_proto::events::v1::Envelope {
    decision(
        &uuid::Uuid::now_v7().to_string(),
        office,
        protocol_number,
        1,
    )
}

/// Router's `sequence`-th decision about `request_id`: file it at `office`.
pub fn decision(
    request_id: &str,
    office: &str,
    protocol_number: &str,
    sequence: u64,
) -> combipat_proto::events::v1::Envelope {
    let request_id = request_id.to_owned();
    new_envelope(
        "router",
        &request_id,
        Payload::RequestRouted(RequestRouted {
            request: Some(RequestSummary {
                request_id: request_id.clone(),
                motivo: Motivo::InfoPagamenti as i32,
                filer: Some(Filer {
                    patronato: "ACLI".into(),
                    patronato_office: "ACLI-MI-1".into(),
                    operator_id: "op".into(),
                }),
                ..request_summary("F205", "assegno_unico", protocol_number)
            }),
            office: Some(OfficeRef {
                code: office.into(),
                name: "Sede".into(),
                kind: "sede_provinciale".into(),
                region_code: "03".into(),
                province_code: "MI".into(),
                ..OfficeRef::default()
            }),
            ruleset_version: "demo-2026-11-22".into(),
            rule: "province:MI".into(),
            decision_sequence: sequence,
            kind: if sequence == 1 {
                "automatic".into()
            } else {
                "transfer".into()
            },
        }),
    )
}

pub fn official(office: &str) -> String {
    token(Role::Funzionario, &[("inps_office", office)]).unwrap()
}

pub async fn list(
    client: &mut OfficeQueueClient<Channel>,
    office: &str,
    page_size: u32,
    page_token: &str,
) -> combipat_proto::officequeue::v1::ListItemsResponse {
    client
        .list_items(
            with_token(
                ListItemsRequest {
                    office_code: office.into(),
                    page_size,
                    page_token: page_token.into(),
                    ..ListItemsRequest::default()
                },
                &official(office),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner()
}

pub fn responsabile_named(office: &str, name: &str) -> String {
    token(
        Role::Responsabile,
        &[("inps_office", office), ("sub", name)],
    )
    .unwrap()
}

pub fn official_named(office: &str, name: &str) -> String {
    token(Role::Funzionario, &[("inps_office", office), ("sub", name)]).unwrap()
}

/// Files one item at SEDE-MI and returns it.
pub async fn filed(harness: &mut Harness) -> Item {
    filed_submitted(harness, chrono::Utc::now()).await
}

/// Files one item at SEDE-MI, sent by the patronato at `submitted_at`, and returns it.
pub async fn filed_submitted(
    harness: &mut Harness,
    submitted_at: chrono::DateTime<chrono::Utc>,
) -> Item {
    let request_id = uuid::Uuid::now_v7().to_string();
    let mut envelope = decision(&request_id, "SEDE-MI", "CP-2026-00000500", 1);
    if let Some(Payload::RequestRouted(routed)) = envelope.payload.as_mut()
        && let Some(request) = routed.request.as_mut()
    {
        request.submitted_at = Some(combipat_platform::time::to_timestamp(submitted_at));
    }
    harness.bus.publish_envelope(&envelope).await.unwrap();
    let client = harness.client.clone();
    eventually(WAIT, || {
        let mut client = client.clone();
        let request_id = request_id.clone();
        async move {
            let found = client
                .get_item(with_token(
                    GetItemRequest { request_id },
                    &official_named("SEDE-MI", "anna"),
                )?)
                .await;
            Ok(found.ok().and_then(|response| response.into_inner().item))
        }
    })
    .await
    .unwrap()
}

pub async fn get(client: &mut OfficeQueueClient<Channel>, request_id: &str) -> GetItemResponse {
    client
        .get_item(
            with_token(
                GetItemRequest {
                    request_id: request_id.into(),
                },
                &official_named("SEDE-MI", "anna"),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner()
}

pub fn claim(
    item: &Item,
    version: u64,
    lease_seconds: u32,
    who: &str,
) -> tonic::Request<ClaimRequest> {
    with_token(
        ClaimRequest {
            request_id: item.request_id.clone(),
            expected_version: version,
            lease_seconds,
        },
        &official_named("SEDE-MI", who),
    )
    .unwrap()
}
