//! From a directory file to a routing index, refusing anything that would route a request
//! nowhere or ambiguously. Every problem is reported, each with the path of its entry.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use combipat_domain::{Residence, Territory, Topic, region_name};
use combipat_proto::common::v1::Motivo;

use super::OfficeKind;
use super::file::{DirectoryFile, OfficeEntry, PoloEntry};
use super::index::{Area, Office, PoloRule, RoutingIndex};

pub fn build_index(
    file: DirectoryFile,
    territory: Arc<Territory>,
) -> Result<RoutingIndex, Vec<String>> {
    let mut errors = Vec::new();
    if file.version.is_empty()
        || file.version.len() > 64
        || !file
            .version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        errors.push(format!(
            "version: `{}` must be 1 to 64 letters, digits, `.`, `-` or `_`",
            file.version
        ));
    }

    let province_region: HashMap<&str, &str> = territory
        .active_comuni()
        .map(|comune| (comune.province.as_str(), comune.region.as_str()))
        .collect();
    let kinds: HashMap<&str, OfficeKind> = file
        .offices
        .iter()
        .map(|office| (office.code.as_str(), office.kind))
        .collect();

    let mut offices = BTreeMap::new();
    let mut agenzia_by_comune = HashMap::new();
    let mut sede_by_province = HashMap::new();
    let mut direzione_by_region = HashMap::new();
    for (index, entry) in file.offices.iter().enumerate() {
        let at = format!("offices[{index}] ({})", entry.code);
        if entry.code.trim().is_empty() || entry.name.trim().is_empty() {
            errors.push(format!("{at}: code and name must not be empty"));
        }
        if offices.contains_key(&entry.code) {
            errors.push(format!("{at}: the code {} is used twice", entry.code));
            continue;
        }
        check_parent(entry, &kinds, &at, &mut errors);
        let region = match entry.kind {
            OfficeKind::DirezioneRegionale => {
                check_only(entry, &at, "region", &mut errors);
                match entry.region.as_deref() {
                    Some(region) if region_name(region).is_some() => {
                        if let Some(other) =
                            direzione_by_region.insert(region.to_owned(), entry.code.clone())
                        {
                            errors.push(format!(
                                "{at}: region {region} already has the direzione {other}"
                            ));
                        }
                        region.to_owned()
                    }
                    other => {
                        errors.push(format!("{at}: a direzione regionale needs `region`, an ISTAT code 01..20 (got {other:?})"));
                        String::new()
                    }
                }
            }
            OfficeKind::SedeProvinciale => {
                check_only(entry, &at, "provinces", &mut errors);
                if entry.provinces.is_empty() {
                    errors.push(format!("{at}: a sede needs `provinces`"));
                }
                for province in &entry.provinces {
                    if !province_region.contains_key(province.as_str()) {
                        errors.push(format!(
                            "{at}: `{province}` is not the sigla of an active province"
                        ));
                    } else if let Some(other) =
                        sede_by_province.insert(province.clone(), entry.code.clone())
                    {
                        errors.push(format!(
                            "{at}: province {province} is already covered by {other}"
                        ));
                    }
                }
                entry
                    .provinces
                    .first()
                    .and_then(|p| province_region.get(p.as_str()))
                    .map(|r| (*r).to_owned())
                    .unwrap_or_default()
            }
            OfficeKind::Agenzia => {
                check_only(entry, &at, "comuni", &mut errors);
                let mut region = String::new();
                for code in &entry.comuni {
                    match territory.residence(code) {
                        Ok(Residence::Comune(comune)) => {
                            region.clone_from(&comune.region);
                            if let Some(other) = agenzia_by_comune
                                .insert(comune.belfiore.clone(), entry.code.clone())
                            {
                                errors.push(format!(
                                    "{at}: comune {code} is already covered by {other}"
                                ));
                            }
                        }
                        Ok(Residence::Abroad(_)) => {
                            errors.push(format!("{at}: {code} is a foreign state, not a comune"))
                        }
                        Err(error) => errors.push(format!("{at}: comune {code}: {error}")),
                    }
                }
                region
            }
            OfficeKind::Polo => {
                check_only(entry, &at, "", &mut errors);
                String::new()
            }
        };
        let province = match entry.kind {
            OfficeKind::SedeProvinciale => entry.provinces.first().cloned(),
            _ => None,
        };
        if let Some(day) = &entry.patron_day
            && combipat_domain::calendar::parse_month_day(day).is_none()
        {
            errors.push(format!(
                "{at}: patron_day `{day}` is not a day of the year as MM-DD (e.g. 12-07)"
            ));
        }
        offices.insert(
            entry.code.clone(),
            Office {
                code: entry.code.clone(),
                name: entry.name.clone(),
                kind: entry.kind,
                parent: entry.parent.clone(),
                region,
                province,
                patron_day: entry.patron_day.clone(),
                direzione: None,
            },
        );
    }
    // An agenzia and a polo take the region (and province) of their parent when they have none.
    for entry in &file.offices {
        let parent = entry
            .parent
            .as_ref()
            .and_then(|parent| offices.get(parent))
            .map(|parent| (parent.region.clone(), parent.province.clone()));
        if let (Some((region, province)), Some(office)) = (parent, offices.get_mut(&entry.code)) {
            if office.region.is_empty() {
                office.region = region;
            }
            if office.province.is_none() && office.kind == OfficeKind::Agenzia {
                office.province = province;
            }
        }
    }

    // Every office but a direzione answers to the direzione of its region.
    for office in offices.values_mut() {
        if office.kind != OfficeKind::DirezioneRegionale {
            office.direzione = direzione_by_region.get(&office.region).cloned();
        }
    }

    // A sede answers to the direzione of its own region.
    for (index, entry) in file.offices.iter().enumerate() {
        let parent = entry.parent.as_ref().and_then(|parent| offices.get(parent));
        let province = entry
            .provinces
            .first()
            .and_then(|province| province_region.get(province.as_str()));
        if let (OfficeKind::SedeProvinciale, Some(parent), Some(region)) =
            (entry.kind, parent, province)
            && parent.kind == OfficeKind::DirezioneRegionale
            && parent.region != *region
        {
            errors.push(format!(
                "offices[{index}] ({}): its provinces are in region {region} but its parent {} is the direzione of region {}",
                entry.code, parent.code, parent.region
            ));
        }
    }

    for code in (1..=20).map(|n| format!("{n:02}")) {
        if !direzione_by_region.contains_key(&code) {
            errors.push(format!(
                "offices: region {code} ({}) has no direzione regionale",
                region_name(&code).unwrap_or("?")
            ));
        }
    }
    let mut uncovered: Vec<&str> = province_region
        .keys()
        .copied()
        .filter(|p| !sede_by_province.contains_key(*p))
        .collect();
    uncovered.sort_unstable();
    if !uncovered.is_empty() {
        errors.push(format!(
            "offices: the comuni of these provinces have no sede: {}",
            uncovered.join(", ")
        ));
    }

    let mut poli = Vec::new();
    let mut ids = HashSet::new();
    for (index, entry) in file.poli.iter().enumerate() {
        let at = format!("poli[{index}] ({})", entry.id);
        if !ids.insert(entry.id.clone()) {
            errors.push(format!("{at}: the id {} is used twice", entry.id));
        }
        if !offices.contains_key(&entry.office) {
            errors.push(format!("{at}: unknown office {}", entry.office));
        }
        if let Some(rule) = polo_rule(entry, &territory, &at, &mut errors) {
            poli.push(rule);
        }
    }
    check_ties(&poli, &mut errors);

    if !errors.is_empty() {
        return Err(errors);
    }
    poli.sort_by_key(PoloRule::precedence);
    Ok(RoutingIndex {
        version: file.version,
        offices,
        poli,
        agenzia_by_comune,
        sede_by_province,
        direzione_by_region,
        territory,
    })
}

