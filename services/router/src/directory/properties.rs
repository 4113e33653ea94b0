//! Property tests of the routing rules over the real ANPR territory.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use combipat_domain::{Territory, Topic};
use proptest::prelude::*;

use super::index::{Area, Place, PoloRule};
use super::{RoutingIndex, build_index, parse};

fn territory() -> Arc<Territory> {
    static TERRITORY: OnceLock<Arc<Territory>> = OnceLock::new();
    Arc::clone(TERRITORY.get_or_init(|| {
        Arc::new(Territory::load_dir(&combipat_testkit::shared_data_dir()).unwrap())
    }))
}

fn demo_yaml() -> &'static str {
    static DEMO: OnceLock<String> = OnceLock::new();
    DEMO.get_or_init(|| {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/directory/demo.yaml"))
            .unwrap()
    })
}

fn demo() -> &'static RoutingIndex {
    static INDEX: OnceLock<RoutingIndex> = OnceLock::new();
    INDEX.get_or_init(|| build_index(parse(demo_yaml()).unwrap(), territory()).unwrap())
}

const MOTIVI: [i32; 3] = [1, 2, 3];

#[test]
fn under_the_demo_directory_every_residence_routes_to_exactly_one_existing_office() {
    let index = demo();
    let territory = territory();
    let mut residences: Vec<String> = territory
        .active_comuni()
        .map(|comune| comune.belfiore.clone())
        .collect();
    residences.extend(
        territory
            .foreign_states()
            .filter(|state| state.residence_allowed)
            .map(|state| state.code.clone()),
    );
    assert!(residences.len() > 7901 + 200);
    for residence in &residences {
        for topic in Topic::ALL {
            for motivo in MOTIVI {
                let decision = index
                    .decide(residence, topic.code(), motivo)
                    .unwrap_or_else(|error| panic!("{residence} {topic} {motivo}: {error}"));
                assert!(index.office(&decision.office.code).is_some());
                // Deciding is a function: the same question, the same single answer.
                assert_eq!(
                    index.decide(residence, topic.code(), motivo).unwrap(),
                    decision
                );
            }
        }
    }
}

/// The reference rule, written the slow and obvious way: among every polo that matches, the
/// narrowest wins; without one, the agenzia, the sede, the direzione regionale.
fn reference(index: &RoutingIndex, residence: &str, topic: &str, motivo: i32) -> Option<String> {
    let place = index.place(residence).ok()?;
    let matching: Vec<&PoloRule> = index
        .poli
        .iter()
        .filter(|polo| polo.matches(&place, topic, motivo))
        .collect();
    if let Some(best) = matching.iter().map(|polo| polo.precedence()).min() {
        let offices: HashSet<&str> = matching
            .iter()
            .filter(|polo| polo.precedence() == best)
            .map(|polo| polo.office.as_str())
            .collect();
        assert_eq!(offices.len(), 1, "validation let two tied poli disagree");
        return offices.into_iter().next().map(str::to_owned);
    }
    match place {
        Place::Comune {
            belfiore,
            province,
            region,
            ..
        } => index
            .agenzia_by_comune
            .get(&belfiore)
            .or_else(|| index.sede_by_province.get(&province))
            .or_else(|| index.direzione_by_region.get(&region))
            .cloned(),
        Place::Abroad { .. } => None,
    }
}

const OFFICES: [&str; 5] = [
    "SEDE-BG",
    "SEDE-AQ",
    "POLO-ESTERO",
    "POLO-ASILO-NIDO",
    "AG-RM-TUSCOLANO",
];
const STATES: [&str; 4] = ["Z133", "Z401", "Z103", "Z110"];
const REGIONS: [&str; 5] = ["01", "03", "12", "15", "20"];
const TOPICS: [&str; 4] = [
    "pensioni",
    "estratto_conto_riscatti",
    "bonus_asilo_nido",
    "malattia",
];
const RESIDENCES: [&str; 10] = [
    "F205", "E514", "H501", "L219", "B354", "F839", "Z133", "Z401", "Z103", "Z110",
];

