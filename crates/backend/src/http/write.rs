//! `POST /api/v2/write` and v1's `POST /write`: a door over the core pipeline, reading the body only once the
//! head, the gzip header and the registry have judged the request.

use super::*;
use crate::store::{QuotaJob, WriteError};
use linegate_core::partial::Decision;
use linegate_core::quota::{self, BatchSeries, SeriesMemo};
use linegate_core::upstream;

/// The series quota's memos (core's `SeriesMemo`: a line's series section as written → its
/// series hash, so that known series are not hashed twice), lent one to each parse. A parse
/// keeps its memo without awaiting, so about one per runtime thread is lent at a time, none
/// is shared while in use (no lock per line), and at most [`SeriesMemos::KEEP`] are kept
/// (2.25 MiB each).
#[derive(Default)]
pub struct SeriesMemos(std::sync::Mutex<Vec<SeriesMemo>>);

impl SeriesMemos {
    /// Memos kept between parses; more are made while more parses run, and dropped after.
    const KEEP: usize = 8;

    fn lend(&self) -> Lent<'_> {
        let memo = self.0.lock().map(|mut v| v.pop()).unwrap_or(None);
        Lent {
            pool: self,
            memo: memo.unwrap_or_default(),
        }
    }
}

/// A memo lent by [`SeriesMemos`], given back when dropped (an early answer included).
struct Lent<'a> {
    pool: &'a SeriesMemos,
    memo: SeriesMemo,
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if let Ok(mut v) = self.pool.0.lock() {
            if v.len() < SeriesMemos::KEEP {
                v.push(std::mem::replace(
                    &mut self.memo,
                    SeriesMemo::with_capacity(2),
                ));
            }
        }
    }
}

pub(super) struct Outcome {
    response: Response,
    points: u64,
    bucket: Option<String>,
    /// Milliseconds spent parsing, and waiting for the commit.
    parse_ms: f64,
    store_ms: f64,
}

impl Outcome {
    fn of(response: Response) -> Outcome {
        Outcome {
            response,
            points: 0,
            bucket: None,
            parse_ms: 0.0,
            store_ms: 0.0,
        }
    }
}

pub(super) async fn write(State(app): State<Arc<App>>, req: Request) -> Response {
    let t0 = Instant::now();
    let (parts, body) = req.into_parts();
    let mut reader = body::Reader::new(body, &app.guards, &app.budget);
    let out = write_inner(&app, &parts, &mut reader).await;
    let bytes_in = reader.received();
    let status = out.response.status().as_u16();
    let m = &app.metrics;
    m.request("write", status);
    m.bytes_received
        .fetch_add(bytes_in as u64, Ordering::Relaxed);
    let secs = t0.elapsed().as_secs_f64();
    m.write_latency.observe(secs);
    tracing::info!(
        method = "POST",
        path = parts.uri.path(),
        status,
        bytes = bytes_in,
        points = out.points,
        bucket = out.bucket.as_deref().unwrap_or(""),
        ms = format_args!("{:.2}", secs * 1000.0),
        parse_ms = format_args!("{:.2}", out.parse_ms),
        store_ms = format_args!("{:.2}", out.store_ms),
        "request"
    );
    out.response
}

