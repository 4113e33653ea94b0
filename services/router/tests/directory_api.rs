//! The Router API over the demo directory: precedence, offices, loading and activation
//! across replicas, explanations, and transfers recorded from office-queue's events.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

use std::time::Duration;

use combipat_platform::auth::Role;
use combipat_proto::common::v1::Motivo;
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::router::v1::router_client::RouterClient;
use combipat_proto::router::v1::{
    ActivateDirectoryRequest, ExplainRequest, GetOfficeRequest, ListOfficesRequest,
    LoadDirectoryRequest, PreviewRouteRequest,
};
use combipat_testkit::{
    TestBus, TestDatabase, TestService, demo_directory, eventually, grpc_channel, overrides,
    request_summary, submitted_event, token, with_token,
};
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt as _;

const WAIT: Duration = Duration::from_secs(10);

async fn start(database: &TestDatabase, bus: &TestBus) -> (TestService, RouterClient<Channel>) {
    let service = TestService::start::<combipat_router::Service>(&overrides(database, bus))
        .await
        .unwrap();
    let client = RouterClient::new(grpc_channel(service.grpc_addr).await.unwrap());
    (service, client)
}

fn admin() -> String {
    token(Role::Admin, &[]).unwrap()
}

fn official(office: &str) -> String {
    token(Role::Funzionario, &[("inps_office", office)]).unwrap()
}

