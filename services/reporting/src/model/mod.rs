//! The pure part of reporting: facts of requests, what they contribute to the cells, and the
//! figures read from summed cells. No database, no network: property-tested.

pub mod buckets;
pub mod contribution;
pub mod dims;
pub mod facts;
pub mod figures;
pub mod measures;
pub mod period;
