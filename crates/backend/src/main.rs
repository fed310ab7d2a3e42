//! `linegate-backend`: serve the InfluxDB v2 write API, export stored points, list dead
//! letters.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use linegate_backend::config::FileConfig;
use linegate_backend::relay::{RelayConfig, Target};
use linegate_backend::store::{self, ExportFilter};
use linegate_backend::{http, ServeOptions};
use linegate_core::upstream::Kind;
use linegate_core::Limits;
use std::collections::HashMap;

#[derive(Parser)]
#[command(
    name = "linegate-backend",
    version,
    about = "An InfluxDB v2 write target with durable embedded storage and store-and-forward"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the InfluxDB v2 write API.
    Serve(Box<Serve>),
    /// Print a bucket's stored points as line protocol (works while a server runs).
    ///
    /// No token is asked: reading the data directory (0700, owned by the server's user)
    /// already gives every point, so the filesystem is the permission here.
    Export(Export),
    /// List batches the upstream refused, one JSON object per line (no token, as `export`);
    /// `replay` marks them for the relay to send again, `drop` deletes them.
    DeadLetters {
        #[arg(long, env = "LINEGATE_DATA", global = true)]
        data: Option<PathBuf>,
        #[command(subcommand)]
        action: Option<DeadAction>,
    },
    /// Send delivered batches to the upstreams again, from those committed at or after
    /// `--since` (after an upstream lost what it had acknowledged). Works while a server
    /// runs: each upstream's relay takes the request up within a second.
    Replay {
        #[arg(long, env = "LINEGATE_DATA")]
        data: PathBuf,
        /// RFC 3339 time (`2026-12-07T08:00:00Z`) or nanoseconds since the epoch.
        #[arg(long)]
        since: String,
    },
    /// The rejected lines of partial writes (the quarantine; no token, as `export`).
    Rejected(Rejected),
    /// Manage v1 authorizations (user name and password, for `/write`).
    #[command(name = "v1-auth", subcommand)]
    V1Auth(linegate_backend::cli::V1AuthCmd),
}

#[derive(Subcommand)]
enum DeadAction {
    /// Send them to the upstream again (after a fix: a new token, a created database); a
    /// running server's relay takes them up within a second, before newer batches. One
    /// refused again becomes a new dead letter with the new answer.
    Replay {
        /// Only these (the `id` of the listing; repeatable). Default: all.
        #[arg(long = "id")]
        ids: Vec<i64>,
    },
    /// Delete them.
    Drop {
        /// Only these (repeatable). Default: all.
        #[arg(long = "id")]
        ids: Vec<i64>,
    },
}

