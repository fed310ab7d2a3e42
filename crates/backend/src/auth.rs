//! What bounds the cost of failed authentication: a delay for addresses that keep guessing
//! (taken first, before a password is hashed), the client's address as a trusted proxy
//! names it, and a small pool of low-priority threads for password hashing with a bounded
//! queue (past it a password is answered 503 unhashed), so a flood of wrong v1 passwords
//! cannot take the CPU, or memory, from valid writes (issue 25 item 4).

use std::collections::HashMap;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{mpsc, Arc, Mutex, OnceLock};
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

    /// How long a request from `ip` waits before its password is hashed: what its next
    /// failure would cost, once the address is past its burst (nothing is counted).
    pub fn owed(&self, ip: IpAddr) -> Duration {
        if self.delay.is_zero() {
            return Duration::ZERO;
        }
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        match seen.get(&ip) {
            Some(&(t, n)) if t.elapsed() < WINDOW => {
                self.delay * n.saturating_sub(self.burst).min(8)
            }
            _ => Duration::ZERO,
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

/// An address or network an operator names as a proxy (`--trusted-proxies`): `127.0.0.1`,
/// `10.0.0.0/8`, `::1`, `fd00::/8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    bits: u8,
}

impl FromStr for Net {
    type Err = String;
    fn from_str(s: &str) -> Result<Net, String> {
        let bad = || format!("{s:?}: want an IP address or ADDRESS/BITS");
        let (a, bits) = match s.trim().split_once('/') {
            Some((a, b)) => (a, Some(b.parse::<u8>().map_err(|_| bad())?)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        if bits > max {
            return Err(bad());
        }
        Ok(Net { addr, bits })
    }
}

impl Net {
    /// Whether `ip` is in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (a, b, width) = match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) as u128, u32::from(b) as u128, 32),
            (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
            _ => return false,
        };
        let shift = width - u32::from(self.bits);
        shift >= width || (a >> shift) == (b >> shift)
    }
}

/// The client's address: the peer's, or, when the peer is a proxy the operator trusts,
/// the address it names in `header` (the Worker sets it; from anyone else it is ignored,
/// so a client cannot pick the address its failures are counted against).
pub fn client_address(peer: IpAddr, trusted: &[Net], header: Option<&[u8]>) -> IpAddr {
    if !trusted.iter().any(|n| n.contains(peer)) {
        return peer;
    }
    header
        .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse().ok())
        .unwrap_or(peer)
}

type Job = Box<dyn FnOnce() + Send>;

/// Why a hash did not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotHashed {
    /// The pool's threads and its queue were full for the whole wait: answered unhashed
    /// (503 with `Retry-After`), so a flood of guesses costs no more hashing than the
    /// pool does and holds no more than its queue.
    Busy,
    /// The pool is gone (its threads could not start).
    Gone,
}

/// A fixed number of threads for password hashing, at the lowest CPU priority (`SCHED_IDLE`),
/// with a bounded queue: at most `threads` hashes run at once and `queue` more wait their
/// turn; a request past that waits (parked, no CPU) at most `wait` for a place, then is
/// answered unhashed ([`NotHashed::Busy`]). While the machine is busy with valid writes
/// the hashing gets only what is left over, and valid credentials (tokens, recently
/// verified passwords) never come here.
pub struct HashPool {
    jobs: Mutex<mpsc::Sender<Job>>,
    /// Places: running and queued hashes together.
    places: Arc<tokio::sync::Semaphore>,
    capacity: usize,
    wait: Duration,
}

/// How long a password waits for a place in the hashing queue before its 503.
pub const HASH_WAIT: Duration = Duration::from_secs(1);

impl HashPool {
    /// Starts `threads` hashing threads (at least one) with `queue` more places to wait in.
    pub fn new(threads: usize, queue: usize, wait: Duration) -> HashPool {
        let threads = threads.max(1);
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("linegate-hash-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "starting a password hashing thread");
            }
        }
        HashPool {
            jobs: Mutex::new(tx),
            places: Arc::new(tokio::sync::Semaphore::new(threads + queue)),
            capacity: threads + queue,
            wait,
        }
    }

    /// Queues `f` holding `place` (given back when it has run).
    fn send<T: Send + 'static>(
        &self,
        place: tokio::sync::OwnedSemaphorePermit,
        f: impl FnOnce() -> T + Send + 'static,
        done: impl FnOnce(T) + Send + 'static,
    ) -> Result<(), NotHashed> {
        let job: Job = Box::new(move || {
            let out = f();
            drop(place);
            done(out);
        });
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(job)
            .map_err(|_| NotHashed::Gone)
    }

    /// Runs `f` on the pool and waits for its result (blocking the calling thread; it polls
    /// for a place for at most the pool's wait).
    pub fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, NotHashed> {
        let deadline = Instant::now() + self.wait;
        let place = loop {
            match self.places.clone().try_acquire_owned() {
                Ok(p) => break p,
                Err(tokio::sync::TryAcquireError::Closed) => return Err(NotHashed::Gone),
                Err(tokio::sync::TryAcquireError::NoPermits) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(_) => return Err(NotHashed::Busy),
            }
        };
        let (tx, rx) = mpsc::channel();
        self.send(place, f, move |out| {
            let _ = tx.send(out);
        })?;
        rx.recv().map_err(|_| NotHashed::Gone)
    }

    /// [`HashPool::run`] for async callers: the waits (for a place, for the hash) park the
    /// task, not a thread.
    pub async fn run_async<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, NotHashed> {
        let place = match tokio::time::timeout(self.wait, self.places.clone().acquire_owned()).await
        {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return Err(NotHashed::Gone),
            Err(_) => return Err(NotHashed::Busy),
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(place, f, move |out| {
            let _ = tx.send(out);
        })?;
        rx.await.map_err(|_| NotHashed::Gone)
    }

    /// Hashes running or queued now.
    pub fn in_use(&self) -> usize {
        self.capacity
            .saturating_sub(self.places.available_permits())
    }
}

