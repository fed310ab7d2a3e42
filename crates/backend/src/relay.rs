//! Store-and-forward: committed batches are delivered to an upstream (InfluxDB v2, InfluxDB
//! 1.x or VictoriaMetrics: `--upstream-kind`, whose rules are core's `upstream` module) in
//! commit order, one request at a time, at least once. What follows an answer is core's one
//! delivery policy (`linegate_core::delivery`, read through `upstream::decide` so that 1.x's
//! partial writes and permanent errors are dead letters at once): the relay loops on its
//! decision — delivered, retry after N ms, split at a line start, dead letter — and never
//! reads a status itself. It sends its own token, so a 401 or 403 (a rotated token) waits
//! for an operator without parking anything. The cursor (last batch done) is saved with
//! each delivered request, so a crash re-sends at most the request in flight, and with it a
//! row of the delivery log (`store::deliveries`, kept for `--upstream-replay-window`).
//! Delivered batches stay in the store (they are the backend's own data), so
//! `linegate-backend replay --since T` moves the cursor back to send again what the upstream
//! acknowledged at or after T (by the log) or what was committed since (by commit time),
//! after an upstream lost what it had acknowledged.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use linegate_core::delivery::{
    Answer, Batch as DeliveryBatch, DeadReason, Decision, History, Policy,
};
use linegate_core::upstream::{self, Kind};
use linegate_core::{read_batch, ParseOptions, Precision};

use crate::clock::now_ns;
use crate::metrics::{Metrics, UpstreamStats};
use crate::store::{self, Store, StoredBatch};

const CURSOR_KEY: &str = "relay_cursor";
/// Where `replay` leaves the cursor it wants; the running relay takes it up.
pub const REPLAY_KEY: &str = "relay_replay";

/// Most bytes of stored batches joined into one upstream request.
const COALESCE_BYTES: usize = 8 << 20;

/// Where a local bucket goes upstream.
#[derive(Clone, Debug, Default)]
pub struct Target {
    pub org: Option<String>,
    pub bucket: Option<String>,
}

#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// Base URL, e.g. `http://127.0.0.1:8086`.
    pub url: String,
    /// What the upstream is: its URL, credentials and answers follow that kind's rules.
    pub kind: Kind,
    /// Its place among `--upstream`s: the first keeps the unsuffixed cursor key and
    /// dead-letter name of a single-upstream relay.
    pub index: usize,
    pub token: String,
    /// Upstream org for every bucket without its own (default: the local org's name).
    pub org: Option<String>,
    /// Local bucket name → upstream org and bucket.
    pub buckets: HashMap<String, Target>,
    /// First backoff after a failure; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    pub timeout: Duration,
    /// How long the delivery log keeps what this upstream acknowledged, for `replay --since`
    /// (zero: no log; replay then goes by commit time only).
    pub replay_window: Duration,
}

impl RelayConfig {
    pub fn new(url: String, token: String) -> RelayConfig {
        RelayConfig {
            url: url.trim_end_matches('/').to_string(),
            kind: Kind::InfluxDb2,
            index: 0,
            token,
            org: None,
            buckets: HashMap::new(),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
            replay_window: Duration::from_secs(3600),
        }
    }
}

/// A batch or part of one: its precision, body and points.
type Part = (Precision, Vec<u8>, u64);

/// One attempt's outcome, as core's delivery policy reads it: the answer (status and
/// `Retry-After`, or none) and the answer's body.
struct Sent {
    answer: Answer<'static>,
    retry_after: Option<Vec<u8>>,
    body: String,
}

impl Sent {
    fn failed(answer: Answer<'static>) -> Sent {
        Sent {
            answer,
            retry_after: None,
            body: String::new(),
        }
    }

    fn status(&self) -> u16 {
        match self.answer {
            Answer::Status { status, .. } => status,
            _ => 0,
        }
    }

    fn answer(&self) -> Answer<'_> {
        match self.answer {
            Answer::Status { status, .. } => Answer::Status {
                status,
                retry_after: self.retry_after.as_deref(),
            },
            a => a,
        }
    }
}

fn now_ms() -> u64 {
    (now_ns() / 1_000_000).max(0) as u64
}

