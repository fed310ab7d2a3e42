//! A delay for addresses that keep guessing tokens.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed authentications per client address over a minute: past `burst`, each further
/// 401 waits `delay` (times the excess, up to 8×) before it is sent, so guessing tokens on
/// one address runs at a few per second at most (and the connection cap bounds how many
/// addresses' guesses wait at once).
pub struct Throttle {
    burst: u32,
    delay: Duration,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at most; past it, expired ones are forgotten, then all.
const MAX_ADDRESSES: usize = 10_000;

impl Throttle {
    pub fn new(burst: u32, delay: Duration) -> Throttle {
        Throttle {
            burst,
            delay,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Notes a failure from `ip`; gives how long its answer should wait.
    pub fn failed(&self, ip: IpAddr) -> Duration {
        if self.delay.is_zero() {
            return Duration::ZERO;
        }
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= MAX_ADDRESSES && !seen.contains_key(&ip) {
            seen.retain(|_, (t, _)| now.duration_since(*t) < WINDOW);
            if seen.len() >= MAX_ADDRESSES {
                seen.clear();
            }
        }
        let e = seen.entry(ip).or_insert((now, 0));
        if now.duration_since(e.0) >= WINDOW {
            *e = (now, 0);
        }
        e.1 = e.1.saturating_add(1);
        let over = e.1.saturating_sub(self.burst);
        self.delay * over.min(8)
    }
}
