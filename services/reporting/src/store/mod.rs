//! Reporting's tables: the generations of the projection, the facts and cells of each, the
//! office labels and the frozen monthly reports. SQL lives here and only here.

pub mod cells;
pub mod facts;
pub mod generations;
pub mod offices;
pub mod reports;
