//! Load benchmark for linegate-backend (see BENCHMARKS.md).
//!
//! Client: sends `--file` (line protocol, e.g. `cpu.lp` from `../shared/bench/gen.py`) in
//! batches of `--batch-lines` lines, `--concurrency` requests in flight, for `--seconds`,
//! and reports points/s, MB/s and latency percentiles. Every answer must be 204.
//!
//! ```text
//! cargo run --release -p linegate-backend --example load -- \
//!     --url http://127.0.0.1:8086 --token T --org o --bucket b \
//!     --file /tmp/bench/cpu.lp --concurrency 16 --seconds 20
//! ```
//!
//! Pass-through server (reads each body, answers 204, stores nothing), to compare against:
//!
//! ```text
//! cargo run --release -p linegate-backend --example load -- --null-server 127.0.0.1:9999
//! ```

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

struct Args {
    url: String,
    token: String,
    org: String,
    bucket: String,
    file: String,
    batch_lines: usize,
    concurrency: usize,
    seconds: f64,
    null_server: Option<String>,
    /// Path and query to write to instead of v2's (`/write?db=b&precision=n` for InfluxDB 1.x
    /// and VictoriaMetrics).
    path: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        url: "http://127.0.0.1:8086".into(),
        token: String::new(),
        org: "o".into(),
        bucket: "b".into(),
        file: "/tmp/bench/cpu.lp".into(),
        batch_lines: 5000,
        concurrency: 1,
        seconds: 20.0,
        null_server: None,
        path: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--url" => a.url = v(),
            "--path" => a.path = Some(v()),
            "--token" => a.token = v(),
            "--org" => a.org = v(),
            "--bucket" => a.bucket = v(),
            "--file" => a.file = v(),
            "--batch-lines" => a.batch_lines = v().parse().expect("number"),
            "--concurrency" => a.concurrency = v().parse().expect("number"),
            "--seconds" => a.seconds = v().parse().expect("number"),
            "--null-server" => a.null_server = Some(v()),
            _ => panic!("unknown argument {k}"),
        }
    }
    a
}

fn main() {
    let a = args();
    if let Some(addr) = a.null_server {
        null_server(&addr);
        return;
    }
    let text = std::fs::read(&a.file).unwrap_or_else(|e| panic!("{}: {e}", a.file));
    // Batches of whole lines, as byte ranges of one buffer (no copies per request).
    let text = Bytes::from(text);
    let mut batches: Vec<(Bytes, u64)> = Vec::new();
    let mut start = 0;
    let mut lines = 0;
    for (i, &b) in text.iter().enumerate() {
        if b == b'\n' {
            lines += 1;
            if lines == a.batch_lines {
                batches.push((text.slice(start..i + 1), lines as u64));
                start = i + 1;
                lines = 0;
            }
        }
    }
    assert!(
        !batches.is_empty(),
        "the file holds fewer than {} lines",
        a.batch_lines
    );
    // One client thread: the client's share of the machine stays small and steady.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(a, batches));
}

async fn run(a: Args, batches: Vec<(Bytes, u64)>) {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(a.concurrency)
        .build(http);
    let uri = match &a.path {
        Some(p) => format!("{}{p}", a.url.trim_end_matches('/')),
        None => format!(
            "{}/api/v2/write?org={}&bucket={}&precision=ns",
            a.url.trim_end_matches('/'),
            a.org,
            a.bucket
        ),
    };
    let auth = format!("Token {}", a.token);
    let batches = Arc::new(batches);
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(a.seconds);
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency {
        let (client, uri, auth, batches, next, stop) = (
            client.clone(),
            uri.clone(),
            auth.clone(),
            batches.clone(),
            next.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let (mut points, mut bytes, mut errors) = (0u64, 0u64, 0u64);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed) % batches.len();
                let (body, n) = batches[i].clone();
                let len = body.len() as u64;
                let req = hyper::Request::post(&uri)
                    .header("Authorization", &auth)
                    .header("Content-Type", "text/plain; charset=utf-8")
                    .body(Full::new(body))
                    .unwrap();
                let t = Instant::now();
                match client.request(req).await {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let body = resp.into_body().collect().await.map(|b| b.to_bytes());
                        if status == 204 {
                            lat.push(t.elapsed());
                            points += n;
                            bytes += len;
                        } else {
                            errors += 1;
                            if errors < 3 {
                                eprintln!("answer {status}: {:?}", body);
                            }
                        }
                    }
                    Err(e) => {
                        errors += 1;
                        if errors < 3 {
                            eprintln!("request failed: {e}");
                        }
                    }
                }
            }
            (lat, points, bytes, errors)
        }));
    }
    let mut lat = Vec::new();
    let (mut points, mut bytes, mut errors) = (0, 0, 0);
    for t in tasks {
        let (l, p, b, e) = t.await.unwrap();
        lat.extend(l);
        points += p;
        bytes += b;
        errors += e;
    }
    stop.store(true, Ordering::Relaxed);
    let secs = t0.elapsed().as_secs_f64();
    lat.sort();
    let pct = |q: f64| {
        lat.get(((lat.len() as f64 * q) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "concurrency {:>2}: {:>9.0} points/s  {:>6.1} MB/s  {} batches  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  errors {}",
        a.concurrency,
        points as f64 / secs,
        bytes as f64 / secs / 1e6,
        lat.len(),
        pct(0.50),
        pct(0.99),
        lat.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        errors
    );
}

/// Answers every write with 204 after reading the body; stores nothing.
fn null_server(addr: &str) {
    use axum::routing::post;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let app = axum::Router::new()
            .route(
                "/api/v2/write",
                post(|body: axum::body::Bytes| async move {
                    std::hint::black_box(body.len());
                    axum::http::StatusCode::NO_CONTENT
                }),
            )
            .layer(axum::extract::DefaultBodyLimit::disable());
        let l = tokio::net::TcpListener::bind(addr).await.unwrap();
        println!(
            "null server: listening on http://{}",
            l.local_addr().unwrap()
        );
        axum::serve(l, app).await.unwrap();
    });
}
