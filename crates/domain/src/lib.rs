//! Domain rules that are ours to get exactly right: the codice fiscale, the territory, the
//! topics. Pure code, no I/O beyond reading reference files; property-tested.

pub mod codice_fiscale;
pub mod territory;
pub mod topic;

pub use codice_fiscale::{CodiceFiscale, CodiceFiscaleError};
pub use territory::{
    Comune, ForeignState, Residence, ResidenceError, Territory, TerritoryError, TerritorySettings,
};
pub use topic::Topic;

/// ISTAT region names by code ("01" to "20"); ANPR's archive has only the codes.
pub fn region_name(code: &str) -> Option<&'static str> {
    Some(match code {
        "01" => "Piemonte",
        "02" => "Valle d'Aosta",
        "03" => "Lombardia",
        "04" => "Trentino-Alto Adige",
        "05" => "Veneto",
        "06" => "Friuli-Venezia Giulia",
        "07" => "Liguria",
        "08" => "Emilia-Romagna",
        "09" => "Toscana",
        "10" => "Umbria",
        "11" => "Marche",
        "12" => "Lazio",
        "13" => "Abruzzo",
        "14" => "Molise",
        "15" => "Campania",
        "16" => "Puglia",
        "17" => "Basilicata",
        "18" => "Calabria",
        "19" => "Sicilia",
        "20" => "Sardegna",
        _ => return None,
    })
}
