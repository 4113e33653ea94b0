//! What a notice is: its kind, who it is for, and its words (Italian), whatever the channel.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The kinds of notice, named like the events they tell of (`Notification.event_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Routed,
    Unroutable,
    InfoRequested,
    Answered,
    Transferred,
    Closed,
    SollecitoPossible,
    SlaWarning,
    SlaOverdue,
    SlaEscalation,
    EndpointDisabled,
    /// An avviso (or its correction) of priority informativo: mutable like any notice.
    AvvisoInformativo,
    /// An avviso of priority importante: cannot be muted.
    AvvisoImportante,
    /// An avviso the publisher withdrew.
    AvvisoWithdrawn,
}

impl Kind {
    pub const ALL: [Self; 14] = [
        Self::Routed,
        Self::Unroutable,
        Self::InfoRequested,
        Self::Answered,
        Self::Transferred,
        Self::Closed,
        Self::SollecitoPossible,
        Self::SlaWarning,
        Self::SlaOverdue,
        Self::SlaEscalation,
        Self::EndpointDisabled,
        Self::AvvisoInformativo,
        Self::AvvisoImportante,
        Self::AvvisoWithdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Routed => "request.routed",
            Self::Unroutable => "request.unroutable",
            Self::InfoRequested => "request.info_requested",
            Self::Answered => "request.answered",
            Self::Transferred => "request.transferred",
            Self::Closed => "request.closed",
            Self::SollecitoPossible => "reminder.sollecito_possible",
            Self::SlaWarning => "reminder.sla_warning",
            Self::SlaOverdue => "reminder.sla_overdue",
            Self::SlaEscalation => "reminder.sla_escalation",
            Self::EndpointDisabled => "endpoint.disabled",
            Self::AvvisoInformativo => "avviso.informativo",
            Self::AvvisoImportante => "avviso.importante",
            Self::AvvisoWithdrawn => "avviso.withdrawn",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// The patronato must act (the notice says so).
    pub fn action_needed(self) -> bool {
        matches!(self, Self::InfoRequested)
    }

    /// No preference keeps it from the inbox or from e-mail, nor puts it in a digest: what
    /// needs action, and an avviso importante.
    pub fn unmutable(self) -> bool {
        matches!(self, Self::InfoRequested | Self::AvvisoImportante)
    }

    /// Sent by e-mail when the recipient has an address and has not said otherwise: what
    /// asks for attention; the steps of a request's routing stay in the inbox.
    pub fn email_by_default(self) -> bool {
        !matches!(
            self,
            Self::Routed
                | Self::Unroutable
                | Self::Transferred
                | Self::Closed
                | Self::AvvisoInformativo
                | Self::AvvisoWithdrawn
        )
    }
}

/// Who a notice is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// The office of the operator who filed the request (every operator there reads it).
    PatronatoOffice {
        patronato: String,
        office: String,
        operator: String,
    },
    /// A patronato's administrators (its supervisori).
    Patronato(String),
    /// An INPS office's officials (a direzione regionale is one too).
    InpsOffice(String),
    /// An INPS office's responsabile.
    InpsResponsabile(String),
}

impl Audience {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::PatronatoOffice { .. } => "patronato_office",
            Self::Patronato(_) => "patronato",
            Self::InpsOffice(_) => "inps_office",
            Self::InpsResponsabile(_) => "inps_responsabile",
        }
    }

    pub fn code(&self) -> &str {
        match self {
            Self::PatronatoOffice { office, .. } => office,
            Self::Patronato(code) | Self::InpsOffice(code) | Self::InpsResponsabile(code) => code,
        }
    }

    /// Whose office preferences (e-mail address, digest, muted kinds) apply to the notice:
    /// a patronato office's are its patronato's own, so two patronati that use the same office
    /// code never share them ([`crate::preferences::patronato_office_subject`]).
    pub fn preference_subject(&self) -> String {
        match self {
            Self::PatronatoOffice {
                patronato, office, ..
            } => crate::preferences::patronato_office_subject(patronato, office),
            Self::Patronato(code) | Self::InpsOffice(code) | Self::InpsResponsabile(code) => {
                code.clone()
            }
        }
    }

    pub fn patronato(&self) -> Option<&str> {
        match self {
            Self::PatronatoOffice { patronato, .. } | Self::Patronato(patronato) => Some(patronato),
            Self::InpsOffice(_) | Self::InpsResponsabile(_) => None,
        }
    }

    pub fn operator(&self) -> Option<&str> {
        match self {
            Self::PatronatoOffice { operator, .. } => Some(operator),
            _ => None,
        }
    }
}

/// One notice, before it is written to any channel.
#[derive(Debug, Clone)]
pub struct Notice {
    /// The event it tells of (with the audience and channel, its identity).
    pub event_id: Uuid,
    pub kind: Kind,
    pub request_id: Option<Uuid>,
    /// The avviso it tells of (`avviso.*` kinds).
    pub avviso_id: Option<Uuid>,
    pub protocol_number: String,
    pub title: String,
    pub text: String,
    pub occurred_at: DateTime<Utc>,
    pub audience: Audience,
    /// For the patronato's systems: the payload's `data` (None: no webhook).
    pub webhook_data: Option<serde_json::Value>,
}

/// At most `limit` characters of `text`, cut at a character boundary, with an ellipsis.
pub fn excerpt(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Where the patronato reads the request (`base` + id), when both are known.
pub fn request_link(base: &str, request_id: Option<Uuid>) -> Option<String> {
    request_id
        .filter(|_| !base.is_empty())
        .map(|id| format!("{base}{id}"))
}

/// Where the patronato reads what `notice` is about: its request, or its avviso.
pub fn notice_link(notice: &Notice, settings: &crate::settings::EmailSettings) -> Option<String> {
    request_link(&settings.request_url_base, notice.request_id)
        .or_else(|| request_link(&settings.avviso_url_base, notice.avviso_id))
}

/// A time as the Italian reader reads it.
pub fn rome(at: DateTime<Utc>) -> String {
    at.with_timezone(&chrono_tz::Europe::Rome)
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_only_information_requests_need_action() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        let needing: Vec<Kind> = Kind::ALL
            .into_iter()
            .filter(|kind| kind.action_needed())
            .collect();
        assert_eq!(needing, vec![Kind::InfoRequested]);
        let unmutable: Vec<Kind> = Kind::ALL
            .into_iter()
            .filter(|kind| kind.unmutable())
            .collect();
        assert_eq!(unmutable, vec![Kind::InfoRequested, Kind::AvvisoImportante]);
        assert_eq!(Kind::parse("request.submitted"), None);
    }

    #[test]
    fn excerpts_cut_at_characters() {
        assert_eq!(excerpt("perché sì", 6), "perché…");
        assert_eq!(excerpt("breve", 10), "breve");
    }
}
