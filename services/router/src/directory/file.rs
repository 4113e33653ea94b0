//! The directory file as operations teams write it (YAML). See `directory/demo.yaml`.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryFile {
    /// Names this ruleset; a new content needs a new version.
    pub version: String,
    pub offices: Vec<OfficeEntry>,
    #[serde(default)]
    pub poli: Vec<PoloEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfficeKind {
    DirezioneRegionale,
    SedeProvinciale,
    Agenzia,
    Polo,
}

impl OfficeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DirezioneRegionale => "direzione_regionale",
            Self::SedeProvinciale => "sede_provinciale",
            Self::Agenzia => "agenzia",
            Self::Polo => "polo",
        }
    }
}

/// One INPS structure. Its competence area depends on its kind: a region for a direzione
/// regionale, provinces for a sede, comuni (Belfiore codes) for an agenzia; a polo's area is
/// given by its rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficeEntry {
    pub code: String,
    pub kind: OfficeKind,
    pub name: String,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub provinces: Vec<String>,
    #[serde(default)]
    pub comuni: Vec<String>,
    /// The patron saint's day of the comune where the office sits, `MM-DD`: the office is
    /// closed then, and business-day deadlines skip it.
    #[serde(default)]
    pub patron_day: Option<String>,
}

/// A polo rule: an office takes some topics (all when absent), optionally only some motivi,
/// for one area: listed foreign states, listed regions, the whole country, or residence abroad.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoloEntry {
    pub id: String,
    pub office: String,
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default)]
    pub motivi: Vec<String>,
    #[serde(default)]
    pub foreign_states: Vec<String>,
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub national: bool,
    #[serde(default)]
    pub abroad: bool,
}

/// Parses the YAML; the error names the line and the field.
pub fn parse(yaml: &str) -> Result<DirectoryFile, String> {
    serde_yaml_ng::from_str(yaml).map_err(|error| error.to_string())
}