static POOL: OnceLock<HashPool> = OnceLock::new();

/// Sizes the process's hashing pool (`serve --hash-threads`, `--hash-queue`); the first
/// call wins.
pub fn init_hash_pool(threads: usize, queue: usize) {
    let _ = POOL.set(HashPool::new(threads, queue, HASH_WAIT));
}

/// The process's hashing pool (one thread and a queue of four unless `init_hash_pool`
/// said otherwise).
pub fn hash_pool() -> &'static HashPool {
    POOL.get_or_init(|| HashPool::new(1, 4, HASH_WAIT))
}

/// The lowest CPU priority for the calling thread (Linux keeps both per thread): the
/// `SCHED_IDLE` policy, under which it runs only on a CPU nothing else wants, so hashing
/// never takes time from valid writes; and nice 19, should that policy be refused. Elsewhere,
/// or if both are refused, the thread keeps its priority and the pool's size still bounds it.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: both calls only read their arguments; `pid`/`who` 0 names the calling thread.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
        libc::setpriority(libc::PRIO_PROCESS, 0, 19);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nets() {
        let n: Net = "10.0.0.0/8".parse().unwrap();
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(!n.contains("11.0.0.1".parse().unwrap()));
        assert!(!n.contains("::1".parse().unwrap()));
        let one: Net = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let all: Net = "::/0".parse().unwrap();
        assert!(all.contains("fd00::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Net>().is_err());
        assert!("nope".parse::<Net>().is_err());
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy() {
        let proxy: Vec<Net> = vec!["127.0.0.1".parse().unwrap()];
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "192.0.2.7".parse().unwrap();
        let named = Some(&b"198.51.100.9"[..]);
        assert_eq!(
            client_address(lo, &proxy, named),
            "198.51.100.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_address(other, &proxy, named), other);
        assert_eq!(client_address(lo, &proxy, Some(b"garbage")), lo);
        assert_eq!(client_address(lo, &[], named), lo);
    }

    #[test]
    fn owed_before_hashing() {
        let t = Throttle::new(2, Duration::from_millis(10));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(t.owed(ip), Duration::ZERO);
        for _ in 0..4 {
            t.failed(ip);
        }
        assert_eq!(t.owed(ip), Duration::from_millis(20));
        assert_eq!(HashPool::new(1, 0, HASH_WAIT).run(|| 6 * 7), Ok(42));
    }

    #[test]
    fn the_queue_is_bounded_and_past_it_nothing_is_hashed() {
        // One thread, one place in the queue, no wait: the third job is refused unrun.
        let pool = Arc::new(HashPool::new(1, 1, Duration::ZERO));
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let go_rx = Arc::new(Mutex::new(go_rx));
        let ran = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut held = Vec::new();
        for _ in 0..2 {
            let (pool, go_rx, ran) = (pool.clone(), go_rx.clone(), ran.clone());
            held.push(std::thread::spawn(move || {
                pool.run(move || {
                    let _ = go_rx.lock().unwrap().recv();
                    ran.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                })
            }));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while pool.in_use() < 2 {
            assert!(
                Instant::now() < deadline,
                "the two jobs never took their places"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let r = pool.run(|| unreachable!("a job past the queue ran"));
        assert_eq!(r, Err(NotHashed::Busy));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let r = rt.block_on(pool.run_async(|| unreachable!("a job past the queue ran")));
        assert_eq!(r, Err(NotHashed::Busy));
        go_tx.send(()).unwrap();
        go_tx.send(()).unwrap();
        for h in held {
            assert_eq!(h.join().unwrap(), Ok(()));
        }
        assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(pool.in_use(), 0);
        assert_eq!(pool.run(|| 7), Ok(7));
    }
}
