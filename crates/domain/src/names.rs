//! Names of regions and provinces. ANPR's archive has only their codes; these are the
//! ISTAT names (regions by ISTAT code, provinces by sigla, as of 2023).

/// The ISTAT codes of the twenty regions, in order.
pub const REGION_CODES: [&str; 20] = [
    "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16",
    "17", "18", "19", "20",
];

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

/// Province (or metropolitan city, or free consortium) names by sigla.
pub fn province_name(sigla: &str) -> Option<&'static str> {
    Some(match sigla {
        "AG" => "Agrigento",
        "AL" => "Alessandria",
        "AN" => "Ancona",
        "AO" => "Aosta",
        "AP" => "Ascoli Piceno",
        "AQ" => "L'Aquila",
        "AR" => "Arezzo",
        "AT" => "Asti",
        "AV" => "Avellino",
        "BA" => "Bari",
        "BG" => "Bergamo",
        "BI" => "Biella",
        "BL" => "Belluno",
        "BN" => "Benevento",
        "BO" => "Bologna",
        "BR" => "Brindisi",
        "BS" => "Brescia",
        "BT" => "Barletta-Andria-Trani",
        "BZ" => "Bolzano",
        "CA" => "Cagliari",
        "CB" => "Campobasso",
        "CE" => "Caserta",
        "CH" => "Chieti",
        "CL" => "Caltanissetta",
        "CN" => "Cuneo",
        "CO" => "Como",
        "CR" => "Cremona",
        "CS" => "Cosenza",
        "CT" => "Catania",
        "CZ" => "Catanzaro",
        "EN" => "Enna",
        "FC" => "Forlì-Cesena",
        "FE" => "Ferrara",
        "FG" => "Foggia",
        "FI" => "Firenze",
        "FM" => "Fermo",
        "FR" => "Frosinone",
        "GE" => "Genova",
        "GO" => "Gorizia",
        "GR" => "Grosseto",
        "IM" => "Imperia",
        "IS" => "Isernia",
        "KR" => "Crotone",
        "LC" => "Lecco",
        "LE" => "Lecce",
        "LI" => "Livorno",
        "LO" => "Lodi",
        "LT" => "Latina",
        "LU" => "Lucca",
        "MB" => "Monza e della Brianza",
        "MC" => "Macerata",
        "ME" => "Messina",
        "MI" => "Milano",
        "MN" => "Mantova",
        "MO" => "Modena",
        "MS" => "Massa-Carrara",
        "MT" => "Matera",
        "NA" => "Napoli",
        "NO" => "Novara",
        "NU" => "Nuoro",
        "OR" => "Oristano",
        "PA" => "Palermo",
        "PC" => "Piacenza",
        "PD" => "Padova",
        "PE" => "Pescara",
        "PG" => "Perugia",
        "PI" => "Pisa",
        "PN" => "Pordenone",
        "PO" => "Prato",
        "PR" => "Parma",
        "PT" => "Pistoia",
        "PU" => "Pesaro e Urbino",
        "PV" => "Pavia",
        "PZ" => "Potenza",
        "RA" => "Ravenna",
        "RC" => "Reggio Calabria",
        "RE" => "Reggio Emilia",
        "RG" => "Ragusa",
        "RI" => "Rieti",
        "RM" => "Roma",
        "RN" => "Rimini",
        "RO" => "Rovigo",
        "SA" => "Salerno",
        "SI" => "Siena",
        "SO" => "Sondrio",
        "SP" => "La Spezia",
        "SR" => "Siracusa",
        "SS" => "Sassari",
        "SU" => "Sud Sardegna",
        "SV" => "Savona",
        "TA" => "Taranto",
        "TE" => "Teramo",
        "TN" => "Trento",
        "TO" => "Torino",
        "TP" => "Trapani",
        "TR" => "Terni",
        "TS" => "Trieste",
        "TV" => "Treviso",
        "UD" => "Udine",
        "VA" => "Varese",
        "VB" => "Verbano-Cusio-Ossola",
        "VC" => "Vercelli",
        "VE" => "Venezia",
        "VI" => "Vicenza",
        "VR" => "Verona",
        "VT" => "Viterbo",
        "VV" => "Vibo Valentia",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Territory;

    #[test]
    fn every_active_province_and_region_has_a_name() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
        let territory = Territory::load_dir(&dir).unwrap();
        for comune in territory.active_comuni() {
            assert!(
                province_name(&comune.province).is_some(),
                "{}",
                comune.province
            );
            assert!(region_name(&comune.region).is_some(), "{}", comune.region);
        }
    }
}