fn polo_line() -> impl Strategy<Value = String> {
    let area = prop_oneof![
        proptest::sample::subsequence(STATES.to_vec(), 1..=2)
            .prop_map(|states| format!("foreign_states: [{}]", states.join(", "))),
        proptest::sample::subsequence(REGIONS.to_vec(), 1..=3).prop_map(|regions| format!(
            "regions: [{}]",
            regions
                .iter()
                .map(|r| format!("\"{r}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Just("national: true".to_owned()),
        Just("abroad: true".to_owned()),
    ];
    let topics = proptest::option::of(proptest::sample::subsequence(TOPICS.to_vec(), 1..=2));
    let motivi = proptest::option::of(proptest::sample::subsequence(
        vec!["sollecito_pratica", "info_pagamenti", "richiesta_generica"],
        1..=2,
    ));
    (
        proptest::sample::select(OFFICES.to_vec()),
        area,
        topics,
        motivi,
    )
        .prop_map(|(office, area, topics, motivi)| {
            let topics = topics
                .map(|t| format!(", topics: [{}]", t.join(", ")))
                .unwrap_or_default();
            let motivi = motivi
                .map(|m| format!(", motivi: [{}]", m.join(", ")))
                .unwrap_or_default();
            format!("office: {office}, {area}{topics}{motivi}")
        })
}

/// The demo offices with random poli instead of the demo's.
fn directory_with(poli: &[String]) -> String {
    let offices = demo_yaml().split("\npoli:").next().unwrap();
    let mut yaml = format!("{offices}\npoli:\n");
    for (n, polo) in poli.iter().enumerate() {
        yaml.push_str(&format!("  - {{ id: p{n}, {polo} }}\n"));
    }
    yaml
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_decision_follows_precedence_for_random_poli(
        poli in proptest::collection::vec(polo_line(), 0..8),
        residence in proptest::sample::select(RESIDENCES.to_vec()),
        topic in proptest::sample::select(TOPICS.to_vec()),
        motivo in proptest::sample::select(MOTIVI.to_vec()),
    ) {
        // Random rules may tie and disagree; validation refuses those, which is tested apart.
        let index = build_index(parse(&directory_with(&poli)).unwrap(), territory());
        prop_assume!(index.is_ok());
        let index = index.unwrap();
        let expected = reference(&index, residence, topic, motivo);
        let decided = index.decide(residence, topic, motivo).ok().map(|decision| decision.office.code);
        prop_assert_eq!(decided, expected);
    }

    #[test]
    fn tied_overlapping_poli_for_different_offices_are_refused(
        state in proptest::sample::select(STATES.to_vec()),
        offices in proptest::sample::subsequence(OFFICES.to_vec(), 2),
    ) {
        let poli = [
            format!("office: {}, foreign_states: [{state}]", offices[0]),
            format!("office: {}, foreign_states: [{state}]", offices[1]),
        ];
        let errors = build_index(parse(&directory_with(&poli)).unwrap(), territory()).unwrap_err();
        prop_assert!(errors.iter().any(|error| error.contains("same precedence")), "{:?}", errors);
    }

    #[test]
    fn a_directory_that_leaves_a_province_uncovered_is_refused(
        sigla in proptest::sample::select(demo().sede_by_province.keys().cloned().collect::<Vec<_>>()),
    ) {
        let without: String = demo_yaml()
            .lines()
            .filter(|line| !line.contains(&format!("provinces: [{sigla}]")))
            .map(|line| format!("{line}\n"))
            .collect();
        // Poli or agenzie that named the removed sede are reported too; the coverage error is what matters.
        let errors = build_index(parse(&without).unwrap(), territory()).unwrap_err();
        let uncovered = errors.iter().any(|error| error.contains("have no sede") && error.contains(&sigla));
        prop_assert!(uncovered, "{:?}", errors);
    }
}

#[test]
fn areas_overlap_exactly_when_some_place_is_in_both() {
    let states =
        |codes: &[&str]| Area::ForeignStates(codes.iter().map(|c| (*c).to_owned()).collect());
    let regions = |codes: &[&str]| Area::Regions(codes.iter().map(|c| (*c).to_owned()).collect());
    assert!(states(&["Z133"]).overlaps(&Area::Abroad));
    assert!(!states(&["Z133"]).overlaps(&states(&["Z401"])));
    assert!(regions(&["03"]).overlaps(&Area::National));
    assert!(!regions(&["03"]).overlaps(&regions(&["12"])));
    assert!(!Area::National.overlaps(&Area::Abroad));
}
