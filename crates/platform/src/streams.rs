//! How many long-lived streams (a queue watch, a live page) one caller holds at once: past
//! the limit a new one is refused (RESOURCE_EXHAUSTED) instead of letting one token pin a
//! replica's memory and connections. A stream holds a [`StreamPermit`] and gives it back
//! when it ends, however it ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::ApiError;

#[derive(Debug, Clone)]
pub struct StreamLimit {
    per_caller: usize,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

/// One open stream of a caller; dropping it closes its place.
#[derive(Debug)]
pub struct StreamPermit {
    caller: String,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

impl StreamLimit {
    pub fn new(per_caller: usize) -> Self {
        Self {
            per_caller: per_caller.max(1),
            open: Arc::default(),
        }
    }

    /// A place for one more stream of `caller`, or a refusal saying how many it holds.
    pub fn acquire(&self, caller: &str) -> Result<StreamPermit, ApiError> {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = open.entry(caller.to_owned()).or_insert(0);
        if *count >= self.per_caller {
            return Err(ApiError::ResourceExhausted {
                message: format!(
                    "you have {} streams open already, the most one caller may hold; close one first",
                    self.per_caller
                ),
                retry_after: Duration::from_secs(5),
            });
        }
        *count += 1;
        Ok(StreamPermit {
            caller: caller.to_owned(),
            open: Arc::clone(&self.open),
        })
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.caller) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.caller);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_holds_at_most_the_limit_and_a_closed_stream_frees_its_place() {
        let limit = StreamLimit::new(2);
        let first = limit.acquire("anna").unwrap();
        let _second = limit.acquire("anna").unwrap();
        assert!(matches!(
            limit.acquire("anna"),
            Err(ApiError::ResourceExhausted { .. })
        ));
        let _other = limit.acquire("bruno").unwrap();
        drop(first);
        let _again = limit.acquire("anna").unwrap();
    }
}