/// OSS's steps in order (spec Part B §1), through the core pipeline, each judged from as
/// little of the request as it needs: steps 1–3 from the head, step 4 from the gzip
/// header's bytes only, 5–7 from the registry, and only then the body is read.
pub(super) async fn write_inner(app: &App, parts: &Parts, reader: &mut body::Reader) -> Outcome {
    let head = Head {
        // `/api/v2/write` or v1's `/write` (spec Part C): the router sends only these here.
        endpoint: Endpoint::from_path(parts.uri.path()).unwrap_or_default(),
        query: parts.uri.query().unwrap_or("").as_bytes(),
        authorization: first_value(&parts.headers, "authorization"),
        content_encoding: first_value(&parts.headers, "content-encoding"),
    };
    // 1–3. The head (a v1 password judged first: `password_first`).
    let mut lookup = match head.endpoint {
        Endpoint::V1 => match password_first(app, &parts.extensions, &parts.headers, &head).await {
            Ok(l) => l,
            Err(busy) => return Outcome::of(busy),
        },
        Endpoint::V2 => StoreLookup::new(app.store.clone()),
    };
    let admitted = match pipeline::admit(&head, &mut lookup) {
        Ok(a) => a,
        Err(r) => {
            if r.reason == Reason::Unauthorized {
                throttle(app, &parts.extensions, &parts.headers).await;
            }
            return Outcome::of(reject(r));
        }
    };
    let declared = parts
        .headers
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    let max_body = app.limits.max_body;
    let mut raw = BytesMut::new();
    // 4. The gzip header: only its bytes are read now.
    let gzip_start = loop {
        match admitted.gzip_header(&raw, reader.ended()) {
            Ok(Prefix::Ready(n)) => break n,
            Ok(Prefix::NeedMore) => {
                let upto = raw.len() + 1;
                if let Err(c) = reader.collect_into(&mut raw, upto, declared).await {
                    return Outcome::of(body_error(c));
                }
            }
            Err(r) => return Outcome::of(reject(r)),
        }
    };
    // 5–7. Org, bucket, permission.
    let resolved = match admitted.resolve_with(gzip_start, &mut lookup) {
        Ok(r) => r,
        Err(r) => return Outcome::of(reject(r)),
    };
    let Some(bucket) = resolved.bucket.clone() else {
        return Outcome::of(reject(Rejection::internal()));
    };
    let mut out = Outcome::of(Response::default());
    out.bucket = Some(bucket.name.clone());
    // D.2's rate quota, before a byte more of the body is read (spec D.0.3). The tenant
    // is the org of the token: the bucket's, once the permission to write it was found.
    if let Some(limit) = app.guards.quota_write_bytes {
        let tenant = bucket.org_id;
        let usage = app.store.usages.get(tenant);
        let now_ms = app.quota_now_ms();
        if let Err(r) =
            quota::check_rate(quota::org_tenant(tenant).as_bytes(), usage, limit, now_ms)
        {
            app.metrics.quota_rate_429.fetch_add(1, Ordering::Relaxed);
            out.response = reject(r);
            return out;
        }
    }
    // 8. The body, up to the size limit (a body that reaches it is too large: no need to
    // read further).
    if let Err(c) = reader.collect_into(&mut raw, max_body, declared).await {
        out.response = body_error(c);
        return out;
    }
    let raw = raw.freeze();
    let decoded = match resolved.decode(&raw, &app.limits) {
        Ok(Cow::Borrowed(_)) => raw.clone(),
        Ok(Cow::Owned(v)) => Bytes::from(v),
        Err(r) => {
            out.response = reject(r);
            return out;
        }
    };
    drop(raw);
    // A partial write (spec Part D.1) records its rejected lines under this destination.
    let query = head.query;
    let partial = app
        .partial
        .applies(query)
        .then(|| linegate_core::partial::destination(parts.uri.path(), query));
    // The edge's name for the batch (core's `delivery::batch_id`): judged only now, after
    // the credentials, the bucket and the permission, so only a write that could be stored
    // is deduplicated, and within its own bucket.
    let batch_id = linegate_core::delivery::batch_id(first_value(
        &parts.headers,
        linegate_core::delivery::BATCH_ID_HEADER,
    ))
    .map(<[u8]>::to_vec);
    store_batch(app, out, bucket, resolved.time, decoded, partial, batch_id).await
}

/// The first value of a header, as Go's `Header.Get` gives it.
pub(super) fn first_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h [u8]> {
    headers.get(name).map(HeaderValue::as_bytes)
}

