//! The etcd baseline: a 3-member etcd cluster on loopback started by the
//! bench, a small JSON-gateway client, and the write and failover
//! measurements made against it.
//!
//! [`EtcdCluster`] starts real `etcd` processes (fsync left on, as etcd
//! defaults) with the heartbeat and election timeout Synod is configured
//! with, in a temporary directory, on free 127.0.0.1 ports, and kills them
//! and removes the directory when dropped, also while unwinding from a
//! panic. Each child also gets `PR_SET_PDEATHSIG`, so it dies if the bench
//! process is killed; that signal follows the *thread* that started it, so
//! start and restart members from a thread that outlives the cluster (the
//! CLI uses its main thread).
//!
//! [`EtcdClient`] speaks etcd 3.4's v3 JSON gateway (`/v3/kv/put`,
//! `/v3/maintenance/status`) over one keep-alive connection ([`HttpConn`]);
//! writers follow the leader as Synod's client does.

use std::io::{self, Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use serde_json::Value;

use super::http::{base64, HttpConn, HttpError, Response};
use super::load::{run_closed_loop, time_until_first_success, LoadError, LoadResult, LoadSpec};

/// How to get etcd when it is missing.
pub const INSTALL_HINT: &str = "etcd was not found on PATH; install etcd 3.4 or newer \
     (Debian/Ubuntu: `apt-get install -y etcd-server etcd-client`) or put an `etcd` binary on PATH";

/// What went wrong with etcd.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    /// No `etcd` on PATH.
    #[error("{INSTALL_HINT}")]
    NotInstalled,
    /// A local I/O step failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: io::Error,
    },
    /// A request failed on the wire.
    #[error("request to {addr} failed: {source}")]
    Http {
        /// The member's client address.
        addr: SocketAddr,
        /// The cause.
        source: HttpError,
    },
    /// etcd answered with an error.
    #[error("etcd answered HTTP {status}: {message} (code {code})")]
    Gateway {
        /// HTTP status.
        status: u16,
        /// gRPC code.
        code: i64,
        /// etcd's message.
        message: String,
    },
    /// etcd answered JSON this client does not understand.
    #[error("unexpected answer from etcd: {0}")]
    Protocol(String),
    /// The cluster did not become healthy in time.
    #[error("etcd cluster not healthy after {waited:?}: {detail}{log}")]
    Unhealthy {
        /// How long we waited.
        waited: Duration,
        /// The last thing that was wrong.
        detail: String,
        /// The tail of the members' logs.
        log: String,
    },
    /// A load run could not start.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A failover trial never saw a commit.
    #[error("failover trial {trial}: {message}")]
    Failover {
        /// Which trial (from 1).
        trial: usize,
        /// What happened.
        message: String,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> EtcdError {
    let what = what.into();
    move |source| EtcdError::Io { what, source }
}

/// The `etcd` executable on PATH.
pub fn find_etcd() -> Result<PathBuf, EtcdError> {
    find_on_path("etcd", std::env::var_os("PATH").as_deref()).ok_or(EtcdError::NotInstalled)
}

fn find_on_path(name: &str, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path?).find_map(|dir| {
        let p = dir.join(name);
        let m = std::fs::metadata(&p).ok()?;
        (m.is_file() && m.permissions().mode() & 0o111 != 0).then_some(p)
    })
}

/// The first line of `etcd --version` (for the report).
pub fn etcd_version(binary: &Path) -> Option<String> {
    let out = Command::new(binary).arg("--version").output().ok()?;
    let s = String::from_utf8_lossy(&out.stdout);
    s.lines().next().map(|l| l.trim().to_string())
}

// ---------------------------------------------------------------------------
// Gateway JSON

/// `POST /v3/kv/put` body.
pub fn put_body(key: &[u8], value: &[u8]) -> Vec<u8> {
    format!(
        "{{\"key\":\"{}\",\"value\":\"{}\"}}",
        base64(key),
        base64(value)
    )
    .into_bytes()
}

