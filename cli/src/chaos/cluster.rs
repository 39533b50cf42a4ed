//! The member processes of `synod chaos`: dev certificates, one
//! configuration per member (its real listener, and a bootstrap list that
//! names every member by its proxy's address, so the catalog's addresses,
//! which peers dial, are the proxies), and the processes themselves,
//! started from this binary, killed with SIGKILL, paused with SIGSTOP,
//! continued, and watched for exits the harness did not cause.
//!
//! Members are spawned only from the thread that created the cluster:
//! `PR_SET_PDEATHSIG` ties each child's life to that thread.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use synod::catalog::Catalog;
use synod::entry::Proposal;
use synod::node::client::Client;
use synod::node::config::TlsSettings;
use synod::node::protocol::StatusInfo;
use synod::node::runner::security_for;
use synod::storage::{apply_entry, DurableStore, RealDisk, StoreOptions};
use synod::transport::Security;
use synod::{ApplyOutcome, ControlPlaneEntry, NodeId};

use super::history::{LogView, Seen};
use super::proxy::Network;
use super::rng::Rng;

/// The identity of the harness's clients (an operator).
pub const CLIENT: &str = "chaos";

/// One member process.
pub struct MemberProc {
    /// `node-<i>`; the identity is `CN=<name>`.
    pub name: String,
    /// Its identity.
    pub id: NodeId,
    /// Its real listener (clients connect here).
    pub listen: SocketAddr,
    config: PathBuf,
    log: PathBuf,
    /// Its data directory.
    pub data: PathBuf,
    child: Option<Child>,
    /// Stopped with SIGSTOP.
    pub paused: bool,
}

/// The members, their proxies and the harness's TLS identity.
pub struct Cluster {
    /// The members.
    pub members: Vec<MemberProc>,
    /// The proxies between them.
    pub net: Network,
    security: Security,
    binary: PathBuf,
    status: Vec<Client>,
    /// Each member's highest peak resident set (kB) over its incarnations,
    /// read before it is killed or stopped.
    peak_kb: Vec<u64>,
}

fn ctx<E: std::fmt::Display>(what: impl std::fmt::Display) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e}")
}

/// A port on 127.0.0.1 that is free now, below the kernel's ephemeral
/// range when there is room (a member restarted on its port must not find
/// it taken by some connection's ephemeral port).
fn member_port(rng: &mut Rng) -> Result<SocketAddr, String> {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    if low > 12_000 {
        for _ in 0..200 {
            let port = 10_000 + rng.below(usize::from(low - 10_000)) as u16;
            if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
                return l.local_addr().map_err(ctx("local address"));
            }
        }
    }
    let l = TcpListener::bind("127.0.0.1:0").map_err(ctx("bind a free port"))?;
    l.local_addr().map_err(ctx("local address"))
}

