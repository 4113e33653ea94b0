//! What is known of one request, from the events read so far: every field is merged so that
//! any order of arrival, and any number of copies of an event, end in the same fact. Merging
//! is a join: commutative, associative and idempotent (property-tested below), so the
//! projection needs no event log and no arrival order.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The request as filed (`request.submitted`, repeated in router's decision).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Summary {
    pub submitted_at: DateTime<Utc>,
    /// By the citizen's residence: ISTAT region code and province sigla (`EE` abroad, empty
    /// when the comune is not known to ANPR).
    pub region: String,
    pub province: String,
    pub patronato: String,
    pub motivo: i16,
    pub topic: String,
}

/// The office a request is at, as of a lifecycle step.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OfficeAt {
    /// The envelope's sequence: the later step wins.
    pub seq: u64,
    pub code: String,
    /// MM-DD, empty when the directory names none.
    pub patron_day: String,
}

/// The earliest answer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FirstAnswer {
    pub at: DateTime<Utc>,
    pub seq: u64,
    pub office: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Rating {
    pub at: DateTime<Utc>,
    pub value: u8,
    pub office: String,
}

/// The parts that are sets (kept as JSON beside the fact's columns).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detail {
    /// Sequences of `request.transferred` and `request.info_requested`: distinct steps.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub transfers: BTreeSet<u64>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub info_requests: BTreeSet<u64>,
    /// The office's deadline of each running clock, by the sequence that set it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub deadlines: BTreeMap<u64, DateTime<Utc>>,
    /// One rating per answer (by its number).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ratings: BTreeMap<u32, Rating>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fact {
    pub summary: Option<Summary>,
    pub office: Option<OfficeAt>,
    pub unroutable: bool,
    pub first_answer: Option<FirstAnswer>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The highest count of solleciti announced.
    pub solleciti: u32,
    pub detail: Detail,
}

fn smaller<T: Ord>(left: Option<T>, right: Option<T>) -> Option<T> {
    match (left, right) {
        (Some(left), Some(right)) => Some(left.min(right)),
        (left, right) => left.or(right),
    }
}

fn larger<T: Ord>(left: Option<T>, right: Option<T>) -> Option<T> {
    left.max(right)
}

impl Fact {
    /// Joins what `other` knows into this fact.
    pub fn merge(&mut self, other: Self) {
        // Copies of the summary are the same request; should two ever differ, the smaller
        // wins, so that the order of arrival cannot decide.
        self.summary = smaller(self.summary.take(), other.summary);
        self.office = larger(self.office.take(), other.office);
        self.unroutable |= other.unroutable;
        self.first_answer = smaller(self.first_answer.take(), other.first_answer);
        self.closed_at = smaller(self.closed_at.take(), other.closed_at);
        self.solleciti = self.solleciti.max(other.solleciti);
        let detail = &mut self.detail;
        detail.transfers.extend(other.detail.transfers);
        detail.info_requests.extend(other.detail.info_requests);
        for (seq, due) in other.detail.deadlines {
            let kept = detail.deadlines.entry(seq).or_insert(due);
            *kept = (*kept).max(due);
        }
        for (number, rating) in other.detail.ratings {
            match detail.ratings.get_mut(&number) {
                Some(kept) if *kept >= rating => {}
                Some(kept) => *kept = rating,
                None => {
                    detail.ratings.insert(number, rating);
                }
            }
        }
    }

    /// When it stopped being open: its first answer or its closure, whichever came first.
    pub fn resolved_at(&self) -> Option<DateTime<Utc>> {
        smaller(
            self.first_answer.as_ref().map(|answer| answer.at),
            self.closed_at,
        )
    }

    /// The office's deadline for the first answer: that of the last clock started at or
    /// before the answer's step.
    pub fn deadline_of_first_answer(&self) -> Option<DateTime<Utc>> {
        let answer = self.first_answer.as_ref()?;
        self.detail
            .deadlines
            .range(..=answer.seq)
            .next_back()
            .map(|(_, due)| *due)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::TimeZone as _;
    use proptest::prelude::*;

    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap() + chrono::Duration::minutes(minutes)
    }

    /// A fact that knows one thing, as one event would tell it.
    pub(crate) fn one_thing() -> impl Strategy<Value = Fact> {
        let summary = (0i64..5, prop_oneof![Just("INCA"), Just("ACLI")]).prop_map(|(m, p)| Fact {
            summary: Some(Summary {
                submitted_at: at(m),
                region: "17".into(),
                province: "PZ".into(),
                patronato: p.into(),
                motivo: 3,
                topic: "pensioni".into(),
            }),
            ..Fact::default()
        });
        let office =
            (1u64..6, prop_oneof![Just("SEDE-PZ"), Just("SEDE-MT")]).prop_map(|(seq, code)| Fact {
                office: Some(OfficeAt {
                    seq,
                    code: code.into(),
                    patron_day: String::new(),
                }),
                ..Fact::default()
            });
        let answer = (0i64..20_000, 2u64..9).prop_map(|(m, seq)| Fact {
            first_answer: Some(FirstAnswer {
                at: at(m),
                seq,
                office: "SEDE-PZ".into(),
            }),
            ..Fact::default()
        });
        let rest = (0u32..4, 1u64..9, 0i64..20_000, 1u8..6, any::<bool>()).prop_map(
            |(solleciti, seq, m, value, unroutable)| {
                let mut fact = Fact {
                    solleciti,
                    unroutable,
                    closed_at: (seq % 3 == 0).then(|| at(m)),
                    ..Fact::default()
                };
                fact.detail.transfers.insert(seq);
                fact.detail.deadlines.insert(seq, at(m * 2));
                fact.detail.ratings.insert(
                    u32::try_from(seq % 2).unwrap(),
                    Rating {
                        at: at(m),
                        value,
                        office: "SEDE-PZ".into(),
                    },
                );
                if seq % 2 == 0 {
                    fact.detail.info_requests.insert(seq);
                }
                fact
            },
        );
        prop_oneof![summary, office, answer, rest]
    }

    fn merged(facts: &[Fact]) -> Fact {
        let mut all = Fact::default();
        for fact in facts {
            all.merge(fact.clone());
        }
        all
    }

    proptest! {
        #[test]
        fn any_order_and_any_copies_give_the_same_fact(
            facts in proptest::collection::vec(one_thing(), 1..12),
            order in any::<u64>(),
            copies in proptest::collection::vec(0usize..12, 0..6),
        ) {
            let expected = merged(&facts);
            let mut shuffled: Vec<Fact> = facts.clone();
            for index in copies {
                shuffled.push(facts[index % facts.len()].clone());
            }
            // A deterministic shuffle driven by `order`.
            let mut state = order | 1;
            for index in (1..shuffled.len()).rev() {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                shuffled.swap(index, usize::try_from(state % (index as u64 + 1)).unwrap());
            }
            prop_assert_eq!(merged(&shuffled), expected);
        }
    }

    #[test]
    fn the_deadline_of_the_answer_is_the_last_clock_started_before_it() {
        let mut fact = Fact::default();
        fact.detail.deadlines.insert(2, at(100));
        fact.detail.deadlines.insert(5, at(300));
        fact.detail.deadlines.insert(9, at(900));
        fact.first_answer = Some(FirstAnswer {
            at: at(50),
            seq: 6,
            office: "X".into(),
        });
        assert_eq!(fact.deadline_of_first_answer(), Some(at(300)));
        fact.closed_at = Some(at(10));
        assert_eq!(fact.resolved_at(), Some(at(10)));
    }
}
