//! The in-memory routing index and the decision rule.
//!
//! Precedence, first match wins: a polo for the topic (and motivo) and the citizen's area,
//! then the agenzia covering the comune, then the sede of the province, then the direzione
//! regionale. Among poli, a narrower area wins (listed states, then listed regions, then the
//! whole country or all residents abroad), then a rule for named topics over one for all
//! topics, then one for named motivi over one for all; validation refuses two poli that tie
//! on all three and overlap.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use combipat_domain::{Residence, ResidenceError, Territory, province_name, region_name};

use super::OfficeKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Office {
    pub code: String,
    pub name: String,
    pub kind: OfficeKind,
    pub parent: Option<String>,
    /// ISTAT region code; empty for a national polo.
    pub region: String,
    /// Sigla of the province for a sede or an agenzia.
    pub province: Option<String>,
    /// `MM-DD`, the patron saint's day that closes the office.
    pub patron_day: Option<String>,
    /// The direzione regionale of the office's region (none for a direzione itself or a
    /// national polo).
    pub direzione: Option<String>,
}

/// Where a polo applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Area {
    ForeignStates(HashSet<String>),
    Regions(HashSet<String>),
    National,
    Abroad,
}

impl Area {
    /// Lower is narrower, and wins.
    pub fn rank(&self) -> u8 {
        match self {
            Self::ForeignStates(_) => 0,
            Self::Regions(_) => 1,
            Self::National | Self::Abroad => 2,
        }
    }

    pub fn covers(&self, place: &Place) -> bool {
        match (self, place) {
            (Self::ForeignStates(states), Place::Abroad { state, .. }) => states.contains(state),
            (Self::Regions(regions), Place::Comune { region, .. }) => regions.contains(region),
            (Self::National, Place::Comune { .. }) | (Self::Abroad, Place::Abroad { .. }) => true,
            _ => false,
        }
    }

