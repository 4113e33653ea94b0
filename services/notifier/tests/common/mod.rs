//! The harness the notifier tests share: the service on its own database and bus with a clock
//! the test moves, an SMTP sink and a webhook receiver of the test's own, and the events the
//! other services publish.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "shared by several test crates, each using part of it"
)]

pub mod avvisi;

use std::time::Duration;

use combipat_notifier::dev::{MailSink, ReceivedMail, WebhookReceiver};
use combipat_platform::auth::Role;
use combipat_platform::clock::Clock;
use combipat_platform::messaging::{new_envelope, sequenced_envelope};
use combipat_proto::common::v1::{Filer, OfficeRef, RequestSummary};
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::events::v1::{
    Envelope, ReminderDue, ReminderKind, RequestAnswered, RequestInfoRequested, RequestRouted,
};
use combipat_proto::notifier::v1::endpoints_client::EndpointsClient;
use combipat_proto::notifier::v1::notifier_client::NotifierClient;
use combipat_proto::notifier::v1::{
    ChannelPreference, EndpointWithSecret, ListNotificationsRequest, Notification, PreferenceScope,
    RegisterEndpointRequest, SetPreferencesRequest,
};
use combipat_testkit::{
    TestBus, TestDatabase, TestService, eventually, grpc_channel, overrides, request_summary,
    token, with_token,
};
use tonic::transport::Channel;

pub const WAIT: Duration = Duration::from_secs(30);

pub struct Harness {
    pub bus: TestBus,
    pub database: TestDatabase,
    pub service: TestService,
    pub clock: Clock,
    pub mail: MailSink,
    pub hooks: WebhookReceiver,
    pub inbox: NotifierClient<Channel>,
    pub endpoints: EndpointsClient<Channel>,
}

pub async fn start() -> Harness {
    start_with(&[]).await
}

pub async fn start_with(extra: &[(&str, &str)]) -> Harness {
    let bus = TestBus::new();
    let database = TestDatabase::create().await.unwrap();
    let mail = MailSink::start("127.0.0.1:0").await.unwrap();
    let hooks = WebhookReceiver::start("127.0.0.1:0").await.unwrap();
    let mut settings = overrides(&database, &bus);
    for (key, value) in [
        ("smtp.host", "127.0.0.1".to_owned()),
        ("smtp.port", mail.addr.port().to_string()),
        ("webhooks.allow_loopback", "true".to_owned()),
        ("webhooks.allow_http", "true".to_owned()),
        ("jobs.poll_interval_ms", "50".to_owned()),
        ("webhooks.gauge_interval_ms", "200".to_owned()),
        ("email.public_base_url", "http://notifier.test".to_owned()),
    ]
    .into_iter()
    .chain(extra.iter().map(|(key, value)| (*key, (*value).to_owned())))
    {
        settings.push((key.to_owned(), value));
    }
    let clock = Clock::system();
    // Logs go to the test's captured output, shown when the test fails.
    let _already = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info,sqlx=warn".to_owned()))
        .try_init();
    let loaded = combipat_platform::load_settings::<combipat_notifier::Service>(&settings).unwrap();
    let service = TestService::spawn(
        combipat_platform::start_with_clock::<combipat_notifier::Service>(loaded, clock.clone())
            .await
            .unwrap(),
    );
    bus.wait_for_consumer(combipat_notifier::QUEUE.name)
        .await
        .unwrap();
    let channel = grpc_channel(service.grpc_addr).await.unwrap();
    Harness {
        bus,
        database,
        service,
        clock,
        mail,
        hooks,
        inbox: NotifierClient::new(channel.clone()),
        endpoints: EndpointsClient::new(channel),
    }
}

pub const PATRONATO: &str = "INCA";
pub const OFFICE: &str = "INCA-MI-01";
pub const OPERATOR: &str = "mario.rossi";

pub fn operator_of(office: &str, name: &str) -> String {
    token(
        Role::Operatore,
        &[
            ("patronato", PATRONATO),
            ("patronato_office", office),
            ("sub", name),
        ],
    )
    .unwrap()
}

pub fn operator() -> String {
    operator_of(OFFICE, OPERATOR)
}

pub fn supervisore(patronato: &str) -> String {
    token(
        Role::Supervisore,
        &[
            ("patronato", patronato),
            ("sub", &format!("admin-{patronato}")),
        ],
    )
    .unwrap()
}

pub fn official(role: Role, office: &str) -> String {
    token(
        role,
        &[
            ("inps_office", office),
            ("sub", &format!("{}-{office}", role.as_str())),
        ],
    )
    .unwrap()
}

fn sede() -> OfficeRef {
    OfficeRef {
        code: "SEDE-MI".into(),
        name: "Sede di Milano".into(),
        kind: "sede_provinciale".into(),
        ..OfficeRef::default()
    }
}

/// A request filed by mario.rossi of INCA-MI-01.
pub fn request(protocol: &str) -> RequestSummary {
    RequestSummary {
        filer: Some(Filer {
            patronato: PATRONATO.into(),
            patronato_office: OFFICE.into(),
            operator_id: OPERATOR.into(),
        }),
        ..request_summary("F205", "pensioni", protocol)
    }
}

