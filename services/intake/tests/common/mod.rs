//! The harness the intake tests share: the service on its own database and bus, with the
//! mandates its fixtures need, and the tokens of the people who call it.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "shared by several test crates, each using part of it"
)]

use std::time::Duration;

use combipat_platform::auth::Role;
use combipat_proto::common::v1::Motivo;
use combipat_proto::intake::v1::intake_client::IntakeClient;
use combipat_proto::intake::v1::mandates_client::MandatesClient;
use combipat_proto::intake::v1::{
    GetRequestRequest, GetRequestResponse, Mandate, PutMandatesRequest, SubmitRequestRequest,
    SubmitRequestResponse,
};
use combipat_testkit::{
    TestBus, TestDatabase, TestService, grpc_channel, overrides, token, with_token,
};
use tonic::transport::Channel;
use tonic_types::StatusExt as _;

pub const WAIT: Duration = Duration::from_secs(10);

pub struct Harness {
    pub bus: TestBus,
    pub database: TestDatabase,
    pub service: TestService,
    pub client: IntakeClient<Channel>,
    pub mandates: MandatesClient<Channel>,
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
    let service = TestService::start::<combipat_intake::Service>(&settings)
        .await
        .unwrap();
    let channel = grpc_channel(service.grpc_addr).await.unwrap();
    let mut harness = Harness {
        bus,
        database,
        service,
        client: IntakeClient::new(channel.clone()),
        mandates: MandatesClient::new(channel),
    };
    for citizen in CITIZENS {
        harness.grant("INCA", citizen).await;
    }
    harness
}

pub fn operator(office: &str) -> String {
    token(
        Role::Operatore,
        &[("patronato", "INCA"), ("patronato_office", office)],
    )
    .unwrap()
}

pub fn good_request() -> SubmitRequestRequest {
    SubmitRequestRequest {
        motivo: Motivo::RichiestaGenerica as i32,
        codice_fiscale: "RSSMRA85T10A562S".into(),
        comune_residenza: "F205".into(),
        topic: "pensioni".into(),
        subject: "Domanda di pensione".into(),
        body: "Stato della domanda".into(),
        ..SubmitRequestRequest::default()
    }
}

pub async fn stored_rows(database: &TestDatabase) -> (i64, i64) {
    let pool = database.connect().await.unwrap();
    let requests = sqlx::query_scalar("SELECT count(*) FROM requests")
        .fetch_one(&pool)
        .await
        .unwrap();
    // Each accepted submission writes its first history entry and its event in the same
    // transaction as the request; the event may already have left the outbox.
    let submitted =
        sqlx::query_scalar("SELECT count(*) FROM request_history WHERE status = 'SUBMITTED'")
            .fetch_one(&pool)
            .await
            .unwrap();
    (requests, submitted)
}

/// Citizens INCA holds a mandate for in every harness.
pub const CITIZENS: [&str; 2] = ["RSSMRA85T10A562S", "BNZVCN32S10E573Z"];

pub fn admin() -> String {
    token(Role::Admin, &[]).unwrap()
}

pub fn supervisor(patronato: &str) -> String {
    token(Role::Supervisore, &[("patronato", patronato)]).unwrap()
}

pub fn operator_of(patronato: &str, office: &str) -> String {
    token(
        Role::Operatore,
        &[("patronato", patronato), ("patronato_office", office)],
    )
    .unwrap()
}

impl Harness {
    /// An active mandate of `patronato` for `codice_fiscale`, through the admin API.
    pub async fn grant(&mut self, patronato: &str, codice_fiscale: &str) {
        self.mandates
            .put_mandates(
                with_token(
                    PutMandatesRequest {
                        mandates: vec![Mandate {
                            patronato: patronato.into(),
                            codice_fiscale: codice_fiscale.into(),
                            reference: "test".into(),
                            ..Mandate::default()
                        }],
                    },
                    &admin(),
                )
                .unwrap(),
            )
            .await
            .unwrap();
    }
}

// Calls and fixtures the channel and access tests share.

pub const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n";
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01";

pub fn fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|bad| bad.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

pub async fn submit(
    harness: &Harness,
    request: SubmitRequestRequest,
    token: &str,
) -> Result<SubmitRequestResponse, tonic::Status> {
    harness
        .client
        .clone()
        .submit_request(with_token(request, token).unwrap())
        .await
        .map(tonic::Response::into_inner)
}

pub async fn get(
    harness: &Harness,
    request_id: &str,
    token: &str,
) -> Result<GetRequestResponse, tonic::Status> {
    harness
        .client
        .clone()
        .get_request(
            with_token(
                GetRequestRequest {
                    request_id: request_id.into(),
                },
                token,
            )
            .unwrap(),
        )
        .await
        .map(tonic::Response::into_inner)
}

pub fn sollecito_pratica(pratica: &str) -> SubmitRequestRequest {
    SubmitRequestRequest {
        motivo: Motivo::SollecitoPratica as i32,
        topic: String::new(),
        prestazione: "pensioni".into(),
        pratica_protocol_number: pratica.into(),
        ..good_request()
    }
}
