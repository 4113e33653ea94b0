//! Italian territory from ANPR: comuni (with their history) and foreign states.
//!
//! Source: ANPR - Ministero dell'Interno, CC BY 4.0. The files are read from configured
//! paths at run time, never copied into the repository.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;

/// A comune as ANPR records it over one period of validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comune {
    /// Codice catastale (Belfiore), as in the codice fiscale, e.g. F205.
    pub belfiore: String,
    pub istat: String,
    pub name: String,
    /// Sigla of the province, e.g. MI.
    pub province: String,
    pub province_istat: String,
    /// ISTAT region code, "01" to "20".
    pub region: String,
    pub valid_from: NaiveDate,
    /// None while the comune exists.
    pub ceased_on: Option<NaiveDate>,
}

impl Comune {
    pub fn is_active(&self) -> bool {
        self.ceased_on.is_none()
    }
}

/// A foreign state or territory (Z code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignState {
    pub code: String,
    pub name: String,
    pub iso3: String,
    /// ANPR says a person may reside there.
    pub residence_allowed: bool,
}

/// Where a citizen lives, once the code is known to be valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Residence<'a> {
    Comune(&'a Comune),
    Abroad(&'a ForeignState),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResidenceError {
    #[error(
        "must be a Belfiore code (a letter and 3 digits, e.g. F205) or a foreign state's Z code"
    )]
    Malformed,
    #[error("`{0}` is not a comune or foreign state known to ANPR")]
    Unknown(String),
    #[error("the comune {name} ({code}) ceased on {ceased_on}; use the comune that replaced it")]
    Ceased {
        code: String,
        name: String,
        ceased_on: NaiveDate,
    },
    #[error("{name} ({code}) cannot be a place of residence")]
    NoResidence { code: String, name: String },
}

#[derive(Debug, thiserror::Error)]
pub enum TerritoryError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{file}: {source}")]
    Csv {
        file: &'static str,
        source: csv::Error,
    },
    #[error("{file}: record {record}: bad date `{value}`")]
    Date {
        file: &'static str,
        record: u64,
        value: String,
    },
    #[error("{file}: no active record at all; is this the right file?")]
    Empty { file: &'static str },
}

/// Comuni by Belfiore code (all periods) and foreign states by Z code.
#[derive(Debug, Clone, Default)]
pub struct Territory {
    comuni: HashMap<String, Vec<Comune>>,
    states: HashMap<String, ForeignState>,
}

#[derive(Deserialize)]
struct ComuneRecord {
    #[serde(rename = "DATAISTITUZIONE")]
    established: String,
    #[serde(rename = "DATACESSAZIONE")]
    ceased: String,
    #[serde(rename = "CODISTAT")]
    istat: String,
    #[serde(rename = "CODCATASTALE")]
    belfiore: String,
    #[serde(rename = "DENOMINAZIONE_IT")]
    name: String,
    #[serde(rename = "IDPROVINCIAISTAT")]
    province_istat: String,
    #[serde(rename = "IDREGIONE")]
    region: String,
    #[serde(rename = "STATO")]
    state: String,
    #[serde(rename = "SIGLAPROVINCIA")]
    province: String,
}

#[derive(Deserialize)]
struct StateRecord {
    #[serde(rename = "DENOMINAZIONE")]
    name: String,
    #[serde(rename = "DATAFINEVALIDITA")]
    valid_until: String,
    #[serde(rename = "CODISO3166_1_ALPHA3")]
    iso3: String,
    #[serde(rename = "CODAT")]
    code: String,
    #[serde(rename = "RESIDENZA")]
    residence: String,
}

const COMUNI_FILE: &str = "comuni";
const STATES_FILE: &str = "stati esteri";

impl Territory {
    /// Reads `ANPR_archivio_comuni.csv` and `ANPR_stati_esteri.csv` (their ANPR formats).
    pub fn load(comuni: &Path, states: &Path) -> Result<Self, TerritoryError> {
        let open = |path: &Path| {
            std::fs::File::open(path).map_err(|source| TerritoryError::Io {
                path: path.display().to_string(),
                source,
            })
        };
        Self::from_readers(open(comuni)?, open(states)?)
    }

    /// Reads both files from one folder, under the names ANPR publishes them with.
    pub fn load_dir(dir: &Path) -> Result<Self, TerritoryError> {
        Self::load(
            &dir.join("ANPR_archivio_comuni.csv"),
            &dir.join("ANPR_stati_esteri.csv"),
        )
    }

    pub fn from_readers(comuni: impl Read, states: impl Read) -> Result<Self, TerritoryError> {
        let mut territory = Self::default();
        let comuni = without_bom(comuni, COMUNI_FILE)?;
        let mut reader = csv::Reader::from_reader(comuni.as_slice());
        for (index, record) in reader.deserialize::<ComuneRecord>().enumerate() {
            let record = record.map_err(|source| TerritoryError::Csv {
                file: COMUNI_FILE,
                source,
            })?;
            let line = index as u64 + 2;
            let valid_from = parse_iso(&record.established, line)?;
            let ceased_on = if record.state == "A" {
                None
            } else {
                Some(parse_iso(&record.ceased, line)?)
            };
            territory
                .comuni
                .entry(record.belfiore.clone())
                .or_default()
                .push(Comune {
                    belfiore: record.belfiore,
                    istat: record.istat,
                    name: record.name,
                    province: record.province,
                    province_istat: record.province_istat,
                    region: record.region,
                    valid_from,
                    ceased_on,
                });
        }
        if territory.active_comuni().next().is_none() {
            return Err(TerritoryError::Empty { file: COMUNI_FILE });
        }

        let states = without_bom(states, STATES_FILE)?;
        let mut reader = csv::Reader::from_reader(states.as_slice());
        for record in reader.deserialize::<StateRecord>() {
            let record = record.map_err(|source| TerritoryError::Csv {
                file: STATES_FILE,
                source,
            })?;
            // Some territories (and Italy itself) have no Z code: nobody can name them as a
            // residence, so they are not kept.
            if !is_z_code(&record.code) {
                continue;
            }
            // Only states still valid (end of validity 31/12/9999) can be a residence today.
            let current = record.valid_until.ends_with("9999");
            territory.states.insert(
                record.code.clone(),
                ForeignState {
                    code: record.code,
                    name: record.name,
                    iso3: record.iso3,
                    residence_allowed: current && record.residence == "S",
                },
            );
        }
        if territory.states.is_empty() {
            return Err(TerritoryError::Empty { file: STATES_FILE });
        }
        Ok(territory)
    }

