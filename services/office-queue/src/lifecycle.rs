//! The events of a request's life that office-queue announces, at their lifecycle position,
//! and the deadline clock's changes among them (`request.sla_changed`), which the
//! reminder-scheduler turns into its escalation timers.
//!
//! Position: the item's version after the change, plus one (router's first decision, which
//! filed the item, is 1). Events written in one transaction share it: each reader follows
//! the types it needs, and those never change in the same transaction twice.

use combipat_domain::calendar::OfficeCalendar;
use combipat_domain::sla::Deadline;
use combipat_platform::messaging::sequenced_envelope;
use combipat_platform::time::to_timestamp;
use combipat_proto::events::v1::envelope::Payload;
use combipat_proto::events::v1::{Envelope, RequestSlaChanged, SlaClock};

use crate::SERVICE_NAME;
use crate::items::ItemRow;

/// An event about `item`, after a change that left it at its current version.
pub fn event(item: &ItemRow, payload: Payload) -> Envelope {
    sequenced_envelope(
        SERVICE_NAME,
        &item.request_id.to_string(),
        u64::try_from(item.version).unwrap_or_default() + 1,
        payload,
    )
}

/// What the clock became.
pub enum Clock {
    Running(Deadline),
    Paused { business_days_left: u32 },
    Stopped,
}

/// `request.sla_changed` for `item` (already at its new office and version).
pub fn sla_changed(item: &ItemRow, clock: &Clock, reason: &str) -> Envelope {
    let (state, deadline, business_days_left) = match clock {
        Clock::Running(deadline) => (SlaClock::Running, Some(deadline), 0),
        Clock::Paused { business_days_left } => (SlaClock::Paused, None, *business_days_left),
        Clock::Stopped => (SlaClock::Stopped, None, 0),
    };
    event(
        item,
        Payload::RequestSlaChanged(RequestSlaChanged {
            office: Some(item.office_ref()),
            clock: state as i32,
            due_at: deadline.map(|deadline| to_timestamp(deadline.due_at)),
            warn_at: deadline.map(|deadline| to_timestamp(deadline.warn_at)),
            business_days_left,
            motivo: item.motivo,
            topic: item.topic.clone(),
            protocol_number: item.protocol_number.clone(),
            calendar_version: item.calendar().version(),
            reason: reason.to_owned(),
        }),
    )
}

/// The calendar of an office whose patron day is `patron_day` (`MM-DD`, or empty).
pub fn calendar(patron_day: &str) -> OfficeCalendar {
    OfficeCalendar::with_patron_day(patron_day)
}
