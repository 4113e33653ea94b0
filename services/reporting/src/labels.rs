//! The members' names in Italian, for the pages, the CSV and the API's `label`.

use std::collections::HashMap;

use combipat_domain::topic::Topic;
use combipat_domain::{province_name, region_name};

use crate::model::dims::{ABROAD, Dim, NATION, member};
use crate::store::offices::Office;

/// The ISTAT region codes of the twenty regions.
pub const REGIONS: [&str; 20] = [
    "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16",
    "17", "18", "19", "20",
];

pub fn region(code: &str) -> String {
    match code {
        ABROAD => "Residenti all'estero".to_owned(),
        NATION => "Italia".to_owned(),
        "" => "Residenza non nota".to_owned(),
        code => region_name(code).map_or_else(|| code.to_owned(), str::to_owned),
    }
}

pub fn province(sigla: &str) -> String {
    match sigla {
        ABROAD => "Estero".to_owned(),
        "" => "Residenza non nota".to_owned(),
        sigla => province_name(sigla)
            .map_or_else(|| sigla.to_owned(), |name| format!("{name} ({sigla})")),
    }
}

pub fn motivo(key: &str) -> &'static str {
    match key {
        "sollecito_pratica" => "Sollecito su pratica presentata",
        "info_pagamenti" => "Informazioni sui pagamenti di una prestazione",
        "richiesta_generica" => "Richiesta generica alla sede",
        _ => "Motivo non indicato",
    }
}

pub const MOTIVI: [&str; 3] = ["sollecito_pratica", "info_pagamenti", "richiesta_generica"];

pub fn topic(code: &str) -> String {
    Topic::ALL
        .into_iter()
        .find(|topic| topic.code() == code)
        .map_or_else(
            || {
                if code.is_empty() {
                    "Argomento non indicato".to_owned()
                } else {
                    code.to_owned()
                }
            },
            |topic| topic.label().to_owned(),
        )
}

pub fn office(code: &str, offices: &HashMap<String, Office>) -> String {
    match offices.get(code) {
        Some(office) => office.name.clone(),
        None if code.is_empty() => "Non ancora assegnata".to_owned(),
        None => code.to_owned(),
    }
}

pub fn patronato(code: &str) -> String {
    if code.is_empty() {
        "Patronato non indicato".to_owned()
    } else {
        code.to_owned()
    }
}

/// The name of a member of `dim` (a key within a region is named by its member).
pub fn label(dim: Dim, key: &str, offices: &HashMap<String, Office>) -> String {
    match dim {
        Dim::Nation => "Italia".to_owned(),
        Dim::Region => region(key),
        Dim::Province => province(key),
        Dim::Office => office(key, offices),
        Dim::Patronato | Dim::RegionPatronato => patronato(member(key)),
        Dim::Motivo | Dim::RegionMotivo => motivo(member(key)).to_owned(),
        Dim::Topic | Dim::RegionTopic => topic(member(key)),
    }
}

/// The Italian name of a dimension, plural, for a table's title.
pub fn dimension_title(dim: Dim) -> &'static str {
    match dim {
        Dim::Nation => "Italia",
        Dim::Region => "Regioni",
        Dim::Province => "Province",
        Dim::Office => "Uffici",
        Dim::Patronato | Dim::RegionPatronato => "Patronati",
        Dim::Motivo | Dim::RegionMotivo => "Motivi",
        Dim::Topic | Dim::RegionTopic => "Argomenti",
    }
}
