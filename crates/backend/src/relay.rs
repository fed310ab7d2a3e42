//! Store-and-forward: committed batches are delivered to an upstream (InfluxDB v2, InfluxDB
//! 1.x or VictoriaMetrics: `--upstream-kind`, whose rules are core's `upstream` module) in
//! commit order, one request at a time, at least once. Transient failures (no connection,
//! 408, 429, 5xx) are retried forever with backoff, honouring `Retry-After`; 413 splits the
//! batch in halves; any other 4xx, and what the upstream's kind says is permanent (1.x's
//! `retention policy not found`), parks the batch (or part) in the dead-letter table with
//! the upstream's answer; a 1.x partial write stored what it could, so it is parked as told,
//! not retried whole. The cursor (last batch done) is saved with each delivered request, so
//! a crash re-sends at most the request in flight. Delivered batches stay in the store (they
//! are the backend's own data), so `linegate-backend replay --since T` moves the cursor back
//! to send them again after an upstream lost what it had acknowledged.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use linegate_core::upstream::{self, Kind, Reading};
use linegate_core::{read_batch, ParseOptions, Precision};

use crate::http::now_ns;
use crate::metrics::Metrics;
use crate::store::{self, Store, StoredBatch};

const CURSOR_KEY: &str = "relay_cursor";
/// Where `replay` leaves the cursor it wants; the running relay takes it up.
pub const REPLAY_KEY: &str = "relay_replay";

/// Most bytes of stored batches joined into one upstream request.
const COALESCE_BYTES: usize = 8 << 20;

/// Whether another body may follow this one in a request: a last line ending in a
/// backslash would swallow the line feed between them.
fn joinable(b: &StoredBatch) -> bool {
    let mut end = b.body.len();
    while end > 0 && b.body[end - 1] == b'\n' {
        end -= 1;
    }
    end > 0 && b.body[end - 1] != b'\\'
}

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
    pub token: String,
    /// Upstream org for every bucket without its own (default: the local org's name).
    pub org: Option<String>,
    /// Local bucket name → upstream org and bucket.
    pub buckets: HashMap<String, Target>,
    /// First backoff after a failure; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    pub timeout: Duration,
}

impl RelayConfig {
    pub fn new(url: String, token: String) -> RelayConfig {
        RelayConfig {
            url: url.trim_end_matches('/').to_string(),
            kind: Kind::InfluxDb2,
            token,
            org: None,
            buckets: HashMap::new(),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
        }
    }
}

/// A batch or part of one: its precision, body and points.
type Part = (Precision, Vec<u8>, u64);

enum Sent {
    Ok,
    /// Try again after this long.
    Retry(Option<Duration>),
    TooLarge,
    Rejected(u16, String),
}