/// What `/v3/maintenance/status` says about a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// The answering member's id.
    pub member_id: u64,
    /// The leader it knows (0: none).
    pub leader: u64,
    /// Its last raft index.
    pub raft_index: u64,
    /// Its raft term.
    pub raft_term: u64,
}

/// The gateway prints 64-bit integers as strings; accept numbers too, and
/// missing fields as 0 (proto3 omits zero values).
fn u64_field(v: &Value, path: &[&str]) -> Result<u64, EtcdError> {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(next) => cur = next,
            None => return Ok(0),
        }
    }
    match cur {
        Value::String(s) => s
            .parse()
            .map_err(|_| EtcdError::Protocol(format!("{} is {s:?}", path.join(".")))),
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| EtcdError::Protocol(format!("{} is {n}", path.join(".")))),
        other => Err(EtcdError::Protocol(format!(
            "{} is {other}",
            path.join(".")
        ))),
    }
}

fn json(resp: &Response) -> Result<Value, EtcdError> {
    let v: Value = serde_json::from_slice(&resp.body).map_err(|e| {
        EtcdError::Protocol(format!(
            "HTTP {}: {e}: {}",
            resp.status,
            String::from_utf8_lossy(&resp.body[..resp.body.len().min(200)])
        ))
    })?;
    if resp.status != 200 || v.get("error").is_some() {
        let message = v
            .get("message")
            .or_else(|| v.get("error"))
            .and_then(Value::as_str)
            .unwrap_or("no message")
            .to_string();
        let code = v.get("code").and_then(Value::as_i64).unwrap_or(-1);
        return Err(EtcdError::Gateway {
            status: resp.status,
            code,
            message,
        });
    }
    Ok(v)
}

/// Parses a status response.
pub fn parse_status(resp: &Response) -> Result<Status, EtcdError> {
    let v = json(resp)?;
    let member_id = u64_field(&v, &["header", "member_id"])?;
    if member_id == 0 {
        return Err(EtcdError::Protocol(
            "status without header.member_id".into(),
        ));
    }
    Ok(Status {
        member_id,
        leader: u64_field(&v, &["leader"])?,
        raft_index: u64_field(&v, &["raftIndex"])?,
        raft_term: u64_field(&v, &["raftTerm"])?,
    })
}

/// Parses a put response; returns the store revision it created.
pub fn parse_put(resp: &Response) -> Result<u64, EtcdError> {
    let v = json(resp)?;
    let rev = u64_field(&v, &["header", "revision"])?;
    if rev == 0 {
        return Err(EtcdError::Protocol("put without header.revision".into()));
    }
    Ok(rev)
}

/// A client bound to one member, over one keep-alive connection.
pub struct EtcdClient {
    conn: HttpConn,
}

impl EtcdClient {
    /// A client of a member's client address (it connects on its first
    /// request); `timeout` bounds every request.
    pub fn new(addr: SocketAddr, timeout: Duration) -> Self {
        Self {
            conn: HttpConn::new(addr, timeout),
        }
    }

    fn post(&mut self, path: &str, body: &[u8]) -> Result<Response, EtcdError> {
        let addr = self.conn.addr();
        self.conn
            .post_json(path, body)
            .map_err(|source| EtcdError::Http { addr, source })
    }

    /// Writes `key = value`; returns the revision.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<u64, EtcdError> {
        let r = self.post("/v3/kv/put", &put_body(key, value))?;
        parse_put(&r)
    }

    /// The member's status.
    pub fn status(&mut self) -> Result<Status, EtcdError> {
        let r = self.post("/v3/maintenance/status", b"{}")?;
        parse_status(&r)
    }
}

// ---------------------------------------------------------------------------
// The cluster

/// How to start the cluster.
#[derive(Debug, Clone)]
pub struct EtcdOptions {
    /// The `etcd` executable.
    pub binary: PathBuf,
    /// How many members (3 for the bench).
    pub members: usize,
    /// `--heartbeat-interval` (whole milliseconds).
    pub heartbeat: Duration,
    /// `--election-timeout` (whole milliseconds).
    pub election_timeout: Duration,
    /// `--snapshot-count`.
    pub snapshot_count: u64,
    /// Where to make the temporary directory (default: the system's).
    pub parent_dir: Option<PathBuf>,
}

