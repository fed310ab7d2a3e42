//! Counters for `/metrics` (Prometheus text format).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The content type of Prometheus's text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) of the latency histogram buckets.
const BOUNDS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
pub struct Histogram {
    counts: [AtomicU64; 13],
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, secs: f64) {
        let i = BOUNDS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(BOUNDS.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add((secs * 1e6) as u64, Ordering::Relaxed);
    }

    fn render(&self, name: &str, labels: &str, out: &mut String) {
        let mut acc = 0;
        for (i, b) in BOUNDS.iter().enumerate() {
            acc += self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{b}\"}} {acc}");
        }
        acc += self.counts[BOUNDS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {acc}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {acc}");
    }
}

#[derive(Default)]
pub struct Metrics {
    /// (endpoint, status) → requests.
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    pub bytes_received: AtomicU64,
    pub bytes_decoded: AtomicU64,
    pub points_written: AtomicU64,
    pub batches_written: AtomicU64,
    pub write_latency: Histogram,
    pub upstream_latency: Histogram,
    /// (status or 0 for a connection error) → upstream requests.
    upstream: Mutex<BTreeMap<u16, u64>>,
    pub upstream_points: AtomicU64,
    pub dead_letters: AtomicU64,
    /// 401s held back because their address kept failing authentication.
    pub auth_delayed: AtomicU64,
    /// v1 passwords answered 503 unhashed: the hashing pool and its queue were full.
    pub auth_shed: AtomicU64,
    /// Writes answered 429 by the rate quota, and by the series quota (spec D.2).
    pub quota_rate_429: AtomicU64,
    pub quota_series_429: AtomicU64,
    /// Writes whose batch id their bucket had stored: answered 204, not stored again.
    pub write_duplicates: AtomicU64,
}

impl Metrics {
    pub fn request(&self, endpoint: &'static str, status: u16) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((endpoint, status))
            .or_default() += 1;
    }

    pub fn upstream(&self, status: u16, secs: f64) {
        *self
            .upstream
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(status)
            .or_default() += 1;
        self.upstream_latency.observe(secs);
    }

