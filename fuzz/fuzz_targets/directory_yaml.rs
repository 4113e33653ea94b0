//! The office directory (router): YAML as operations teams write it, parsed and validated
//! against a small ANPR-shaped territory written here (five comuni in three provinces of two
//! regions, three foreign states), so that a valid directory is within the fuzzer's reach.
//!
//! Properties: parsing and validation never panic; a directory that validates routes every
//! active comune, for every topic and motivo, to exactly one office it lists, the same one
//! each time; a resident abroad goes to a listed office or to the foreign fallback queue;
//! each office's direzione is a direzione regionale; a patron day is kept as `MM-DD`.
#![no_main]

use std::sync::{Arc, LazyLock};

use combipat_domain::{Territory, Topic};
use combipat_router::directory::{OfficeKind, Unroutable, build_index, parse};
use libfuzzer_sys::fuzz_target;

const COMUNI: &str = "\
DATAISTITUZIONE,DATACESSAZIONE,CODISTAT,CODCATASTALE,DENOMINAZIONE_IT,IDPROVINCIAISTAT,IDREGIONE,STATO,SIGLAPROVINCIA
1861-03-17,9999-12-31,015146,F205,MILANO,015,03,A,MI
1861-03-17,9999-12-31,015118,E514,LEGNANO,015,03,A,MI
1861-03-17,9999-12-31,016024,A794,BERGAMO,016,03,A,BG
1861-03-17,1927-01-01,016001,A003,ABBADIA ALPINA,016,03,C,BG
1871-01-01,9999-12-31,058091,H501,ROMA,058,12,A,RM
";

const STATES: &str = "\
DENOMINAZIONE,DATAFINEVALIDITA,CODISO3166_1_ALPHA3,CODAT,RESIDENZA
Svizzera,9999-12-31,CHE,Z133,S
Stati Uniti d'America,9999-12-31,USA,Z404,S
Jugoslavia,1992-04-27,YUG,Z118,S
";

static TERRITORY: LazyLock<Arc<Territory>> = LazyLock::new(|| {
    Arc::new(
        Territory::from_readers(COMUNI.as_bytes(), STATES.as_bytes())
            .expect("the fuzz territory is well formed"),
    )
});

const MOTIVI: [i32; 4] = [0, 1, 2, 3];

fuzz_target!(|data: &[u8]| {
    let Ok(yaml) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = parse(yaml) else {
        return;
    };
    let version = file.version.clone();
    let Ok(index) = build_index(file, Arc::clone(&TERRITORY)) else {
        return;
    };
    assert_eq!(index.version, version);

    for office in index.offices.values() {
        if let Some(direzione) = &office.direzione {
            let kind = index.office(direzione).map(|office| office.kind);
            assert_eq!(kind, Some(OfficeKind::DirezioneRegionale), "{office:?}");
        }
        if let Some(day) = &office.patron_day {
            let bytes = day.as_bytes();
            assert!(
                bytes.len() == 5
                    && bytes[2] == b'-'
                    && [0, 1, 3, 4].iter().all(|&i| bytes[i].is_ascii_digit()),
                "patron day {day:?} accepted, not as MM-DD"
            );
        }
    }

    let comuni: Vec<String> = TERRITORY
        .active_comuni()
        .map(|comune| comune.belfiore.clone())
        .collect();
    let abroad: Vec<String> = TERRITORY
        .foreign_states()
        .filter(|state| state.residence_allowed)
        .map(|state| state.code.clone())
        .collect();
    for topic in Topic::ALL {
        for motivo in MOTIVI {
            for comune in &comuni {
                let decision = index
                    .decide(comune, topic.code(), motivo)
                    .unwrap_or_else(|error| panic!("{comune} {topic:?} {motivo}: {error}"));
                assert!(index.office(&decision.office.code).is_some());
                assert_eq!(index.decide(comune, topic.code(), motivo), Ok(decision));
            }
            for state in &abroad {
                match index.decide(state, topic.code(), motivo) {
                    Ok(decision) => assert!(index.office(&decision.office.code).is_some()),
                    Err(Unroutable::NoRule {
                        fallback_office, ..
                    }) => assert_eq!(fallback_office, "FALLBACK-ESTERO"),
                    Err(other) => panic!("{state}: {other}"),
                }
            }
        }
    }
});
