//! Who publishes avvisi, and where.
//!
//! A token says which structure its holder works for by `inps_office`; router's office
//! directory says what that office is. So:
//!
//! - `admin`: the central structures; publishes to the nation, any region, any provinces;
//! - `responsabile` of a `direzione_regionale` (e.g. DR-LOMBARDIA, region 03): its region, or
//!   some of its provinces;
//! - `responsabile` of a `sede_provinciale` (e.g. SEDE-MI, province MI): its province;
//! - nobody else (officials, an agenzia's or a polo's responsabile, the patronati, analysts,
//!   services).
//!
//! Who corrects, withdraws and reads the counts: the publishing office's responsabile (or its
//! officials, for the counts), or an admin.

use std::collections::HashMap;

use combipat_platform::ApiError;
use combipat_platform::auth::{Principal, Role};

use super::directory::{DIREZIONE_REGIONALE, Directory, SEDE_PROVINCIALE};
use super::model::Territory;

/// The office code the central structures publish under.
pub const CENTRAL_OFFICE: &str = "INPS";
const CENTRAL_NAME: &str = "INPS - Direzione generale";

/// The territory a publisher governs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    Nation,
    Region(String),
    Province { province: String, region: String },
}

/// Who publishes: the structure and its reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publisher {
    pub office: String,
    pub name: String,
    pub reach: Reach,
}

/// The structure `caller` publishes for; PERMISSION_DENIED for anyone who publishes nothing.
pub async fn publisher(caller: &Principal, directory: &Directory) -> Result<Publisher, ApiError> {
    match caller.role {
        Role::Admin => Ok(Publisher {
            office: CENTRAL_OFFICE.to_owned(),
            name: CENTRAL_NAME.to_owned(),
            reach: Reach::Nation,
        }),
        Role::Responsabile => {
            let code = caller
                .inps_office
                .as_deref()
                .filter(|code| !code.is_empty())
                .ok_or_else(|| {
                    ApiError::PermissionDenied(
                        "a responsabile's token must name the INPS office (inps_office)".to_owned(),
                    )
                })?;
            let office = directory.office(code).await?.ok_or_else(|| {
                ApiError::PermissionDenied(format!(
                    "your office {code} is not in the office directory"
                ))
            })?;
            let reach = match office.kind.as_str() {
                DIREZIONE_REGIONALE if !office.region_code.is_empty() => {
                    Reach::Region(office.region_code.clone())
                }
                SEDE_PROVINCIALE if !office.province_code.is_empty() => Reach::Province {
                    province: office.province_code.clone(),
                    region: office.region_code.clone(),
                },
                kind => {
                    return Err(ApiError::PermissionDenied(format!(
                        "avvisi are published by the direzioni regionali and the sedi provinciali: your office {code} is a {kind}"
                    )));
                }
            };
            Ok(Publisher {
                office: office.code,
                name: office.name,
                reach,
            })
        }
        Role::Funzionario => Err(ApiError::PermissionDenied(
            "an office's responsabile publishes its avvisi, not its funzionari".to_owned(),
        )),
        other => Err(ApiError::PermissionDenied(format!(
            "the role {} does not publish avvisi",
            other.as_str()
        ))),
    }
}

/// Whether `reach` covers `territory`; `regions` gives each province's region.
pub fn covers(
    reach: &Reach,
    territory: &Territory,
    regions: &HashMap<String, String>,
) -> Result<(), ApiError> {
    let outside = |what: String, yours: String| {
        Err(ApiError::PermissionDenied(format!(
            "{what} is outside what you publish to ({yours})"
        )))
    };
    match (reach, territory) {
        (Reach::Nation, _) => Ok(()),
        (Reach::Region(own), Territory::Region(region)) if region == own => Ok(()),
        (Reach::Region(own), Territory::Provinces(provinces)) => {
            match provinces
                .iter()
                .find(|province| regions.get(*province) != Some(own))
            {
                None => Ok(()),
                Some(province) => outside(format!("province {province}"), format!("region {own}")),
            }
        }
        (Reach::Region(own), other) => outside(describe(other), format!("region {own}")),
        (Reach::Province { province: own, .. }, Territory::Provinces(provinces))
            if provinces.iter().all(|province| province == own) =>
        {
            Ok(())
        }
        (Reach::Province { province: own, .. }, other) => {
            outside(describe(other), format!("province {own}"))
        }
    }
}

fn describe(territory: &Territory) -> String {
    match territory {
        Territory::Nation => "the whole country".to_owned(),
        Territory::Region(region) => format!("region {region}"),
        Territory::Provinces(provinces) => format!("provinces {}", provinces.join(", ")),
    }
}

/// Whether `caller` manages avvisi of `publisher_office` (corrects and withdraws them).
pub fn manages(caller: &Principal, publisher_office: &str) -> bool {
    match caller.role {
        Role::Admin => true,
        Role::Responsabile => caller.inps_office.as_deref() == Some(publisher_office),
        _ => false,
    }
}

/// Whether `caller` reads the read counts of avvisi of `publisher_office`.
pub fn reads_counts(caller: &Principal, publisher_office: &str) -> bool {
    match caller.role {
        Role::Admin => true,
        Role::Responsabile | Role::Funzionario => {
            caller.inps_office.as_deref() == Some(publisher_office)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reach_covers_its_own_territory_only() {
        let regions: HashMap<String, String> = [("MI", "03"), ("BG", "03"), ("TO", "01")]
            .into_iter()
            .map(|(province, region)| (province.to_owned(), region.to_owned()))
            .collect();
        let lombardia = Reach::Region("03".into());
        let milano = Reach::Province {
            province: "MI".into(),
            region: "03".into(),
        };
        let provinces = |list: &[&str]| {
            Territory::Provinces(list.iter().map(|sigla| (*sigla).to_owned()).collect())
        };
        let allowed = [
            (&Reach::Nation, Territory::Nation),
            (&Reach::Nation, provinces(&["TO"])),
            (&lombardia, Territory::Region("03".into())),
            (&lombardia, provinces(&["MI", "BG"])),
            (&milano, provinces(&["MI"])),
        ];
        for (reach, territory) in &allowed {
            assert!(
                covers(reach, territory, &regions).is_ok(),
                "{reach:?} {territory:?}"
            );
        }
        let refused = [
            (&lombardia, Territory::Nation),
            (&lombardia, Territory::Region("01".into())),
            (&lombardia, provinces(&["MI", "TO"])),
            (&milano, Territory::Region("03".into())),
            (&milano, provinces(&["MI", "BG"])),
            (&milano, Territory::Nation),
        ];
        for (reach, territory) in &refused {
            assert!(
                matches!(
                    covers(reach, territory, &regions),
                    Err(ApiError::PermissionDenied(_))
                ),
                "{reach:?} {territory:?}"
            );
        }
    }
}