/// A number in [0, 1) for the backoff's jitter (no cryptographic need: xorshift of the clock).
fn random01() -> f64 {
    let mut x = now_ns() as u64 | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

pub struct Relay {
    store: Arc<Store>,
    /// This upstream's own cursor key, dead-letter name and counters.
    name: String,
    cursor_key: String,
    pub stats: Arc<UpstreamStats>,
    cfg: RelayConfig,
    /// Core's delivery policy with this relay's backoff; the relay sends its own token, so a
    /// 401 or 403 waits for an operator instead of parking every batch.
    policy: Policy,
    client: Client<HttpConnector, Full<Bytes>>,
    metrics: Arc<Metrics>,
    pub cursor: Arc<AtomicI64>,
}

impl Relay {
    pub fn new(
        store: Arc<Store>,
        cfg: RelayConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Relay, String> {
        let conn = store::open_read(&store.dir).map_err(|e| e.to_string())?;
        // The first upstream keeps a single relay's names; the others are told by URL.
        let name = if cfg.index == 0 {
            String::new()
        } else {
            cfg.url.clone()
        };
        let cursor_key = if cfg.index == 0 {
            CURSOR_KEY.to_string()
        } else {
            format!("{CURSOR_KEY}:{}", cfg.url)
        };
        let cursor = store::get_meta(&conn, &cursor_key)
            .map_err(|e| e.to_string())?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0i64);
        let cursor = Arc::new(AtomicI64::new(cursor));
        let stats = Arc::new(UpstreamStats {
            url: cfg.url.clone(),
            cursor: cursor.clone(),
            points: AtomicU64::new(0),
            dead_letters: AtomicU64::new(0),
        });
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(http);
        let policy = Policy {
            backoff_base_ms: cfg.min_backoff.as_millis() as u64,
            backoff_cap_ms: cfg.max_backoff.as_millis() as u64,
            own_credentials: true,
            ..Policy::default()
        };
        Ok(Relay {
            store,
            name,
            cursor_key,
            stats,
            cfg,
            policy,
            client,
            metrics,
            cursor,
        })
    }

    pub async fn run(self) {
        loop {
            self.take_replay().await;
            if self.replay_dead_letter().await {
                continue;
            }
            let cursor = self.cursor.load(Ordering::SeqCst);
            let dir = self.store.dir.clone();
            let batches = tokio::task::spawn_blocking(move || {
                let conn = store::open_read(&dir).map_err(|e| e.to_string())?;
                store::batches_after(&conn, cursor, 16)
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
            let batches = match batches {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "relay: reading batches");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if batches.is_empty() {
                let _ = tokio::time::timeout(
                    Duration::from_millis(500),
                    self.store.committed.notified(),
                )
                .await;
                continue;
            }
            let mut i = 0;
            while i < batches.len() {
                // Consecutive batches for one bucket and precision go as one request.
                let mut j = i + 1;
                let mut size = batches[i].body.len();
                while j < batches.len()
                    && linegate_core::lp::joinable(&batches[j - 1].body)
                    && batches[j].bucket_id == batches[i].bucket_id
                    && batches[j].precision == batches[i].precision
                    && size + batches[j].body.len() < COALESCE_BYTES
                {
                    size += batches[j].body.len() + 1;
                    j += 1;
                }
                let group = &batches[i..j];
                if group.len() == 1 || !self.deliver_joined(group).await {
                    for b in group {
                        self.deliver(b).await;
                    }
                }
                // Saved before the next request goes: a crash re-sends at most the one in
                // flight (VictoriaMetrics keeps both copies of a re-sent sample).
                let seq = group[group.len() - 1].seq;
                self.cursor.store(seq, Ordering::SeqCst);
                while !self.save_cursor(group[0].seq, seq).await {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                i = j;
            }
        }
    }

    /// Saves the cursor after batches `first..=seq` were done, and logs their delivery (kept
    /// for the replay window) in the same transaction.
    async fn save_cursor(&self, first: i64, seq: i64) -> bool {
        let (key, name) = (self.cursor_key.clone(), self.name.clone());
        let window = self.cfg.replay_window.as_nanos().min(i64::MAX as u128) as i64;
        let r = self
            .store
            .exec(move |tx| {
                store::set_meta(tx, &key, &seq.to_string())?;
                store::deliveries::record(tx, &name, first, seq, now_ns(), window)
            })
            .await;
        if let Err(e) = &r {
            tracing::error!(error = %e, "relay: saving the cursor");
        }
        r.is_ok()
    }

    /// Sends the oldest dead letter marked for replay (`dead-letters replay`), then removes
    /// it: delivered, or parked again as a new dead letter with the new answer. `false` when
    /// none is marked.
    async fn replay_dead_letter(&self) -> bool {
        let (dir, name) = (self.store.dir.clone(), self.name.clone());
        let next = tokio::task::spawn_blocking(move || {
            let conn = store::open_read(&dir).map_err(|e| e.to_string())?;
            store::next_replay(&conn, &name)
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        let (id, mut b) = match next {
            Ok(Some(x)) => x,
            Ok(None) => return false,
            Err(e) => {
                tracing::error!(error = %e, "relay: reading dead letters");
                return false;
            }
        };
        b.points = count_points(&b.body, b.precision, b.now) as i64;
        self.deliver(&b).await;
        while let Err(e) = self
            .store
            .exec(move |tx| store::drop_dead_letters(tx, &[id]).map(drop))
            .await
        {
            tracing::error!(error = %e, "relay: removing a replayed dead letter");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        true
    }

    /// Takes up a cursor `replay` left (`<generation> <seq> <since>`: the last batch
    /// committed before `since`, moved further back to the first this upstream acknowledged
    /// at or after `since` by its delivery log; it may only move back), once per upstream:
    /// the generation taken is saved with the cursor, in one transaction.
    async fn take_replay(&self) {
        let dir = self.store.dir.clone();
        let name = self.name.clone();
        let taken_key = format!(
            "{}_taken{}",
            REPLAY_KEY,
            self.cursor_key.trim_start_matches(CURSOR_KEY)
        );
        let tk = taken_key.clone();
        let got = tokio::task::spawn_blocking(move || {
            let conn = store::open_read(&dir).ok()?;
            let want = store::get_meta(&conn, REPLAY_KEY).ok()??;
            let taken = store::get_meta(&conn, &tk).ok()?;
            let logged = want
                .split(' ')
                .nth(2)
                .and_then(|s| s.parse::<i64>().ok())
                .and_then(|since| store::deliveries::replay_from(&conn, &name, since).ok()?);
            Some((want, taken, logged))
        })
        .await
        .ok()
        .flatten();
        let Some((want, taken, logged)) = got else {
            return;
        };
        let mut parts = want.split(' ');
        let (Some(generation), Some(seq)) = (parts.next(), parts.next()) else {
            return;
        };
        if taken.as_deref() == Some(generation) {
            return;
        }
        let Ok(seq) = seq.parse::<i64>() else {
            return;
        };
        let seq = seq
            .min(logged.unwrap_or(i64::MAX))
            .min(self.cursor.load(Ordering::SeqCst));
        let (key, generation) = (self.cursor_key.clone(), generation.to_string());
        let r = self
            .store
            .exec(move |tx| {
                store::set_meta(tx, &key, &seq.to_string())?;
                store::set_meta(tx, &taken_key, &generation)
            })
            .await;
        if r.is_ok() {
            tracing::info!(seq, upstream = %self.cfg.url, "relay: replaying from a cursor moved back");
            self.cursor.store(seq, Ordering::SeqCst);
        }
    }

    fn target(&self, bucket_id: u64) -> Option<(String, String)> {
        let reg = self.store.registry();
        let b = reg.buckets.get(&bucket_id)?;
        let local_org = reg.orgs.get(&b.org_id).map(|o| o.name.clone())?;
        let t = self.cfg.buckets.get(&b.name).cloned().unwrap_or_default();
        let org = t.org.or_else(|| self.cfg.org.clone()).unwrap_or(local_org);
        Some((org, t.bucket.unwrap_or_else(|| b.name.clone())))
    }

    /// Core's decision on one attempt at `body`.
    fn decide(&self, sent: &Sent, body: &[u8], history: &History) -> Decision {
        let batch = DeliveryBatch {
            body,
            content_encoding: None,
        };
        upstream::decide(
            self.cfg.kind,
            &sent.answer(),
            sent.body.as_bytes(),
            &batch,
            history,
            now_ms(),
            random01(),
            &self.policy,
        )
    }

    /// Sends consecutive batches as one request, retrying as core's policy says; `false`
    /// when the upstream refused it (413, a dead letter): the caller then sends them one by
    /// one, so only the batch at fault is split or parked.
    async fn deliver_joined(&self, group: &[StoredBatch]) -> bool {
        let Some((org, bucket)) = self.target(group[0].bucket_id) else {
            return false;
        };
        let mut body = Vec::with_capacity(group.iter().map(|b| b.body.len() + 1).sum());
        for b in group {
            body.extend_from_slice(&b.body);
            if body.last() != Some(&b'\n') {
                body.push(b'\n');
            }
        }
        let points: i64 = group.iter().map(|b| b.points).sum();
        let mut history = History::default();
        loop {
            let sent = self
                .send(&org, &bucket, group[0].precision, group[0].now, &body)
                .await;
            match self.decide(&sent, &body, &history) {
                Decision::Delivered => {
                    self.metrics
                        .upstream_points
                        .fetch_add(points as u64, Ordering::Relaxed);
                    self.stats
                        .points
                        .fetch_add(points as u64, Ordering::Relaxed);
                    return true;
                }
                d @ Decision::Retry { after_ms, .. } => {
                    history.record(&d, now_ms());
                    tokio::time::sleep(Duration::from_millis(after_ms)).await;
                }
                Decision::Split { .. } | Decision::DeadLetter { .. } => return false,
            }
        }
    }

    /// Delivers one batch (in parts when the upstream finds it too large); returns when
    /// every part is delivered or parked.
    async fn deliver(&self, b: &StoredBatch) {
        let Some((org, bucket)) = self.target(b.bucket_id) else {
            self.park(
                b,
                b.precision,
                &b.body,
                404,
                "local bucket no longer exists",
            )
            .await;
            return;
        };
        let mut parts: VecDeque<Part> = VecDeque::new();
        parts.push_back((b.precision, b.body.clone(), b.points as u64));
        while let Some((precision, body, points)) = parts.pop_front() {
            let mut history = History::default();
            loop {
                let sent = self.send(&org, &bucket, precision, b.now, &body).await;
                match self.decide(&sent, &body, &history) {
                    Decision::Delivered => {
                        self.metrics
                            .upstream_points
                            .fetch_add(points, Ordering::Relaxed);
                        self.stats.points.fetch_add(points, Ordering::Relaxed);
                        break;
                    }
                    d @ Decision::Retry { after_ms, .. } => {
                        history.record(&d, now_ms());
                        tokio::time::sleep(Duration::from_millis(after_ms)).await;
                    }
                    Decision::Split { at, .. } => {
                        // Stored bodies are plain line protocol: core cut it at a line start.
                        let (l, r) = body.split_at(at);
                        let n = count_points(l, precision, b.now);
                        parts.push_front((precision, r.to_vec(), points.saturating_sub(n)));
                        parts.push_front((precision, l.to_vec(), n));
                        break;
                    }
                    Decision::DeadLetter { reason } => {
                        let why = match reason {
                            DeadReason::Refused => sent.body.clone(),
                            r => format!("{}: {}", r.as_str(), sent.body),
                        };
                        self.park(b, precision, &body, sent.status(), &why).await;
                        break;
                    }
                }
            }
        }
    }

    async fn park(
        &self,
        b: &StoredBatch,
        precision: Precision,
        body: &[u8],
        status: u16,
        reason: &str,
    ) {
        let (seq, bucket, body, reason) = (b.seq, b.bucket_id, body.to_vec(), reason.to_string());
        let upstream = self.name.clone();
        tracing::warn!(seq, status, reason = %reason, "relay: parked in dead letters");
        loop {
            let (body, reason, upstream) = (body.clone(), reason.clone(), upstream.clone());
            let r = self
                .store
                .exec(move |tx| {
                    store::insert_dead_letter(
                        tx,
                        &store::NewDeadLetter {
                            seq,
                            bucket_id: bucket,
                            status,
                            reason: &reason,
                            precision,
                            body: &body,
                            at_ns: now_ns(),
                            upstream: &upstream,
                        },
                    )
                })
                .await;
            match r {
                Ok(()) => break,
                Err(e) => {
                    tracing::error!(error = %e, "relay: storing a dead letter");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        self.metrics.dead_letters.fetch_add(1, Ordering::Relaxed);
        self.stats.dead_letters.fetch_add(1, Ordering::Relaxed);
    }

    async fn send(
        &self,
        org: &str,
        bucket: &str,
        precision: Precision,
        now: i64,
        body: &[u8],
    ) -> Sent {
        // VictoriaMetrics answers 204 to points it then loses or changes (core's
        // `upstream::refuse_point`): such a batch is not sent but parked, with the 400 the
        // Worker's edge would have answered, so nothing is lost without a word.
        if self.cfg.kind == Kind::VictoriaMetrics {
            if let Some(r) = refused(self.cfg.kind, body, precision, now) {
                return Sent {
                    answer: Answer::Status {
                        status: r.status,
                        retry_after: None,
                    },
                    retry_after: None,
                    body: String::from_utf8_lossy(&r.body).into_owned(),
                };
            }
        }
        let out = match upstream::v2_write(
            self.cfg.kind,
            org,
            bucket,
            precision,
            Some(self.cfg.token.as_bytes()),
        ) {
            Ok(o) => o,
            Err(r) => {
                // The upstream cannot take this bucket at all (a 1.x bucket without a
                // database): a 400 of the edge's own, parked as the upstream's would be.
                return Sent {
                    answer: Answer::Status {
                        status: r.status,
                        retry_after: None,
                    },
                    retry_after: None,
                    body: String::from_utf8_lossy(&r.body).into_owned(),
                };
            }
        };
        let mut req = hyper::Request::post(format!("{}{}", self.cfg.url, out.path))
            .header("Content-Type", "text/plain; charset=utf-8");
        if let Some(a) = &out.authorization {
            req = req.header("Authorization", a);
        }
        let Ok(req) = req.body(Full::new(Bytes::copy_from_slice(body))) else {
            return Sent::failed(Answer::Unreachable);
        };
        let t0 = Instant::now();
        let res = tokio::time::timeout(self.cfg.timeout, async {
            let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
            let (parts, body) = resp.into_parts();
            let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
            Ok::<_, String>((parts, bytes))
        })
        .await;
        let secs = t0.elapsed().as_secs_f64();
        let (parts, bytes) = match res {
            Ok(Ok(x)) => x,
            Ok(Err(e)) => {
                self.metrics.upstream(0, secs);
                tracing::debug!(error = %e, "relay: upstream unreachable");
                return Sent::failed(Answer::Unreachable);
            }
            Err(_) => {
                self.metrics.upstream(0, secs);
                return Sent::failed(Answer::Timeout);
            }
        };
        let status = parts.status.as_u16();
        self.metrics.upstream(status, secs);
        Sent {
            answer: Answer::Status {
                status,
                retry_after: None,
            },
            retry_after: parts
                .headers
                .get("retry-after")
                .map(|v| v.as_bytes().to_vec()),
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }
}

/// The first point of a plain body the upstream would lose or change, as core's rules say.
fn refused(
    kind: Kind,
    body: &[u8],
    precision: Precision,
    now: i64,
) -> Option<linegate_core::answers::Rejection> {
    let mut first = None;
    let clock = now_ns();
    read_batch(body, &ParseOptions::new(precision, now), 1 << 10, |p| {
        if first.is_none() {
            first = upstream::refuse_point(kind, p, clock);
        }
    });
    first
}

/// Points in a plain body (for the metrics of a part after a split).
fn count_points(body: &[u8], precision: Precision, now: i64) -> u64 {
    let mut n = 0;
    read_batch(body, &ParseOptions::new(precision, now), 1 << 10, |_| {
        n += 1
    });
    n
}