impl Cluster {
    /// Certificates, proxies and configurations for `n` members in `dir`;
    /// nothing is started.
    pub fn create(dir: &Path, n: usize, rng: &mut Rng) -> Result<Cluster, String> {
        let names: Vec<String> = (1..=n).map(|i| format!("node-{i}")).collect();
        let certs = dir.join("certs");
        synod::transport::certs::write_dev_certs(&certs, &names, &[CLIENT.to_string()])
            .map_err(ctx("write dev certificates"))?;
        let client_id = NodeId::from_certificate_subject(&format!("CN={CLIENT}"))
            .map_err(ctx("client identity"))?;
        let security = security_for(
            &client_id,
            &TlsSettings::Mutual {
                cert: certs.join(format!("{CLIENT}.pem")),
                key: certs.join(format!("{CLIENT}-key.pem")),
                ca: certs.join("ca.pem"),
            },
        )
        .map_err(ctx("client TLS"))?;
        let listens = (0..n)
            .map(|_| member_port(rng))
            .collect::<Result<Vec<_>, _>>()?;
        let net = Network::start(listens.clone()).map_err(ctx("start the proxies"))?;
        let bootstrap: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                format!(
                    "{{ id = \"CN={name}\", address = \"{}\" }}",
                    net.proxy_addr(i)
                )
            })
            .collect();
        let mut members = Vec::new();
        for (name, listen) in names.iter().zip(&listens) {
            let config = dir.join(format!("{name}.toml"));
            let text = format!(
                "id = \"CN={name}\"\nlisten = \"{listen}\"\ndata_dir = \"data/{name}\"\n\n[tls]\ncert = \"certs/{name}.pem\"\nkey = \"certs/{name}-key.pem\"\nca = \"certs/ca.pem\"\n\n[cluster]\nbootstrap = [ {} ]\n\n[authorization]\noperators = [\"CN={CLIENT}\"]\n",
                bootstrap.join(", ")
            );
            std::fs::write(&config, text).map_err(ctx(format!("write {}", config.display())))?;
            members.push(MemberProc {
                name: name.clone(),
                id: NodeId::from_certificate_subject(&format!("CN={name}"))
                    .map_err(ctx("member identity"))?,
                listen: *listen,
                config,
                log: dir.join(format!("{name}.log")),
                data: dir.join("data").join(name),
                child: None,
                paused: false,
            });
        }
        let status = listens
            .iter()
            .map(|a| {
                Client::new(
                    vec![a.to_string()],
                    security.clone(),
                    Duration::from_secs(1),
                )
            })
            .collect();
        Ok(Cluster {
            peak_kb: vec![0; members.len()],
            members,
            net,
            security,
            binary: std::env::current_exe().map_err(ctx("locate this binary"))?,
            status,
        })
    }

    /// A client for the members' real listeners, starting with member
    /// `first`.
    pub fn client(&self, first: usize, timeout: Duration) -> Client {
        let n = self.members.len();
        let endpoints = (0..n)
            .map(|k| self.members[(first + k) % n].listen.to_string())
            .collect();
        Client::new(endpoints, self.security.clone(), timeout)
    }

    /// A client of member `i` alone.
    pub fn client_of(&self, i: usize, timeout: Duration) -> Client {
        Client::new(
            vec![self.members[i].listen.to_string()],
            self.security.clone(),
            timeout,
        )
    }

    /// Whether member `i`'s process exists (running or paused).
    pub fn running(&self, i: usize) -> bool {
        self.members[i].child.is_some()
    }

    /// Whether member `i` runs and is not paused.
    pub fn up(&self, i: usize) -> bool {
        self.running(i) && !self.members[i].paused
    }

    /// Starts member `i` (a no-op while it runs).
    pub fn spawn(&mut self, i: usize) -> Result<(), String> {
        let m = &mut self.members[i];
        if m.child.is_some() {
            return Ok(());
        }
        let child = synod_bench::process::spawn_member(&self.binary, &m.config, &m.log)
            .map_err(ctx(format!("start {}", m.name)))?;
        self.net.set_pid(i, Some(child.id()));
        m.child = Some(child);
        m.paused = false;
        Ok(())
    }

    /// Notes member `i`'s peak resident set so far.
    fn note_peak(&mut self, i: usize) {
        if let Some(pid) = self.members[i].child.as_ref().map(Child::id) {
            if let Some(kb) = peak_rss_kb(pid) {
                self.peak_kb[i] = self.peak_kb[i].max(kb);
            }
        }
    }

    /// The highest peak resident set (kB) of any member incarnation that
    /// was killed or stopped so far, and whose.
    pub fn peak_rss(&self) -> Option<(u64, &str)> {
        (0..self.members.len())
            .max_by_key(|&i| self.peak_kb[i])
            .filter(|&i| self.peak_kb[i] > 0)
            .map(|i| (self.peak_kb[i], self.members[i].name.as_str()))
    }

    /// Kills member `i` with SIGKILL (paused or not) and reaps it.
    pub fn kill(&mut self, i: usize) -> Result<(), String> {
        self.note_peak(i);
        let m = &mut self.members[i];
        let Some(mut child) = m.child.take() else {
            return Ok(());
        };
        child.kill().map_err(ctx(format!("kill {}", m.name)))?;
        child.wait().map_err(ctx(format!("reap {}", m.name)))?;
        m.paused = false;
        self.net.set_pid(i, None);
        Ok(())
    }

    fn signal(&mut self, i: usize, sig: i32) -> Result<(), String> {
        let m = &self.members[i];
        let Some(child) = &m.child else {
            return Err(format!("{} is not running", m.name));
        };
        // SAFETY: kill(2) on the pid of a child this process has not reaped.
        if unsafe { libc::kill(child.id() as i32, sig) } != 0 {
            return Err(format!(
                "signal {sig} to {}: {}",
                m.name,
                std::io::Error::last_os_error()
            ));
        }
        Ok(())
    }

    /// Stops member `i` with SIGSTOP.
    pub fn pause(&mut self, i: usize) -> Result<(), String> {
        self.signal(i, libc::SIGSTOP)?;
        self.members[i].paused = true;
        Ok(())
    }

    /// Continues member `i` with SIGCONT (a no-op unless paused).
    pub fn resume(&mut self, i: usize) -> Result<(), String> {
        if !self.members[i].paused {
            return Ok(());
        }
        self.signal(i, libc::SIGCONT)?;
        self.members[i].paused = false;
        Ok(())
    }

    /// Members that exited although the harness did not kill them, with how
    /// they exited; they are reaped and count as down.
    pub fn reap_unexpected(&mut self) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for i in 0..self.members.len() {
            let m = &mut self.members[i];
            let Some(child) = &mut m.child else { continue };
            let exited = match child.try_wait() {
                Ok(Some(status)) => Some(describe(status)),
                Ok(None) => None,
                Err(e) => Some(format!("cannot be waited for: {e}")),
            };
            if let Some(how) = exited {
                m.child = None;
                m.paused = false;
                self.net.set_pid(i, None);
                out.push((i, how));
            }
        }
        out
    }

    /// Member `i`'s status, if it runs, is not paused and answers.
    pub fn status(&mut self, i: usize) -> Option<StatusInfo> {
        if !self.up(i) {
            return None;
        }
        let addr = self.members[i].listen.to_string();
        // A first failure may be a connection the member's restart broke.
        self.status[i]
            .status_of(&addr)
            .or_else(|_| self.status[i].status_of(&addr))
            .ok()
    }

    /// The leader and its term, in words (`no leader`).
    pub fn leader_text(&mut self) -> String {
        match self.leader() {
            None => "no leader".into(),
            Some(l) => {
                let term = self.status(l).map_or(0, |s| s.term.0);
                format!("leader {} (term {term})", self.members[l].name)
            }
        }
    }

    /// The member that leads in the highest term any member reports.
    pub fn leader(&mut self) -> Option<usize> {
        let mut best: Option<(u64, usize)> = None;
        for i in 0..self.members.len() {
            if let Some(s) = self.status(i) {
                if s.role == "leader" && best.is_none_or(|(t, _)| s.term.0 > t) {
                    best = Some((s.term.0, i));
                }
            }
        }
        best.map(|(_, i)| i)
    }

    /// Waits until one member leads and every running member follows it in
    /// its term and has applied its commit index; returns that index.
    pub fn wait_converged(&mut self, within: Duration) -> Result<u64, String> {
        let deadline = Instant::now() + within;
        loop {
            let why = match self.converged() {
                Ok(c) => return Ok(c),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(why);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn converged(&mut self) -> Result<u64, String> {
        let mut states = Vec::new();
        for i in 0..self.members.len() {
            if !self.running(i) {
                return Err(format!("{} is not running", self.members[i].name));
            }
            let s = self
                .status(i)
                .ok_or_else(|| format!("{} does not answer", self.members[i].name))?;
            states.push((i, s));
        }
        let (_, ls) = states
            .iter()
            .filter(|(_, s)| s.role == "leader")
            .max_by_key(|(_, s)| s.term)
            .ok_or("no leader")?;
        for (i, s) in &states {
            let follows = s.leader.as_ref().map(|l| &l.id) == Some(&ls.id);
            if !follows || s.term != ls.term || s.applied.0 < ls.commit.0 {
                return Err(format!(
                    "{} is behind (term {}, applied {}; leader {} term {}, commit {})",
                    self.members[*i].name, s.term, s.applied, ls.id, ls.term, ls.commit
                ));
            }
        }
        Ok(ls.commit.0)
    }

    /// Stops every member with SIGTERM (continuing paused ones first);
    /// returns what went wrong (a member that exited badly or had to be
    /// killed).
    pub fn stop_all(&mut self, grace: Duration) -> Vec<String> {
        let mut problems = Vec::new();
        for i in 0..self.members.len() {
            self.note_peak(i);
            let _ = self.resume(i);
            let _ = self.signal(i, libc::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        for i in 0..self.members.len() {
            let m = &mut self.members[i];
            let Some(mut child) = m.child.take() else {
                continue;
            };
            loop {
                match child.try_wait() {
                    Ok(Some(status)) if status.success() => break,
                    Ok(Some(status)) => {
                        problems.push(format!("{} {} after SIGTERM", m.name, describe(status)));
                        break;
                    }
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        problems.push(format!(
                            "{} did not stop within {grace:?} of SIGTERM (killed)",
                            m.name
                        ));
                        break;
                    }
                }
            }
            self.net.set_pid(i, None);
        }
        problems
    }

    /// The last `lines` lines of member `i`'s log.
    pub fn log_tail(&self, i: usize, lines: usize) -> String {
        let m = &self.members[i];
        match std::fs::read(&m.log) {
            Err(e) => format!("(cannot read {}: {e})", m.log.display()),
            Ok(bytes) => {
                let text = strip_ansi(&String::from_utf8_lossy(&bytes));
                let all: Vec<&str> = text.lines().collect();
                all[all.len().saturating_sub(lines)..].join("\n")
            }
        }
    }

    /// What the members logged, in a line: warnings and errors, and the
    /// notable kinds among them (not violations by themselves: a member
    /// that fails badly exits, and that is one).
    pub fn log_notes(&self) -> String {
        const NOTABLE: [(&str, &str); 5] = [
            (
                "on the connection of peer",
                "peer connections closed for a relayed message",
            ),
            ("panicked", "panics"),
            ("torn final record", "torn log tails truncated at a restart"),
            (
                "never recorded",
                "interrupted snapshots ignored at a restart",
            ),
            (
                "configuration change refused",
                "configuration changes refused",
            ),
        ];
        let (mut warn, mut error) = (0, 0);
        let mut notable = [0usize; NOTABLE.len()];
        for m in &self.members {
            let Ok(bytes) = std::fs::read(&m.log) else {
                continue;
            };
            for line in String::from_utf8_lossy(&bytes).lines() {
                if line.contains("WARN") {
                    warn += 1;
                } else if line.contains("ERROR") {
                    error += 1;
                } else {
                    continue;
                }
                for (k, (needle, _)) in NOTABLE.iter().enumerate() {
                    if line.contains(needle) {
                        notable[k] += 1;
                    }
                }
            }
        }
        let mut s = format!("{warn} warnings, {error} errors");
        for (k, (_, what)) in NOTABLE.iter().enumerate() {
            if notable[k] > 0 {
                s += &format!("; {} {what}", notable[k]);
            }
        }
        s
    }

    /// Member `i`'s log file.
    pub fn log_path(&self, i: usize) -> &Path {
        &self.members[i].log
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            let _ = self.kill(i);
        }
    }
}

/// `text` without its terminal colour sequences (`ESC [ ... letter`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The peak resident set (`VmHWM`, kB) of process `pid`.
pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// How a process ended, in words.
fn describe(status: std::process::ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!("was killed by signal {s}"),
        _ => format!("ended ({status})"),
    }
}

/// Reads a stopped member's data directory without changing it: replays
/// its log above its snapshot onto the snapshot's catalog, up to
/// `committed` (the cluster's commit index when the members converged; the
/// recorded one when it is higher or `committed` is `None`), and notes every
/// transition applied, by index.
pub fn read_log_view(dir: &Path, committed: Option<u64>) -> Result<LogView, String> {
    let options = StoreOptions {
        read_only: true,
        ..StoreOptions::default()
    };
    let (store, _) =
        DurableStore::open(Arc::new(RealDisk), dir, options).map_err(ctx(dir.display()))?;
    let snap = store.snapshot();
    let snapshot_index = snap.get_metadata().index;
    let mut catalog = Catalog::decode_snapshot(&snap.data).map_err(ctx("the snapshot"))?;
    let recorded_commit = store.hard_state().commit;
    let replayed_to = recorded_commit
        .max(committed.unwrap_or(0))
        .min(store.last_index());
    let entries = if replayed_to > snapshot_index {
        store.entries(snapshot_index + 1, replayed_to + 1)
    } else {
        Vec::new()
    };
    if entries.len() as u64 != replayed_to.saturating_sub(snapshot_index) {
        return Err(format!(
            "{}: holds {} entries between its snapshot at {snapshot_index} and index {replayed_to}",
            dir.display(),
            entries.len()
        ));
    }
    let mut applied = BTreeMap::new();
    for e in &entries {
        let outcome = apply_entry(&mut catalog, e).map_err(ctx(format!("entry {}", e.index)))?;
        if let Some(ApplyOutcome::Applied { .. }) = outcome {
            if let Ok(Proposal {
                entry: ControlPlaneEntry::OwnershipTransition(t),
                ..
            }) = Proposal::decode(&e.data)
            {
                applied.insert(
                    e.index,
                    (
                        t.range.as_str().to_string(),
                        t.new_owner.as_str().to_string(),
                        t.epoch.0,
                    ),
                );
            }
        }
    }
    let ranges = catalog
        .ranges()
        .map(|(r, o)| {
            (
                r.as_str().to_string(),
                Seen {
                    owner: o.owner.as_str().into(),
                    epoch: o.epoch.0,
                    index: o.index.0,
                },
            )
        })
        .collect();
    Ok(LogView {
        snapshot_index,
        recorded_commit,
        replayed_to,
        applied,
        ranges,
    })
}
