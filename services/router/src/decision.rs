//! The routing rule, as a pure function of the territory and the request.
//!
//! The first rule of the walking skeleton: the sede of the province of the citizen's comune.
//! The office directory and the Poli (issue "Router: territorial competence") come next.

use combipat_domain::{Residence, ResidenceError, Territory};
use combipat_proto::common::v1::OfficeRef;

pub const RULESET_VERSION: &str = "builtin-1";

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub office: OfficeRef,
    pub rule: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unroutable {
    #[error("residence abroad ({state}): no polo for residents abroad is configured yet")]
    Abroad { state: String },
    #[error("{0}")]
    Residence(#[from] ResidenceError),
}

pub fn decide(territory: &Territory, comune_residenza: &str) -> Result<Decision, Unroutable> {
    match territory.residence(comune_residenza)? {
        Residence::Comune(comune) => Ok(Decision {
            office: OfficeRef {
                code: format!("SEDE-{}", comune.province),
                name: format!("INPS Sede provinciale ({})", comune.province),
                kind: "sede_provinciale".to_owned(),
                region_code: comune.region.clone(),
                province_code: comune.province.clone(),
            },
            rule: format!("province:{}", comune.province),
        }),
        Residence::Abroad(state) => Err(Unroutable::Abroad {
            state: state.name.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn territory() -> Territory {
        Territory::load_dir(&combipat_testkit::shared_data_dir()).unwrap()
    }

    #[test]
    fn every_active_comune_routes_to_the_sede_of_its_province() {
        let territory = territory();
        for comune in territory.active_comuni() {
            let decision = decide(&territory, &comune.belfiore).unwrap();
            assert_eq!(decision.office.code, format!("SEDE-{}", comune.province));
            assert_eq!(decision.office.region_code, comune.region);
        }
    }

    #[test]
    fn ceased_and_foreign_residences_are_unroutable_for_now() {
        let territory = territory();
        assert!(matches!(
            decide(&territory, "A003"),
            Err(Unroutable::Residence(ResidenceError::Ceased { .. }))
        ));
        assert!(matches!(
            decide(&territory, "Z133"),
            Err(Unroutable::Abroad { .. })
        ));
    }
}
