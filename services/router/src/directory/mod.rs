//! The office directory: a versioned file of INPS offices and Poli, validated against the
//! ANPR territory into a [`RoutingIndex`] that decides competence in memory.

mod file;
mod index;
mod validate;

#[cfg(test)]
mod properties;

pub use file::{DirectoryFile, OfficeKind, parse};
pub use index::{Decision, Office, Place, RoutingIndex, Unroutable, fallback_office};
pub use validate::build_index;
