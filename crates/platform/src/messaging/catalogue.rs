//! The one definition of the messaging topology: every consumer's queue and the routing keys
//! bound to it, and the history stream. Every service declares all of it (not only its own
//! queues) at start and after every reconnect, and so does `combipat-<service> topology`,
//! the deployment step: a binding therefore exists before anything can publish to it, in
//! whatever order the services start. A new consumer, or a new binding, is added here.

use super::topology::{QueueSpec, StreamSpec};

/// Router decides the office for each submitted request.
pub const ROUTER_REQUESTS: QueueSpec = QueueSpec {
    service: "router",
    name: "router.requests",
    bindings: &["request.submitted", "request.transferred"],
};

/// Office-queue files routed requests, follows what the patronato sends afterwards, raises
/// an item's priority on the scheduler's escalations, and recomputes deadlines when an
/// office's calendar changes.
pub const OFFICE_QUEUE_DECISIONS: QueueSpec = QueueSpec {
    service: "office-queue",
    name: "office-queue.decisions",
    bindings: &[
        "request.routed",
        "request.unroutable",
        "request.info_provided",
        "request.sollecito",
        "reminder.due",
        "calendar.changed",
    ],
};

/// Intake keeps the operator's view of each request's life.
pub const INTAKE_STATUS: QueueSpec = QueueSpec {
    service: "intake",
    name: "intake.status",
    bindings: &[
        "request.routed",
        "request.unroutable",
        "request.info_requested",
        "request.answered",
        "request.closed",
        "request.transferred",
    ],
};

/// Notifier tells the patronati (and, for escalations, the offices) what happened.
pub const NOTIFIER_EVENTS: QueueSpec = QueueSpec {
    service: "notifier",
    name: "notifier.events",
    bindings: &[
        "request.routed",
        "request.unroutable",
        "request.info_requested",
        "request.answered",
        "request.transferred",
        "request.closed",
        "reminder.due",
    ],
};

/// The reminder-scheduler keeps the sollecito and deadline timers of each request.
pub const REMINDER_SCHEDULER_EVENTS: QueueSpec = QueueSpec {
    service: "reminder-scheduler",
    name: "reminder-scheduler.events",
    bindings: &[
        "request.submitted",
        "request.sollecito",
        "request.answered",
        "request.closed",
        "request.sla_changed",
    ],
};

/// Every consumer's queue.
pub const CATALOGUE: &[QueueSpec] = &[
    ROUTER_REQUESTS,
    OFFICE_QUEUE_DECISIONS,
    INTAKE_STATUS,
    NOTIFIER_EVENTS,
    REMINDER_SCHEDULER_EVENTS,
];

/// The routing keys each service publishes, one owner per event type. The outbox relay shows
/// their counters from the start, and the broker's topic permissions (`combipat-broker-users`,
/// `k8s/rabbitmq/`) let each service's user publish these and nothing else.
pub const PUBLISHED: &[(&str, &[&str])] = &[
    (
        "intake",
        &[
            "request.submitted",
            "request.info_provided",
            "request.sollecito",
            "request.rated",
        ],
    ),
    (
        "router",
        &["request.routed", "request.unroutable", "calendar.changed"],
    ),
    (
        "office-queue",
        &[
            "request.info_requested",
            "request.answered",
            "request.closed",
            "request.transferred",
            "request.sla_changed",
        ],
    ),
    ("reminder-scheduler", &["reminder.due"]),
    ("notifier", &[]),
    ("reporting", &[]),
];

/// The routing keys `service` publishes (none for a service the list does not name).
pub fn published_by(service: &str) -> &'static [&'static str] {
    PUBLISHED
        .iter()
        .find(|(name, _)| *name == service)
        .map_or(&[], |(_, keys)| keys)
}

/// Event types no queue takes: read from the history stream only (reporting).
pub const HISTORY_ONLY: &[&str] = &["request.rated"];

/// Every event, kept by age and size (`amqp.history_*`), for consumers that must read from
/// the first event (reporting, and any consumer added or rebuilt later).
pub const HISTORY: StreamSpec = StreamSpec {
    name: "combipat.history",
    bindings: &["#"],
};

/// The services that read the history stream (their broker users may consume it).
pub const HISTORY_READERS: &[&str] = &["reporting"];

/// The queues `service` consumes.
pub fn queues_of(service: &str) -> impl Iterator<Item = &'static QueueSpec> + '_ {
    CATALOGUE.iter().filter(move |spec| spec.service == service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_are_unique_and_start_with_their_service() {
        let mut names: Vec<&str> = CATALOGUE.iter().map(|spec| spec.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CATALOGUE.len());
        for spec in CATALOGUE {
            assert!(
                spec.name.starts_with(&format!("{}.", spec.service)),
                "{}",
                spec.name
            );
            assert!(!spec.bindings.is_empty(), "{} has no bindings", spec.name);
        }
    }

    #[test]
    fn every_event_type_has_exactly_one_publisher() {
        use super::super::envelope::EVENT_TYPES;
        for event_type in EVENT_TYPES {
            let owners: Vec<&str> = PUBLISHED
                .iter()
                .filter(|(_, keys)| keys.contains(event_type))
                .map(|(service, _)| *service)
                .collect();
            assert_eq!(owners.len(), 1, "{event_type} is published by {owners:?}");
        }
        let listed: usize = PUBLISHED.iter().map(|(_, keys)| keys.len()).sum();
        assert_eq!(
            listed,
            EVENT_TYPES.len(),
            "a routing key that is not an event type"
        );
    }

    #[test]
    fn every_event_type_has_a_consumer() {
        use super::super::envelope::EVENT_TYPES;
        for event_type in EVENT_TYPES {
            assert!(
                CATALOGUE
                    .iter()
                    .any(|spec| spec.bindings.contains(event_type))
                    || HISTORY_ONLY.contains(event_type),
                "nobody consumes {event_type}"
            );
        }
    }
}