impl EtcdOptions {
    /// Three members with the given timing and a snapshot every 10,000
    /// entries.
    pub fn new(binary: PathBuf, heartbeat: Duration, election_timeout: Duration) -> Self {
        Self {
            binary,
            members: 3,
            heartbeat,
            election_timeout,
            snapshot_count: 10_000,
            parent_dir: None,
        }
    }
}

struct Member {
    name: String,
    client: SocketAddr,
    peer: SocketAddr,
    child: Option<Child>,
}

/// A running etcd cluster; dropping it kills every member and removes its
/// directory.
pub struct EtcdCluster {
    opts: EtcdOptions,
    dir: tempfile::TempDir,
    members: Vec<Member>,
}

fn free_ports(n: usize) -> io::Result<Vec<SocketAddr>> {
    // Hold all listeners until every port is chosen so none repeats.
    let ls = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<io::Result<Vec<_>>>()?;
    ls.iter().map(|l| l.local_addr()).collect()
}

impl EtcdCluster {
    /// Starts the members and waits (up to 30 s) until they agree on a
    /// leader.
    pub fn start(opts: EtcdOptions) -> Result<Self, EtcdError> {
        let n = opts.members.max(1);
        let mut b = tempfile::Builder::new();
        b.prefix("synod-bench-etcd-");
        let dir = match &opts.parent_dir {
            Some(p) => b.tempdir_in(p),
            None => b.tempdir(),
        }
        .map_err(io_err("create the etcd directory"))?;
        let ports = free_ports(2 * n).map_err(io_err("find free ports"))?;
        let members = (0..n)
            .map(|i| Member {
                name: format!("m{i}"),
                client: ports[2 * i],
                peer: ports[2 * i + 1],
                child: None,
            })
            .collect();
        let mut c = Self { opts, dir, members };
        for i in 0..n {
            c.spawn(i)?;
        }
        c.wait_healthy(Duration::from_secs(30))?;
        Ok(c)
    }

    /// The cluster's directory (data directories and logs).
    #[allow(dead_code)] // for the full `synod bench` (Synod's cluster)
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Every member's client address, by index.
    pub fn client_addrs(&self) -> Vec<SocketAddr> {
        self.members.iter().map(|m| m.client).collect()
    }