fn check_parent(
    entry: &OfficeEntry,
    kinds: &HashMap<&str, OfficeKind>,
    at: &str,
    errors: &mut Vec<String>,
) {
    let expected: &[OfficeKind] = match entry.kind {
        OfficeKind::DirezioneRegionale => &[],
        OfficeKind::SedeProvinciale | OfficeKind::Polo => &[OfficeKind::DirezioneRegionale],
        OfficeKind::Agenzia => &[OfficeKind::SedeProvinciale],
    };
    match (&entry.parent, expected.is_empty()) {
        (Some(parent), true) => errors.push(format!(
            "{at}: a direzione regionale has no parent (got {parent})"
        )),
        (None, false) if entry.kind != OfficeKind::Polo => {
            errors.push(format!("{at}: needs a `parent`"))
        }
        (Some(parent), false) => match kinds.get(parent.as_str()) {
            None => errors.push(format!("{at}: unknown parent {parent}")),
            Some(kind) if !expected.contains(kind) => errors.push(format!(
                "{at}: the parent {parent} is a {}, not a {}",
                kind.as_str(),
                expected[0].as_str()
            )),
            Some(_) => {}
        },
        _ => {}
    }
}

/// Refuses area fields that do not belong to the office's kind.
fn check_only(entry: &OfficeEntry, at: &str, allowed: &str, errors: &mut Vec<String>) {
    let present = [
        ("region", entry.region.is_some()),
        ("provinces", !entry.provinces.is_empty()),
        ("comuni", !entry.comuni.is_empty()),
    ];
    for (field, set) in present {
        if set && field != allowed {
            errors.push(format!("{at}: a {} has no `{field}`", entry.kind.as_str()));
        }
    }
}

