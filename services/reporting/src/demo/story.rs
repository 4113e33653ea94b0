//! One synthetic request's life, told two ways that must agree: as the events the services
//! would publish (for the stream: the bench's ingest and rebuild, the tests), and as the fact
//! reporting would merge from them (for loading a year straight into the store). A test
//! checks that merging the events gives the fact.

use chrono::{DateTime, Utc};
use combipat_platform::messaging::sequenced_envelope;
use combipat_platform::time::to_timestamp;
use combipat_proto::common::v1::{Filer, OfficeRef, RequestSummary};
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::events::v1::{
    Envelope, RequestAnswered, RequestClosed, RequestInfoProvided, RequestInfoRequested,
    RequestRated, RequestRouted, RequestSlaChanged, RequestSollecito, RequestSubmitted,
    RequestTransferred, RequestUnroutable, SlaClock,
};
use uuid::Uuid;

use crate::model::facts::{Fact, FirstAnswer, OfficeAt, Rating, Summary};

#[derive(Debug, Clone, Default)]
pub struct Story {
    pub request_id: Uuid,
    pub protocol_number: String,
    pub submitted_at: DateTime<Utc>,
    pub comune: String,
    pub region: String,
    pub province: String,
    pub patronato: &'static str,
    pub motivo: i16,
    pub topic: &'static str,
    /// Where router sent it (a fallback queue when unroutable).
    pub office: OfficeRef,
    pub unroutable: bool,
    /// The office's deadline when filed.
    pub due_at: DateTime<Utc>,
    /// The office asked for information (when), the patronato replied (when), and the clock
    /// restarted due then.
    pub info: Option<(DateTime<Utc>, DateTime<Utc>, DateTime<Utc>)>,
    /// Sent on to another office (when, where).
    pub transfer: Option<(DateTime<Utc>, OfficeRef)>,
    pub solleciti: Vec<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub rating: Option<(DateTime<Utc>, u8)>,
}

/// Lifecycle positions as office-queue numbers them (the item's version + 1).
const FILED: u64 = 2;
const INFO_ASKED: u64 = 4;
const INFO_REPLIED: u64 = 5;
const TRANSFERRED: u64 = 7;
const ANSWERED: u64 = 9;
const CLOSED: u64 = 10;

impl Story {
    /// The office it ends at.
    pub fn final_office(&self) -> &OfficeRef {
        self.transfer.as_ref().map_or(&self.office, |(_, to)| to)
    }

    fn last_office_step(&self) -> u64 {
        if self.closed_at.is_some() {
            CLOSED
        } else if self.answered_at.is_some() {
            ANSWERED
        } else if self.transfer.is_some() {
            TRANSFERRED
        } else if self.info.is_some() {
            INFO_REPLIED
        } else {
            FILED
        }
    }

    /// What reporting knows of it once every event is read.
    pub fn fact(&self) -> Fact {
        let office = self.final_office();
        let mut fact = Fact {
            summary: Some(Summary {
                submitted_at: self.submitted_at,
                region: self.region.clone(),
                province: self.province.clone(),
                patronato: self.patronato.to_owned(),
                motivo: self.motivo,
                topic: self.topic.to_owned(),
            }),
            office: Some(OfficeAt {
                seq: self.last_office_step(),
                code: office.code.clone(),
                patron_day: office.patron_day.clone(),
            }),
            unroutable: self.unroutable,
            first_answer: self.answered_at.map(|at| FirstAnswer {
                at,
                seq: ANSWERED,
                office: office.code.clone(),
            }),
            closed_at: self.closed_at,
            solleciti: u32::try_from(self.solleciti.len()).unwrap_or(u32::MAX),
            ..Fact::default()
        };
        fact.detail.deadlines.insert(FILED, self.due_at);
        if let Some((_, _, due)) = self.info {
            fact.detail.info_requests.insert(INFO_ASKED);
            fact.detail.deadlines.insert(INFO_REPLIED, due);
        }
        if self.transfer.is_some() {
            fact.detail.transfers.insert(TRANSFERRED);
        }
        if let Some((at, value)) = self.rating {
            fact.detail.ratings.insert(
                1,
                Rating {
                    at,
                    value,
                    office: office.code.clone(),
                },
            );
        }
        fact
    }

    fn summary(&self) -> RequestSummary {
        RequestSummary {
            request_id: self.request_id.to_string(),
            protocol_number: self.protocol_number.clone(),
            motivo: i32::from(self.motivo),
            codice_fiscale: "RSSMRA85T10A562S".to_owned(),
            comune_residenza: self.comune.clone(),
            topic: self.topic.to_owned(),
            subject: "Richiesta".to_owned(),
            filer: Some(Filer {
                patronato: self.patronato.to_owned(),
                patronato_office: format!("{}-{}-01", self.patronato, self.province),
                operator_id: "demo".to_owned(),
            }),
            submitted_at: Some(to_timestamp(self.submitted_at)),
            ..RequestSummary::default()
        }
    }

