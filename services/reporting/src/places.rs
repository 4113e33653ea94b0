//! Where a citizen lives, for the figures by region and province: the comune of residence
//! (Belfiore code) to its province and region, from ANPR; a foreign state (Z code) is
//! abroad (`EE`).

use std::collections::HashMap;

use combipat_domain::territory::{Territory, TerritorySettings};

use crate::model::dims::ABROAD;

#[derive(Debug, Clone, Default)]
pub struct Places {
    /// Belfiore code -> (region, province sigla), active comuni only.
    comuni: HashMap<String, (String, String)>,
    /// (region, province) pairs, sorted.
    provinces: Vec<(String, String)>,
}

impl Places {
    pub fn load(settings: &TerritorySettings) -> anyhow::Result<Self> {
        let territory = settings
            .load()
            .map_err(|error| anyhow::anyhow!("territory.*: {error}"))?;
        Ok(Self::from_territory(&territory))
    }

    pub fn from_territory(territory: &Territory) -> Self {
        let comuni: HashMap<String, (String, String)> = territory
            .active_comuni()
            .map(|comune| {
                (
                    comune.belfiore.clone(),
                    (comune.region.clone(), comune.province.clone()),
                )
            })
            .collect();
        let mut provinces: Vec<(String, String)> = comuni.values().cloned().collect();
        provinces.sort();
        provinces.dedup();
        Self { comuni, provinces }
    }

    /// (region, province) of a residence code: `EE` abroad, empty when unknown (a comune
    /// that ceased, or a code ANPR does not have).
    pub fn of(&self, code: &str) -> (String, String) {
        let code = code.trim().to_ascii_uppercase();
        if code.len() == 4 && code.starts_with('Z') {
            return (ABROAD.to_owned(), ABROAD.to_owned());
        }
        self.comuni.get(&code).cloned().unwrap_or_default()
    }

    /// The provinces of each region (for the demo history and the bench).
    pub fn provinces(&self) -> &[(String, String)] {
        &self.provinces
    }

    /// Every active comune: (Belfiore code, region, province), in no particular order.
    pub fn comuni(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.comuni
            .iter()
            .map(|(code, (region, province))| (code.as_str(), region.as_str(), province.as_str()))
    }
}