fn polo_rule(
    entry: &PoloEntry,
    territory: &Territory,
    at: &str,
    errors: &mut Vec<String>,
) -> Option<PoloRule> {
    let areas = [
        !entry.foreign_states.is_empty(),
        !entry.regions.is_empty(),
        entry.national,
        entry.abroad,
    ];
    if areas.iter().filter(|set| **set).count() != 1 {
        errors.push(format!(
            "{at}: give exactly one area: foreign_states, regions, national: true or abroad: true"
        ));
        return None;
    }
    let area = if !entry.foreign_states.is_empty() {
        for code in &entry.foreign_states {
            match territory.residence(code) {
                Ok(Residence::Abroad(_)) => {}
                Ok(Residence::Comune(_)) => {
                    errors.push(format!("{at}: {code} is a comune, not a foreign state"))
                }
                Err(error) => errors.push(format!("{at}: foreign state {code}: {error}")),
            }
        }
        Area::ForeignStates(
            entry
                .foreign_states
                .iter()
                .map(|code| code.trim().to_ascii_uppercase())
                .collect(),
        )
    } else if !entry.regions.is_empty() {
        for region in &entry.regions {
            if region_name(region).is_none() {
                errors.push(format!(
                    "{at}: `{region}` is not an ISTAT region code 01..20"
                ));
            }
        }
        Area::Regions(
            entry
                .regions
                .iter()
                .map(|region| region.trim().to_owned())
                .collect(),
        )
    } else if entry.national {
        Area::National
    } else {
        Area::Abroad
    };
    for topic in &entry.topics {
        if let Err(error) = topic.parse::<Topic>() {
            errors.push(format!("{at}: {error}"));
        }
    }
    let mut motivi = HashSet::new();
    for motivo in &entry.motivi {
        match Motivo::from_str_name(&format!("MOTIVO_{}", motivo.to_ascii_uppercase())) {
            Some(value) if value != Motivo::Unspecified => {
                motivi.insert(value as i32);
            }
            _ => errors.push(format!("{at}: unknown motivo `{motivo}`; expected sollecito_pratica, info_pagamenti or richiesta_generica")),
        }
    }
    Some(PoloRule {
        id: entry.id.clone(),
        office: entry.office.clone(),
        topics: (!entry.topics.is_empty()).then(|| entry.topics.iter().cloned().collect()),
        motivi: (!motivi.is_empty()).then_some(motivi),
        area,
    })
}

