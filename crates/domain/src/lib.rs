//! Domain rules that are ours to get exactly right: the codice fiscale, the territory, the
//! topics, the sollecito rule, Italian business days and the service-level clock. Pure
//! code, no I/O beyond reading reference files; property-tested.

pub mod calendar;
pub mod codice_fiscale;
pub mod files;
mod names;
pub mod sla;
pub mod sollecito;
pub mod territory;
pub mod text;
pub mod topic;

pub use codice_fiscale::{CodiceFiscale, CodiceFiscaleError};
pub use names::{REGION_CODES, province_name, region_name};
pub use territory::{
    Comune, ForeignState, Residence, ResidenceError, Territory, TerritoryError, TerritorySettings,
};
pub use topic::Topic;