async fn preview(
    client: &mut RouterClient<Channel>,
    comune: &str,
    topic: &str,
) -> (String, String) {
    let response = client
        .preview_route(
            with_token(
                PreviewRouteRequest {
                    comune_residenza: comune.into(),
                    topic: topic.into(),
                    motivo: Motivo::RichiestaGenerica as i32,
                },
                &official("SEDE-MI"),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    (response.office.unwrap().code, response.rule)
}

#[tokio::test]
async fn precedence_polo_then_agenzia_then_sede() {
    let (database, bus) = (TestDatabase::create().await.unwrap(), TestBus::new());
    let (service, mut client) = start(&database, &bus).await;
    let cases = [
        ("E514", "pensioni", "AG-MI-LEGNANO", "agenzia:AG-MI-LEGNANO"), // Legnano: its agenzia
        (
            "E514",
            "estratto_conto_riscatti",
            "POLO-RISCATTI-NORD",
            "polo:riscatti-nord",
        ), // polo beats agenzia
        ("F205", "pensioni", "SEDE-MI", "province:MI"),                 // Milano: the sede
        (
            "F205",
            "bonus_asilo_nido",
            "POLO-ASILO-NIDO",
            "polo:asilo-nido",
        ),
        (
            "H501",
            "estratto_conto_riscatti",
            "POLO-RISCATTI-CENTRO-SUD",
            "polo:riscatti-centro-sud",
        ),
        ("Z133", "pensioni", "SEDE-BG", "polo:estero-svizzera"), // Svizzera -> Bergamo
        ("Z401", "pensioni", "SEDE-AQ", "polo:estero-canada"),   // Canada -> L'Aquila
        ("Z103", "pensioni", "AG-RM-TUSCOLANO", "polo:estero-belgio"), // Belgio -> Roma Tuscolano
        ("Z110", "pensioni", "POLO-ESTERO", "polo:estero"),      // the rest of the world
    ];
    for (comune, topic, office, rule) in cases {
        assert_eq!(
            preview(&mut client, comune, topic).await,
            (office.to_owned(), rule.to_owned()),
            "{comune} {topic}"
        );
    }
    let ceased = client
        .preview_route(
            with_token(
                PreviewRouteRequest {
                    comune_residenza: "A003".into(),
                    topic: "pensioni".into(),
                    motivo: 3,
                },
                &admin(),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(ceased.code(), Code::InvalidArgument);
    service.shutdown().await.unwrap();
}

#[tokio::test]
async fn offices_are_listed_and_described() {
    let (database, bus) = (TestDatabase::create().await.unwrap(), TestBus::new());
    let (service, mut client) = start(&database, &bus).await;
    let lombardia = client
        .list_offices(
            with_token(
                ListOfficesRequest {
                    region_code: "03".into(),
                    kind: "sede_provinciale".into(),
                },
                &admin(),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lombardia.offices.len(), 12);
    assert_eq!(lombardia.ruleset_version, "demo-2026-12-01");
    let bergamo = client
        .get_office(
            with_token(
                GetOfficeRequest {
                    code: "SEDE-BG".into(),
                },
                &admin(),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            bergamo.region_name.as_str(),
            bergamo.province_name.as_str(),
            bergamo.parent_code.as_str()
        ),
        ("Lombardia", "Bergamo", "DR-LOMBARDIA")
    );
    let missing = client
        .get_office(
            with_token(
                GetOfficeRequest {
                    code: "SEDE-XX".into(),
                },
                &admin(),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    service.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_invalid_directory_is_refused_whole_and_only_admins_load() {
    let (database, bus) = (TestDatabase::create().await.unwrap(), TestBus::new());
    let (service, mut client) = start(&database, &bus).await;
    let demo = std::fs::read_to_string(demo_directory()).unwrap();
    let broken = demo
        .replace("version: demo-2026-12-01", "version: broken-1")
        .replace("provinces: [BG]", "provinces: [XX]");
    let status = client
        .load_directory(
            with_token(
                LoadDirectoryRequest {
                    yaml: broken,
                    activate: true,
                },
                &admin(),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let problems: Vec<String> = status
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.description)
        .collect();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("`XX` is not the sigla of an active province")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("have no sede: BG")),
        "{problems:?}"
    );
    let pool = database.connect().await.unwrap();
    let versions: Vec<String> = sqlx::query_scalar("SELECT version FROM rulesets")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(versions, ["demo-2026-12-01"]);

    let refused = client
        .load_directory(
            with_token(
                LoadDirectoryRequest {
                    yaml: demo.clone(),
                    activate: false,
                },
                &official("SEDE-MI"),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let again = client
        .load_directory(
            with_token(
                LoadDirectoryRequest {
                    yaml: demo.clone(),
                    activate: false,
                },
                &admin(),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    assert!(again.already_loaded);
    let conflict = demo.replace("Direzione provinciale di Bergamo", "Sede di Bergamo");
    let status = client
        .load_directory(
            with_token(
                LoadDirectoryRequest {
                    yaml: conflict,
                    activate: false,
                },
                &admin(),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    service.shutdown().await.unwrap();
}

#[tokio::test]
async fn activating_a_directory_that_moves_patron_days_announces_the_changed_calendars() {
    let (database, bus) = (TestDatabase::create().await.unwrap(), TestBus::new());
    let (service, mut client) = start(&database, &bus).await;
    let mut changes = bus.observe("calendar.changed").await.unwrap();
    // Milano's patron day dropped, Torino's moved a day; nothing else.
    let demo = std::fs::read_to_string(demo_directory()).unwrap();
    let next = demo
        .replace("version: demo-2026-12-01", "version: demo-calendar")
        .replace(
            "provinces: [MI], patron_day: \"12-07\",",
            "provinces: [MI],",
        )
        .replace(
            "provinces: [TO], patron_day: \"06-24\",",
            "provinces: [TO], patron_day: \"06-25\",",
        );
    let offices = client
        .get_office(
            with_token(
                GetOfficeRequest {
                    code: "SEDE-MI".into(),
                },
                &admin(),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (offices.patron_day.as_str(), offices.direzione_code.as_str()),
        ("12-07", "DR-LOMBARDIA")
    );
    client
        .load_directory(
            with_token(
                LoadDirectoryRequest {
                    yaml: next,
                    activate: true,
                },
                &admin(),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let event = changes.next(WAIT).await.unwrap();
    assert!(event.request_id.is_empty(), "about offices, not a request");
    let Some(Payload::CalendarChanged(changed)) = event.payload else {
        panic!("expected calendar.changed")
    };
    assert_eq!(
        (
            changed.ruleset_version.as_str(),
            changed.previous_ruleset_version.as_str()
        ),
        ("demo-calendar", "demo-2026-12-01")
    );
    let mut offices: Vec<(String, String, String)> = changed
        .offices
        .into_iter()
        .map(|office| {
            (
                office.office_code,
                office.previous_patron_day,
                office.patron_day,
            )
        })
        .collect();
    offices.sort();
    assert_eq!(
        offices,
        [
            ("SEDE-MI".to_owned(), "12-07".to_owned(), String::new()),
            ("SEDE-TO".to_owned(), "06-24".to_owned(), "06-25".to_owned()),
        ]
    );
    service.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_replica_switches_to_a_newly_activated_ruleset() {
    let (database, bus) = (TestDatabase::create().await.unwrap(), TestBus::new());
    let (first, mut first_client) = start(&database, &bus).await;
    let (second, mut second_client) = start(&database, &bus).await;
    // Version 2 gives Legnano's comuni back to the sede of Milano.
    let demo = std::fs::read_to_string(demo_directory()).unwrap();
    let version_two = demo
        .replace("version: demo-2026-12-01", "version: demo-2")
        .replace("comuni: [E514, G324, B593, I409], ", "");
    first_client
        .load_directory(
            with_token(
                LoadDirectoryRequest {
                    yaml: version_two,
                    activate: false,
                },
                &admin(),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        preview(&mut second_client, "E514", "pensioni").await.0,
        "AG-MI-LEGNANO",
        "loading alone must not switch"
    );
    first_client
        .activate_directory(
            with_token(
                ActivateDirectoryRequest {
                    version: "demo-2".into(),
                },
                &admin(),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    // The other replica learns of it from the activation notice, not from its 30 s poll.
    let client = second_client.clone();
    eventually(Duration::from_secs(5), || {
        let mut client = client.clone();
        async move { Ok((preview(&mut client, "E514", "pensioni").await.0 == "SEDE-MI").then_some(())) }
    })
    .await
    .unwrap();
    let unknown = first_client
        .activate_directory(
            with_token(
                ActivateDirectoryRequest {
                    version: "nope".into(),
                },
                &admin(),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    first.shutdown().await.unwrap();
    second.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_transfer_decided_by_office_queue_is_recorded_and_explained_without_a_new_decision() {
    let (database, bus) = (TestDatabase::create().await.unwrap(), TestBus::new());
    let (service, mut client) = start(&database, &bus).await;
    bus.wait_for_consumer(combipat_router::QUEUE.name)
        .await
        .unwrap();
    let mut routed = bus.observe("request.routed").await.unwrap();
    let summary = request_summary("F205", "pensioni", "CP-2026-00000042");
    let request_id = summary.request_id.clone();
    bus.publish_envelope(&submitted_event(summary))
        .await
        .unwrap();
    let first = routed.next(WAIT).await.unwrap();
    assert_eq!(
        first.sequence, 1,
        "router's first decision opens the lifecycle"
    );
    let Some(Payload::RequestRouted(first)) = first.payload else {
        panic!()
    };
    assert_eq!(first.office.unwrap().code, "SEDE-MI");

    // Office-queue owns the request now: it decides the transfer and announces it.
    let office = |code: &str| combipat_proto::common::v1::OfficeRef {
        code: code.into(),
        ..Default::default()
    };
    let transferred = combipat_platform::messaging::sequenced_envelope(
        "office-queue",
        &request_id,
        4,
        Payload::RequestTransferred(combipat_proto::events::v1::RequestTransferred {
            from_office: Some(office("SEDE-MI")),
            to_office: Some(office("SEDE-TO")),
            reason: "residente a Torino da maggio".into(),
            transferred_by: "funzionario-mi".into(),
        }),
    );
    bus.publish_envelope(&transferred).await.unwrap();
    // Published again, as a relay that died before its delete would: recorded once.
    bus.publish_envelope(&transferred).await.unwrap();
    let explain = |caller: String| {
        let mut client = client.clone();
        let request_id = request_id.clone();
        async move {
            client
                .explain(with_token(ExplainRequest { request_id }, &caller).unwrap())
                .await
        }
    };
    eventually(WAIT, || async {
        let explained = explain(official("SEDE-TO")).await?.into_inner();
        Ok((explained.decisions.len() >= 2).then_some(()))
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        routed
            .try_next(Duration::from_millis(200))
            .await
            .unwrap()
            .is_none(),
        "the transfer is office-queue's event; router announces no new decision"
    );

    let explained = client
        .explain(
            with_token(
                ExplainRequest {
                    request_id: request_id.clone(),
                },
                &official("SEDE-TO"),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(explained.protocol_number, "CP-2026-00000042");
    let steps: Vec<(String, String)> = explained
        .decisions
        .iter()
        .map(|d| (d.kind.clone(), d.office.clone().unwrap().code))
        .collect();
    assert_eq!(
        steps,
        [
            ("automatic".to_owned(), "SEDE-MI".to_owned()),
            ("transfer".to_owned(), "SEDE-TO".to_owned())
        ]
    );
    assert!(
        explained.decisions[0].explanation.contains("MILANO"),
        "{}",
        explained.decisions[0].explanation
    );
    assert!(
        explained.decisions[1]
            .explanation
            .contains("residente a Torino")
    );
    let operator = token(
        Role::Operatore,
        &[("patronato", "INCA"), ("patronato_office", "INCA-MI-01")],
    )
    .unwrap();
    // Only the offices the request went through (and their direzioni), and admins: an
    // operator, an analyst or another office's official learn nothing, not even that it exists.
    for outsider in [
        operator,
        token(Role::Analista, &[]).unwrap(),
        official("SEDE-NA"),
        token(Role::Responsabile, &[("inps_office", "DR-CAMPANIA")]).unwrap(),
    ] {
        let refused = client
            .explain(
                with_token(
                    ExplainRequest {
                        request_id: request_id.clone(),
                    },
                    &outsider,
                )
                .unwrap(),
            )
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::NotFound);
    }
    for insider in [
        official("SEDE-MI"),
        token(Role::Responsabile, &[("inps_office", "DR-PIEMONTE")]).unwrap(),
        admin(),
    ] {
        client
            .explain(
                with_token(
                    ExplainRequest {
                        request_id: request_id.clone(),
                    },
                    &insider,
                )
                .unwrap(),
            )
            .await
            .unwrap();
    }
    service.shutdown().await.unwrap();
}

#[tokio::test]
async fn without_an_active_ruleset_requests_wait_in_the_queue_until_one_is_activated() {
    let (database, bus) = (TestDatabase::create().await.unwrap(), TestBus::new());
    let mut settings = overrides(&database, &bus);
    settings.retain(|(key, _)| key != "directory.bootstrap_path");
    let service = TestService::start::<combipat_router::Service>(&settings)
        .await
        .unwrap();
    let mut client = RouterClient::new(grpc_channel(service.grpc_addr).await.unwrap());
    let unavailable = client
        .list_offices(with_token(ListOfficesRequest::default(), &admin()).unwrap())
        .await
        .unwrap_err();
    assert_eq!(unavailable.code(), Code::Unavailable);

    // Router does not consume before a ruleset is active, so nothing can be routed blindly
    // or dead-lettered meanwhile; its queue exists (every service declares the whole
    // topology), so what is submitted waits there.
    let mut routed = bus.observe("request.routed").await.unwrap();
    let summary = request_summary("F205", "pensioni", "CP-2026-00000100");
    let request_id = summary.request_id.clone();
    let event = submitted_event(summary);
    eventually(WAIT, || async {
        Ok(bus.queue_depth(combipat_router::QUEUE.name).await.ok())
    })
    .await
    .unwrap();
    bus.publish_envelope(&event).await.unwrap();
    eventually(WAIT, || async {
        Ok((bus.queue_depth(combipat_router::QUEUE.name).await? == 1).then_some(()))
    })
    .await
    .unwrap();
    assert!(
        routed
            .try_next(Duration::from_millis(300))
            .await
            .unwrap()
            .is_none(),
        "nothing is routed before a ruleset is active"
    );

    let demo = std::fs::read_to_string(demo_directory()).unwrap();
    client
        .load_directory(
            with_token(
                LoadDirectoryRequest {
                    yaml: demo,
                    activate: true,
                },
                &admin(),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    bus.wait_for_consumer(combipat_router::QUEUE.name)
        .await
        .unwrap();
    let out = routed.next(WAIT).await.unwrap();
    assert_eq!(out.request_id, request_id);
    assert_eq!(bus.queue_depth("router.requests.dlq").await.unwrap(), 0);
    service.shutdown().await.unwrap();
}