    /// Whether some place is covered by both areas.
    pub fn overlaps(&self, other: &Area) -> bool {
        match (self, other) {
            (Self::ForeignStates(a), Self::ForeignStates(b))
            | (Self::Regions(a), Self::Regions(b)) => !a.is_disjoint(b),
            (Self::National, Self::National | Self::Regions(_))
            | (Self::Regions(_), Self::National)
            | (Self::Abroad, Self::Abroad | Self::ForeignStates(_))
            | (Self::ForeignStates(_), Self::Abroad) => true,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoloRule {
    pub id: String,
    pub office: String,
    /// None: every topic.
    pub topics: Option<HashSet<String>>,
    /// None: every motivo (proto enum values).
    pub motivi: Option<HashSet<i32>>,
    pub area: Area,
}

impl PoloRule {
    pub fn precedence(&self) -> (u8, bool, bool) {
        (
            self.area.rank(),
            self.topics.is_none(),
            self.motivi.is_none(),
        )
    }

    pub fn matches(&self, place: &Place, topic: &str, motivo: i32) -> bool {
        self.area.covers(place)
            && self
                .topics
                .as_ref()
                .is_none_or(|topics| topics.contains(topic))
            && self
                .motivi
                .as_ref()
                .is_none_or(|motivi| motivi.contains(&motivo))
    }
}

/// The citizen's residence as routing sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Comune {
        belfiore: String,
        name: String,
        province: String,
        region: String,
    },
    Abroad {
        state: String,
        name: String,
    },
}

impl Place {
    pub fn describe(&self) -> String {
        match self {
            Place::Comune {
                belfiore,
                name,
                province,
                region,
            } => format!(
                "resident in {name} ({belfiore}, province of {} ({province}), {})",
                province_name(province).unwrap_or(province),
                region_name(region).unwrap_or(region)
            ),
            Place::Abroad { state, name } => format!("resident abroad in {name} ({state})"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub office: Office,
    /// Machine-readable: `polo:<id>`, `agenzia:<code>`, `province:<sigla>`, `region:<code>`.
    pub rule: String,
    /// For people: why this office.
    pub explanation: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unroutable {
    #[error("{0}")]
    Residence(#[from] ResidenceError),
    /// No rule covers the request: it goes to the fallback queue of its region.
    #[error("{reason}")]
    NoRule {
        fallback_office: String,
        reason: String,
    },
}

/// One activated ruleset, ready to decide without any I/O.
#[derive(Debug)]
pub struct RoutingIndex {
    pub version: String,
    pub offices: BTreeMap<String, Office>,
    pub poli: Vec<PoloRule>,
    pub agenzia_by_comune: HashMap<String, String>,
    pub sede_by_province: HashMap<String, String>,
    pub direzione_by_region: HashMap<String, String>,
    pub territory: Arc<Territory>,
}

impl RoutingIndex {
    pub fn office(&self, code: &str) -> Option<&Office> {
        self.offices.get(code)
    }

    pub fn place(&self, comune_residenza: &str) -> Result<Place, ResidenceError> {
        Ok(match self.territory.residence(comune_residenza)? {
            Residence::Comune(comune) => Place::Comune {
                belfiore: comune.belfiore.clone(),
                name: comune.name.clone(),
                province: comune.province.clone(),
                region: comune.region.clone(),
            },
            Residence::Abroad(state) => Place::Abroad {
                state: state.code.clone(),
                name: state.name.clone(),
            },
        })
    }

    pub fn decide(
        &self,
        comune_residenza: &str,
        topic: &str,
        motivo: i32,
    ) -> Result<Decision, Unroutable> {
        let place = self.place(comune_residenza)?;
        let decided = |code: &str, rule: String, why: String| {
            self.offices.get(code).map(|office| Decision {
                office: office.clone(),
                rule,
                explanation: format!("{}, topic {topic}: {why}", place.describe()),
            })
        };
        // `poli` is sorted by precedence, so the first match is the one that wins.
        if let Some(polo) = self
            .poli
            .iter()
            .find(|polo| polo.matches(&place, topic, motivo))
            && let Some(decision) = decided(
                &polo.office,
                format!("polo:{}", polo.id),
                format!("the polo `{}` takes this topic for this area", polo.id),
            )
        {
            return Ok(decision);
        }
        if let Place::Comune {
            belfiore,
            province,
            region,
            ..
        } = &place
        {
            let territorial = self
                .agenzia_by_comune
                .get(belfiore)
                .and_then(|code| {
                    decided(
                        code,
                        format!("agenzia:{code}"),
                        "no polo applies; the agenzia covering the comune".to_owned(),
                    )
                })
                .or_else(|| {
                    self.sede_by_province.get(province).and_then(|code| {
                        decided(
                            code,
                            format!("province:{province}"),
                            "no polo or agenzia applies; the sede of the province".to_owned(),
                        )
                    })
                })
                .or_else(|| {
                    self.direzione_by_region.get(region).and_then(|code| {
                        decided(
                            code,
                            format!("region:{region}"),
                            "no polo, agenzia or sede applies; the direzione regionale".to_owned(),
                        )
                    })
                });
            if let Some(decision) = territorial {
                return Ok(decision);
            }
        }
        let fallback_office = match &place {
            Place::Comune { region, .. } => format!("FALLBACK-{region}"),
            Place::Abroad { .. } => "FALLBACK-ESTERO".to_owned(),
        };
        Err(Unroutable::NoRule {
            reason: format!(
                "no rule of ruleset {} covers a request {} about {topic}",
                self.version,
                place.describe()
            ),
            fallback_office,
        })
    }
}

impl Office {
    /// The reference events and other services carry.
    pub fn to_ref(&self) -> combipat_proto::common::v1::OfficeRef {
        combipat_proto::common::v1::OfficeRef {
            code: self.code.clone(),
            name: self.name.clone(),
            kind: self.kind.as_str().to_owned(),
            region_code: self.region.clone(),
            province_code: self.province.clone().unwrap_or_default(),
            patron_day: self.patron_day.clone().unwrap_or_default(),
            parent_code: self.direzione.clone().unwrap_or_default(),
        }
    }
}

/// The fallback queue of a region (or of residents abroad, or of unknown residences).
pub fn fallback_office(code: &str) -> combipat_proto::common::v1::OfficeRef {
    let region = code.strip_prefix("FALLBACK-").unwrap_or_default();
    let area = region_name(region).unwrap_or(match region {
        "ESTERO" => "residenti all'estero",
        _ => "residenza non riconosciuta",
    });
    combipat_proto::common::v1::OfficeRef {
        code: code.to_owned(),
        name: format!("Coda di ricaduta: {area}"),
        kind: "fallback".to_owned(),
        region_code: if region_name(region).is_some() {
            region.to_owned()
        } else {
            String::new()
        },
        ..combipat_proto::common::v1::OfficeRef::default()
    }
}
