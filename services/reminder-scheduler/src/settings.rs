use combipat_proto::common::v1::Motivo;
use serde::Deserialize;

pub const DEFAULTS: &str = include_str!("../defaults.toml");

/// This service's own sections; the platform's come with them.
#[derive(Debug, Clone, Deserialize)]
pub struct SchedulerSettings {
    pub ladder: LadderSettings,
}

/// The business days of each step of the escalation ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Ladder {
    pub warning_business_days: u32,
    pub escalation_business_days: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LadderSettings {
    pub warning_business_days: u32,
    pub escalation_business_days: u32,
    pub overrides: Vec<LadderOverride>,
}

/// A ladder of its own for one motivo (as its proto name) and, optionally, one topic.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LadderOverride {
    pub motivo: String,
    #[serde(default)]
    pub topic: String,
    pub warning_business_days: u32,
    pub escalation_business_days: u32,
}

impl LadderSettings {
    /// The ladder for a request of `motivo` and `topic`: the most specific override (motivo
    /// and topic, then motivo alone), else the default.
    pub fn for_request(&self, motivo: i32, topic: &str) -> Ladder {
        let motivo = Motivo::try_from(motivo)
            .map(|motivo| motivo.as_str_name())
            .unwrap_or_default();
        let matching = |with_topic: bool| {
            self.overrides.iter().find(|rule| {
                rule.motivo == motivo
                    && (if with_topic {
                        rule.topic == topic
                    } else {
                        rule.topic.is_empty()
                    })
            })
        };
        matching(true).or_else(|| matching(false)).map_or(
            Ladder {
                warning_business_days: self.warning_business_days,
                escalation_business_days: self.escalation_business_days,
            },
            |rule| Ladder {
                warning_business_days: rule.warning_business_days,
                escalation_business_days: rule.escalation_business_days,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_override_wins() {
        let settings = LadderSettings {
            warning_business_days: 5,
            escalation_business_days: 10,
            overrides: vec![
                LadderOverride {
                    motivo: "MOTIVO_SOLLECITO_PRATICA".into(),
                    topic: String::new(),
                    warning_business_days: 3,
                    escalation_business_days: 6,
                },
                LadderOverride {
                    motivo: "MOTIVO_SOLLECITO_PRATICA".into(),
                    topic: "pensioni".into(),
                    warning_business_days: 2,
                    escalation_business_days: 4,
                },
            ],
        };
        let sollecito = Motivo::SollecitoPratica as i32;
        assert_eq!(
            settings
                .for_request(sollecito, "pensioni")
                .warning_business_days,
            2
        );
        assert_eq!(
            settings
                .for_request(sollecito, "naspi")
                .warning_business_days,
            3
        );
        assert_eq!(
            settings
                .for_request(Motivo::RichiestaGenerica as i32, "pensioni")
                .warning_business_days,
            5
        );
    }
}
