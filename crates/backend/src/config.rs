//! Configuration: a TOML file, environment variables over it, command-line flags over both.
//!
//! ```toml
//! bind = "127.0.0.1:8086"
//! data = "/var/lib/linegate"
//! max_body = 536870912          # bytes; also max_batch, max_message
//!
//! [[orgs]]
//! name = "acme"
//!
//! [[buckets]]
//! org = "acme"
//! name = "metrics"
//! retention = "30d"             # "0" or absent: keep forever; s, m, h, d, w units
//!
//! [[tokens]]
//! token = "s3cret-all"
//! org = "acme"                  # omit for a token valid in every org
//! all_access = true
//!
//! [[tokens]]
//! token = "s3cret-writer"
//! org = "acme"
//! write = ["metrics"]           # buckets of `org` this token may write to
//! read = []                     # buckets of `org` this token may export
//!
//! # Guards against hostile or broken clients (defaults shown; LINEGATE_<NAME> overrides).
//! header_timeout_ms = 30000     # request line and headers; also ends idle keep-alives
//! body_idle_timeout_ms = 10000  # a body that sends nothing for this long is cut off
//! min_body_rate = 4096          # bytes/s a body must average once past its first idle timeout
//! max_connections = 1024        # connections past this are closed at once
//! max_inflight_bytes = 1073741824  # request-body bytes held by all requests together
//! shutdown_timeout_ms = 10000   # SIGTERM: how long running requests may take to finish
//! field_cache = 100000          # field types held in memory (the rest read from disk)
//! auth_fail_burst = 10          # failed authentications per client address before delays
//! auth_fail_delay_ms = 1000     # added to each 401 past the burst (per minute and address)
//!
//! # Write quotas (spec Part D.2; absent: off).
//! quota_write_bytes = 100000000 # decoded bytes per org and 300 s window (429 + Retry-After)
//! quota_series = 1000000        # distinct series per bucket (429)
//! # Partial writes (spec Part D.1): off (default), request (`accept_partial=true`), always.
//! partial_writes = "off"
//! quarantine_bytes = 67108864   # rejected lines kept per bucket (oldest dropped first)
//! quarantine_age_hours = 168    # and for at most this long
//!
//! [upstream]
//! url = "https://influx.example:8086"
//! token = "upstream-token"
//! org = "remote-org"            # default: the local org's name
//! replay_window = "1h"          # delivery log kept for `replay --since` ("0": none)
//! [[upstream.buckets]]
//! local = "metrics"             # local bucket name
//! bucket = "prod-metrics"       # upstream bucket (default: same name)
//! org = "other-org"             # optional, per bucket
//! ```

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub bind: Option<String>,
    pub data: Option<PathBuf>,
    pub max_body: Option<usize>,
    pub max_batch: Option<usize>,
    pub max_message: Option<usize>,
    pub header_timeout_ms: Option<u64>,
    pub body_idle_timeout_ms: Option<u64>,
    pub min_body_rate: Option<u64>,
    pub max_connections: Option<u64>,
    pub max_inflight_bytes: Option<u64>,
    pub shutdown_timeout_ms: Option<u64>,
    pub field_cache: Option<u64>,
    pub auth_fail_burst: Option<u64>,
    pub auth_fail_delay_ms: Option<u64>,
    pub quota_write_bytes: Option<u64>,
    pub quota_series: Option<u64>,
    pub partial_writes: Option<String>,
    pub quarantine_bytes: Option<u64>,
    pub quarantine_age_hours: Option<u64>,
    #[serde(default)]
    pub orgs: Vec<OrgConf>,
    #[serde(default)]
    pub buckets: Vec<BucketConf>,
    #[serde(default)]
    pub tokens: Vec<TokenConf>,
    pub upstream: Option<UpstreamConf>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgConf {
    pub name: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketConf {
    pub org: String,
    pub name: String,
    pub retention: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConf {
    pub token: String,
    pub org: Option<String>,
    #[serde(default)]
    pub all_access: bool,
    #[serde(default)]
    pub write: Vec<String>,
    #[serde(default)]
    pub read: Vec<String>,
    #[serde(default)]
    pub description: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConf {
    pub url: Option<String>,
    /// `influxdb2` (default), `influxdb1` or `victoriametrics`.
    pub kind: Option<String>,
    pub token: Option<String>,
    pub org: Option<String>,
    /// How long the delivery log keeps what each upstream acknowledged, for `replay
    /// --since` (`1h` by default; `retention`'s units; `0`: no log).
    pub replay_window: Option<String>,
    #[serde(default)]
    pub buckets: Vec<UpstreamBucket>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamBucket {
    pub local: String,
    pub bucket: Option<String>,
    pub org: Option<String>,
}

impl FileConfig {
    pub fn load(path: &std::path::Path) -> Result<FileConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Environment variables override the file.
    pub fn apply_env(&mut self) -> Result<(), String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let num = |k: &str| -> Result<Option<usize>, String> {
            var(k)
                .map(|v| v.parse().map_err(|_| format!("{k}: not a number: {v}")))
                .transpose()
        };
        if let Some(v) = var("LINEGATE_BIND") {
            self.bind = Some(v);
        }
        if let Some(v) = var("LINEGATE_DATA") {
            self.data = Some(v.into());
        }
        if let Some(v) = num("LINEGATE_MAX_BODY")? {
            self.max_body = Some(v);
        }
        if let Some(v) = num("LINEGATE_MAX_BATCH")? {
            self.max_batch = Some(v);
        }
        if let Some(v) = num("LINEGATE_MAX_MESSAGE")? {
            self.max_message = Some(v);
        }
        if let Some(v) = var("LINEGATE_PARTIAL_WRITES") {
            self.partial_writes = Some(v);
        }
        if let Some(v) = num("LINEGATE_QUARANTINE_BYTES")? {
            self.quarantine_bytes = Some(v as u64);
        }
        if let Some(v) = num("LINEGATE_QUARANTINE_AGE_HOURS")? {
            self.quarantine_age_hours = Some(v as u64);
        }
        for (k, slot) in self.guard_slots() {
            let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            if let Some(v) = var(k) {
                *slot = Some(v.parse().map_err(|_| format!("{k}: not a number: {v}"))?);
            }
        }
        for (k, set) in [
            ("LINEGATE_UPSTREAM_URL", 0),
            ("LINEGATE_UPSTREAM_TOKEN", 1),
            ("LINEGATE_UPSTREAM_ORG", 2),
            ("LINEGATE_UPSTREAM_REPLAY_WINDOW", 3),
        ] {
            if let Some(v) = var(k) {
                let u = self.upstream.get_or_insert_with(UpstreamConf::default);
                match set {
                    0 => u.url = Some(v),
                    1 => u.token = Some(v),
                    2 => u.org = Some(v),
                    _ => u.replay_window = Some(v),
                }
            }
        }
        Ok(())
    }
}

impl FileConfig {
    /// The partial-write switch (spec Part D.1), `flag` over the file and environment.
    pub fn partial_writes(
        &self,
        flag: Option<&str>,
    ) -> Result<linegate_core::partial::PartialWrites, String> {
        match flag.or(self.partial_writes.as_deref()) {
            None => Ok(Default::default()),
            Some(v) => linegate_core::partial::PartialWrites::parse(v)
                .ok_or_else(|| format!("partial writes: {v:?} is not off, request or always")),
        }
    }

    /// The quarantine's bounds, flags over the file and environment.
    pub fn quarantine(
        &self,
        bytes: Option<u64>,
        age_hours: Option<u64>,
    ) -> crate::store::QuarantineBounds {
        let d = crate::store::QuarantineBounds::default();
        crate::store::QuarantineBounds {
            bytes: bytes.or(self.quarantine_bytes).unwrap_or(d.bytes),
            age_ns: hours_to_ns(age_hours.or(self.quarantine_age_hours), d.age_ns),
        }
    }

    /// The guard settings with their environment variable names.
    pub fn guard_slots(&mut self) -> [(&'static str, &mut Option<u64>); 11] {
        [
            ("LINEGATE_HEADER_TIMEOUT_MS", &mut self.header_timeout_ms),
            (
                "LINEGATE_BODY_IDLE_TIMEOUT_MS",
                &mut self.body_idle_timeout_ms,
            ),
            ("LINEGATE_MIN_BODY_RATE", &mut self.min_body_rate),
            ("LINEGATE_MAX_CONNECTIONS", &mut self.max_connections),
            ("LINEGATE_MAX_INFLIGHT_BYTES", &mut self.max_inflight_bytes),
            (
                "LINEGATE_SHUTDOWN_TIMEOUT_MS",
                &mut self.shutdown_timeout_ms,
            ),
            ("LINEGATE_FIELD_CACHE", &mut self.field_cache),
            ("LINEGATE_AUTH_FAIL_BURST", &mut self.auth_fail_burst),
            ("LINEGATE_AUTH_FAIL_DELAY_MS", &mut self.auth_fail_delay_ms),
            ("LINEGATE_QUOTA_WRITE_BYTES", &mut self.quota_write_bytes),
            ("LINEGATE_QUOTA_SERIES", &mut self.quota_series),
        ]
    }

    /// The guards, defaults filled in.
    pub fn guards(&self) -> Guards {
        let d = Guards::default();
        let ms = |v: Option<u64>, d: Duration| v.map_or(d, Duration::from_millis);
        Guards {
            header_timeout: ms(self.header_timeout_ms, d.header_timeout),
            body_idle_timeout: ms(self.body_idle_timeout_ms, d.body_idle_timeout),
            min_body_rate: self.min_body_rate.unwrap_or(d.min_body_rate),
            max_connections: self
                .max_connections
                .map_or(d.max_connections, |v| v as usize),
            max_inflight_bytes: self
                .max_inflight_bytes
                .map_or(d.max_inflight_bytes, |v| v as usize),
            shutdown_timeout: ms(self.shutdown_timeout_ms, d.shutdown_timeout),
            field_cache: self.field_cache.map_or(d.field_cache, |v| v as usize),
            auth_fail_burst: self.auth_fail_burst.map_or(d.auth_fail_burst, |v| v as u32),
            auth_fail_delay: ms(self.auth_fail_delay_ms, d.auth_fail_delay),
            quota_write_bytes: self.quota_write_bytes,
            quota_series: self.quota_series,
        }
    }
}

fn hours_to_ns(hours: Option<u64>, default: i64) -> i64 {
    hours.map_or(default, |h| (h as i64).saturating_mul(3_600_000_000_000))
}

/// What bounds a client's hold on the server (see the file format above).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Guards {
    pub header_timeout: Duration,
    pub body_idle_timeout: Duration,
    /// Bytes per second; 0 turns the check off.
    pub min_body_rate: u64,
    pub max_connections: usize,
    pub max_inflight_bytes: usize,
    pub shutdown_timeout: Duration,
    pub field_cache: usize,
    pub auth_fail_burst: u32,
    pub auth_fail_delay: Duration,
    /// Spec D.2: decoded bytes per org and window (`None`: no rate quota).
    pub quota_write_bytes: Option<u64>,
    /// Spec D.2: distinct series per bucket (`None`: no series quota).
    pub quota_series: Option<u64>,
}

impl Default for Guards {
    fn default() -> Self {
        Guards {
            // Also the keep-alive idle limit (hyper has one timer for both): above the usual
            // 10 s flush interval of agents, so an idle connection is not closed just as a
            // client reuses it.
            header_timeout: Duration::from_secs(30),
            body_idle_timeout: Duration::from_secs(10),
            min_body_rate: 4096,
            max_connections: 1024,
            max_inflight_bytes: 1 << 30,
            shutdown_timeout: Duration::from_secs(10),
            field_cache: crate::store::DEFAULT_FIELD_CACHE,
            auth_fail_burst: 10,
            auth_fail_delay: Duration::from_secs(1),
            quota_write_bytes: None,
            quota_series: None,
        }
    }
}

/// A retention period in seconds: `0`, `infinite`, a number of seconds, or a number with a
/// unit (`s`, `m`, `h`, `d`, `w`), possibly several (`1d12h`).
pub fn parse_retention(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if s.is_empty() || s == "0" || s == "infinite" {
        return Ok(0);
    }
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    let mut total: i64 = 0;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let mul = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(format!("invalid retention {s:?}")),
        };
        let n: i64 = num
            .parse()
            .map_err(|_| format!("invalid retention {s:?}"))?;
        total = total.saturating_add(n.saturating_mul(mul));
        num.clear();
    }
    if !num.is_empty() {
        return Err(format!("invalid retention {s:?}"));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention() {
        assert_eq!(parse_retention("0"), Ok(0));
        assert_eq!(parse_retention("30d"), Ok(30 * 86_400));
        assert_eq!(parse_retention("1d12h"), Ok(129_600));
        assert!(parse_retention("1y").is_err());
    }

    #[test]
    fn file_format() {
        let c: FileConfig = toml::from_str(
            r#"
bind = "127.0.0.1:9999"
[[orgs]]
name = "acme"
[[buckets]]
org = "acme"
name = "m"
retention = "2d"
[[tokens]]
token = "w"
org = "acme"
write = ["m"]
[upstream]
url = "http://x"
replay_window = "10m"
[[upstream.buckets]]
local = "m"
bucket = "n"
"#,
        )
        .unwrap();
        assert_eq!(c.tokens[0].write, ["m"]);
        let up = c.upstream.unwrap();
        assert_eq!(up.buckets[0].bucket.as_deref(), Some("n"));
        assert_eq!(up.replay_window.as_deref(), Some("10m"));
        assert!(toml::from_str::<FileConfig>("nonsense = 1").is_err());
    }
}

/// Who may do what beyond a token's own permissions (flags of `serve`).
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// OSS's rule for the DBRP API: a mapping needs write on its own bucket only, even when
    /// its database takes another bucket's virtual mapping (`--dbrp-oss-permissions`).
    /// Off by default: such a mapping needs write on the shadowed buckets too.
    pub dbrp_oss_permissions: bool,
    /// Proxies whose `X-Linegate-Client-Address` names the client (`--trusted-proxies`):
    /// failed authentication is then counted per client, not per proxy.
    pub trusted_proxies: Vec<crate::auth::Net>,
}
