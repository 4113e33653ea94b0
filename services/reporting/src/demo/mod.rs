//! A synthetic national history, deterministic for a seed: requests across Italy in
//! proportion to each region's population, from the patronati, with the offices' answers,
//! information requests, transfers, solleciti, closures and ratings. The demo of `just up`
//! (`combipat-reporting admin demo-history`) and the bench (`crates/bench/src/bin/reporting.rs`)
//! load it; the stream tests and the bench's ingest publish its events.
//!
//! Regions differ on purpose, so that a tavolo has something to discuss: Basilicata answers
//! faster and its patronati rate it higher (about 4.4 against a national 3.8, as the survey
//! found), Campania and Lazio slower.

mod load;
mod story;

pub use load::{LoadSummary, load};
pub use story::Story;

use chrono::{DateTime, Datelike as _, Days, NaiveDate, TimeZone as _, Utc, Weekday};
use chrono_tz::Europe::Rome;
use combipat_domain::calendar::OfficeCalendar;
use combipat_domain::sla::SlaPolicy;
use combipat_domain::{province_name, region_name};
use combipat_proto::common::v1::OfficeRef;
use uuid::Uuid;

use crate::model::dims::ABROAD;
use crate::places::Places;

/// Residents in millions (ISTAT, 2023), by region code; and abroad.
const POPULATION: [(&str, f64); 21] = [
    ("01", 4.25),
    ("02", 0.12),
    ("03", 10.0),
    ("04", 1.08),
    ("05", 4.85),
    ("06", 1.19),
    ("07", 1.51),
    ("08", 4.43),
    ("09", 3.66),
    ("10", 0.86),
    ("11", 1.49),
    ("12", 5.72),
    ("13", 1.27),
    ("14", 0.29),
    ("15", 5.6),
    ("16", 3.9),
    ("17", 0.54),
    ("18", 1.85),
    ("19", 4.81),
    ("20", 1.58),
    (ABROAD, 1.2),
];

/// Median days to answer, and the mean rating, where a region departs from the rest.
fn character(region: &str) -> (f64, f64) {
    match region {
        "17" => (3.5, 4.45),
        "15" => (11.0, 3.45),
        "12" => (10.0, 3.55),
        "03" | "05" | "06" => (6.0, 3.95),
        "19" | "18" => (9.0, 3.6),
        ABROAD => (14.0, 3.4),
        _ => (7.0, 3.8),
    }
}

const PATRONATI: [(&str, u32); 14] = [
    ("INCA", 20),
    ("INAS", 16),
    ("ACLI", 12),
    ("ITAL", 10),
    ("EPACA", 8),
    ("ENASCO", 6),
    ("EPASA-ITACO", 5),
    ("INAC", 5),
    ("INAPA", 4),
    ("ENCAL", 3),
    ("SIAS", 3),
    ("LABOR", 3),
    ("ENAPA", 3),
    ("ANMIL", 2),
];

const TOPICS: [(&str, u32); 12] = [
    ("pensioni", 24),
    ("ricostituzioni", 8),
    ("naspi_dis_coll", 14),
    ("invalidita_civile", 10),
    ("assegno_unico", 12),
    ("adi_sfl", 6),
    ("maternita_congedi", 6),
    ("malattia", 5),
    ("estratto_conto_riscatti", 7),
    ("tfs_tfr_pubblici", 3),
    ("convenzioni_internazionali", 2),
    ("bonus_asilo_nido", 3),
];

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    /// The last month (its first day) and how many months up to it.
    pub until: NaiveDate,
    pub months: u32,
    /// Requests in the whole country per month.
    pub requests_per_month: u64,
    pub seed: u64,
    /// Nothing happens after this instant (answers still to come are left open).
    pub now: DateTime<Utc>,
}

/// A province as the generator sends requests from it: its comuni (sorted, so that a seed
/// decides the same ones) and its offices (the sede, and an agenzia per 30 comuni, about 450
/// in all): a comune's requests go to one of them.
struct Province {
    region: String,
    sigla: String,
    comuni: Vec<String>,
    offices: Vec<OfficeRef>,
}

/// A region with its provinces (their indices, weighted by their comuni), weighted by its
/// population.
type Weighted = ((String, Vec<(usize, u32)>), u32);

/// A deterministic generator of stories.
pub struct Generator {
    rng: fastrand::Rng,
    provinces: Vec<Province>,
    /// Region (with its provinces' indices, weighted by their comuni), by population.
    regions: Vec<Weighted>,
    sla: SlaPolicy,
    counter: u64,
}