    pub fn render(&self, queue_depth: Option<i64>, others: &Others) -> String {
        let mut o = String::new();
        o.push_str("# HELP linegate_http_requests_total HTTP requests by endpoint and status.\n# TYPE linegate_http_requests_total counter\n");
        for ((e, s), n) in self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                o,
                "linegate_http_requests_total{{endpoint=\"{e}\",status=\"{s}\"}} {n}"
            );
        }
        let counters = [
            (
                "linegate_write_bytes_received_total",
                "Request body bytes received on writes.",
                &self.bytes_received,
            ),
            (
                "linegate_write_bytes_decoded_total",
                "Body bytes after gzip decoding.",
                &self.bytes_decoded,
            ),
            (
                "linegate_points_written_total",
                "Points durably stored.",
                &self.points_written,
            ),
            (
                "linegate_batches_written_total",
                "Batches durably stored.",
                &self.batches_written,
            ),
            (
                "linegate_write_duplicates_total",
                "Writes whose batch id (X-Linegate-Batch) their bucket had stored: answered 204, not stored again.",
                &self.write_duplicates,
            ),
            (
                "linegate_upstream_points_total",
                "Points delivered upstream.",
                &self.upstream_points,
            ),
            (
                "linegate_dead_letters_total",
                "Batches or parts parked in the dead-letter table.",
                &self.dead_letters,
            ),
            (
                "linegate_auth_delayed_total",
                "401 answers delayed after repeated failures from one address.",
                &self.auth_delayed,
            ),
            (
                "linegate_auth_shed_total",
                "v1 passwords answered 503 without hashing: the hashing pool's queue was full.",
                &self.auth_shed,
            ),
            (
                "linegate_quota_rate_throttled_total",
                "Writes answered 429 by the write-rate quota.",
                &self.quota_rate_429,
            ),
            (
                "linegate_quota_series_refused_total",
                "Writes answered 429 by the series quota.",
                &self.quota_series_429,
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(
                o,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        o.push_str("# HELP linegate_write_duration_seconds Time from request to answer for writes.\n# TYPE linegate_write_duration_seconds histogram\n");
        self.write_latency
            .render("linegate_write_duration_seconds", "", &mut o);
        if let Some(d) = queue_depth {
            let _ = writeln!(o, "# HELP linegate_relay_queue_depth Stored batches not yet delivered upstream.\n# TYPE linegate_relay_queue_depth gauge\nlinegate_relay_queue_depth {d}");
            o.push_str("# HELP linegate_upstream_requests_total Upstream write requests by status (0: no answer).\n# TYPE linegate_upstream_requests_total counter\n");
            for (s, n) in self
                .upstream
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
            {
                let _ = writeln!(o, "linegate_upstream_requests_total{{status=\"{s}\"}} {n}");
            }
            o.push_str("# HELP linegate_upstream_duration_seconds Upstream write latency.\n# TYPE linegate_upstream_duration_seconds histogram\n");
            self.upstream_latency
                .render("linegate_upstream_duration_seconds", "", &mut o);
        }
        others.render(&mut o);
        o
    }
}

/// What other parts of the server count (its connections, the body budget, the
/// quarantine), read when `/metrics` is asked, so every line of Prometheus text is written
/// here.
#[derive(Clone, Copy, Debug, Default)]
pub struct Others {
    pub connections_open: u64,
    pub connections_refused: u64,
    pub budget_free: usize,
    pub quarantine_stored: u64,
    pub quarantine_dropped: u64,
}

impl Others {
    fn render(&self, o: &mut String) {
        let _ = write!(
            o,
            "# HELP linegate_connections_open Open client connections.\n# TYPE linegate_connections_open gauge\nlinegate_connections_open {}\n# HELP linegate_connections_refused_total Connections closed on arrival at the connection cap.\n# TYPE linegate_connections_refused_total counter\nlinegate_connections_refused_total {}\n# HELP linegate_body_budget_free_bytes Bytes of the in-flight body budget not held by a body being read.\n# TYPE linegate_body_budget_free_bytes gauge\nlinegate_body_budget_free_bytes {}\n",
            self.connections_open, self.connections_refused, self.budget_free
        );
        let _ = write!(
            o,
            "# HELP linegate_quarantine_lines_total Rejected lines of partial writes kept in the quarantine.\n# TYPE linegate_quarantine_lines_total counter\nlinegate_quarantine_lines_total {}\n# HELP linegate_quarantine_dropped_total Rejected lines dropped from the quarantine (past its bytes or age bound).\n# TYPE linegate_quarantine_dropped_total counter\nlinegate_quarantine_dropped_total {}\n",
            self.quarantine_stored, self.quarantine_dropped
        );
    }
}

/// What `/metrics` shows of one upstream's relay (the relay counts, this file renders).
#[derive(Debug)]
pub struct UpstreamStats {
    pub url: String,
    /// Last batch done.
    pub cursor: Arc<AtomicI64>,
    /// Points delivered.
    pub points: AtomicU64,
    /// Batches or parts parked.
    pub dead_letters: AtomicU64,
}

/// Each upstream's relay, one labelled series per `--upstream` (none without relays):
/// `last_seq` is the store's last batch, so the queue depth is what is left after each
/// relay's cursor.
pub fn render_relays(relays: &[Arc<UpstreamStats>], last_seq: i64, o: &mut String) {
    if relays.is_empty() {
        return;
    }
    type Value<'a> = &'a dyn Fn(&UpstreamStats) -> i64;
    let series: [(&str, &str, &str, Value<'_>); 3] = [
        (
            "linegate_relay_upstream_queue_depth",
            "gauge",
            "Stored batches not yet delivered to this upstream.",
            &|r| (last_seq - r.cursor.load(Ordering::SeqCst)).max(0),
        ),
        (
            "linegate_relay_upstream_points_total",
            "counter",
            "Points delivered to this upstream.",
            &|r| r.points.load(Ordering::Relaxed) as i64,
        ),
        (
            "linegate_relay_upstream_dead_letters_total",
            "counter",
            "Batches or parts this upstream refused.",
            &|r| r.dead_letters.load(Ordering::Relaxed) as i64,
        ),
    ];
    for (name, kind, help, value) in series {
        let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for r in relays {
            let url = r.url.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(o, "{name}{{upstream=\"{url}\"}} {}", value(r));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relays_render_one_labelled_series_each() {
        let mut o = String::new();
        render_relays(&[], 9, &mut o);
        assert!(o.is_empty());
        let r = Arc::new(UpstreamStats {
            url: "http://h\"x".into(),
            cursor: Arc::new(AtomicI64::new(7)),
            points: AtomicU64::new(3),
            dead_letters: AtomicU64::new(1),
        });
        render_relays(&[r], 9, &mut o);
        assert!(o.contains("# TYPE linegate_relay_upstream_queue_depth gauge\n"));
        assert!(o.contains("linegate_relay_upstream_queue_depth{upstream=\"http://h\\\"x\"} 2\n"));
        assert!(o.contains("linegate_relay_upstream_points_total{upstream=\"http://h\\\"x\"} 3\n"));
        assert!(o.contains(
            "linegate_relay_upstream_dead_letters_total{upstream=\"http://h\\\"x\"} 1\n"
        ));
    }
}
