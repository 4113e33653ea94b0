//! Failpoints for fault tests: `COMBIPAT_FAILPOINTS=outbox.after_confirm=abort@3` makes the
//! process abort (as SIGKILL would: no shutdown, no flush) the third time it passes the named
//! point. Unset (always, outside tests) a failpoint costs one atomic read.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Environment variable naming the armed failpoints: `name=abort@N[,name=abort@N...]`.
pub const ENV: &str = "COMBIPAT_FAILPOINTS";

struct Armed {
    abort_at: u64,
    hits: AtomicU64,
}

fn armed() -> &'static HashMap<String, Armed> {
    static ARMED: OnceLock<HashMap<String, Armed>> = OnceLock::new();
    ARMED.get_or_init(|| {
        std::env::var(ENV)
            .unwrap_or_default()
            .split(',')
            .filter_map(|entry| {
                let (name, action) = entry.trim().split_once('=')?;
                let count = action.strip_prefix("abort@")?.parse().ok()?;
                Some((
                    name.to_owned(),
                    Armed {
                        abort_at: count,
                        hits: AtomicU64::new(0),
                    },
                ))
            })
            .collect()
    })
}

/// Passes the failpoint `name`.
pub fn hit(name: &str) {
    let Some(point) = armed().get(name) else {
        return;
    };
    if point.hits.fetch_add(1, Ordering::SeqCst) + 1 == point.abort_at {
        tracing::error!(failpoint = name, "failpoint reached: aborting the process");
        std::process::abort();
    }
}
