//! Avvisi: what INPS shares with the patronati, the other direction of the channel. A module of
//! notifier, since an avviso is delivered through notifier's channels (inbox, e-mail, webhooks)
//! under its preferences and read marks: see the README's "Avvisi" section.
//!
//! | file | responsibility |
//! |---|---|
//! | `model.rs` | an avviso's parts, the checks on what a publisher sends, its state at a time |
//! | `scope.rs` | who publishes where (admin: the nation; a direzione regionale: its region; a sede: its province) |
//! | `directory.rs` | router's office directory: what an INPS office is, each province's region |
//! | `offices.rs` | where patronato offices are: imported, or learned from routing decisions |
//! | `reading.rs` | who reads which avvisi |
//! | `store.rs` | versions, pages, the Italian text search, read marks and counts |
//! | `files.rs` | the files of a version |
//! | `deliver.rs` | the durable job that tells the audience (and of a withdrawal) |
//! | `api.rs`, `http.rs` | the gRPC service and its JSON routes |

pub mod api;
pub mod deliver;
pub mod directory;
mod files;
pub mod http;
pub mod model;
pub mod offices;
mod reading;
pub mod scope;
mod store;
