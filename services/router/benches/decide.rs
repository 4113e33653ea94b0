//! Routing decisions per second in process: the demo directory over the real territory,
//! a mix of residences (comuni with and without agenzia, residents abroad) and topics.
//! Run with `just bench` (or `cargo bench -p combipat-router --bench decide`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark's setup may fail loudly"
)]

use std::hint::black_box;
use std::sync::Arc;

use combipat_domain::{Territory, Topic};
use combipat_router::directory::{build_index, parse};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn decide(c: &mut Criterion) {
    let territory = Arc::new(Territory::load_dir(&combipat_testkit::shared_data_dir()).unwrap());
    let yaml = std::fs::read_to_string(combipat_testkit::demo_directory()).unwrap();
    let index = build_index(parse(&yaml).unwrap(), Arc::clone(&territory)).unwrap();
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
    residences.sort();
    let questions: Vec<(&str, &str, i32)> = residences
        .iter()
        .enumerate()
        .map(|(n, residence)| {
            (
                residence.as_str(),
                Topic::ALL[n % Topic::ALL.len()].code(),
                1 + (n % 3) as i32,
            )
        })
        .collect();

    let mut group = c.benchmark_group("routing");
    group.throughput(Throughput::Elements(questions.len() as u64));
    group.bench_function("decide every residence once", |b| {
        b.iter(|| {
            for (residence, topic, motivo) in &questions {
                black_box(index.decide(black_box(residence), topic, *motivo).unwrap());
            }
        });
    });
    group.finish();
}

criterion_group!(benches, decide);
criterion_main!(benches);
