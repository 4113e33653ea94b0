//! The avvisi tests' harness: notifier (as in `mod.rs`) beside router, whose demo office
//! directory says what DR-LOMBARDIA and SEDE-MI govern; the patronato offices placed by their
//! routing decisions (as in production) or by an admin's import; publishers' tokens.

use combipat_platform::auth::Role;
use combipat_platform::messaging::sequenced_envelope;
use combipat_platform::time::to_timestamp;
use combipat_proto::common::v1::{Filer, OfficeRef, RequestSummary};
use combipat_proto::events::v1::RequestRouted;
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::notifier::v1::avvisi_client::AvvisiClient;
use combipat_proto::notifier::v1::{
    AudienceScope, Avviso, AvvisoAudience, AvvisoPriority, ImportPatronatoOfficesRequest,
    ListAvvisiRequest, ListPatronatoOfficesRequest, MarkAvvisoReadRequest, PatronatoOffice,
    PublishAvvisoRequest, ReadCountsRequest, ReadCountsResponse,
};
use combipat_testkit::{
    TestBus, TestDatabase, TestService, eventually, overrides, request_summary, token, with_token,
    workspace_root,
};
use tonic::transport::Channel;

use super::{Harness, WAIT, start_with};

pub struct Avvisi {
    pub harness: Harness,
    pub router: TestService,
    /// Router's own bus, kept while router runs.
    pub router_bus: TestBus,
    pub client: AvvisiClient<Channel>,
}

pub async fn start() -> Avvisi {
    start_with_settings(&[]).await
}

/// [`start`] with settings of the test's own for notifier.
pub async fn start_with_settings(extra: &[(&str, &str)]) -> Avvisi {
    let router_bus = TestBus::new();
    let router = TestService::start::<combipat_router::Service>(&overrides(
        &TestDatabase::create().await.unwrap(),
        &router_bus,
    ))
    .await
    .unwrap();
    let endpoint = format!("http://{}", router.grpc_addr);
    let key = workspace_root()
        .join("dev/keys/dev-jwt-private.pem")
        .display()
        .to_string();
    let mut settings = vec![
        ("router.endpoint", endpoint.as_str()),
        ("identity.dev_signing_key_path", key.as_str()),
    ];
    settings.extend_from_slice(extra);
    let harness = start_with(&settings).await;
    let client = AvvisiClient::new(
        combipat_testkit::grpc_channel(harness.service.grpc_addr)
            .await
            .unwrap(),
    );
    Avvisi {
        harness,
        router,
        router_bus,
        client,
    }
}

pub fn admin() -> String {
    token(Role::Admin, &[("sub", "redazione.centrale")]).unwrap()
}

/// The responsabile (or another role) of an INPS office.
pub fn inps(role: Role, office: &str) -> String {
    token(
        role,
        &[
            ("inps_office", office),
            ("sub", &format!("{}.{office}", role.as_str())),
        ],
    )
    .unwrap()
}

pub fn operator_at(patronato: &str, office: &str, name: &str) -> String {
    token(
        Role::Operatore,
        &[
            ("patronato", patronato),
            ("patronato_office", office),
            ("sub", name),
        ],
    )
    .unwrap()
}

/// An INPS sede as router's decisions name it (kind, region and province).
pub fn sede(province: &str, region: &str) -> OfficeRef {
    OfficeRef {
        code: format!("SEDE-{province}"),
        name: format!("Direzione provinciale {province}"),
        kind: "sede_provinciale".into(),
        region_code: region.into(),
        province_code: province.into(),
        ..OfficeRef::default()
    }
}

/// A request `office` of `patronato` filed.
pub fn filed_by(patronato: &str, office: &str, protocol: &str) -> RequestSummary {
    RequestSummary {
        filer: Some(Filer {
            patronato: patronato.into(),
            patronato_office: office.into(),
            operator_id: "someone".into(),
        }),
        ..request_summary("F205", "pensioni", protocol)
    }
}

/// Router's first decision on `request`, to `to`.
pub fn routed_event(
    request: &RequestSummary,
    to: &OfficeRef,
) -> combipat_proto::events::v1::Envelope {
    sequenced_envelope(
        "router",
        &request.request_id,
        1,
        Payload::RequestRouted(RequestRouted {
            request: Some(request.clone()),
            office: Some(to.clone()),
            ruleset_version: "demo".into(),
            rule: format!("province:{}", to.province_code),
            decision_sequence: 1,
            kind: "automatic".into(),
        }),
    )
}

pub fn audience(
    scope: AudienceScope,
    region: &str,
    provinces: &[&str],
    patronati: &[&str],
) -> AvvisoAudience {
    AvvisoAudience {
        patronati: patronati.iter().map(|name| (*name).to_owned()).collect(),
        scope: scope as i32,
        region_code: region.into(),
        province_codes: provinces.iter().map(|sigla| (*sigla).to_owned()).collect(),
    }
}

