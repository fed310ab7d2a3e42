//! Real databases on 127.0.0.1 for the relay's tests: InfluxDB 1.x (`influxd`) and
//! VictoriaMetrics (`victoria-metrics`), from Debian's packages (`scripts/setup.sh`), each on
//! a free port with its data in a temporary folder. Absent binaries: the caller skips.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{request, Resp};

/// The binary's path when it is installed.
pub fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(bin))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[derive(Clone, Copy, PartialEq)]
pub enum Db {
    Influx1,
    Victoria,
}

/// A running database; `kill` (SIGKILL) and `start` again keep its data and port.
pub struct RealDb {
    pub kind: Db,
    pub addr: String,
    dir: PathBuf,
    child: Option<Child>,
    extra: Vec<String>,
    env: Vec<(String, String)>,
}

impl RealDb {
    /// Starts `kind` in `dir` (None: the binary is not installed).
    pub fn new(kind: Db, dir: &Path, extra: &[&str]) -> Option<RealDb> {
        Self::new_env(kind, dir, extra, &[])
    }

    /// [`RealDb::new`] with environment variables (`INFLUXDB_HTTP_AUTH_ENABLED=true`).
    pub fn new_env(kind: Db, dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Option<RealDb> {
        which(match kind {
            Db::Influx1 => "influxd",
            Db::Victoria => "victoria-metrics",
        })?;
        let addr = format!("127.0.0.1:{}", free_port());
        let mut db = RealDb {
            kind,
            addr,
            dir: dir.to_path_buf(),
            child: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        db.start();
        Some(db)
    }

    pub fn start(&mut self) {
        std::fs::create_dir_all(&self.dir).unwrap();
        let mut cmd = match self.kind {
            Db::Influx1 => {
                let d = self.dir.display();
                let conf = self.dir.join("influxdb.conf");
                // Another free port for the RPC service 1.x always opens (backup/restore).
                let rpc = free_port();
                std::fs::write(
                    &conf,
                    format!(
                        "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n\
                         [meta]\n  dir = \"{d}/meta\"\n\
                         [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
                         [http]\n  bind-address = \"{}\"\n  log-enabled = false\n\
                         [monitor]\n  store-enabled = false\n\
                         [continuous_queries]\n  enabled = false\n",
                        self.addr
                    ),
                )
                .unwrap();
                let mut c = Command::new("influxd");
                c.arg("-config").arg(conf);
                c
            }
            Db::Victoria => {
                let mut c = Command::new("victoria-metrics");
                c.arg(format!(
                    "-storageDataPath={}",
                    self.dir.join("vm").display()
                ))
                .arg(format!("-httpListenAddr={}", self.addr))
                .arg("-loggerLevel=ERROR");
                c
            }
        };
        cmd.args(&self.extra)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.child = Some(cmd.spawn().expect("start the database"));
        let probe = match self.kind {
            Db::Influx1 => ("/ping", 204),
            Db::Victoria => ("/health", 200),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = request(&self.addr, "GET", probe.0, &[], b"") {
                if r.status == probe.1 {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "the database did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM (the database saves what it holds), and reap.
    #[allow(dead_code)]
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }

    pub fn get(&self, path: &str) -> Resp {
        request(&self.addr, "GET", path, &[], b"").expect("database request")
    }

    pub fn post(&self, path: &str, body: &[u8]) -> Resp {
        request(&self.addr, "POST", path, &[], body).expect("database request")
    }

    /// InfluxQL through 1.x's `/query` (POST, so management statements run too).
    pub fn influxql(&self, db: &str, q: &str) -> serde_json::Value {
        self.influxql_as("", "", db, q)
    }

    /// [`RealDb::influxql`] as a 1.x user (`u`/`p`).
    pub fn influxql_as(&self, u: &str, p: &str, db: &str, q: &str) -> serde_json::Value {
        let path = format!(
            "/query?db={}&u={u}&p={p}&epoch=ns&q={}",
            db,
            linegate_core::encode_query_value(q.as_bytes())
        );
        let r = self.post(&path, b"");
        assert_eq!(r.status, 200, "{q}: {}", r.text());
        serde_json::from_slice(&r.body).unwrap()
    }

    /// VictoriaMetrics' raw samples for a series selector: (metric labels, value, ms).
    pub fn export(&self, selector: &str) -> Vec<(serde_json::Value, f64, i64)> {
        let path = format!(
            "/api/v1/export?match[]={}",
            linegate_core::encode_query_value(selector.as_bytes())
        );
        let r = self.get(&path);
        assert_eq!(r.status, 200, "{}", r.text());
        let mut out = Vec::new();
        for line in r.text().lines().filter(|l| !l.is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let vals = v["values"].as_array().unwrap();
            let ts = v["timestamps"].as_array().unwrap();
            for (x, t) in vals.iter().zip(ts) {
                out.push((
                    v["metric"].clone(),
                    x.as_f64().unwrap(),
                    t.as_i64().unwrap(),
                ));
            }
        }
        out
    }
}

impl Drop for RealDb {
    fn drop(&mut self) {
        self.kill();
    }
}