#[derive(clap::Args)]
struct Serve {
    /// TOML configuration file (see the README); LINEGATE_* variables override it.
    #[arg(long, env = "LINEGATE_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (created if missing).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free one; the address is printed).
    #[arg(long)]
    bind: Option<String>,
    /// On a new data directory: the org to create.
    #[arg(long)]
    setup_org: Option<String>,
    /// On a new data directory: the bucket to create.
    #[arg(long)]
    setup_bucket: Option<String>,
    /// On a new data directory: the all-access token to create (random if absent).
    #[arg(long)]
    setup_token: Option<String>,
    /// Upstream base URL: accepted batches are forwarded there. Repeatable: each upstream
    /// gets every batch, with its own cursor, dead letters and metrics.
    #[arg(long)]
    upstream: Vec<String>,
    /// The upstream's token (one for all, or one per `--upstream`, in order).
    #[arg(long)]
    upstream_token: Vec<String>,
    /// What the upstream is: influxdb2 (default), influxdb1 or victoriametrics (one for
    /// all, or one per `--upstream`, in order).
    #[arg(long)]
    upstream_kind: Vec<String>,
    /// Upstream org (default: each bucket's local org name).
    #[arg(long)]
    upstream_org: Option<String>,
    /// LOCAL=BUCKET or LOCAL=ORG/BUCKET: where a local bucket goes upstream (repeatable).
    #[arg(long = "upstream-bucket")]
    upstream_bucket: Vec<String>,
    /// How long the delivery log keeps what each upstream acknowledged, for `replay
    /// --since` (default 1h; s, m, h, d, w units; 0: no log, replay by commit time only).
    #[arg(long)]
    upstream_replay_window: Option<String>,
    /// Request bodies of this many bytes or more get 413.
    #[arg(long)]
    max_body: Option<usize>,
    /// Decoded bodies of this many bytes or more get 413.
    #[arg(long)]
    max_batch: Option<usize>,
    /// Cap on the escaped parse-error message.
    #[arg(long)]
    max_message: Option<usize>,
    /// How stored bodies are kept: `zstd` (default, level 1), `lz4`, or `none`.
    #[arg(long, default_value = "zstd", value_parser = ["zstd", "lz4", "none"])]
    compression: String,
    /// Milliseconds a client has to send the request line and headers.
    #[arg(long)]
    header_timeout_ms: Option<u64>,
    /// Milliseconds a request body may send nothing before it is cut off.
    #[arg(long)]
    body_idle_timeout_ms: Option<u64>,
    /// Bytes per second a body must average once past its first idle timeout (0: off).
    #[arg(long)]
    min_body_rate: Option<u64>,
    /// Open connections past this are closed as they arrive.
    #[arg(long)]
    max_connections: Option<u64>,
    /// Request-body bytes all requests together may hold.
    #[arg(long)]
    max_inflight_bytes: Option<u64>,
    /// On SIGTERM/SIGINT: milliseconds running requests may take before the server exits.
    #[arg(long)]
    shutdown_timeout_ms: Option<u64>,
    /// Field types held in memory.
    #[arg(long)]
    field_cache: Option<u64>,
    /// Failed authentications per client address and minute before each 401 is delayed.
    #[arg(long)]
    auth_fail_burst: Option<u64>,
    /// The delay, in milliseconds.
    #[arg(long)]
    auth_fail_delay_ms: Option<u64>,
    /// Decoded bytes per org and 300 s window; past it, writes get 429 with Retry-After.
    #[arg(long)]
    quota_write_bytes: Option<u64>,
    /// Distinct series per bucket; a batch with a new series past it gets 429.
    #[arg(long)]
    quota_series: Option<u64>,
    /// Milliseconds added to the quota clock (tests only: a window boundary on demand).
    #[arg(
        long,
        hide = true,
        env = "LINEGATE_QUOTA_CLOCK_OFFSET_MS",
        allow_hyphen_values = true
    )]
    quota_clock_offset_ms: Option<i64>,
    /// OSS's DBRP permissions: a mapping whose database takes another bucket's virtual
    /// mapping needs write on its own bucket only (default: on the shadowed buckets too).
    #[arg(long)]
    dbrp_oss_permissions: bool,
    /// Proxies (addresses or ADDRESS/BITS, comma-separated) whose X-Linegate-Client-Address
    /// header names the client, e.g. the Worker's egress: failed authentication is then
    /// counted, and delayed, per client rather than per proxy.
    #[arg(long, env = "LINEGATE_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<linegate_backend::auth::Net>,
    /// Threads hashing v1 passwords (at the lowest CPU priority; more wait their turn).
    #[arg(long, env = "LINEGATE_HASH_THREADS", default_value_t = 1)]
    hash_threads: usize,
    /// v1 passwords that may wait for a hashing thread; past them (after a 1 s wait for a
    /// place) a password gets 503 with `Retry-After` without being hashed.
    #[arg(long, env = "LINEGATE_HASH_QUEUE", default_value_t = 4)]
    hash_queue: usize,
    /// Partial writes (spec Part D.1): `off` (default), `request` (with
    /// `accept_partial=true`) or `always`.
    #[arg(long, value_parser = ["off", "request", "always"])]
    partial_writes: Option<String>,
    /// Bytes of rejected lines the quarantine keeps per bucket (default 64 MiB).
    #[arg(long)]
    quarantine_bytes: Option<u64>,
    /// Hours the quarantine keeps a rejected line (default 168).
    #[arg(long)]
    quarantine_age_hours: Option<u64>,
    /// Fixed clock in ns for lines without a timestamp (tests only).
    #[arg(long, hide = true, env = "LINEGATE_NOW_NS")]
    now_ns: Option<i64>,
}

