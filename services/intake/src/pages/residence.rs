//! The citizen's residence chosen by name: the operator types part of a comune's (or a
//! foreign state's) name, the page lists the matches from ANPR's territory (the one intake
//! validates against), and the operator picks one. Plain forms: no script needed.

use combipat_domain::territory::{Residence, Territory};

/// One match: the code the API takes and how the page names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub code: String,
    pub label: String,
    pub abroad: bool,
}

/// At most this many matches of each kind are listed; more ask for a longer name.
pub const MAX_MATCHES: usize = 25;

/// Lower case, accents and apostrophes gone, words separated by one space, so that
/// "sant'agata", "Sant’Agata" and "SANT AGATA" read the same.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        let base = match c {
            'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => 'a',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ò' | 'ó' | 'ô' | 'ö' | 'õ' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            c if c.is_alphanumeric() => c,
            _ => ' ',
        };
        if base == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(base);
    }
    out.trim_end().to_owned()
}

/// The active comuni and the foreign states one may reside in whose name holds `query`:
/// exact names first, then names that start with it, then the others, each alphabetically.
/// Returns the matches (at most [`MAX_MATCHES`] comuni and as many states) and whether
/// some were left out.
pub fn search(territory: &Territory, query: &str) -> (Vec<Place>, bool) {
    let wanted = normalise(query);
    if wanted.chars().count() < 2 {
        return (Vec::new(), false);
    }
    let rank = |name: &str| {
        let name = normalise(name);
        if name == wanted {
            Some(0)
        } else if name.starts_with(&wanted) {
            Some(1)
        } else if name.contains(&wanted) {
            Some(2)
        } else {
            None
        }
    };
    let mut comuni: Vec<(u8, Place)> = territory
        .active_comuni()
        .filter_map(|comune| {
            rank(&comune.name).map(|rank| {
                (
                    rank,
                    Place {
                        code: comune.belfiore.clone(),
                        label: format!("{} ({})", title_case(&comune.name), comune.province),
                        abroad: false,
                    },
                )
            })
        })
        .collect();
    let mut states: Vec<(u8, Place)> = territory
        .foreign_states()
        .filter(|state| state.residence_allowed)
        .filter_map(|state| {
            rank(&state.name).map(|rank| {
                (
                    rank,
                    Place {
                        code: state.code.clone(),
                        label: format!("{} (Stato estero)", title_case(&state.name)),
                        abroad: true,
                    },
                )
            })
        })
        .collect();
    let order = |list: &mut Vec<(u8, Place)>| {
        list.sort_by(|(a_rank, a), (b_rank, b)| (a_rank, &a.label).cmp(&(b_rank, &b.label)));
    };
    order(&mut comuni);
    order(&mut states);
    let more = comuni.len() > MAX_MATCHES || states.len() > MAX_MATCHES;
    let places = comuni
        .into_iter()
        .take(MAX_MATCHES)
        .chain(states.into_iter().take(MAX_MATCHES))
        .map(|(_, place)| place)
        .collect();
    (places, more)
}

/// A valid residence code in words ("Milano (MI)", "Svizzera (Stato estero)").
pub fn describe(territory: &Territory, code: &str) -> Option<String> {
    match territory.residence(code).ok()? {
        Residence::Comune(comune) => Some(format!(
            "{} ({})",
            title_case(&comune.name),
            comune.province
        )),
        Residence::Abroad(state) => Some(format!("{} (Stato estero)", title_case(&state.name))),
    }
}

/// ANPR writes names in capitals: "SVIZZERA" reads "Svizzera", "REGGIO NELL'EMILIA" reads
/// "Reggio nell'Emilia" (articles and prepositions stay small).
fn title_case(name: &str) -> String {
    if name.chars().any(char::is_lowercase) {
        return name.to_owned();
    }
    const SMALL: [&str; 16] = [
        "di", "del", "della", "dei", "degli", "delle", "de", "d", "in", "nel", "nell", "sul",
        "sull", "e", "al", "all",
    ];
    let mut out = String::with_capacity(name.len());
    let mut word = String::new();
    let mut first = true;
    let flush = |word: &mut String, out: &mut String, first: &mut bool| {
        if word.is_empty() {
            return;
        }
        let lower = word.to_lowercase();
        if !*first && SMALL.contains(&lower.as_str()) {
            out.push_str(&lower);
        } else {
            let mut chars = lower.chars();
            if let Some(initial) = chars.next() {
                out.extend(initial.to_uppercase());
                out.push_str(chars.as_str());
            }
        }
        *first = false;
        word.clear();
    };
    for c in name.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out, &mut first);
            out.push(c);
        }
    }
    flush(&mut word, &mut out, &mut first);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn territory() -> Territory {
        let comuni = "DATAISTITUZIONE,DATACESSAZIONE,CODISTAT,CODCATASTALE,DENOMINAZIONE_IT,IDPROVINCIAISTAT,IDREGIONE,STATO,SIGLAPROVINCIA\n\
            1861-03-17,9999-12-31,015146,F205,MILANO,015,03,A,MI\n\
            1861-03-17,9999-12-31,035033,H223,REGGIO NELL'EMILIA,035,08,A,RE\n\
            1861-03-17,9999-12-31,015999,X001,Milanino,015,03,A,MI\n\
            1861-03-17,9999-12-31,097999,X002,Cornate d'Adda,108,03,A,MB\n\
            1861-03-17,1929-01-01,015998,X003,Milano Vecchia,015,03,C,MI\n\
            1861-03-17,9999-12-31,001272,L219,Torino,001,01,A,TO\n";
        let states = "DENOMINAZIONE,DATAFINEVALIDITA,CODISO3166_1_ALPHA3,CODAT,RESIDENZA\n\
            SVIZZERA,31/12/9999,CHE,Z133,S\n\
            ROMANIA,31/12/9999,ROU,Z129,S\n";
        Territory::from_readers(comuni.as_bytes(), states.as_bytes()).unwrap()
    }

    #[test]
    fn names_are_found_by_any_part_exact_ones_first() {
        let territory = territory();
        let (found, more) = search(&territory, "milan");
        let labels: Vec<&str> = found.iter().map(|place| place.label.as_str()).collect();
        assert_eq!(labels, ["Milanino (MI)", "Milano (MI)"]);
        assert!(!more);
        // The exact name comes before names that only start with it.
        let (found, _) = search(&territory, "MILANO");
        assert_eq!(found[0].code, "F205");
        // Accents and apostrophes do not matter; ceased comuni are not offered.
        assert_eq!(search(&territory, "CORNATE D’ADDA").0[0].code, "X002");
        assert!(search(&territory, "vecchia").0.is_empty());
        // A foreign state the same way.
        let (abroad, _) = search(&territory, "svizz");
        assert_eq!(abroad[0].label, "Svizzera (Stato estero)");
        assert!(abroad[0].abroad);
        // Too short to search.
        assert!(search(&territory, "m").0.is_empty());
        assert_eq!(
            describe(&territory, "z133").as_deref(),
            Some("Svizzera (Stato estero)")
        );
        assert_eq!(describe(&territory, "L219").as_deref(), Some("Torino (TO)"));
        assert_eq!(
            describe(&territory, "H223").as_deref(),
            Some("Reggio nell'Emilia (RE)")
        );
        assert_eq!(describe(&territory, "X003"), None);
    }

    #[test]
    fn normalising_keeps_letters_and_digits_only() {
        assert_eq!(normalise("  Sant'Agàta  de' Goti "), "sant agata de goti");
        assert_eq!(normalise("Forlì-Cesena"), "forli cesena");
    }
}