    /// Indexes of the members whose process runs.
    pub fn running(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|&i| self.members[i].child.is_some())
            .collect()
    }

    fn log_path(&self, i: usize) -> PathBuf {
        self.dir
            .path()
            .join(format!("{}.log", self.members[i].name))
    }

    fn spawn(&mut self, i: usize) -> Result<(), EtcdError> {
        let initial_cluster = self
            .members
            .iter()
            .map(|m| format!("{}=http://{}", m.name, m.peer))
            .collect::<Vec<_>>()
            .join(",");
        let m = &self.members[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(i))
            .map_err(io_err("open the etcd log"))?;
        let log2 = log.try_clone().map_err(io_err("open the etcd log"))?;
        let mut cmd = Command::new(&self.opts.binary);
        cmd.arg("--name")
            .arg(&m.name)
            .arg("--data-dir")
            .arg(self.dir.path().join(&m.name))
            .arg("--listen-client-urls")
            .arg(format!("http://{}", m.client))
            .arg("--advertise-client-urls")
            .arg(format!("http://{}", m.client))
            .arg("--listen-peer-urls")
            .arg(format!("http://{}", m.peer))
            .arg("--initial-advertise-peer-urls")
            .arg(format!("http://{}", m.peer))
            .arg("--initial-cluster")
            .arg(initial_cluster)
            .arg("--initial-cluster-state")
            .arg("new")
            .arg("--initial-cluster-token")
            .arg("synod-bench")
            .arg("--heartbeat-interval")
            .arg(self.opts.heartbeat.as_millis().max(1).to_string())
            .arg("--election-timeout")
            .arg(self.opts.election_timeout.as_millis().max(1).to_string())
            .arg("--snapshot-count")
            .arg(self.opts.snapshot_count.to_string())
            .arg("--logger")
            .arg("zap")
            .arg("--log-outputs")
            .arg("stderr")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        // SAFETY: the closure runs in the forked child before exec and only
        // makes one async-signal-safe system call.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(io_err(format!("start {}", self.opts.binary.display())))?;
        self.members[i].child = Some(child);
        Ok(())
    }

    /// The last `bytes` of every member's log, for error messages.
    pub fn log_tail(&self, bytes: u64) -> String {
        let mut out = String::new();
        for i in 0..self.members.len() {
            let Ok(mut f) = std::fs::File::open(self.log_path(i)) else {
                continue;
            };
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            let _ = f.seek(SeekFrom::Start(len.saturating_sub(bytes)));
            let mut s = String::new();
            let _ = f.take(bytes).read_to_string(&mut s);
            out += &format!(
                "\n--- {} log (tail) ---\n{}",
                self.members[i].name,
                s.trim_end()
            );
        }
        out
    }

    /// Waits until every running member answers its status with the same
    /// leader and term, the leader being one of them; returns the leader's
    /// index.
    pub fn wait_healthy(&mut self, timeout: Duration) -> Result<usize, EtcdError> {
        let start = Instant::now();
        let mut detail;
        loop {
            match self.check() {
                Ok(leader) => return Ok(leader),
                Err(e) => detail = e.to_string(),
            }
            if start.elapsed() >= timeout {
                return Err(EtcdError::Unhealthy {
                    waited: timeout,
                    detail,
                    log: self.log_tail(1500),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn check(&mut self) -> Result<usize, EtcdError> {
        for m in &mut self.members {
            if let Some(c) = m.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    return Err(EtcdError::Protocol(format!("{} exited: {status}", m.name)));
                }
            }
        }
        let running = self.running();
        let mut statuses = Vec::with_capacity(running.len());
        for &i in &running {
            let mut c = EtcdClient::new(self.members[i].client, Duration::from_millis(500));
            statuses.push((i, c.status()?));
        }
        let Some(&(_, first)) = statuses.first() else {
            return Err(EtcdError::Protocol("no member is running".into()));
        };
        if first.leader == 0 {
            return Err(EtcdError::Protocol("no leader yet".into()));
        }
        if let Some((i, s)) = statuses
            .iter()
            .find(|(_, s)| s.leader != first.leader || s.raft_term != first.raft_term)
        {
            return Err(EtcdError::Protocol(format!(
                "{} sees leader {:x} in term {}, another member {:x} in term {}",
                self.members[*i].name, s.leader, s.raft_term, first.leader, first.raft_term
            )));
        }
        statuses
            .iter()
            .find(|(_, s)| s.member_id == first.leader)
            .map(|&(i, _)| i)
            .ok_or_else(|| EtcdError::Protocol("the leader is not a running member".into()))
    }

    /// The index of the current leader (the cluster must be healthy).
    #[allow(dead_code)] // for the full `synod bench` (Synod's cluster)
    pub fn leader(&mut self) -> Result<usize, EtcdError> {
        self.check()
    }

    /// Kills member `i` with SIGKILL; returns the instant just before the
    /// signal was sent.
    pub fn kill(&mut self, i: usize) -> Result<Instant, EtcdError> {
        let name = self.members[i].name.clone();
        let Some(mut child) = self.members[i].child.take() else {
            return Err(EtcdError::Protocol(format!("{name} is not running")));
        };
        let t = Instant::now();
        child.kill().map_err(io_err(format!("kill {name}")))?;
        child.wait().map_err(io_err(format!("reap {name}")))?;
        Ok(t)
    }

    /// Starts a killed member again on its data directory.
    pub fn restart(&mut self, i: usize) -> Result<(), EtcdError> {
        if self.members[i].child.is_some() {
            return Ok(());
        }
        self.spawn(i)
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for m in &mut self.members {
            if let Some(mut c) = m.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Measurements

/// The key a writer uses for its `seq`-th put: range-like names, 1,000 per
/// writer, reused round-robin (a Synod transition moves one of a bounded
/// set of ranges, too).
pub fn bench_key(worker: usize, seq: u64) -> Vec<u8> {
    let n = worker as u64 * 1000 + seq % 1000;
    format!("synod-bench/ranges/users:[{n:06},{:06})", n + 1).into_bytes()
}

/// Closed-loop puts of `value` from `spec.concurrency` writers, each with
/// its own connection to the current leader.
pub fn measure_writes(
    cluster: &mut EtcdCluster,
    spec: &LoadSpec,
    value: &[u8],
    progress: Option<&ProgressBar>,
) -> Result<LoadResult, EtcdError> {
    let leader = cluster.wait_healthy(Duration::from_secs(30))?;
    let addr = cluster.client_addrs()[leader];
    let r = run_closed_loop(
        spec,
        |worker| {
            let mut c = EtcdClient::new(addr, Duration::from_secs(10));
            // Connect before the clock starts.
            c.status().map_err(|e| e.to_string())?;
            let mut seq = 0u64;
            Ok(move || {
                seq += 1;
                c.put(&bench_key(worker, seq), value).map(|_| ())
            })
        },
        progress,
    )?;
    Ok(r)
}

/// Failover trial number `trial` (from 1, for messages): kill the leader
/// with SIGKILL, then start a put every `probe_interval`, each on a fresh
/// connection to the next surviving member and bounded by
/// `request_timeout`, without waiting for the ones in flight; the time from
/// the kill to the first put that succeeds. (A put sent to a follower that
/// still believes in the dead leader is forwarded there and hangs until the
/// request times out, so waiting for each attempt would measure the client's
/// timeout, not the cluster.) Then the killed member is restarted and the
/// cluster waited for.
pub fn failover_trial(
    cluster: &mut EtcdCluster,
    trial: usize,
    value: &[u8],
    probe_interval: Duration,
    request_timeout: Duration,
) -> Result<Duration, EtcdError> {
    let leader = cluster.wait_healthy(Duration::from_secs(30))?;
    let survivors: Vec<SocketAddr> = cluster
        .client_addrs()
        .into_iter()
        .enumerate()
        .filter(|&(i, _)| i != leader)
        .map(|(_, a)| a)
        .collect();
    // The cluster commits before the kill.
    let first = *survivors
        .first()
        .ok_or_else(|| EtcdError::Protocol("a cluster of one has no failover".into()))?;
    EtcdClient::new(first, request_timeout).put(&bench_key(9_999, 0), value)?;
    let value = value.to_vec();
    let killed_at = cluster.kill(leader)?;
    let took = time_until_first_success(
        killed_at,
        move |n| {
            let addr = survivors[n as usize % survivors.len()];
            EtcdClient::new(addr, request_timeout)
                .put(&bench_key(9_999, n + 1), &value)
                .map(|_| ())
        },
        probe_interval,
        256,
        Duration::from_secs(30),
    );
    cluster.restart(leader)?;
    cluster.wait_healthy(Duration::from_secs(30))?;
    took.map_err(|message| EtcdError::Failover { trial, message })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> Response {
        Response {
            status,
            body: body.as_bytes().to_vec(),
        }
    }

    // Captured from etcd 3.4.23.
    const STATUS: &str = r#"{"header":{"cluster_id":"324952591200643719","member_id":"3319814642761637952","revision":"1","raft_term":"2"},"version":"3.4.23","dbSize":"20480","leader":"3319814642761637952","raftIndex":"4","raftTerm":"2","raftAppliedIndex":"4","dbSizeInUse":"16384"}"#;
    const PUT: &str = r#"{"header":{"cluster_id":"324952591200643719","member_id":"3319814642761637952","revision":"2","raft_term":"2"}}"#;
    const KEY_MISSING: &str = r#"{"error":"etcdserver: key is not provided","message":"etcdserver: key is not provided","code":3}"#;

    #[test]
    fn put_body_is_gateway_json_with_base64() {
        let b = put_body(b"foo", b"bar");
        assert_eq!(b, br#"{"key":"Zm9v","value":"YmFy"}"#);
        let v: Value =
            serde_json::from_slice(&put_body(&bench_key(3, 1001), &[0u8; 70])).expect("valid JSON");
        assert_eq!(
            v["key"],
            base64(b"synod-bench/ranges/users:[003001,003002)")
        );
        assert_eq!(v["value"].as_str().map(str::len), Some(96));
    }

    #[test]
    fn parses_status_and_put() {
        let s = parse_status(&resp(200, STATUS)).expect("status");
        assert_eq!(
            s,
            Status {
                member_id: 3319814642761637952,
                leader: 3319814642761637952,
                raft_index: 4,
                raft_term: 2,
            }
        );
        // A follower without a leader omits the field; numbers are accepted.
        let s =
            parse_status(&resp(200, r#"{"header":{"member_id":7},"raftTerm":3}"#)).expect("status");
        assert_eq!((s.member_id, s.leader, s.raft_term), (7, 0, 3));
        assert_eq!(parse_put(&resp(200, PUT)).expect("put"), 2);
    }

    #[test]
    fn gateway_errors_and_bad_json_are_reported() {
        match parse_put(&resp(400, KEY_MISSING)) {
            Err(EtcdError::Gateway {
                status: 400,
                code: 3,
                message,
            }) => assert_eq!(message, "etcdserver: key is not provided"),
            other => panic!("unexpected {other:?}"),
        }
        for (status, body) in [
            (200, "not json"),
            (200, r#"{"header":{}}"#),
            (200, r#"{"header":{"revision":"x"}}"#),
            (200, r#"{"header":{"revision":-3}}"#),
        ] {
            assert!(
                matches!(parse_put(&resp(status, body)), Err(EtcdError::Protocol(_))),
                "{body}"
            );
        }
        assert!(matches!(
            parse_status(&resp(200, r#"{"leader":"1"}"#)),
            Err(EtcdError::Protocol(_))
        ));
        assert!(matches!(
            parse_status(&resp(503, r#"{"error":"etcdserver: no leader","code":14}"#)),
            Err(EtcdError::Gateway { code: 14, .. })
        ));
    }

    #[test]
    fn finds_executables_on_path_only() {
        let d = tempfile::tempdir().expect("tempdir");
        let exe = d.path().join("etcd");
        std::fs::write(&exe, "#!/bin/sh\n").expect("write");
        let path = std::env::join_paths([d.path()]).expect("join");
        assert_eq!(find_on_path("etcd", Some(&path)), None, "not executable");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert_eq!(find_on_path("etcd", Some(&path)), Some(exe));
        assert_eq!(find_on_path("etcd", None), None);
        assert!(EtcdError::NotInstalled
            .to_string()
            .contains("apt-get install"));
    }

    /// Runs the real harness briefly: `cargo test --bin synod -- --ignored
    /// etcd_harness` (needs `etcd` on PATH).
    #[test]
    #[ignore = "needs etcd on PATH; starts a 3-member cluster"]
    fn etcd_harness_writes_and_fails_over() {
        let binary = find_etcd().expect("etcd on PATH");
        let mut c = EtcdCluster::start(EtcdOptions::new(
            binary,
            Duration::from_millis(50),
            Duration::from_millis(500),
        ))
        .expect("start");
        assert_eq!(c.running(), vec![0, 1, 2]);
        let dir = c.dir().to_path_buf();
        let spec = LoadSpec::timed(4, Duration::from_millis(100), Duration::from_millis(500));
        let r = measure_writes(&mut c, &spec, &[7u8; 70], None).expect("writes");
        assert!(r.ops > 0, "{r:?}");
        assert_eq!(r.errors, 0, "{:?}", r.first_error);
        let took = failover_trial(
            &mut c,
            1,
            &[7u8; 70],
            Duration::from_millis(10),
            Duration::from_secs(2),
        )
        .expect("failover");
        assert!(took > Duration::ZERO && took < Duration::from_secs(30));
        assert_eq!(c.running(), vec![0, 1, 2]);
        drop(c);
        assert!(!dir.exists(), "the cluster directory is removed on drop");
    }
}