const COMUNI_PER_AGENZIA: usize = 30;

fn agenzia_of(province: &str, region: &str, number: usize) -> OfficeRef {
    let sede = office_of(province, region);
    OfficeRef {
        code: format!("AG-{province}-{number}"),
        name: format!(
            "Agenzia territoriale {number} di {}",
            province_name(province).unwrap_or(province)
        ),
        kind: "agenzia".to_owned(),
        parent_code: sede.code.clone(),
        ..sede
    }
}

fn pick<'t, T>(rng: &mut fastrand::Rng, weighted: &'t [(T, u32)]) -> &'t T {
    let total: u32 = weighted.iter().map(|(_, weight)| weight).sum();
    let mut point = rng.u32(0..total.max(1));
    for (item, weight) in weighted {
        if point < *weight {
            return item;
        }
        point -= weight;
    }
    &weighted[0].0
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut fastrand::Rng) -> f64 {
    let (u, v) = (rng.f64().max(f64::MIN_POSITIVE), rng.f64());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

fn dr_code(region: &str) -> String {
    let name = region_name(region).unwrap_or(region).to_uppercase();
    format!("DR-{}", name.replace(['\'', ' '], "-"))
}

/// The provincial office of a province as the demo directory names it.
pub fn office_of(province: &str, region: &str) -> OfficeRef {
    if province == ABROAD {
        return OfficeRef {
            code: "POLO-ESTERO".to_owned(),
            name: "Polo nazionale per i residenti all'estero".to_owned(),
            kind: "polo".to_owned(),
            region_code: "12".to_owned(),
            parent_code: "DR-LAZIO".to_owned(),
            ..OfficeRef::default()
        };
    }
    let patron_day = match province {
        "PZ" => "05-30",
        "BA" => "12-06",
        "BO" => "10-04",
        "MI" => "12-07",
        "RM" => "06-29",
        _ => "",
    };
    OfficeRef {
        code: format!("SEDE-{province}"),
        name: format!(
            "Direzione provinciale di {}",
            province_name(province).unwrap_or(province)
        ),
        kind: "sede_provinciale".to_owned(),
        region_code: region.to_owned(),
        province_code: province.to_owned(),
        patron_day: patron_day.to_owned(),
        parent_code: dr_code(region),
    }
}

fn fallback_of(region: &str) -> OfficeRef {
    OfficeRef {
        code: format!("FALLBACK-{region}"),
        name: format!(
            "Coda di ricaduta: {}",
            region_name(region).unwrap_or("residenti all'estero")
        ),
        kind: "fallback".to_owned(),
        region_code: region.to_owned(),
        ..OfficeRef::default()
    }
}

/// A time-ordered id that a seed and a position decide (a UUIDv7 layout).
fn request_id(at: DateTime<Utc>, counter: u64) -> Uuid {
    let millis = u128::from(u64::try_from(at.timestamp_millis()).unwrap_or(0));
    Uuid::from_u128((millis << 80) | (7 << 76) | (2 << 62) | u128::from(counter & ((1 << 62) - 1)))
}

impl Generator {
    pub fn new(places: &Places, seed: u64) -> Self {
        let mut provinces: Vec<Province> = Vec::new();
        for (region, sigla) in places.provinces() {
            let mut comuni: Vec<String> = places
                .comuni()
                .filter(|(_, _, of)| of == sigla)
                .map(|(code, _, _)| code.to_owned())
                .collect();
            comuni.sort();
            let mut offices = vec![office_of(sigla, region)];
            offices.extend(
                (1..=comuni.len() / COMUNI_PER_AGENZIA)
                    .map(|number| agenzia_of(sigla, region, number)),
            );
            provinces.push(Province {
                region: region.clone(),
                sigla: sigla.clone(),
                comuni,
                offices,
            });
        }
        let regions = POPULATION
            .iter()
            .map(|(region, millions)| {
                let within: Vec<(usize, u32)> = provinces
                    .iter()
                    .enumerate()
                    .filter(|(_, province)| province.region == *region)
                    .map(|(index, province)| {
                        (
                            index,
                            u32::try_from(province.comuni.len())
                                .unwrap_or(u32::MAX)
                                .max(1),
                        )
                    })
                    .collect();
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "small weights"
                )]
                let weight = (millions * 100.0) as u32;
                (((*region).to_owned(), within), weight)
            })
            .collect();
        Self {
            rng: fastrand::Rng::with_seed(seed),
            provinces,
            regions,
            sla: SlaPolicy::default(),
            counter: 0,
        }
    }

    /// Every office the stories can name (for the labels).
    pub fn offices(&self) -> Vec<OfficeRef> {
        let mut offices = vec![office_of(ABROAD, ABROAD)];
        for region in crate::labels::REGIONS {
            offices.push(fallback_of(region));
        }
        offices.extend(
            self.provinces
                .iter()
                .flat_map(|province| province.offices.iter().cloned()),
        );
        offices
    }

    /// A moment on `day` when a patronato office is open (mostly working hours in Rome).
    fn moment(&mut self, day: NaiveDate) -> DateTime<Utc> {
        let minute = self.rng.u32(8 * 60..18 * 60);
        let local = day
            .and_hms_opt(minute / 60, minute % 60, self.rng.u32(0..60))
            .unwrap_or_default();
        Rome.from_local_datetime(&local).earliest().map_or_else(
            || Utc.from_utc_datetime(&local),
            |at| at.with_timezone(&Utc),
        )
    }

    fn later(from: DateTime<Utc>, days: f64) -> DateTime<Utc> {
        #[allow(
            clippy::cast_possible_truncation,
            reason = "minutes of at most a few years"
        )]
        let minutes = (days * 1440.0) as i64;
        from + chrono::Duration::minutes(minutes.max(5))
    }

    /// One request sent on `day`.
    pub fn story(&mut self, day: NaiveDate, now: DateTime<Utc>) -> Story {
        let rng = &mut self.rng;
        let (region, within) = pick(rng, &self.regions);
        let (province, comune, routed_to) = if region == ABROAD {
            let state = ["Z133", "Z401", "Z103", "Z110", "Z112"][rng.usize(0..5)];
            (
                ABROAD.to_owned(),
                state.to_owned(),
                office_of(ABROAD, ABROAD),
            )
        } else {
            let province = &self.provinces[*pick(rng, within)];
            let at = rng.usize(0..province.comuni.len().max(1));
            let comune = province.comuni.get(at).cloned().unwrap_or_default();
            let office = province.offices[at % province.offices.len().max(1)].clone();
            (province.sigla.clone(), comune, office)
        };
        let region = region.clone();
        let patronato = *pick(rng, &PATRONATI);
        let topic = *pick(rng, &TOPICS);
        let motivo = *pick(rng, &[(1i16, 30), (2, 25), (3, 45)]);
        let (median_days, mean_rating) = character(&region);
        let submitted_at = self.moment(day);
        let rng = &mut self.rng;
        let unroutable = region != ABROAD && rng.u32(0..1000) < 5;
        let office = if unroutable {
            fallback_of(&region)
        } else {
            routed_to
        };
        let calendar = OfficeCalendar::with_patron_day(&office.patron_day);
        let due_at = self.sla.deadline_at(submitted_at, &calendar).due_at;
        self.counter += 1;
        let id = request_id(submitted_at, self.counter);
        let mut story = Story {
            request_id: id,
            protocol_number: format!("CP-{}-{:08}", day.year(), self.counter % 100_000_000),
            submitted_at,
            comune,
            region: region.clone(),
            province: province.clone(),
            patronato,
            motivo,
            topic,
            office,
            unroutable,
            due_at,
            ..Story::default()
        };
        // The time to the first answer, log-normal around the region's median.
        let days = median_days * (0.8 * normal(&mut self.rng)).exp();
        let mut answer = Self::later(submitted_at, days);
        if self.rng.u32(0..100) < 8 {
            let asked = Self::later(submitted_at, days * 0.3);
            let replied = Self::later(asked, 0.5 + self.rng.f64() * 3.0);
            let remaining = self.sla.remaining_at(
                &combipat_domain::sla::Deadline {
                    due_at,
                    warn_at: due_at,
                },
                asked,
                &calendar,
            );
            let resumed = self.sla.resume_at(remaining, replied, &calendar).due_at;
            story.info = Some((asked, replied, resumed));
            answer = answer.max(Self::later(replied, 1.0 + self.rng.f64() * 4.0));
        }
        if !unroutable && province != ABROAD && self.rng.u32(0..100) < 3 {
            let within = self
                .regions
                .iter()
                .find(|((of, _), _)| *of == region)
                .map(|((_, within), _)| within);
            let target =
                within.and_then(|within| within.get(self.rng.usize(0..within.len().max(1))));
            let to = target.map(|(index, _)| self.provinces[*index].offices[0].clone());
            if let Some(to) = to.filter(|to| to.code != story.office.code) {
                let when = Self::later(submitted_at, days * 0.2);
                story.transfer = Some((when, to));
                answer = answer.max(Self::later(when, 1.0));
            }
        }
        let answered = self.rng.u32(0..100) < 96 && answer <= now;
        let chased_until = if answered { answer } else { now };
        let mut chase = combipat_domain::sollecito::possible_from(submitted_at, None);
        while chase < chased_until && story.solleciti.len() < 3 && self.rng.u32(0..100) < 45 {
            let at = Self::later(chase, self.rng.f64() * 2.0);
            if at >= chased_until {
                break;
            }
            story.solleciti.push(at);
            chase = combipat_domain::sollecito::possible_from(submitted_at, Some(at));
        }
        if answered {
            story.answered_at = Some(answer);
            let closed = Self::later(answer, self.rng.f64() * 5.0);
            if self.rng.u32(0..100) < 80 && closed <= now {
                story.closed_at = Some(closed);
            }
            let rated = Self::later(answer, self.rng.f64() * 3.0);
            if self.rng.u32(0..100) < 35 && rated <= now {
                let value = (mean_rating + 0.9 * normal(&mut self.rng))
                    .round()
                    .clamp(1.0, 5.0);
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "1 to 5"
                )]
                let value = value as u8;
                story.rating = Some((rated, value));
            }
        }
        story
    }

    /// How many requests are sent on `day`, of `per_month` in its month: fewer at weekends,
    /// more in the first days of the month.
    fn per_day(&mut self, day: NaiveDate, per_month: u64) -> u64 {
        #[allow(clippy::cast_precision_loss, reason = "a rate")]
        let mean = per_month as f64 / 22.0;
        let factor = match day.weekday() {
            Weekday::Sat => 0.08,
            Weekday::Sun => 0.02,
            _ if day.day() <= 5 => 1.25,
            _ => 0.95,
        };
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a count"
        )]
        let count = (mean * factor * (0.9 + 0.2 * self.rng.f64())).round() as u64;
        count
    }

    /// The days of the profile, oldest first, with how many requests each.
    pub fn days(&mut self, profile: &Profile) -> Vec<(NaiveDate, u64)> {
        let first = profile
            .until
            .checked_sub_months(chrono::Months::new(profile.months.saturating_sub(1)))
            .unwrap_or(profile.until);
        let end = profile
            .until
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(profile.until);
        let mut days = Vec::new();
        let mut day = first;
        let today = combipat_domain::sla::rome_date(profile.now);
        while day < end && day <= today {
            let count = self.per_day(day, profile.requests_per_month);
            days.push((day, count));
            day = day + Days::new(1);
        }
        days
    }
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use combipat_platform::handler::Event;

    use super::*;
    use crate::model::facts::Fact;

    pub(crate) static PLACES: LazyLock<Places> = LazyLock::new(|| {
        let data =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
        let territory = combipat_domain::territory::Territory::load_dir(&data)
            .expect("ANPR files in ../shared/data");
        Places::from_territory(&territory)
    });

    #[test]
    fn merging_a_storys_events_gives_its_fact() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let mut generator = Generator::new(&PLACES, 7);
        let mut kinds = [0usize; 5];
        for index in 0..3000u32 {
            let day =
                NaiveDate::from_ymd_opt(2026, 9, 1).unwrap() + Days::new(u64::from(index % 90));
            let story = generator.story(day, now);
            let mut merged = Fact::default();
            for envelope in story.events() {
                let event = Event::parse(&envelope).unwrap();
                if let Some(patch) = crate::events::patch(&event, &PLACES).unwrap() {
                    merged.merge(patch);
                }
            }
            assert_eq!(merged, story.fact(), "{story:#?}");
            kinds[0] += usize::from(story.info.is_some());
            kinds[1] += usize::from(story.transfer.is_some());
            kinds[2] += usize::from(!story.solleciti.is_empty());
            kinds[3] += usize::from(story.rating.is_some());
            kinds[4] += usize::from(story.unroutable);
        }
        assert!(
            kinds.iter().all(|count| *count > 0),
            "every kind of life occurs: {kinds:?}"
        );
    }

    #[test]
    fn the_same_seed_tells_the_same_stories() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 10, 5).unwrap();
        let (mut one, mut two) = (Generator::new(&PLACES, 3), Generator::new(&PLACES, 3));
        for _ in 0..50 {
            assert_eq!(one.story(day, now).fact(), two.story(day, now).fact());
        }
    }
}