/// Steps 9 and 10: parse, then store; answered once the commit holding the batch returned.
/// `partial`: the destination, when the write is partial (spec Part D.1): then only the
/// accepted lines are stored, the rejected ones quarantined in the same transaction, and
/// the partial 400 sent after that commit.
pub(super) async fn store_batch(
    app: &App,
    mut out: Outcome,
    bucket: Bucket,
    time: pipeline::TimeRule,
    decoded: Bytes,
    partial: Option<Vec<u8>>,
    batch_id: Option<Vec<u8>>,
) -> Outcome {
    let precision = time.precision;
    app.metrics
        .bytes_decoded
        .fetch_add(decoded.len() as u64, Ordering::Relaxed);
    // Large bodies are compressed on another thread while this one parses: a lone client
    // then waits for the longer of the two, not their sum. At most two at a time, so a
    // busy server does not trade its cores for context switches.
    let compress = app.compression != store::Compression::None;
    // (A partial write stores another body than the one received: compressed later.)
    let early = (compress
        && partial.is_none()
        && decoded.len() >= EARLY_COMPRESS
        && app.compressing.fetch_add(1, Ordering::AcqRel) < 2)
        .then(|| {
            let d = decoded.clone();
            let gauge = app.compressing.clone();
            let how = app.compression;
            tokio::task::spawn_blocking(move || {
                let c = how.encode(&d);
                gauge.fetch_sub(1, Ordering::AcqRel);
                c
            })
        });
    if early.is_none() && compress && partial.is_none() && decoded.len() >= EARLY_COMPRESS {
        app.compressing.fetch_sub(1, Ordering::AcqRel);
    }
    // 9. Parse, noting what storage will need to look at.
    let t_parse = Instant::now();
    // The clock as storage sees it (v1's `u`, `m`, `h` truncate it), for the scan and the store.
    let now = time.storage_now(app.now());
    let mut scanner = Scanner::new(bucket.rules(), precision, now);
    // D.2's series quota: the batch's distinct series (of the lines stored), admitted by
    // the writer.
    let mut series = app.guards.quota_series.map(|_| BatchSeries::new());
    let mut memo = series.as_ref().map(|_| app.series_memos.lend());
    let mut partial_answer = None;
    // A partial write: its split (the accepted lines apart, as shared bytes), kept for the
    // series quota, which may move more of them to the rejected side.
    let mut kept: Option<Kept> = None;
    let keep = app.quarantine.bytes.min(usize::MAX as u64) as usize;
    // The relay's upstreams' rules, in the same pass (nothing to do without such an
    // upstream): the first point one of them would refuse or lose, as the Worker's edge
    // finds it (its clock: the server's, not the truncated one of the storage).
    let (kinds, upstream_now) = (&app.refuse_kinds[..], app.now());
    let mut refused: Option<Rejection> = None;
    let decoded = match partial {
        None => {
            let report = read_batch(&decoded, &time.options(now), app.limits.max_message, |p| {
                scanner.observe(p);
                if let (Some(s), Some(m)) = (&mut series, &mut memo) {
                    s.push_memo(p, &mut m.memo);
                }
                if !kinds.is_empty() && refused.is_none() {
                    refused = refuse(kinds, p, upstream_now);
                }
            });
            // A parse error answers first, as the Worker's Checker has it.
            if let Some(r) = pipeline::parse_rejection(&report).or(refused) {
                out.response = reject(r);
                return out;
            }
            decoded
        }
        Some(destination) => {
            let (_, mut split) = linegate_core::partial::split_batch(
                &decoded,
                &time.options(now),
                app.limits.max_message,
                keep,
                |p| {
                    scanner.observe(p);
                    if let (Some(s), Some(m)) = (&mut series, &mut memo) {
                        s.push_memo(p, &mut m.memo);
                    }
                    if !kinds.is_empty() && refused.is_none() {
                        refused = refuse(kinds, p, upstream_now);
                    }
                },
            );
            let accepted = Bytes::from(std::mem::take(&mut split.body));
            let stored = match split.decision() {
                Decision::Reject(r) => {
                    out.response = reject(r);
                    return out;
                }
                // A point of an accepted line an upstream would refuse or lose: the whole
                // batch is refused, nothing stored, as the Worker's Checker refuses a
                // partial write whose lines all parse (it has no per-line rule for these).
                _ if refused.is_some() => {
                    out.response = reject(refused.expect("checked"));
                    return out;
                }
                Decision::Forward => decoded,
                Decision::Partial(r) => {
                    tracing::info!(
                        accepted = split.accepted,
                        rejected = split.rejected,
                        bucket = bucket.name.as_str(),
                        "partial write"
                    );
                    partial_answer = Some(r);
                    accepted.clone()
                }
            };
            // (A batch the parser took whole needs its split only for the series quota.)
            if partial_answer.is_some() || series.is_some() {
                kept = Some(Kept {
                    split,
                    accepted,
                    destination,
                });
            }
            stored
        }
    };
    // Given back before anything is awaited.
    drop(memo);
    let mut scan = scanner.finish();
    out.parse_ms = t_parse.elapsed().as_secs_f64() * 1000.0;
    if scan.points == 0 {
        out.response = served(Answer::no_content());
        return out;
    }
    // 10. Storage; answered only once the commit holding the batch has returned.
    let mut compressed = match early {
        Some(task) if !scan.slow => task.await.ok(),
        _ => (compress && !scan.slow).then(|| app.compression.encode(&decoded)),
    };
    let mut decoded = decoded;
    let g = &app.guards;
    // A partial write under the series quota may go to the writer more than once: each
    // time the writer refuses series (and stores nothing), their lines move to the
    // rejected side and the rest goes again (the quota may have filled meanwhile).
    let answer = loop {
        let points = scan.points;
        // The batch's series go to the writer; only a partial write, which may come back
        // with series refused, needs them again here.
        let hashes = match (&mut series, kept.is_some()) {
            (Some(s), true) => Some(s.hashes.clone()),
            (Some(s), false) => Some(std::mem::take(&mut s.hashes)),
            (None, _) => None,
        };
        let quota = (g.quota_write_bytes.is_some() || g.quota_series.is_some()).then(|| {
            Box::new(QuotaJob {
                tenant: bucket.org_id,
                bytes: decoded.len() as u64,
                rate: g.quota_write_bytes.is_some(),
                now_ms: app.quota_now_ms(),
                series: g.quota_series.zip(hashes).map(|(n, h)| (h, n)),
                partial: kept.is_some(),
            })
        });
        // The rejected lines to record (a copy when the series quota may move more).
        let quarantine = match (&mut kept, &partial_answer) {
            (Some(k), Some(_)) => Some(Box::new(store::Quarantined {
                bucket_id: bucket.id,
                destination: k.destination.clone(),
                at_ns: now_ns(),
                not_kept: k.split.dropped(),
                lines: match series {
                    Some(_) => k.split.kept.clone(),
                    None => std::mem::take(&mut k.split.kept),
                },
                bounds: app.quarantine,
                stats: app.quarantine_stats.clone(),
            })),
            _ => None,
        };
        let (tx, rx) = oneshot::channel();
        let job = WriteJob {
            bucket: bucket.rules(),
            body: decoded.clone(),
            precision,
            now,
            scan: std::mem::take(&mut scan),
            compressed: compressed.take(),
            compression: app.compression,
            quota,
            reply: tx,
            quarantine,
            batch_id: batch_id.clone(),
            at_ns: now_ns(),
        };
        if let Err(e) = app.store.submit(job) {
            out.response = internal_write_error(&e);
            return out;
        }
        let t_store = Instant::now();
        let answer = rx.await;
        out.store_ms += t_store.elapsed().as_secs_f64() * 1000.0;
        let mask = match answer {
            Ok(Err(WriteError::SeriesRefused(mask))) => mask,
            other => break (other, points),
        };
        // D.2 with D.1: the lines of the refused series become rejected lines.
        let (Some(k), Some(s)) = (kept.as_mut(), series.as_mut()) else {
            break (Ok(Err(WriteError::Failed("no split to refuse".into()))), 0);
        };
        k.split.body = k.accepted.to_vec();
        let moved = quota::refuse_series(&mut k.split, s, &mask, keep);
        app.metrics.quota_series_429.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            refused_lines = moved.unwrap_or(0),
            accepted = k.split.accepted,
            bucket = bucket.name.as_str(),
            "series quota: lines of new series rejected"
        );
        let r = match (moved, k.split.decision()) {
            (Some(_), Decision::Partial(r)) => r,
            (Some(_), Decision::Reject(r)) => {
                out.response = reject(r);
                return out;
            }
            _ => {
                out.response = reject(Rejection::series_quota());
                return out;
            }
        };
        partial_answer = Some(r);
        k.accepted = Bytes::from(std::mem::take(&mut k.split.body));
        decoded = k.accepted.clone();
        let mut scanner = Scanner::new(bucket.rules(), precision, now);
        read_batch(&decoded, &time.options(now), app.limits.max_message, |p| {
            scanner.observe(p)
        });
        scan = scanner.finish();
        compressed = (compress && !scan.slow).then(|| app.compression.encode(&decoded));
    };
    let (answer, points) = answer;
    out.response = match answer {
        Ok(Ok(None)) => {
            out.points = points;
            app.metrics
                .points_written
                .fetch_add(points, Ordering::Relaxed);
            app.metrics.batches_written.fetch_add(1, Ordering::Relaxed);
            match partial_answer {
                // The accepted lines are durable: now the partial write's 400.
                Some(r) => reject(r),
                None => served(Answer::no_content()),
            }
        }
        Ok(Ok(Some(msg))) => reject(Rejection::storage_partial_write(&msg)),
        Ok(Err(WriteError::SeriesQuota)) => {
            app.metrics.quota_series_429.fetch_add(1, Ordering::Relaxed);
            reject(Rejection::series_quota())
        }
        Ok(Err(WriteError::Duplicate)) => {
            // Stored once already (its first delivery's answer was lost): the 204 it got.
            app.metrics.write_duplicates.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                bucket = bucket.name.as_str(),
                "duplicate batch id: stored before, not again"
            );
            served(Answer::no_content())
        }
        Ok(Err(WriteError::Failed(e))) => internal_write_error(&e),
        Ok(Err(WriteError::SeriesRefused(_))) | Err(_) => {
            internal_write_error("the writer stopped")
        }
    };
    out
}

/// The first refusal of `p` by one of the upstream `kinds` (core's `upstream::refuse_point`).
fn refuse(kinds: &[upstream::Kind], p: &linegate_core::Point<'_>, now: i64) -> Option<Rejection> {
    kinds
        .iter()
        .find_map(|&k| upstream::refuse_point(k, p, now))
}

/// A partial write's split while it may still change (see `store_batch`).
struct Kept {
    split: linegate_core::partial::Split,
    /// The accepted lines (the split's body, shared with the job that stores them).
    accepted: Bytes,
    destination: Vec<u8>,
}

pub(super) fn internal_write_error(e: &str) -> Response {
    reject(Rejection::write_failed(e.as_bytes()))
}