pub struct Relay {
    store: Arc<Store>,
    cfg: RelayConfig,
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
        let cursor = store::get_meta(&conn, CURSOR_KEY)
            .map_err(|e| e.to_string())?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0i64);
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(http);
        Ok(Relay {
            store,
            cfg,
            client,
            metrics,
            cursor: Arc::new(AtomicI64::new(cursor)),
        })
    }

    pub async fn run(self) {
        loop {
            self.take_replay().await;
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
                    && joinable(&batches[j - 1])
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
                while !self.save_cursor(seq).await {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                i = j;
            }
        }
    }

    async fn save_cursor(&self, seq: i64) -> bool {
        let r = self
            .store
            .exec(move |tx| store::set_meta(tx, CURSOR_KEY, &seq.to_string()))
            .await;
        if let Err(e) = &r {
            tracing::error!(error = %e, "relay: saving the cursor");
        }
        r.is_ok()
    }

    /// Takes up a cursor `replay` left (it may only move back), in the same transaction
    /// that saves it and clears the request.
    async fn take_replay(&self) {
        let dir = self.store.dir.clone();
        let want = tokio::task::spawn_blocking(move || {
            let conn = store::open_read(&dir).ok()?;
            store::get_meta(&conn, REPLAY_KEY).ok()?
        })
        .await
        .ok()
        .flatten();
        let Some(want) = want.and_then(|v| v.parse::<i64>().ok()) else {
            return;
        };
        let seq = want.min(self.cursor.load(Ordering::SeqCst));
        let r = self
            .store
            .exec(move |tx| {
                store::set_meta(tx, CURSOR_KEY, &seq.to_string())?;
                store::delete_meta(tx, REPLAY_KEY)
            })
            .await;
        if r.is_ok() {
            tracing::info!(seq, "relay: replaying from a cursor moved back");
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

    /// Sends consecutive batches as one request, retrying transient failures; `false` when
    /// upstream refused it (413 or another 4xx): the caller then sends them one by one, so
    /// only the batch at fault is split or parked.
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
        let mut backoff = self.cfg.min_backoff;
        loop {
            match self.send(&org, &bucket, group[0].precision, &body).await {
                Sent::Ok => {
                    self.metrics
                        .upstream_points
                        .fetch_add(points as u64, Ordering::Relaxed);
                    return true;
                }
                Sent::Retry(after) => {
                    let wait = after.unwrap_or(backoff).min(Duration::from_secs(300));
                    backoff = (backoff * 2).min(self.cfg.max_backoff);
                    tokio::time::sleep(wait).await;
                }
                Sent::TooLarge | Sent::Rejected(..) => return false,
            }
        }
    }

    /// Delivers one batch (in parts when upstream finds it too large); returns when every
    /// part is delivered or parked.
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
        let mut backoff = self.cfg.min_backoff;
        while let Some((precision, body, points)) = parts.pop_front() {
            loop {
                match self.send(&org, &bucket, precision, &body).await {
                    Sent::Ok => {
                        self.metrics
                            .upstream_points
                            .fetch_add(points, Ordering::Relaxed);
                        backoff = self.cfg.min_backoff;
                        break;
                    }
                    Sent::Retry(after) => {
                        let wait = after.unwrap_or(backoff).min(Duration::from_secs(300));
                        backoff = (backoff * 2).min(self.cfg.max_backoff);
                        tokio::time::sleep(wait).await;
                    }
                    Sent::TooLarge => {
                        match split(&body, precision, b.now) {
                            Some((l, r)) => {
                                parts.push_front(r);
                                parts.push_front(l);
                            }
                            None => {
                                self.park(
                                    b,
                                    precision,
                                    &body,
                                    413,
                                    "upstream: request too large (a single point)",
                                )
                                .await
                            }
                        }
                        break;
                    }
                    Sent::Rejected(status, reason) => {
                        self.park(b, precision, &body, status, &reason).await;
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
        tracing::warn!(seq, status, reason = %reason, "relay: parked in dead letters");
        loop {
            let (body, reason) = (body.clone(), reason.clone());
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
    }

    async fn send(&self, org: &str, bucket: &str, precision: Precision, body: &[u8]) -> Sent {
        let out = match upstream::v2_write(
            self.cfg.kind,
            org,
            bucket,
            precision,
            Some(self.cfg.token.as_bytes()),
        ) {
            Ok(o) => o,
            Err(r) => {
                let text = String::from_utf8_lossy(&r.body).into_owned();
                return Sent::Rejected(r.status, text);
            }
        };
        let mut req = hyper::Request::post(format!("{}{}", self.cfg.url, out.path))
            .header("Content-Type", "text/plain; charset=utf-8");
        if let Some(a) = &out.authorization {
            req = req.header("Authorization", a);
        }
        let req = match req.body(Full::new(Bytes::copy_from_slice(body))) {
            Ok(r) => r,
            Err(e) => return Sent::Rejected(0, format!("bad upstream request: {e}")),
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
                return Sent::Retry(None);
            }
            Err(_) => {
                self.metrics.upstream(0, secs);
                return Sent::Retry(None);
            }
        };
        let status = parts.status.as_u16();
        self.metrics.upstream(status, secs);
        let text = || String::from_utf8_lossy(&bytes).into_owned();
        match upstream::read_answer(self.cfg.kind, status, &bytes) {
            Reading::Stored => return Sent::Ok,
            // Sending it again would store nothing more: kept as a dead letter with the
            // upstream's words (what it dropped), never retried whole.
            Reading::Partial { .. } | Reading::Permanent => return Sent::Rejected(status, text()),
            Reading::ByStatus => {}
        }
        match status {
            413 => Sent::TooLarge,
            408 | 429 | 500..=599 => Sent::Retry(
                parts
                    .headers
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs),
            ),
            _ => Sent::Rejected(status, text()),
        }
    }
}

/// Splits a body into two halves of its points, each rendered with explicit ns times.
fn split(body: &[u8], precision: Precision, now: i64) -> Option<(Part, Part)> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    read_batch(body, &ParseOptions::new(precision, now), 1 << 10, |p| {
        let mut l = Vec::new();
        linegate_core::lp::write_line(&mut l, p, |_| true);
        lines.push(l);
    });
    if lines.len() < 2 {
        return None;
    }
    let mid = lines.len() / 2;
    let n = lines.len() as u64;
    let right = lines.split_off(mid);
    Some((
        (Precision::Ns, lines.concat(), mid as u64),
        (Precision::Ns, right.concat(), n - mid as u64),
    ))
}