/// Two poli of equal precedence that can both match one request must agree on the office.
fn check_ties(poli: &[PoloRule], errors: &mut Vec<String>) {
    fn overlap<T: Eq + std::hash::Hash>(a: Option<&HashSet<T>>, b: Option<&HashSet<T>>) -> bool {
        match (a, b) {
            (Some(a), Some(b)) => !a.is_disjoint(b),
            _ => true,
        }
    }
    for (i, a) in poli.iter().enumerate() {
        for b in &poli[i + 1..] {
            if a.precedence() == b.precedence()
                && a.office != b.office
                && a.area.overlaps(&b.area)
                && overlap(a.topics.as_ref(), b.topics.as_ref())
                && overlap(a.motivi.as_ref(), b.motivi.as_ref())
            {
                errors.push(format!(
                    "poli {} and {}: same precedence, overlapping areas and topics, different offices ({} and {})",
                    a.id, b.id, a.office, b.office
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::parse;

    fn territory() -> Arc<Territory> {
        Arc::new(Territory::load_dir(&combipat_testkit::shared_data_dir()).unwrap())
    }

    fn demo() -> String {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/directory/demo.yaml"))
            .unwrap()
    }

    fn errors_of(yaml: &str) -> Vec<String> {
        build_index(parse(yaml).unwrap(), territory()).unwrap_err()
    }

    #[test]
    fn the_demo_directory_is_valid() {
        let index = build_index(parse(&demo()).unwrap(), territory()).unwrap();
        assert_eq!(index.direzione_by_region.len(), 20);
        assert_eq!(index.sede_by_province.len(), 107);
        assert_eq!(
            index.office("AG-MI-LEGNANO").unwrap().province.as_deref(),
            Some("MI")
        );
    }

    #[test]
    fn a_province_without_a_sede_is_refused() {
        let yaml = demo().replace("  - { code: SEDE-BG, kind: sede_provinciale, parent: DR-LOMBARDIA, provinces: [BG], name: \"Direzione provinciale di Bergamo\" }\n", "");
        let yaml = yaml.replace("office: SEDE-BG", "office: SEDE-MI");
        let errors = errors_of(&yaml);
        assert!(
            errors
                .iter()
                .any(|error| error.contains("have no sede: BG")),
            "{errors:?}"
        );
    }

    #[test]
    fn two_poli_that_tie_and_disagree_are_refused() {
        let yaml =
            demo() + "  - { id: estero-svizzera-bis, office: SEDE-CO, foreign_states: [Z133] }\n";
        let errors = errors_of(&yaml);
        assert!(
            errors
                .iter()
                .any(|error| error.contains("estero-svizzera and estero-svizzera-bis")),
            "{errors:?}"
        );
    }

    #[test]
    fn bad_references_are_all_reported_with_their_paths() {
        let yaml = demo().replace(
            "parent: SEDE-MI, comuni: [E514",
            "parent: DR-LOMBARDIA, comuni: [A003",
        ) + "  - { id: nowhere, office: SEDE-XX, topics: [pensione], regions: [\"21\"] }\n";
        let errors = errors_of(&yaml);
        let joined = errors.join("\n");
        assert!(
            joined.contains(
                "the parent DR-LOMBARDIA is a direzione_regionale, not a sede_provinciale"
            ),
            "{joined}"
        );
        assert!(
            joined.contains("comune A003: the comune ABBADIA ALPINA"),
            "{joined}"
        );
        assert!(
            joined.contains("poli[7] (nowhere): unknown office SEDE-XX"),
            "{joined}"
        );
        assert!(joined.contains("unknown topic `pensione`"), "{joined}");
        assert!(
            joined.contains("`21` is not an ISTAT region code"),
            "{joined}"
        );
    }

    #[test]
    fn a_patron_day_must_be_a_day_of_the_year() {
        let yaml = demo().replace("patron_day: \"12-07\"", "patron_day: \"7 dicembre\"");
        let joined = errors_of(&yaml).join("\n");
        assert!(
            joined.contains("(SEDE-MI): patron_day `7 dicembre` is not a day of the year as MM-DD"),
            "{joined}"
        );
    }

    #[test]
    fn a_sede_must_answer_to_the_direzione_of_its_region() {
        let yaml = demo().replace(
            "code: SEDE-BG, kind: sede_provinciale, parent: DR-LOMBARDIA",
            "code: SEDE-BG, kind: sede_provinciale, parent: DR-LAZIO",
        );
        let errors = errors_of(&yaml);
        assert!(
            errors
                .iter()
                .any(|error| error.contains("SEDE-BG") && error.contains("parent DR-LAZIO")),
            "{errors:?}"
        );
    }

    #[test]
    fn unknown_fields_are_refused_by_the_parser() {
        let error = parse("version: v1\noffices: []\nofices: []\n").unwrap_err();
        assert!(error.contains("unknown field `ofices`"), "{error}");
    }
}
