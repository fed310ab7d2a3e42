//! # linegate-backend
//!
//! An InfluxDB v2 write target: the write API as InfluxDB OSS v2 answers it (every check
//! from `linegate-core`, so the edge and the backend never disagree), durable embedded
//! storage in SQLite, and store-and-forward to a real InfluxDB.

pub mod auth;
pub mod body;
pub mod cli;
pub mod clock;
pub mod config;
pub mod http;
pub mod lookup;
pub mod metrics;
pub mod relay;
pub mod server;
pub mod store;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use linegate_core::Limits;

use crate::config::FileConfig;
use crate::store::{Bucket, Org, Store, Token};

/// Everything `serve` needs, after the file, the environment and the flags were merged.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub data: PathBuf,
    pub bind: String,
    pub limits: Limits,
    pub config: FileConfig,
    pub setup_org: Option<String>,
    pub setup_bucket: Option<String>,
    pub setup_token: Option<String>,
    /// One relay per upstream (none: no store-and-forward).
    pub upstream: Vec<relay::RelayConfig>,
    pub now_override: Option<i64>,
    /// Added to the quota clock (tests only).
    pub quota_clock_offset_ms: i64,
    /// How bodies are stored (`--compression zstd|lz4|none`).
    pub compression: store::Compression,
    /// Timeouts, caps and the failed-authentication delay.
    pub guards: config::Guards,
    /// What is trusted beyond tokens.
    pub access: config::Access,
    /// Partial writes (spec Part D.1) and the quarantine's bounds.
    pub partial: linegate_core::partial::PartialWrites,
    pub quarantine: store::QuarantineBounds,
}