#[derive(clap::Args)]
struct Export {
    #[arg(long, env = "LINEGATE_DATA")]
    data: PathBuf,
    #[arg(long)]
    bucket: String,
    /// The bucket's org, when the name exists in several.
    #[arg(long)]
    org: Option<String>,
    /// Earliest time (RFC 3339 or ns), inclusive.
    #[arg(long)]
    start: Option<String>,
    /// Latest time (RFC 3339 or ns), exclusive.
    #[arg(long)]
    stop: Option<String>,
    /// Only this measurement.
    #[arg(long)]
    measurement: Option<String>,
    /// Every stored point in write order, without merging points of one series and time.
    #[arg(long)]
    raw: bool,
}

#[derive(clap::Args)]
struct Rejected {
    #[arg(long, env = "LINEGATE_DATA")]
    data: PathBuf,
    /// Only this bucket's lines.
    #[arg(long)]
    bucket: Option<String>,
    /// The bucket's org, when the name exists in several.
    #[arg(long)]
    org: Option<String>,
    #[command(subcommand)]
    what: RejectedCmd,
}

#[derive(Subcommand)]
enum RejectedCmd {
    /// One JSON object per line (destination, time, line, reason, text).
    List,
    /// The lines alone, as line protocol, to fix and send again.
    Lp,
    /// Drop them.
    Drop,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let res = match cli.cmd {
        Cmd::Serve(s) => serve(*s),
        Cmd::Export(e) => export(e),
        Cmd::DeadLetters { data, action } => match (data, action) {
            (None, _) => Err("--data DIR (or LINEGATE_DATA) is required".into()),
            (Some(data), None) => dead_letters(data),
            (Some(data), Some(a)) => dead_letters_act(data, a),
        },
        Cmd::Replay { data, since } => replay(data, &since),
        Cmd::Rejected(r) => rejected(r),
        Cmd::V1Auth(c) => linegate_backend::cli::run(c),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("linegate-backend: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(s: Serve) -> Result<(), String> {
    let level = std::env::var("LINEGATE_LOG").unwrap_or_else(|_| "info".into());
    let level: tracing::Level = level.parse().unwrap_or(tracing::Level::INFO);
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let mut cfg = match &s.config {
        Some(p) => FileConfig::load(p)?,
        None => FileConfig::default(),
    };
    cfg.apply_env()?;
    for (flag, slot) in [
        s.header_timeout_ms,
        s.body_idle_timeout_ms,
        s.min_body_rate,
        s.max_connections,
        s.max_inflight_bytes,
        s.shutdown_timeout_ms,
        s.field_cache,
        s.auth_fail_burst,
        s.auth_fail_delay_ms,
        s.quota_write_bytes,
        s.quota_series,
    ]
    .into_iter()
    .zip(cfg.guard_slots())
    .map(|(f, (_, slot))| (f, slot))
    {
        if flag.is_some() {
            *slot = flag;
        }
    }
    let guards = cfg.guards();
    let mut limits = Limits::default();
    limits.max_body = s.max_body.or(cfg.max_body).unwrap_or(limits.max_body);
    limits.max_batch = s.max_batch.or(cfg.max_batch).unwrap_or(limits.max_batch);
    limits.max_message = s
        .max_message
        .or(cfg.max_message)
        .unwrap_or(limits.max_message);
    let data = s
        .data
        .or_else(|| cfg.data.clone())
        .ok_or("--data DIR (or `data` in the config, or LINEGATE_DATA) is required")?;
    let bind = s
        .bind
        .or_else(|| cfg.bind.clone())
        .unwrap_or_else(|| "127.0.0.1:8086".into());
    let up = cfg.upstream.clone().unwrap_or_default();
    // `--upstream` repeats (each its own relay); tokens and kinds pair with them by position,
    // or one applies to all.
    let urls: Vec<String> = if s.upstream.is_empty() {
        up.url.clone().into_iter().collect()
    } else {
        s.upstream.clone()
    };
    let pick = |v: &[String], i: usize, what: &str| -> Result<Option<String>, String> {
        match v.len() {
            0 => Ok(None),
            1 => Ok(Some(v[0].clone())),
            n if n == urls.len() => Ok(Some(v[i].clone())),
            n => Err(format!(
                "{n} --{what} for {} --upstream: give one, or one per upstream",
                urls.len()
            )),
        }
    };
    let mut targets = HashMap::new();
    for b in up.buckets {
        targets.insert(
            b.local,
            Target {
                org: b.org,
                bucket: b.bucket,
            },
        );
    }
    for m in &s.upstream_bucket {
        let (local, to) = m
            .split_once('=')
            .ok_or_else(|| format!("--upstream-bucket {m}: want LOCAL=BUCKET"))?;
        let t = match to.split_once('/') {
            Some((o, b)) => Target {
                org: Some(o.into()),
                bucket: Some(b.into()),
            },
            None => Target {
                org: None,
                bucket: Some(to.into()),
            },
        };
        targets.insert(local.into(), t);
    }
    let window = s
        .upstream_replay_window
        .clone()
        .or(up.replay_window.clone())
        .map(|w| {
            linegate_backend::config::parse_retention(&w).map_err(|_| {
                format!("--upstream-replay-window {w}: want 0, or a number with s, m, h, d or w")
            })
        })
        .transpose()?
        .map_or(std::time::Duration::from_secs(3600), |secs| {
            std::time::Duration::from_secs(secs.max(0) as u64)
        });
    let mut upstream = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        let token = pick(&s.upstream_token, i, "upstream-token")?
            .or(up.token.clone())
            .ok_or("--upstream needs --upstream-token")?;
        let mut rc = RelayConfig::new(url.clone(), token);
        rc.index = i;
        rc.org = s.upstream_org.clone().or(up.org.clone());
        if let Some(k) = pick(&s.upstream_kind, i, "upstream-kind")?.or(up.kind.clone()) {
            rc.kind = Kind::parse(&k).ok_or_else(|| {
                format!("--upstream-kind {k}: want influxdb2, influxdb1 or victoriametrics")
            })?;
        }
        rc.buckets = targets.clone();
        rc.replay_window = window;
        upstream.push(rc);
    }
    let partial = cfg.partial_writes(s.partial_writes.as_deref())?;
    let quarantine = cfg.quarantine(s.quarantine_bytes, s.quarantine_age_hours);
    let opts = ServeOptions {
        data,
        bind,
        limits,
        config: cfg,
        setup_org: s.setup_org,
        setup_bucket: s.setup_bucket,
        setup_token: s.setup_token,
        upstream,
        now_override: s.now_ns,
        quota_clock_offset_ms: s.quota_clock_offset_ms.unwrap_or(0),
        compression: store::Compression::parse(&s.compression).unwrap_or_default(),
        guards,
        access: linegate_backend::config::Access {
            dbrp_oss_permissions: s.dbrp_oss_permissions,
            trusted_proxies: s.trusted_proxies,
        },
        partial,
        quarantine,
    };
    linegate_backend::auth::init_hash_pool(s.hash_threads, s.hash_queue);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(linegate_backend::serve(opts))
}

fn export(e: Export) -> Result<(), String> {
    if !store::db_path(&e.data).exists() {
        return Err(format!("{}: no linegate database here", e.data.display()));
    }
    let conn = store::open_read(&e.data).map_err(|x| x.to_string())?;
    let reg = store::load_registry(&conn).map_err(|x| x.to_string())?;
    let bucket = reg.find_bucket(e.org.as_deref(), &e.bucket)?;
    let time = |s: &Option<String>, what: &str| -> Result<Option<i64>, String> {
        s.as_deref()
            .map(|v| http::parse_time(v).ok_or_else(|| format!("--{what} {v}: not RFC 3339 or ns")))
            .transpose()
    };
    let filter = ExportFilter {
        start: time(&e.start, "start")?,
        stop: time(&e.stop, "stop")?,
        measurement: e.measurement.map(String::into_bytes),
        raw: e.raw,
    };
    // Streamed: memory stays bounded whatever the bucket holds.
    store::export(&conn, bucket.id, &filter, &mut std::io::stdout().lock())?;
    Ok(())
}

fn replay(data: PathBuf, since: &str) -> Result<(), String> {
    let since_ns = since
        .parse::<i64>()
        .ok()
        .or_else(|| linegate_core::time::parse_rfc3339(since))
        .ok_or_else(|| format!("--since {since}: want an RFC 3339 time or nanoseconds"))?;
    if !store::db_path(&data).exists() {
        return Err(format!("{}: no linegate database here", data.display()));
    }
    let conn = store::open_read(&data).map_err(|x| x.to_string())?;
    // The last batch committed before `since`: the relay goes on from the one after it.
    let seq: i64 = conn
        .query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM batches WHERE now < ?1",
            [since_ns],
            |r| r.get(0),
        )
        .map_err(|x| x.to_string())?;
    // A server of an older version has no delivery log yet.
    conn.execute_batch(store::deliveries::SCHEMA)
        .map_err(|x| x.to_string())?;
    // A generation with the cursor and the time: each upstream's relay takes a request up
    // once, moving back further to what its delivery log says it acknowledged since then.
    let generation = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    store::set_meta(
        &conn,
        linegate_backend::relay::REPLAY_KEY,
        &format!("{generation} {seq} {since_ns}"),
    )
    .map_err(|x| x.to_string())?;
    println!("replay: batches committed after seq {seq} will be sent again");
    for (name, oldest) in store::deliveries::logged(&conn).map_err(|x| x.to_string())? {
        let who = if name.is_empty() {
            "the first upstream"
        } else {
            &name
        };
        match store::deliveries::replay_from(&conn, &name, since_ns).map_err(|x| x.to_string())? {
            Some(from) if from < seq => println!(
                "replay: {who} acknowledged batches after seq {from} since then; they will be sent again too"
            ),
            _ => {}
        }
        if oldest > since_ns {
            println!(
                "replay: {who}'s delivery log (kept for the replay window) goes back to {oldest} ns"
            );
        }
    }
    Ok(())
}

