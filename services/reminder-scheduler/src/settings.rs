use serde::Deserialize;

pub const DEFAULTS: &str = include_str!("../defaults.toml");

/// This service's own sections; the platform's come with them.
#[derive(Debug, Clone, Deserialize)]
pub struct SchedulerSettings {}
