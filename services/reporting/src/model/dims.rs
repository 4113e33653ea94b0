//! The dimensions figures are cut by, and the keys of their members. A cell is one member of
//! one dimension on one Italian day; the three "within a region" dimensions let a region's
//! page show its own topics, motivi and patronati without a cross-tabulation of everything.

/// The key of the nation's one cell.
pub const NATION: &str = "IT";
/// Region and province key of residents abroad (the usual sigla for foreign countries).
pub const ABROAD: &str = "EE";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    Nation,
    Region,
    Province,
    Office,
    Patronato,
    Motivo,
    Topic,
    RegionTopic,
    RegionPatronato,
    RegionMotivo,
}

impl Dim {
    pub const ALL: [Self; 10] = [
        Self::Nation,
        Self::Region,
        Self::Province,
        Self::Office,
        Self::Patronato,
        Self::Motivo,
        Self::Topic,
        Self::RegionTopic,
        Self::RegionPatronato,
        Self::RegionMotivo,
    ];

    /// The code stored in `cells.dim`.
    pub fn code(self) -> i16 {
        match self {
            Self::Nation => 0,
            Self::Region => 1,
            Self::Province => 2,
            Self::Office => 3,
            Self::Patronato => 4,
            Self::Motivo => 5,
            Self::Topic => 6,
            Self::RegionTopic => 7,
            Self::RegionPatronato => 8,
            Self::RegionMotivo => 9,
        }
    }

    pub fn from_code(code: i16) -> Option<Self> {
        Self::ALL.into_iter().find(|dim| dim.code() == code)
    }

    /// Cells where a few requests could single out an official or an operator: an office's
    /// and a patronato's (in the nation or within a region).
    pub fn is_small_cell_level(self) -> bool {
        matches!(self, Self::Office | Self::Patronato | Self::RegionPatronato)
    }

    /// The dimension of a member `key` within `region` (`Topic` within a region is
    /// `RegionTopic`), or None when the dimension cannot be cut by region.
    pub fn within_region(self) -> Option<Self> {
        match self {
            Self::Topic => Some(Self::RegionTopic),
            Self::Patronato => Some(Self::RegionPatronato),
            Self::Motivo => Some(Self::RegionMotivo),
            _ => None,
        }
    }
}

/// The key of `key` within `region`.
pub fn within(region: &str, key: &str) -> String {
    format!("{region}|{key}")
}

/// The member's own key of a key within a region (`17|pensioni` -> `pensioni`).
pub fn member(key: &str) -> &str {
    key.split_once('|').map_or(key, |(_, member)| member)
}

/// The motivo's key (the enum value's name without its prefix, in lower case).
pub fn motivo_key(motivo: i32) -> &'static str {
    use combipat_proto::common::v1::Motivo;
    match Motivo::try_from(motivo) {
        Ok(Motivo::SollecitoPratica) => "sollecito_pratica",
        Ok(Motivo::InfoPagamenti) => "info_pagamenti",
        Ok(Motivo::RichiestaGenerica) => "richiesta_generica",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_read_back() {
        for dim in Dim::ALL {
            assert_eq!(Dim::from_code(dim.code()), Some(dim));
        }
        assert_eq!(Dim::from_code(42), None);
        assert_eq!(member(&within("17", "pensioni")), "pensioni");
        assert_eq!(member("pensioni"), "pensioni");
    }
}
