//! The platform every COMBIPAT service stands on: one way of doing each cross-cutting
//! thing. See `README.md` beside this crate for the map.

pub mod admin;
pub mod app;
pub mod audit;
pub mod auth;
pub mod batcher;
pub mod bounds;
pub mod cli;
pub mod clock;
pub mod db;
pub mod error;
pub mod failpoint;
pub mod files;
pub mod grpc;
pub mod grpc_client;
pub mod handler;
pub mod inbox;
pub mod italian;
pub mod jobs;
pub mod json_api;
pub mod listen;
pub mod messaging;
pub mod metrics;
pub mod outbox;
pub mod overload;
pub mod propagation;
pub mod rate_limit;
pub mod retention;
pub mod server_metrics;
pub mod settings;
pub mod shutdown;
pub mod streams;
pub mod telemetry;
pub mod time;
pub mod unused_uploads;

pub use app::{
    RunningService, ServiceContext, ServiceDefinition, load_settings, start, start_with_clock,
};
pub use error::{ApiError, Violation};