pub fn region(code: &str) -> AvvisoAudience {
    audience(AudienceScope::Region, code, &[], &[])
}

pub fn provinces(list: &[&str]) -> AvvisoAudience {
    audience(AudienceScope::Provinces, "", list, &[])
}

pub fn nation() -> AvvisoAudience {
    audience(AudienceScope::Nation, "", &[], &[])
}

pub fn draft(title: &str, text: &str, audience: AvvisoAudience) -> PublishAvvisoRequest {
    PublishAvvisoRequest {
        title: title.into(),
        text: text.into(),
        topic: "pensioni".into(),
        priority: AvvisoPriority::Informativo as i32,
        audience: Some(audience),
        ..PublishAvvisoRequest::default()
    }
}

pub fn later(harness: &Harness, minutes: i64) -> prost_types::Timestamp {
    to_timestamp(harness.clock.now() + chrono::Duration::minutes(minutes))
}

impl Avvisi {
    pub async fn publish(&mut self, caller: &str, call: PublishAvvisoRequest) -> Avviso {
        self.client
            .publish_avviso(with_token(call, caller).unwrap())
            .await
            .unwrap()
            .into_inner()
    }

    /// Places offices as router's decisions do: one routed request each, then waits until
    /// notifier has placed them all.
    pub async fn learn(&mut self, offices: &[(&str, &str, OfficeRef)]) {
        for (index, (patronato, office, to)) in offices.iter().enumerate() {
            let request = filed_by(patronato, office, &format!("CP-2026-{index:08}"));
            self.harness.publish(&routed_event(&request, to)).await;
        }
        let expected: Vec<String> = offices
            .iter()
            .map(|(_, office, _)| (*office).to_owned())
            .collect();
        let client = self.client.clone();
        eventually(WAIT, || {
            let mut client = client.clone();
            let expected = expected.clone();
            async move {
                let known = client
                    .list_patronato_offices(with_token(
                        ListPatronatoOfficesRequest::default(),
                        &admin(),
                    )?)
                    .await?
                    .into_inner()
                    .offices;
                Ok(expected
                    .iter()
                    .all(|office| known.iter().any(|known| &known.office == office))
                    .then_some(()))
            }
        })
        .await
        .unwrap();
    }

    pub async fn import(&mut self, offices: &[(&str, &str, &str)]) -> u32 {
        self.client
            .import_patronato_offices(
                with_token(
                    ImportPatronatoOfficesRequest {
                        offices: offices
                            .iter()
                            .map(|(patronato, office, province)| PatronatoOffice {
                                patronato: (*patronato).into(),
                                office: (*office).into(),
                                province_code: (*province).into(),
                                ..PatronatoOffice::default()
                            })
                            .collect(),
                    },
                    &admin(),
                )
                .unwrap(),
            )
            .await
            .unwrap()
            .into_inner()
            .imported
    }

    /// Marks `id` read for `caller`; whether it was unread.
    pub async fn mark_read(&mut self, caller: &str, id: &str) -> bool {
        self.client
            .mark_avviso_read(
                with_token(
                    MarkAvvisoReadRequest {
                        avviso_id: id.into(),
                    },
                    caller,
                )
                .unwrap(),
            )
            .await
            .unwrap()
            .into_inner()
            .changed
    }

    pub async fn read_counts(&mut self, caller: &str, id: &str) -> ReadCountsResponse {
        self.client
            .read_counts(
                with_token(
                    ReadCountsRequest {
                        avviso_id: id.into(),
                    },
                    caller,
                )
                .unwrap(),
            )
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn list(&mut self, caller: &str, call: ListAvvisiRequest) -> Vec<Avviso> {
        self.client
            .list_avvisi(with_token(call, caller).unwrap())
            .await
            .unwrap()
            .into_inner()
            .avvisi
    }

    pub async fn titles(&mut self, caller: &str) -> Vec<String> {
        self.list(caller, ListAvvisiRequest::default())
            .await
            .into_iter()
            .map(|avviso| avviso.title)
            .collect()
    }

    /// Waits until the version's notices have gone out (its delivery job ran).
    pub async fn delivered(&mut self, id: &str) -> Avviso {
        let client = self.client.clone();
        let id = id.to_owned();
        eventually(WAIT, || {
            let mut client = client.clone();
            let id = id.clone();
            async move {
                let detail = client
                    .get_avviso(with_token(
                        combipat_proto::notifier::v1::GetAvvisoRequest { avviso_id: id },
                        &admin(),
                    )?)
                    .await?
                    .into_inner();
                Ok(detail.avviso.filter(|avviso| avviso.delivered_at.is_some()))
            }
        })
        .await
        .unwrap()
    }
}