fn dead_letters_act(data: PathBuf, action: DeadAction) -> Result<(), String> {
    if !store::db_path(&data).exists() {
        return Err(format!("{}: no linegate database here", data.display()));
    }
    let conn = store::open_read(&data).map_err(|x| x.to_string())?;
    let (n, what) = match action {
        DeadAction::Replay { ids } => (store::mark_replay(&conn, &ids), "marked for replay"),
        DeadAction::Drop { ids } => (store::drop_dead_letters(&conn, &ids), "dropped"),
    };
    println!("dead letters {what}: {}", n.map_err(|x| x.to_string())?);
    Ok(())
}

fn dead_letters(data: PathBuf) -> Result<(), String> {
    if !store::db_path(&data).exists() {
        return Err(format!("{}: no linegate database here", data.display()));
    }
    let conn = store::open_read(&data).map_err(|x| x.to_string())?;
    let list = store::dead_letters(&conn)?;
    let mut out = std::io::stdout().lock();
    for d in list {
        let line = serde_json::to_string(&d).map_err(|x| x.to_string())?;
        writeln!(out, "{line}").map_err(|x| x.to_string())?;
    }
    Ok(())
}

fn rejected(r: Rejected) -> Result<(), String> {
    if !store::db_path(&r.data).exists() {
        return Err(format!("{}: no linegate database here", r.data.display()));
    }
    let e = |x: rusqlite::Error| x.to_string();
    let conn = store::open_read(&r.data).map_err(e)?;
    let set: store::BucketSet = match &r.bucket {
        Some(name) => {
            let reg = store::load_registry(&conn).map_err(e)?;
            Some([reg.find_bucket(r.org.as_deref(), name)?.id].into())
        }
        None => None,
    };
    let mut out = std::io::stdout().lock();
    match r.what {
        RejectedCmd::List => {
            for d in store::quarantine_list(&conn, &set, usize::MAX)? {
                let line = serde_json::to_string(&d).map_err(|x| x.to_string())?;
                writeln!(out, "{line}").map_err(|x| x.to_string())?;
            }
        }
        RejectedCmd::Lp => {
            store::quarantine_lp(&conn, &set, &mut out)?;
        }
        RejectedCmd::Drop => {
            // A server may be writing: SQLite's lock (busy timeout) orders the two.
            let n = store::quarantine_drop(&conn, &set).map_err(e)?;
            writeln!(out, "dropped {n} rejected lines").map_err(|x| x.to_string())?;
        }
    }
    Ok(())
}
