//! Realistic traffic: who writes (the patronati by their relative size), for whom (citizens
//! resident across Italy by each region's share of the population, every active comune of
//! a region alike), why (the three motivi) and about what (the prestazioni). Seeded, so two
//! runs send the same requests.

use anyhow::Context as _;
use combipat_domain::codice_fiscale::check_character;
use combipat_domain::{Territory, Topic};
use combipat_proto::common::v1::Motivo;
use combipat_proto::intake::v1::SubmitRequestRequest;
use rand::distr::Distribution as _;
use rand::distr::weighted::WeightedIndex;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

/// The larger patronati and their share of the requests (an estimate of their relative size).
pub const PATRONATI: [(&str, f64); 8] = [
    ("INCA", 0.26),
    ("ACLI", 0.18),
    ("INAS", 0.14),
    ("ITAL", 0.11),
    ("EPACA", 0.09),
    ("INAPA", 0.08),
    ("ENASCO", 0.07),
    ("ANMIL", 0.07),
];

/// ISTAT region code and share of the resident population (ISTAT, 1 January 2024, rounded).
const REGIONS: [(&str, f64); 20] = [
    ("01", 7.2),
    ("02", 0.2),
    ("03", 16.9),
    ("04", 1.8),
    ("05", 8.2),
    ("06", 2.0),
    ("07", 2.6),
    ("08", 7.5),
    ("09", 6.2),
    ("10", 1.4),
    ("11", 2.5),
    ("12", 9.7),
    ("13", 2.2),
    ("14", 0.5),
    ("15", 9.4),
    ("16", 6.6),
    ("17", 0.9),
    ("18", 3.1),
    ("19", 8.0),
    ("20", 2.7),
];

const MOTIVI: [(Motivo, f64); 3] = [
    (Motivo::SollecitoPratica, 0.40),
    (Motivo::InfoPagamenti, 0.35),
    (Motivo::RichiestaGenerica, 0.25),
];

/// Weights in the order of `Topic::ALL`.
const TOPIC_WEIGHTS: [f64; 12] = [
    25.0, 6.0, 12.0, 10.0, 12.0, 6.0, 6.0, 5.0, 8.0, 4.0, 3.0, 3.0,
];

/// One request to send: who sends it and what.
#[derive(Debug, Clone)]
pub struct Planned {
    pub patronato: &'static str,
    pub patronato_office: String,
    pub request: SubmitRequestRequest,
}

pub struct Traffic {
    rng: StdRng,
    comuni_by_region: Vec<Vec<(String, String)>>,
    regions: WeightedIndex<f64>,
    patronati: WeightedIndex<f64>,
    motivi: WeightedIndex<f64>,
    topics: WeightedIndex<f64>,
}

impl Traffic {
    pub fn new(territory: &Territory, seed: u64) -> anyhow::Result<Self> {
        let comuni_by_region: Vec<Vec<(String, String)>> = REGIONS
            .iter()
            .map(|(region, _)| {
                territory
                    .active_comuni()
                    .filter(|comune| comune.region == *region)
                    .map(|comune| (comune.belfiore.clone(), comune.province.clone()))
                    .collect()
            })
            .collect();
        anyhow::ensure!(
            comuni_by_region.iter().all(|comuni| !comuni.is_empty()),
            "a region without active comuni in the ANPR archive"
        );
        Ok(Self {
            rng: StdRng::seed_from_u64(seed),
            comuni_by_region,
            regions: WeightedIndex::new(REGIONS.iter().map(|(_, share)| *share))?,
            patronati: WeightedIndex::new(PATRONATI.iter().map(|(_, share)| *share))?,
            motivi: WeightedIndex::new(MOTIVI.iter().map(|(_, share)| *share))?,
            topics: WeightedIndex::new(TOPIC_WEIGHTS)?,
        })
    }

    /// The `n`-th request: a new citizen each time (so none is a likely duplicate).
    pub fn next(&mut self, n: usize) -> anyhow::Result<Planned> {
        let region = self.regions.sample(&mut self.rng);
        let comuni = &self.comuni_by_region[region];
        let (comune, province) = comuni[self.rng.random_range(0..comuni.len())].clone();
        let patronato = PATRONATI[self.patronati.sample(&mut self.rng)].0;
        let motivo = MOTIVI[self.motivi.sample(&mut self.rng)].0;
        let topic = Topic::ALL[self.topics.sample(&mut self.rng)]
            .code()
            .to_owned();
        let codice_fiscale = citizen(n, &comune)?;
        let (topic, prestazione, pratica) = match motivo {
            Motivo::SollecitoPratica => (
                String::new(),
                topic,
                format!("INPS.{:04}.2026.{:07}", self.rng.random_range(1..9999), n),
            ),
            Motivo::InfoPagamenti => (String::new(), topic, String::new()),
            _ => (topic, String::new(), String::new()),
        };
        Ok(Planned {
            patronato,
            patronato_office: format!("{patronato}-{province}-01"),
            request: SubmitRequestRequest {
                motivo: motivo as i32,
                codice_fiscale,
                comune_residenza: comune,
                topic,
                prestazione,
                pratica_protocol_number: pratica,
                subject: format!("Richiesta n. {n}"),
                body: "Il cittadino chiede notizie della sua pratica e dei pagamenti.".into(),
                ..SubmitRequestRequest::default()
            },
        })
    }
}

/// A valid codice fiscale for citizen `n`, born in `comune`: the surname and name spell n.
pub fn citizen(n: usize, comune: &str) -> anyhow::Result<String> {
    let letters: String = format!("{:06}", n % 1_000_000)
        .bytes()
        .map(|digit| char::from(b'A' + (digit - b'0')))
        .collect();
    let months = b"ABCDEHLMPRST";
    let month = char::from(months[n % months.len()]);
    let first15 = format!(
        "{letters}{:02}{month}{:02}{comune}",
        40 + n % 50,
        1 + n % 28
    );
    let check = check_character(first15.as_bytes()).context("check character")?;
    Ok(format!("{first15}{check}"))
}