    fn clock(office: &OfficeRef, clock: SlaClock, due_at: Option<DateTime<Utc>>) -> Payload {
        Payload::RequestSlaChanged(RequestSlaChanged {
            office: Some(office.clone()),
            clock: clock as i32,
            due_at: due_at.map(to_timestamp),
            ..RequestSlaChanged::default()
        })
    }

    /// The events the services would publish, in the order they happen.
    pub fn events(&self) -> Vec<Envelope> {
        let id = self.request_id.to_string();
        let event = |producer: &str, sequence: u64, at: DateTime<Utc>, payload: Payload| {
            let mut envelope = sequenced_envelope(producer, &id, sequence, payload);
            envelope.occurred_at = Some(to_timestamp(at));
            envelope
        };
        let at = self.submitted_at;
        let mut events = vec![event(
            "intake",
            0,
            at,
            Payload::RequestSubmitted(RequestSubmitted {
                request: Some(self.summary()),
            }),
        )];
        let decided = at + chrono::Duration::seconds(2);
        events.push(if self.unroutable {
            event(
                "router",
                1,
                decided,
                Payload::RequestUnroutable(RequestUnroutable {
                    request: Some(self.summary()),
                    reason: "no rule".to_owned(),
                    fallback_office: Some(self.office.clone()),
                    ..RequestUnroutable::default()
                }),
            )
        } else {
            event(
                "router",
                1,
                decided,
                Payload::RequestRouted(RequestRouted {
                    request: Some(self.summary()),
                    office: Some(self.office.clone()),
                    kind: "automatic".to_owned(),
                    ..RequestRouted::default()
                }),
            )
        });
        events.push(event(
            "office-queue",
            FILED,
            decided,
            Self::clock(&self.office, SlaClock::Running, Some(self.due_at)),
        ));
        if let Some((asked, replied, due)) = self.info {
            events.push(event(
                "office-queue",
                INFO_ASKED,
                asked,
                Payload::RequestInfoRequested(RequestInfoRequested {
                    office: Some(self.office.clone()),
                    question: "Documenti?".to_owned(),
                    ..RequestInfoRequested::default()
                }),
            ));
            events.push(event(
                "office-queue",
                INFO_ASKED,
                asked,
                Self::clock(&self.office, SlaClock::Paused, None),
            ));
            events.push(event(
                "intake",
                0,
                replied,
                Payload::RequestInfoProvided(RequestInfoProvided {
                    reply: "Ecco".to_owned(),
                    ..RequestInfoProvided::default()
                }),
            ));
            events.push(event(
                "office-queue",
                INFO_REPLIED,
                replied,
                Self::clock(&self.office, SlaClock::Running, Some(due)),
            ));
        }
        if let Some((when, to)) = &self.transfer {
            events.push(event(
                "office-queue",
                TRANSFERRED,
                *when,
                Payload::RequestTransferred(RequestTransferred {
                    from_office: Some(OfficeRef {
                        code: self.office.code.clone(),
                        ..OfficeRef::default()
                    }),
                    to_office: Some(to.clone()),
                    reason: "competenza".to_owned(),
                    transferred_by: "demo".to_owned(),
                }),
            ));
        }
        for (count, when) in self.solleciti.iter().enumerate() {
            events.push(event(
                "intake",
                0,
                *when,
                Payload::RequestSollecito(RequestSollecito {
                    count: u32::try_from(count + 1).unwrap_or(u32::MAX),
                    sent_by: "demo".to_owned(),
                }),
            ));
        }
        let office = self.final_office();
        if let Some(answered) = self.answered_at {
            events.push(event(
                "office-queue",
                ANSWERED,
                answered,
                Payload::RequestAnswered(RequestAnswered {
                    office: Some(OfficeRef {
                        code: office.code.clone(),
                        ..OfficeRef::default()
                    }),
                    answer: "Risposta".to_owned(),
                    answered_by: "demo".to_owned(),
                    answered_at: Some(to_timestamp(answered)),
                    attachments: Vec::new(),
                }),
            ));
            events.push(event(
                "office-queue",
                ANSWERED,
                answered,
                Self::clock(office, SlaClock::Stopped, None),
            ));
        }
        if let Some(closed) = self.closed_at {
            events.push(event(
                "office-queue",
                CLOSED,
                closed,
                Payload::RequestClosed(RequestClosed {
                    office: Some(OfficeRef {
                        code: office.code.clone(),
                        ..OfficeRef::default()
                    }),
                    closed_by: "demo".to_owned(),
                }),
            ));
            events.push(event(
                "office-queue",
                CLOSED,
                closed,
                Self::clock(office, SlaClock::Stopped, None),
            ));
        }
        if let Some((when, value)) = self.rating {
            events.push(event(
                "intake",
                0,
                when,
                Payload::RequestRated(RequestRated {
                    rating: u32::from(value),
                    comment: String::new(),
                    answer_number: 1,
                    filer: None,
                    office: Some(OfficeRef {
                        code: office.code.clone(),
                        name: office.name.clone(),
                        ..OfficeRef::default()
                    }),
                }),
            ));
        }
        events.sort_by_key(|envelope| {
            envelope
                .occurred_at
                .as_ref()
                .map(|at| (at.seconds, at.nanos))
        });
        events
    }
}
