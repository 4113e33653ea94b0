//! Ports for servers a test starts as processes (services, a broker or database of its own).

use std::collections::BTreeSet;
use std::sync::Mutex;

/// Below Linux's ephemeral range (32768-60999 by default).
const PORTS: std::ops::Range<u16> = 20_000..32_000;

/// Ports handed out by this process, never handed out again (a restarted service keeps its
/// own port).
static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A port nothing listens on now, for a server started later on it.
///
/// Not a port the kernel picks (`bind(0)`): those come from the ephemeral range, the same
/// range every outgoing connection takes its local port from, so under load a client
/// connection to PostgreSQL or RabbitMQ took the port before the service bound it ("Address
/// already in use"). Outside that range only another test process picking the same number
/// before either binds it can collide: about one chance in 12,000 per pair of picks.
pub fn free_port() -> anyhow::Result<u16> {
    let mut given = GIVEN
        .lock()
        .map_err(|_| anyhow::anyhow!("the port registry is poisoned"))?;
    for _ in 0..1_000 {
        let port = fastrand::u16(PORTS);
        if given.contains(&port) {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            return Ok(port);
        }
    }
    anyhow::bail!("no free port in {PORTS:?}")
}
