//! Who may read which figures. An `analista` reads the nation and every region; an official
//! (`funzionario` or `responsabile`) whose office is a direzione regionale reads that region
//! (its provinces, the offices in it, the region's topics, motivi and patronati); a patronato
//! `supervisore` reads their patronato (in the nation and in each region) against all
//! patronati; every scope sees the national figure beside its own. Nobody else reads figures.

use combipat_platform::ApiError;
use combipat_platform::auth::{Principal, Role};

use crate::directory::Directory;
use crate::model::dims::{Dim, member};
use crate::query::Target;

/// What a caller may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    Nation,
    Region(String),
    Patronato(String),
}

const DIREZIONE: &str = "direzione_regionale";

pub async fn reach(caller: &Principal, directory: &Directory) -> Result<Reach, ApiError> {
    match caller.role {
        Role::Analista => Ok(Reach::Nation),
        Role::Supervisore => caller
            .patronato
            .clone()
            .filter(|patronato| !patronato.is_empty())
            .map(Reach::Patronato)
            .ok_or_else(|| {
                ApiError::PermissionDenied(
                    "a supervisore's token must name the patronato".to_owned(),
                )
            }),
        Role::Funzionario | Role::Responsabile => {
            let office = caller
                .inps_office
                .as_deref()
                .filter(|office| !office.is_empty())
                .ok_or_else(|| {
                    ApiError::PermissionDenied(
                        "an official's token must name the INPS office (inps_office)".to_owned(),
                    )
                })?;
            match directory.office(office).await? {
                Some(known) if known.kind == DIREZIONE && !known.region_code.is_empty() => {
                    Ok(Reach::Region(known.region_code))
                }
                Some(known) => Err(ApiError::PermissionDenied(format!(
                    "figures are for the direzioni regionali: your office {office} is a {}",
                    known.kind
                ))),
                None => Err(ApiError::PermissionDenied(format!(
                    "your office {office} is not in the office directory"
                ))),
            }
        }
        other => Err(ApiError::PermissionDenied(format!(
            "the role {} does not read reporting's figures",
            other.as_str()
        ))),
    }
}

fn refused(what: &str, reach: &Reach) -> ApiError {
    let yours = match reach {
        Reach::Nation => "the nation".to_owned(),
        Reach::Region(region) => format!("region {region}"),
        Reach::Patronato(patronato) => format!("patronato {patronato}"),
    };
    ApiError::PermissionDenied(format!("{what} is outside what you may read ({yours})"))
}

impl Reach {
    /// Whether the caller may read `target`'s figures; `region_of` tells the region a
    /// province or an office is in.
    pub fn check(
        &self,
        target: &Target,
        region_of: impl Fn(Dim, &str) -> Option<String>,
    ) -> Result<(), ApiError> {
        let allowed = match (self, target.dim) {
            (Self::Nation, _) | (_, Dim::Nation) => true,
            (Self::Region(region), Dim::Region) => target.key == *region,
            (Self::Region(region), Dim::Province | Dim::Office) => {
                region_of(target.dim, &target.key).as_deref() == Some(region.as_str())
            }
            (Self::Region(region), Dim::RegionTopic | Dim::RegionPatronato | Dim::RegionMotivo) => {
                target.key.starts_with(&format!("{region}|"))
            }
            (Self::Patronato(patronato), Dim::Patronato) => target.key == *patronato,
            (Self::Patronato(patronato), Dim::RegionPatronato) => member(&target.key) == patronato,
            _ => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(refused(
                &format!("{:?} {}", target.dim, target.key).to_lowercase(),
                self,
            ))
        }
    }

    /// Whether the caller may read a table of `dim` within `region` or of `patronato`.
    pub fn check_table(
        &self,
        dim: Dim,
        region: Option<&str>,
        patronato: Option<&str>,
    ) -> Result<(), ApiError> {
        let allowed = match self {
            Self::Nation => true,
            Self::Region(own) => region == Some(own.as_str()),
            Self::Patronato(own) => {
                matches!(dim, Dim::Region | Dim::RegionPatronato) && patronato == Some(own.as_str())
            }
        };
        if allowed {
            Ok(())
        } else {
            let what = match (region, patronato) {
                (Some(region), _) => format!("the table of region {region}"),
                (None, Some(patronato)) => format!("the table of patronato {patronato}"),
                (None, None) => "the national table".to_owned(),
            };
            Err(refused(&what, self))
        }
    }

    /// Whether the caller may read the monthly report of `region_code` ("IT": the nation's).
    pub fn check_report(&self, region_code: &str) -> Result<(), ApiError> {
        match self {
            Self::Nation => Ok(()),
            Self::Region(own) if own == region_code => Ok(()),
            _ => Err(refused(&format!("the report of {region_code}"), self)),
        }
    }

    /// The reports the caller may list (None: all).
    pub fn report_scopes(&self) -> Option<Vec<String>> {
        match self {
            Self::Nation => None,
            Self::Region(own) => Some(vec![own.clone()]),
            Self::Patronato(_) => Some(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(dim: Dim, key: &str) -> Target {
        Target {
            dim,
            key: key.to_owned(),
        }
    }

    fn in_basilicata(_dim: Dim, key: &str) -> Option<String> {
        matches!(key, "PZ" | "MT" | "SEDE-PZ").then(|| "17".to_owned())
    }

    #[test]
    fn each_reach_reads_its_own_scope_and_the_nation() {
        let region = Reach::Region("17".into());
        assert!(
            region
                .check(&target(Dim::Region, "17"), in_basilicata)
                .is_ok()
        );
        assert!(
            region
                .check(&target(Dim::Region, "03"), in_basilicata)
                .is_err()
        );
        assert!(
            region
                .check(&target(Dim::Province, "PZ"), in_basilicata)
                .is_ok()
        );
        assert!(
            region
                .check(&target(Dim::Province, "MI"), in_basilicata)
                .is_err()
        );
        assert!(
            region
                .check(&target(Dim::Office, "SEDE-PZ"), in_basilicata)
                .is_ok()
        );
        assert!(
            region
                .check(&target(Dim::RegionTopic, "17|pensioni"), in_basilicata)
                .is_ok()
        );
        assert!(
            region
                .check(&target(Dim::RegionTopic, "03|pensioni"), in_basilicata)
                .is_err()
        );
        assert!(
            region
                .check(&target(Dim::Patronato, "INCA"), in_basilicata)
                .is_err()
        );
        assert!(
            region
                .check(&target(Dim::Nation, "IT"), in_basilicata)
                .is_ok()
        );
        let patronato = Reach::Patronato("INCA".into());
        assert!(
            patronato
                .check(&target(Dim::Patronato, "INCA"), in_basilicata)
                .is_ok()
        );
        assert!(
            patronato
                .check(&target(Dim::Patronato, "ACLI"), in_basilicata)
                .is_err()
        );
        assert!(
            patronato
                .check(&target(Dim::RegionPatronato, "17|INCA"), in_basilicata)
                .is_ok()
        );
        assert!(
            patronato
                .check(&target(Dim::Region, "17"), in_basilicata)
                .is_err()
        );
        assert!(
            patronato
                .check_table(Dim::Region, None, Some("INCA"))
                .is_ok()
        );
        assert!(patronato.check_table(Dim::Region, None, None).is_err());
        assert!(region.check_table(Dim::Office, Some("17"), None).is_ok());
        assert!(region.check_table(Dim::Region, None, None).is_err());
        assert!(region.check_report("17").is_ok() && region.check_report("IT").is_err());
    }
}