/// Creates what the config file names (orgs, buckets, tokens) and, on a new data directory
/// without any, an org, a bucket and an all-access token, which are printed.
async fn provision(store: &Arc<Store>, opts: &ServeOptions, is_new: bool) -> Result<(), String> {
    let cfg = &opts.config;
    let reg = store.registry().clone();
    let mut orgs: Vec<Org> = reg.orgs.values().cloned().collect();
    let mut new_orgs = Vec::new();
    let mut org_names: Vec<&str> = cfg.orgs.iter().map(|o| o.name.as_str()).collect();
    org_names.extend(cfg.buckets.iter().map(|b| b.org.as_str()));
    for name in org_names {
        if !orgs.iter().any(|o| o.name == name) {
            let o = Org {
                id: store::new_id(),
                name: name.to_string(),
            };
            orgs.push(o.clone());
            new_orgs.push(o);
        }
    }
    let org_id = |name: &str| orgs.iter().find(|o| o.name == name).map(|o| o.id);
    let mut buckets: Vec<Bucket> = reg.buckets.values().cloned().collect();
    let mut changed_buckets = Vec::new();
    for b in &cfg.buckets {
        let oid = org_id(&b.org).ok_or("unknown org")?;
        let retention = config::parse_retention(b.retention.as_deref().unwrap_or("0"))?;
        match buckets
            .iter_mut()
            .find(|x| x.org_id == oid && x.name == b.name)
        {
            Some(x) if x.retention_secs == retention => {}
            Some(x) => {
                x.retention_secs = retention;
                changed_buckets.push((x.clone(), false));
            }
            None => {
                let nb = Bucket {
                    id: store::new_id(),
                    org_id: oid,
                    name: b.name.clone(),
                    retention_secs: retention,
                };
                buckets.push(nb.clone());
                changed_buckets.push((nb, true));
            }
        }
    }
    let mut tokens = Vec::new();
    for t in &cfg.tokens {
        let oid = match &t.org {
            Some(o) => Some(org_id(o).ok_or_else(|| format!("token: unknown org {o:?}"))?),
            None => None,
        };
        let find = |name: &String| {
            buckets
                .iter()
                .find(|b| b.name == *name && oid.is_none_or(|o| o == b.org_id))
                .map(|b| b.id)
                .ok_or_else(|| format!("token: unknown bucket {name:?}"))
        };
        // Config-file tokens are hashed here, at every start: the file stays the operator's
        // copy, the database holds only hashes.
        tokens.push(Token {
            hash: reg.hash_token(t.token.as_bytes()),
            org_id: oid,
            all_access: t.all_access,
            write: t
                .write
                .iter()
                .map(find)
                .collect::<Result<HashSet<_>, _>>()?,
            read: t.read.iter().map(find).collect::<Result<HashSet<_>, _>>()?,
            description: t.description.clone(),
        });
    }
    let explicit_setup =
        opts.setup_org.is_some() || opts.setup_bucket.is_some() || opts.setup_token.is_some();
    let mut announce = None;
    if is_new && (explicit_setup || (cfg.orgs.is_empty() && cfg.tokens.is_empty())) {
        let org_name = opts.setup_org.clone().unwrap_or_else(|| "linegate".into());
        let oid = match org_id(&org_name) {
            Some(id) => id,
            None => {
                let o = Org {
                    id: store::new_id(),
                    name: org_name.clone(),
                };
                new_orgs.push(o.clone());
                o.id
            }
        };
        let bucket_name = opts
            .setup_bucket
            .clone()
            .unwrap_or_else(|| "default".into());
        let bid = match buckets
            .iter()
            .find(|b| b.org_id == oid && b.name == bucket_name)
        {
            Some(b) => b.id,
            None => {
                let b = Bucket {
                    id: store::new_id(),
                    org_id: oid,
                    name: bucket_name.clone(),
                    retention_secs: 0,
                };
                changed_buckets.push((b.clone(), true));
                b.id
            }
        };
        let token = opts.setup_token.clone().unwrap_or_else(store::new_token);
        tokens.push(Token {
            hash: reg.hash_token(token.as_bytes()),
            org_id: None,
            all_access: true,
            description: "setup: all access".into(),
            ..Token::default()
        });
        announce = Some((org_name, oid, bucket_name, bid, token));
    }
    store
        .exec(move |tx| {
            for o in &new_orgs {
                store::insert_org(tx, o)?;
            }
            for (b, new) in &changed_buckets {
                if *new {
                    store::insert_bucket(tx, b)?;
                } else {
                    tx.execute(
                        "UPDATE buckets SET retention_secs = ?1 WHERE id = ?2",
                        rusqlite::params![b.retention_secs, b.id as i64],
                    )?;
                }
            }
            for t in &tokens {
                store::upsert_token(tx, t)?;
            }
            Ok(())
        })
        .await?;
    store.reload_registry()?;
    if let Some((org, oid, bucket, bid, token)) = announce {
        println!("linegate-backend: set up a new data directory");
        println!("  org:    {org} ({oid:016x})");
        println!("  bucket: {bucket} ({bid:016x})");
        // Shown this once: only its hash is kept.
        println!("  token:  {token}  (all access; shown once, only its hash is stored)");
    }
    Ok(())
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn serve(opts: ServeOptions) -> Result<(), String> {
    let is_new = !store::db_path(&opts.data).exists();
    let store = Store::open_with(&opts.data, opts.guards.field_cache)?;
    provision(&store, &opts, is_new).await?;
    let metrics = Arc::new(metrics::Metrics::default());
    let mut relay_cursor = None;
    let mut relays = Vec::new();
    for cfg in opts.upstream.clone() {
        let r = relay::Relay::new(store.clone(), cfg, metrics.clone())?;
        relay_cursor.get_or_insert_with(|| r.cursor.clone());
        relays.push(r.stats.clone());
        tokio::spawn(r.run());
    }
    if opts.guards.max_inflight_bytes < opts.limits.max_body {
        // A body that may legally reach max_body could then never be read whole.
        tracing::warn!(
            max_inflight_bytes = opts.guards.max_inflight_bytes,
            max_body = opts.limits.max_body,
            "max_inflight_bytes is below max_body: the largest bodies will get 503"
        );
    }
    let conns = Arc::new(server::ConnStats::default());
    let app = Arc::new(http::App {
        store: store.clone(),
        limits: opts.limits,
        now_override: opts.now_override,
        quota_clock_offset_ms: opts.quota_clock_offset_ms,
        compression: opts.compression,
        compressing: Default::default(),
        metrics,
        started: SystemTime::now(),
        relay_cursor,
        relays,
        refuse_kinds: refuse_kinds(&opts.upstream),
        guards: opts.guards,
        budget: body::Budget::new(opts.guards.max_inflight_bytes),
        throttle: auth::Throttle::new(opts.guards.auth_fail_burst, opts.guards.auth_fail_delay),
        conns: conns.clone(),
        access: opts.access.clone(),
        partial: opts.partial,
        quarantine: opts.quarantine,
        quarantine_stats: Default::default(),
        series_memos: Default::default(),
    });
    let listener = tokio::net::TcpListener::bind(&opts.bind)
        .await
        .map_err(|e| format!("bind {}: {e}", opts.bind))?;
    let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("linegate-backend: listening on http://{addr}");
    tracing::info!(%addr, data = %opts.data.display(), "listening");
    server::run(listener, http::router(app), opts.guards, conns, shutdown()).await;
    Ok(())
}

/// The distinct kinds among `upstreams` whose rules refuse points (all but `influxdb2`).
fn refuse_kinds(upstreams: &[relay::RelayConfig]) -> Vec<linegate_core::upstream::Kind> {
    let mut kinds = Vec::new();
    for u in upstreams {
        if u.kind != linegate_core::upstream::Kind::InfluxDb2 && !kinds.contains(&u.kind) {
            kinds.push(u.kind);
        }
    }
    kinds
}

async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
