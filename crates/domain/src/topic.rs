//! Topics (prestazioni) a request can be about: the routing keys for competence.

use std::fmt;
use std::str::FromStr;

/// A topic code as it travels in requests and events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    Pensioni,
    Ricostituzioni,
    NaspiDisColl,
    InvaliditaCivile,
    AssegnoUnico,
    AdiSfl,
    MaternitaCongedi,
    Malattia,
    EstrattoContoRiscatti,
    TfsTfrPubblici,
    ConvenzioniInternazionali,
    BonusAsiloNido,
}

impl Topic {
    pub const ALL: [Topic; 12] = [
        Topic::Pensioni,
        Topic::Ricostituzioni,
        Topic::NaspiDisColl,
        Topic::InvaliditaCivile,
        Topic::AssegnoUnico,
        Topic::AdiSfl,
        Topic::MaternitaCongedi,
        Topic::Malattia,
        Topic::EstrattoContoRiscatti,
        Topic::TfsTfrPubblici,
        Topic::ConvenzioniInternazionali,
        Topic::BonusAsiloNido,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Topic::Pensioni => "pensioni",
            Topic::Ricostituzioni => "ricostituzioni",
            Topic::NaspiDisColl => "naspi_dis_coll",
            Topic::InvaliditaCivile => "invalidita_civile",
            Topic::AssegnoUnico => "assegno_unico",
            Topic::AdiSfl => "adi_sfl",
            Topic::MaternitaCongedi => "maternita_congedi",
            Topic::Malattia => "malattia",
            Topic::EstrattoContoRiscatti => "estratto_conto_riscatti",
            Topic::TfsTfrPubblici => "tfs_tfr_pubblici",
            Topic::ConvenzioniInternazionali => "convenzioni_internazionali",
            Topic::BonusAsiloNido => "bonus_asilo_nido",
        }
    }

    /// Italian label for pages and reports.
    pub fn label(self) -> &'static str {
        match self {
            Topic::Pensioni => "Pensioni",
            Topic::Ricostituzioni => "Ricostituzioni",
            Topic::NaspiDisColl => "NASpI / DIS-COLL",
            Topic::InvaliditaCivile => "Invalidità civile",
            Topic::AssegnoUnico => "Assegno unico",
            Topic::AdiSfl => "ADI / SFL",
            Topic::MaternitaCongedi => "Maternità e congedi",
            Topic::Malattia => "Malattia",
            Topic::EstrattoContoRiscatti => "Estratto conto, riscatti e ricongiunzioni",
            Topic::TfsTfrPubblici => "TFS / TFR pubblici",
            Topic::ConvenzioniInternazionali => "Convenzioni internazionali",
            Topic::BonusAsiloNido => "Bonus asilo nido",
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.code())
    }
}

impl FromStr for Topic {
    type Err = String;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Topic::ALL
            .into_iter()
            .find(|topic| topic.code() == code)
            .ok_or_else(|| {
                let known: Vec<_> = Topic::ALL.iter().map(|topic| topic.code()).collect();
                format!(
                    "unknown topic `{code}`; expected one of {}",
                    known.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_parses_back_to_its_topic() {
        for topic in Topic::ALL {
            assert_eq!(topic.code().parse::<Topic>(), Ok(topic));
        }
        assert!(
            "pensione"
                .parse::<Topic>()
                .unwrap_err()
                .contains("pensioni")
        );
    }
}