pub fn routed(request: &RequestSummary) -> Envelope {
    sequenced_envelope(
        "router",
        &request.request_id,
        1,
        Payload::RequestRouted(RequestRouted {
            request: Some(request.clone()),
            office: Some(sede()),
            ruleset_version: "demo".into(),
            rule: "province:MI".into(),
            decision_sequence: 1,
            kind: "automatic".into(),
        }),
    )
}

pub fn answered(request: &RequestSummary, answer: &str) -> Envelope {
    sequenced_envelope(
        "office-queue",
        &request.request_id,
        3,
        Payload::RequestAnswered(RequestAnswered {
            office: Some(sede()),
            answer: answer.into(),
            answered_by: "anna".into(),
            answered_at: Some(combipat_platform::time::timestamp_now()),
            attachments: Vec::new(),
        }),
    )
}

pub fn info_requested(request: &RequestSummary, question: &str) -> Envelope {
    sequenced_envelope(
        "office-queue",
        &request.request_id,
        3,
        Payload::RequestInfoRequested(RequestInfoRequested {
            office: Some(sede()),
            question: question.into(),
            asked_by: "anna".into(),
            attachments: Vec::new(),
        }),
    )
}

pub fn reminder(request: &RequestSummary, kind: ReminderKind, escalate_to: &str) -> Envelope {
    new_envelope(
        "reminder-scheduler",
        &request.request_id,
        Payload::ReminderDue(ReminderDue {
            kind: kind as i32,
            due_at: Some(combipat_platform::time::timestamp_now()),
            office: Some(sede()),
            filer: request.filer.clone(),
            protocol_number: request.protocol_number.clone(),
            explanation: "15 giorni dall'invio".into(),
            deadline: Some(combipat_platform::time::timestamp_now()),
            escalate_to: escalate_to.into(),
        }),
    )
}

impl Harness {
    pub async fn publish(&self, envelope: &Envelope) {
        self.bus.publish_envelope(envelope).await.unwrap();
    }

    /// Registers an endpoint at the test's receiver for INCA, and trusts its secret.
    pub async fn register(&mut self, event_types: &[&str]) -> EndpointWithSecret {
        let registered = self
            .endpoints
            .register_endpoint(
                with_token(
                    RegisterEndpointRequest {
                        url: self.hooks.url(),
                        description: "gestionale INCA".into(),
                        event_types: event_types.iter().map(|kind| (*kind).to_owned()).collect(),
                        contact_email: "it@inca.example".into(),
                        patronato: String::new(),
                    },
                    &supervisore(PATRONATO),
                )
                .unwrap(),
            )
            .await
            .unwrap()
            .into_inner();
        self.hooks.trust(&registered.secret);
        registered
    }

    pub async fn set_email(
        &mut self,
        scope: PreferenceScope,
        caller: &str,
        email: &str,
        digest: bool,
    ) {
        self.inbox
            .set_preferences(
                with_token(
                    SetPreferencesRequest {
                        scope: scope as i32,
                        office_code: String::new(),
                        email: email.into(),
                        daily_digest: digest,
                        channels: Vec::<ChannelPreference>::new(),
                    },
                    caller,
                )
                .unwrap(),
            )
            .await
            .unwrap();
    }

    pub async fn notices(&mut self, caller: &str) -> Vec<Notification> {
        self.inbox
            .list_notifications(
                with_token(
                    ListNotificationsRequest {
                        page_size: 100,
                        ..Default::default()
                    },
                    caller,
                )
                .unwrap(),
            )
            .await
            .unwrap()
            .into_inner()
            .notifications
    }

    /// Waits until `caller` sees at least `count` notices.
    pub async fn wait_for_notices(&mut self, caller: &str, count: usize) -> Vec<Notification> {
        let client = self.inbox.clone();
        eventually(WAIT, || {
            let mut client = client.clone();
            let caller = caller.to_owned();
            async move {
                let seen = client
                    .list_notifications(with_token(
                        ListNotificationsRequest {
                            page_size: 100,
                            ..Default::default()
                        },
                        &caller,
                    )?)
                    .await?
                    .into_inner()
                    .notifications;
                Ok((seen.len() >= count).then_some(seen))
            }
        })
        .await
        .unwrap()
    }

    pub async fn wait_for_mail(&self, count: usize) -> Vec<ReceivedMail> {
        eventually(WAIT, || async {
            let messages = self.mail.messages();
            Ok((messages.len() >= count).then_some(messages))
        })
        .await
        .unwrap()
    }

    pub async fn wait_for_hooks(&self, count: usize) -> Vec<combipat_notifier::dev::ReceivedHook> {
        eventually(WAIT, || async {
            let received = self.hooks.received();
            Ok((received.len() >= count).then_some(received))
        })
        .await
        .unwrap()
    }

    pub async fn db(&self) -> sqlx::PgPool {
        self.database.connect().await.unwrap()
    }
}

/// A message's text as a person reads it: quoted-printable undone (soft breaks and `=XX`).
pub fn readable(data: &str) -> String {
    let joined = data.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok());
        match (bytes[index], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                index += 3;
            }
            (byte, _) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