    /// Validates a residence code: an active comune, or a foreign state where one can reside.
    pub fn residence(&self, code: &str) -> Result<Residence<'_>, ResidenceError> {
        let code = code.trim().to_ascii_uppercase();
        let bytes = code.as_bytes();
        let well_formed = bytes.len() == 4
            && bytes[0].is_ascii_uppercase()
            && bytes[1..].iter().all(u8::is_ascii_digit);
        if !well_formed {
            return Err(ResidenceError::Malformed);
        }
        if let Some(state) = self.states.get(&code) {
            return if state.residence_allowed {
                Ok(Residence::Abroad(state))
            } else {
                Err(ResidenceError::NoResidence {
                    code,
                    name: state.name.clone(),
                })
            };
        }
        let periods = self
            .comuni
            .get(&code)
            .ok_or_else(|| ResidenceError::Unknown(code.clone()))?;
        if let Some(active) = periods.iter().find(|comune| comune.is_active()) {
            return Ok(Residence::Comune(active));
        }
        let last = periods
            .iter()
            .max_by_key(|comune| comune.ceased_on)
            .ok_or_else(|| ResidenceError::Unknown(code.clone()))?;
        Err(ResidenceError::Ceased {
            code,
            name: last.name.clone(),
            ceased_on: last.ceased_on.unwrap_or(last.valid_from),
        })
    }

    pub fn active_comuni(&self) -> impl Iterator<Item = &Comune> {
        self.comuni
            .values()
            .flatten()
            .filter(|comune| comune.is_active())
    }

    pub fn foreign_states(&self) -> impl Iterator<Item = &ForeignState> {
        self.states.values()
    }
}

fn is_z_code(code: &str) -> bool {
    let bytes = code.as_bytes();
    bytes.len() == 4 && bytes[0] == b'Z' && bytes[1..].iter().all(u8::is_ascii_digit)
}

fn parse_iso(value: &str, record: u64) -> Result<NaiveDate, TerritoryError> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| TerritoryError::Date {
        file: COMUNI_FILE,
        record,
        value: value.to_owned(),
    })
}

/// ANPR's CSV starts with a UTF-8 byte-order mark, which would otherwise stick to the first
/// column's name. The files are a few megabytes, so reading them whole is fine.
fn without_bom(mut reader: impl Read, file: &'static str) -> Result<Vec<u8>, TerritoryError> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|source| TerritoryError::Io {
            path: file.to_owned(),
            source,
        })?;
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_data() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
    }

    fn territory() -> Territory {
        Territory::load_dir(&shared_data()).unwrap()
    }

    #[test]
    fn the_archive_has_every_active_comune() {
        let territory = territory();
        assert_eq!(territory.active_comuni().count(), 7901);
        let provinces: std::collections::HashSet<_> = territory
            .active_comuni()
            .map(|comune| comune.province.as_str())
            .collect();
        assert_eq!(provinces.len(), 107);
    }

    #[test]
    fn residence_codes_are_classified() {
        let territory = territory();
        match territory.residence("f205").unwrap() {
            Residence::Comune(comune) => {
                assert_eq!(comune.name, "MILANO");
                assert_eq!(comune.province, "MI");
                assert_eq!(comune.region, "03");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(territory.residence("Z133"), Ok(Residence::Abroad(state)) if state.iso3 == "CHE")
        );
        assert!(matches!(
            territory.residence("A003"),
            Err(ResidenceError::Ceased { .. })
        ));
        assert_eq!(
            territory.residence("Z999"),
            Err(ResidenceError::Unknown("Z999".into()))
        );
        assert_eq!(
            territory.residence("MILANO"),
            Err(ResidenceError::Malformed)
        );
    }

    #[test]
    fn a_file_without_active_comuni_is_refused() {
        let header = "ID,DATAISTITUZIONE,DATACESSAZIONE,CODISTAT,CODCATASTALE,DENOMINAZIONE_IT,IDPROVINCIAISTAT,IDREGIONE,STATO,SIGLAPROVINCIA\n";
        let error = Territory::from_readers(header.as_bytes(), "".as_bytes()).unwrap_err();
        assert!(matches!(error, TerritoryError::Empty { file: "comuni" }));
    }
}

/// Where the ANPR files are; a setting of every service that needs the territory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerritorySettings {
    pub comuni_path: String,
    pub stati_esteri_path: String,
}

impl TerritorySettings {
    pub fn load(&self) -> Result<Territory, TerritoryError> {
        Territory::load(
            Path::new(&self.comuni_path),
            Path::new(&self.stati_esteri_path),
        )
    }
}
