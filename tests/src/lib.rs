//! Harness for end-to-end tests: the service binaries as child processes, wired to this
//! test's databases and queues, and an OTLP sink that receives their spans.

pub mod fixtures;
pub mod matrix;
pub mod otlp;
pub mod own_servers;
pub mod process;

pub use otlp::{OtlpSink, ReceivedSpan};
pub use process::{Options, Servers, ServiceProcess, System};
