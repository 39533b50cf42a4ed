//! A 3-member cluster of real `synod node` processes over mutual TLS on
//! 127.0.0.1: kill -9 the leader under load and lose nothing acknowledged;
//! strangers and garbage are refused without harm; the demo runs end to end.

mod common;
use common::port;

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use synod::node::client::{Client, ClientCallError};
use synod::node::config::TlsSettings;
use synod::node::runner::security_for;
use synod::transport::certs::write_dev_certs;
use synod::{ControlPlaneEntry, Epoch, NodeId, OwnershipTransition, RangeId};

const BIN: &str = env!("CARGO_BIN_EXE_synod");

struct Proc {
    config: PathBuf,
    log: PathBuf,
    addr: String,
    child: Option<Child>,
}

impl Proc {
    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        self.child = Some(
            Command::new(BIN)
                .args(["node", "--config"])
                .arg(&self.config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn security(dir: &Path, name: &str) -> synod::transport::Security {
    security_for(
        &NodeId::from_certificate_subject(&format!("CN={name}")).unwrap(),
        &TlsSettings::Mutual {
            cert: dir.join(format!("certs/{name}.pem")),
            key: dir.join(format!("certs/{name}-key.pem")),
            ca: dir.join("certs/ca.pem"),
        },
    )
    .unwrap()
}

/// The configuration of member `name` listening on `addr`, with `cluster`
/// as its `[cluster]` section's body.
fn write_config(dir: &Path, name: &str, addr: &str, cluster: &str) -> PathBuf {
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(
        &config,
        format!(
            "id = \"CN={name}\"\nlisten = \"{addr}\"\ndata_dir = \"data/{name}\"\n[tls]\ncert = \"certs/{name}.pem\"\nkey = \"certs/{name}-key.pem\"\nca = \"certs/ca.pem\"\n[cluster]\n{cluster}\n[authorization]\nproposers = [\"CN=ops\"]\noperators = [\"CN=boss\"]\n[engine]\ntick_ms = 20\n",
        ),
    )
    .unwrap();
    config
}

fn cluster(dir: &Path) -> Vec<Proc> {
    cluster_with(dir, &[])
}

/// A running 3-member cluster (node-a, node-b, node-c), with certificates
/// also for the `spare` member names, to admit later.
fn cluster_with(dir: &Path, spare: &[&str]) -> Vec<Proc> {
    let names = ["node-a", "node-b", "node-c"].map(String::from);
    let all: Vec<String> = names
        .iter()
        .cloned()
        .chain(spare.iter().map(|s| s.to_string()))
        .collect();
    write_dev_certs(
        &dir.join("certs"),
        &all,
        &["ops".into(), "stranger".into(), "boss".into()],
    )
    .unwrap();
    let addrs: Vec<String> = names
        .iter()
        .map(|_| format!("127.0.0.1:{}", port()))
        .collect();
    let bootstrap: Vec<String> = names
        .iter()
        .zip(&addrs)
        .map(|(n, a)| format!("{{ id = \"CN={n}\", address = \"{a}\" }}"))
        .collect();
    names
        .iter()
        .zip(&addrs)
        .map(|(n, a)| {
            let bootstrap = format!("bootstrap = [{}]", bootstrap.join(", "));
            let mut p = Proc {
                config: write_config(dir, n, a, &bootstrap),
                log: dir.join(format!("{n}.log")),
                addr: a.clone(),
                child: None,
            };
            p.start();
            p
        })
        .collect()
}

/// A client of the cluster at `endpoints` with the certificate `name`
/// (a 10 s deadline per call).
fn client_as(dir: &Path, name: &str, endpoints: Vec<String>) -> Client {
    Client::new(endpoints, security(dir, name), Duration::from_secs(10))
}

fn leader(c: &mut Client, procs: &[Proc]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        for (i, p) in procs.iter().enumerate() {
            if p.child.is_some() && c.status_of(&p.addr).is_ok_and(|s| s.role == "leader") {
                return i;
            }
        }
        assert!(Instant::now() < deadline, "no leader");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn killing_the_leader_under_load_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut procs = cluster(dir.path());
    let endpoints: Vec<String> = procs.iter().map(|p| p.addr.clone()).collect();
    let mut probe = client_as(dir.path(), "ops", endpoints.clone());
    let l = leader(&mut probe, &procs);

    // Eight writers, each on its own ranges with increasing epochs.
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<(RangeId, NodeId, Epoch)>>> = Arc::default();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (stop, acked, endpoints) = (stop.clone(), acked.clone(), endpoints.clone());
            let sec = security(dir.path(), "ops");
            std::thread::spawn(move || {
                let mut c = Client::new(endpoints, sec, Duration::from_secs(5));
                let owner = NodeId::from_certificate_subject("CN=node-a").unwrap();
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let range: RangeId = format!("w{w}-r{}", n % 4).parse().unwrap();
                    let epoch = Epoch(n.div_ceil(4));
                    let e = ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
                        range: range.clone(),
                        new_owner: owner.clone(),
                        epoch,
                    });
                    match c.propose(e) {
                        Ok(_) => acked.lock().unwrap().push((range, owner.clone(), epoch)),
                        // Not acknowledged: it may or may not have committed;
                        // the next epoch for this range stays valid either way.
                        Err(ClientCallError::Remote(_)) | Err(ClientCallError::Unreachable(_)) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    let before = acked.lock().unwrap().len();
    procs[l].kill9();
    std::thread::sleep(Duration::from_millis(2500));
    let during = acked.lock().unwrap().len();
    procs[l].start();
    std::thread::sleep(Duration::from_millis(700));
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(before > 20, "the load ran before the kill ({before})");
    assert!(
        acked.len() > during && during > before,
        "commits continued after the kill: {before} {during} {}",
        acked.len()
    );

    // Every acknowledged transition, on every member (the restarted one
    // included), at its latest acknowledged epoch or later.
    let mut latest = std::collections::BTreeMap::new();
    for (r, o, e) in &acked {
        let x = latest.entry(r.clone()).or_insert((o.clone(), *e));
        if *e > x.1 {
            *x = (o.clone(), *e);
        }
    }
    for p in &procs {
        let mut c = client_as(dir.path(), "ops", vec![p.addr.clone()]);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let have: std::collections::BTreeMap<RangeId, Epoch> = c
                .ranges(false)
                .map(|v| v.into_iter().map(|(r, o)| (r, o.epoch)).collect())
                .unwrap_or_default();
            let missing: Vec<_> = latest
                .iter()
                .filter(|(r, (_, e))| have.get(*r).is_none_or(|h| h < e))
                .collect();
            if missing.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} misses {} acknowledged transitions, e.g. {:?}",
                p.addr,
                missing.len(),
                missing[0]
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn strangers_and_garbage_are_refused_and_the_cluster_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let procs = cluster(dir.path());
    let endpoints: Vec<String> = procs.iter().map(|p| p.addr.clone()).collect();
    let mut ops = client_as(dir.path(), "ops", endpoints.clone());
    leader(&mut ops, &procs);
    // A certificate from another CA fails the handshake.
    let other = tempfile::tempdir().unwrap();
    write_dev_certs(
        &other.path().join("certs"),
        &["node-a".into()],
        &["ops".into()],
    )
    .unwrap();
    let mut foreign = Client::new(
        endpoints.clone(),
        security(other.path(), "ops"),
        Duration::from_millis(800),
    );
    // Told at once why: the handshake failed (no retrying until the
    // timeout).
    assert!(matches!(foreign.status(), Err(ClientCallError::Tls(_))));
    // A valid certificate without authorization may not propose.
    let mut stranger = Client::new(
        endpoints.clone(),
        security(dir.path(), "stranger"),
        Duration::from_secs(5),
    );
    let t = ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
        range: "x".parse().unwrap(),
        new_owner: NodeId::from_certificate_subject("CN=node-a").unwrap(),
        epoch: Epoch(1),
    });
    assert!(matches!(
        stranger.propose(t.clone()),
        Err(ClientCallError::Remote(
            synod::node::protocol::RemoteError::Unauthorized(_)
        ))
    ));
    // Garbage and a truncated frame on the raw socket.
    for junk in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        &b"SYND\x01\x01\xff\xff"[..],
        &[0u8; 4096][..],
    ] {
        if let Ok(mut s) = TcpStream::connect(&procs[0].addr) {
            let _ = s.write_all(junk);
        }
    }
    // Still serving.
    ops.propose(t).unwrap();
    for p in &procs {
        assert!(ops.status_of(&p.addr).is_ok(), "{} stopped serving", p.addr);
    }
    // An operator cannot write someone else's name into the audit: the
    // record carries the identity that authenticated the proposal.
    let forged = ControlPlaneEntry::ForcedOwnershipTransition(synod::ForcedOwnershipTransition {
        range: "x".parse().unwrap(),
        new_owner: NodeId::from_certificate_subject("CN=node-b").unwrap(),
        operator: NodeId::from_certificate_subject("CN=someone-else").unwrap(),
        reason: "forged".parse().unwrap(),
    });
    let mut boss = client_as(dir.path(), "boss", endpoints);
    boss.propose(forged).unwrap();
    let audit = boss.audit(true).unwrap();
    let last = audit.last().unwrap();
    assert_eq!(last.reason.as_str(), "forged");
    assert_eq!(
        last.operator.as_str(),
        "CN=boss",
        "the audit names who proposed"
    );
}

/// A flood of silent connections (TCP only: no TLS, no Hello) held open
/// against some members: one thread per connection, which re-opens it as
/// soon as the member closes it after holding it (at its handshake
/// deadline), and [`FLOOD_PAUSE`] after the member refused or evicted it at
/// once, or could not be reached (so a restarted member is flooded as soon
/// as it listens again).
struct Flood {
    stop: Arc<AtomicBool>,
    /// Connections opened in all.
    opened: Arc<AtomicU64>,
    /// Connections open now, as far as the flooder knows.
    open: Arc<AtomicUsize>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// How long a flood connection's thread waits before re-opening a
/// connection the member closed at once (refused, evicted) or could not
/// open. A real attacker would not wait, but the churn would take the CPU
/// the cluster needs on a small machine; short enough that refused
/// connections keep knocking, so a slot a member without eviction frees is
/// taken again within milliseconds.
const FLOOD_PAUSE: Duration = Duration::from_millis(200);

impl Flood {
    /// `per_member` connections to each of `addrs`.
    fn start(addrs: &[String], per_member: usize) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let opened = Arc::new(AtomicU64::new(0));
        let open = Arc::new(AtomicUsize::new(0));
        let mut threads = Vec::new();
        for addr in addrs {
            let addr: std::net::SocketAddr = addr.parse().unwrap();
            for _ in 0..per_member {
                let (stop, opened, open) = (stop.clone(), opened.clone(), open.clone());
                let t = std::thread::Builder::new()
                    .stack_size(64 << 10)
                    .spawn(move || flood_one(addr, &stop, &opened, &open))
                    .unwrap();
                threads.push(t);
            }
        }
        Flood {
            stop,
            opened,
            open,
            threads,
        }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
    }
}

/// One flood connection to `addr`, re-opened until `stop` (see [`Flood`]).
fn flood_one(
    addr: std::net::SocketAddr,
    stop: &AtomicBool,
    opened: &AtomicU64,
    open: &AtomicUsize,
) {
    while !stop.load(Ordering::Relaxed) {
        let mut pause = FLOOD_PAUSE;
        if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            opened.fetch_add(1, Ordering::Relaxed);
            open.fetch_add(1, Ordering::Relaxed);
            let held = Instant::now();
            hold_until_closed(&s, stop);
            open.fetch_sub(1, Ordering::Relaxed);
            if held.elapsed() >= Duration::from_secs(1) {
                // Held until the member's deadline: its slot is free now.
                pause = Duration::ZERO;
            }
        }
        std::thread::sleep(pause);
    }
}

/// Holds `s` open, sending nothing, until the other side closes it or
/// `stop` is set.
fn hold_until_closed(s: &TcpStream, stop: &AtomicBool) {
    use std::io::Read;
    let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = [0u8; 256];
    while !stop.load(Ordering::Relaxed) {
        match (&*s).read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

/// Runs `synod status` (the CLI, with the `ops` certificate) against every
/// member until one run reaches them all, for at most `within`; panics
/// with the last run's output otherwise.
fn status_reaches_every_member(dir: &Path, procs: &[Proc], within: Duration) {
    let endpoints: Vec<&str> = procs.iter().map(|p| p.addr.as_str()).collect();
    let deadline = Instant::now() + within;
    let mut runs = 0;
    loop {
        runs += 1;
        let out = Command::new(BIN)
            .args(["status", "--json", "--timeout-ms", "3000", "--endpoints"])
            .arg(endpoints.join(","))
            .arg("--cert")
            .arg(dir.join("certs/ops.pem"))
            .arg("--key")
            .arg(dir.join("certs/ops-key.pem"))
            .arg("--ca")
            .arg(dir.join("certs/ca.pem"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap_or_default();
        if rows.len() == procs.len() && rows.iter().all(|r| r.get("role").is_some()) {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "`synod status` did not reach every member during the flood ({runs} runs); the last said:\n{stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The flood: 300 silent connections (no TLS, no Hello), 100 to
/// each member, held open for the whole test and re-opened as the members
/// close them, the restarted member's included as soon as it listens
/// again. Meanwhile the cluster keeps committing through a client connected
/// before the flood and one connected during it, `synod status` reaches
/// every member, and a follower killed and restarted catches up.
///
/// Without eviction (`Shared::make_room` refusing whenever the slots are
/// full) this fails: the flood holds every slot, slots freed when the
/// handshake deadline closes the silent connections are taken again within
/// milliseconds by the flood connections the member keeps refusing, and
/// `synod status` never reaches all three members in one run.
#[test]
fn three_hundred_silent_connections_lock_nobody_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut procs = cluster(dir.path());
    let endpoints: Vec<String> = procs.iter().map(|p| p.addr.clone()).collect();
    let mut ops = client_as(dir.path(), "ops", endpoints.clone());
    let l = leader(&mut ops, &procs);
    let transition = |range: &str, epoch: u64| {
        ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
            range: range.parse().unwrap(),
            new_owner: NodeId::from_certificate_subject("CN=node-a").unwrap(),
            epoch: Epoch(epoch),
        })
    };

    // A writer whose client connected before the flood writes all along.
    ops.propose(transition("steady", 1)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(1));
    let writer = {
        let (stop, acked, t) = (stop.clone(), acked.clone(), transition);
        std::thread::spawn(move || {
            let mut epoch = 1;
            while !stop.load(Ordering::SeqCst) {
                epoch += 1;
                if ops.propose(t("steady", epoch)).is_ok() {
                    acked.store(epoch, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let acked_now = || acked.load(Ordering::SeqCst);
    let commits_go_on = |what: &str| {
        let from = acked_now();
        let deadline = Instant::now() + Duration::from_secs(10);
        while acked_now() < from + 3 {
            assert!(
                Instant::now() < deadline,
                "no commits {what} (the writer is at epoch {from})"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };

    let flood = Flood::start(&endpoints, 100);
    let deadline = Instant::now() + Duration::from_secs(10);
    while flood.opened.load(Ordering::Relaxed) < 300 {
        assert!(
            Instant::now() < deadline,
            "the flood did not open 300 connections"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Let it settle: without eviction every slot is the flood's by now.
    std::thread::sleep(Duration::from_millis(500));
    commits_go_on("during the flood");

    // A client that connects during the flood commits too.
    let mut during = client_as(dir.path(), "ops", endpoints.clone());
    for epoch in 1..=5 {
        if let Err(e) = during.propose(transition("during", epoch)) {
            panic!("a client connecting during the flood could not write: {e}");
        }
    }
    status_reaches_every_member(dir.path(), &procs, Duration::from_secs(10));

    // A follower dies while the cluster goes on, and comes back into the
    // flood (its listener is flooded as soon as it listens): it must catch
    // up through it.
    let f = (l + 1) % 3;
    procs[f].kill9();
    commits_go_on("while a follower is down");
    let target = acked_now();
    procs[f].start();
    let mut follower = client_as(dir.path(), "ops", vec![procs[f].addr.clone()]);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let caught_up = follower.ranges(false).is_ok_and(|v| {
            v.iter()
                .any(|(r, o)| r.as_str() == "steady" && o.epoch.0 >= target)
        });
        if caught_up {
            break;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(&procs[f].log).unwrap_or_default();
            panic!(
                "the restarted member did not catch up to epoch {target} through the flood\n{log}"
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    commits_go_on("after the restart");
    status_reaches_every_member(dir.path(), &procs, Duration::from_secs(10));

    let (opened, open) = (
        flood.opened.load(Ordering::Relaxed),
        flood.open.load(Ordering::Relaxed),
    );
    eprintln!("the flood opened {opened} connections; {open} open at the end");
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    flood.stop();
    for p in procs.iter_mut() {
        let exited = p.child.as_mut().unwrap().try_wait().unwrap();
        assert!(exited.is_none(), "a member exited: {exited:?}");
    }
}

/// Waits for `p` to exit on its own; its exit code.
fn exit_code(p: &mut Proc, within: Duration) -> Option<i32> {
    let deadline = Instant::now() + within;
    let child = p.child.as_mut()?;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            p.child = None;
            return status.code();
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A member removed while it was down comes back with its old voter list
/// and (before the fix) campaigned forever, never told; one removed while
/// it ran kept running too. Each is told, stops, and says why (exit code 3).
#[test]
fn a_removed_member_is_told_and_stops_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut procs = cluster(dir.path());
    let endpoints: Vec<String> = procs.iter().map(|p| p.addr.clone()).collect();
    let mut boss = client_as(dir.path(), "boss", endpoints);
    let l = leader(&mut boss, &procs);
    let others: Vec<usize> = (0..3).filter(|i| *i != l).collect();
    let (x, y) = (others[0], others[1]);
    let name = |i: usize| {
        NodeId::from_certificate_subject(&format!("CN=node-{}", ["a", "b", "c"][i])).unwrap()
    };
    let remove = |c: &mut Client, i: usize| {
        c.propose(ControlPlaneEntry::Membership(
            synod::MembershipChange::Remove { member: name(i) },
        ))
        .unwrap()
    };

    // Removed while down: restarted, it learns from a member it contacts.
    procs[x].kill9();
    remove(&mut boss, x);
    procs[x].start();
    let code = exit_code(&mut procs[x], Duration::from_secs(20));
    let log = std::fs::read_to_string(&procs[x].log).unwrap();
    assert_eq!(
        code,
        Some(3),
        "the member removed while down did not stop: {log}"
    );
    assert!(log.contains("was removed from the cluster"), "{log}");

    // Removed while running: it stops too.
    remove(&mut boss, y);
    let code = exit_code(&mut procs[y], Duration::from_secs(20));
    let log = std::fs::read_to_string(&procs[y].log).unwrap();
    assert_eq!(
        code,
        Some(3),
        "the member removed while running did not stop: {log}"
    );
    assert!(log.contains("was removed from the cluster"), "{log}");

    // The remaining member leads alone and takes writes.
    let t = ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
        range: "after".parse().unwrap(),
        new_owner: name(l),
        epoch: Epoch(1),
    });
    let mut ops = client_as(dir.path(), "ops", vec![procs[l].addr.clone()]);
    if let Err(e) = ops.propose(t) {
        let log = std::fs::read_to_string(&procs[l].log).unwrap();
        panic!("the remaining member did not take a write: {e}\n{log}");
    }
}

#[test]
fn the_demo_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["demo", "--transitions", "40", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("demo ok"), "{last}");
}

/// Polls `f` every 50 ms until it gives a value, for at most `within`;
/// panics saying `what` (and `log`'s contents) otherwise.
fn within<T>(within: Duration, what: &str, log: &Path, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("timed out: {what}\n{log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A member that was down while two members were admitted (and an
/// original member removed) comes back with a catalog that names none of
/// the new members, and one of them leads. It accepts the new leader's
/// connection on the word of the original member it still knows (which
/// vouches for it) and catches up. Before vouching it refused the leader
/// for good. (With both other original members removed, nobody it knows
/// could vouch: see docs/security.md.)
#[test]
fn a_member_that_missed_admissions_catches_up_with_a_new_leader() {
    let dir = tempfile::tempdir().unwrap();
    let mut procs = cluster_with(dir.path(), &["node-d", "node-e"]);
    let endpoints: Vec<String> = procs.iter().map(|p| p.addr.clone()).collect();
    let mut boss = client_as(dir.path(), "boss", endpoints);
    let l = leader(&mut boss, &procs);
    let x = (0..3).find(|i| *i != l).unwrap();
    let id = |name: &str| NodeId::from_certificate_subject(&format!("CN={name}")).unwrap();
    let leader_log = procs[l].log.clone();

    // The lagging member goes down; two members are admitted and join.
    procs[x].kill9();
    for (name, voters) in [("node-d", 4), ("node-e", 5)] {
        let addr = format!("127.0.0.1:{}", port());
        boss.propose(ControlPlaneEntry::Membership(
            synod::MembershipChange::Admit {
                member: id(name),
                kind: synod::MemberKind::Data,
                address: addr.parse().unwrap(),
            },
        ))
        .unwrap();
        let join = format!("join = \"{}\"", procs[l].addr);
        let mut p = Proc {
            config: write_config(dir.path(), name, &addr, &join),
            log: dir.path().join(format!("{name}.log")),
            addr,
            child: None,
        };
        p.start();
        procs.push(p);
        let leader_addr = procs[l].addr.clone();
        within(Duration::from_secs(30), "promoted", &leader_log, || {
            boss.status_of(&leader_addr)
                .ok()
                .filter(|s| s.voters.len() == voters)
        });
    }
    let d = procs.len() - 2;

    // A new member leads; the old leader is removed and stops.
    boss.transfer_leader(&id("node-d")).unwrap();
    let d_addr = procs[d].addr.clone();
    within(
        Duration::from_secs(20),
        "node-d leads",
        &procs[d].log,
        || boss.status_of(&d_addr).ok().filter(|s| s.role == "leader"),
    );
    let old_leader = ["node-a", "node-b", "node-c"][l];
    boss.propose(ControlPlaneEntry::Membership(
        synod::MembershipChange::Remove {
            member: id(old_leader),
        },
    ))
    .unwrap();
    assert_eq!(exit_code(&mut procs[l], Duration::from_secs(20)), Some(3));

    // The lagging member comes back and catches up from node-d.
    procs[x].start();
    let mut at_x = Client::new(
        vec![procs[x].addr.clone()],
        security(dir.path(), "ops"),
        Duration::from_secs(2),
    );
    let x_log = procs[x].log.clone();
    within(
        Duration::from_secs(30),
        "the restarted member's catalog lists the new members",
        &x_log,
        || {
            let (members, _) = at_x.members(false).ok()?;
            let names: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
            (names.contains(&"CN=node-d") && names.contains(&"CN=node-e")).then_some(())
        },
    );
    within(Duration::from_secs(10), "it follows node-d", &x_log, || {
        at_x.status()
            .ok()
            .filter(|s| s.leader.as_ref().is_some_and(|h| h.id == id("node-d")))
    });
}

/// `synod owner`, `synod fence` and `synod leader` against real member
/// processes: a read at `--at-least` the commit's index on a follower sees
/// the write and says the index it reflects; `fence` exits 0 for the
/// current owner and 5 for a stale claim; `leader` names the leader.
#[test]
fn reads_from_the_cli_say_their_index_and_keep_their_level() {
    let dir = tempfile::tempdir().unwrap();
    let procs = cluster(dir.path());
    let endpoints: Vec<String> = procs.iter().map(|p| p.addr.clone()).collect();
    let mut c = client_as(dir.path(), "ops", endpoints);
    let l = leader(&mut c, &procs);
    let follower = &procs[(l + 1) % 3].addr;
    let owner = NodeId::from_certificate_subject("CN=node-b").unwrap();
    let committed = c
        .propose(ControlPlaneEntry::OwnershipTransition(
            OwnershipTransition {
                range: "cli-range".parse().unwrap(),
                new_owner: owner,
                epoch: Epoch(1),
            },
        ))
        .unwrap();
    // The leader's status names every voter and how far each follower is.
    let st = c.status_of(&procs[l].addr).unwrap();
    assert_eq!(st.peers.len(), 3, "{st:?}");
    for p in &st.peers {
        assert!(p.voter && p.id.is_some() && p.address.is_some(), "{p:?}");
        if p.peer_id == st.peer_id {
            assert!(p.progress.is_none(), "the leader's own row: {p:?}");
        } else {
            let (matched, _) = p.progress.expect("a follower's progress");
            assert!(matched.0 > 0, "{p:?}");
        }
    }
    let run = |args: &[&str], endpoint: &str| {
        Command::new(BIN)
            .args(args)
            .args(["--timeout-ms", "5000", "--endpoints", endpoint, "--cert"])
            .arg(dir.path().join("certs/ops.pem"))
            .arg("--key")
            .arg(dir.path().join("certs/ops-key.pem"))
            .arg("--ca")
            .arg(dir.path().join("certs/ca.pem"))
            .output()
            .unwrap()
    };
    let index = committed.index.0.to_string();
    let out = run(
        &[
            "owner",
            "--range",
            "cli-range",
            "--at-least",
            &index,
            "--json",
        ],
        follower,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["owner"]["owner"], "CN=node-b");
    assert_eq!(v["owner"]["index"], committed.index.0);
    assert!(v["applied_index"].as_u64().unwrap() >= committed.index.0);
    // The term of the entry at that index: the commit's or a later one.
    assert!(v["applied_term"].as_u64().unwrap() >= committed.term.0);

    let fence = |epoch: &str, extra: &str| {
        run(
            &[
                "fence",
                "--range",
                "cli-range",
                "--owner",
                "CN=node-b",
                "--epoch",
                epoch,
                extra,
                "--json",
            ],
            follower,
        )
    };
    let current = fence("1", "--linearizable");
    assert_eq!(
        current.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&current.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&current.stdout).unwrap();
    assert_eq!(v["status"], "current");
    let unknown = fence("2", "--linearizable");
    assert_eq!(unknown.status.code(), Some(5));

    let out = run(&["leader", "--json"], follower);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let leader_id = c.status_of(&procs[l].addr).unwrap().id;
    assert_eq!(v["leader"], leader_id.as_str());
    assert_eq!(v["address"], procs[l].addr.as_str());
}

/// `synod watch --json` against real member processes while a writer
/// commits transitions and the leader is killed with SIGKILL halfway: every
/// acknowledged transition is printed once, in log order, with its range,
/// owner, epoch and outcome, and the watch carries on across the failover
/// (it reads from a member that is not the leader at first, then from
/// whichever member answers).
#[test]
fn a_watch_survives_kill_9_of_the_leader_with_every_transition_once_in_order() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut procs = cluster(dir.path());
    let endpoints: Vec<String> = procs.iter().map(|p| p.addr.clone()).collect();
    let mut c = client_as(dir.path(), "ops", endpoints.clone());
    let l = leader(&mut c, &procs);
    // Watch through the leader first, so that killing it moves the watch.
    let mut order: Vec<String> = vec![procs[l].addr.clone()];
    order.extend(endpoints.iter().filter(|e| **e != procs[l].addr).cloned());
    let start = c.status_of(&procs[l].addr).unwrap().applied;
    let from = (start.0 + 1).to_string();
    let mut watcher = Command::new(BIN)
        .args([
            "watch",
            "--json",
            "--from",
            &from,
            "--timeout-ms",
            "3000",
            "--endpoints",
        ])
        .arg(order.join(","))
        .arg("--cert")
        .arg(dir.path().join("certs/ops.pem"))
        .arg("--key")
        .arg(dir.path().join("certs/ops-key.pem"))
        .arg("--ca")
        .arg(dir.path().join("certs/ca.pem"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = watcher.stdout.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::<serde_json::Value>::new()));
    let reader = {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str(&line) {
                    lines.lock().unwrap().push(v);
                }
            }
        })
    };
    let owner = NodeId::from_certificate_subject("CN=node-a").unwrap();
    let mut acked: Vec<(u64, String)> = Vec::new();
    for i in 0..40 {
        if i == 20 {
            procs[l].kill9();
        }
        let range = format!("watched-{i}");
        let e = ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
            range: range.parse().unwrap(),
            new_owner: owner.clone(),
            epoch: Epoch(1),
        });
        let mut tries = 0;
        let committed = loop {
            match c.propose(e.clone()) {
                Ok(done) => break done,
                Err(err) => {
                    tries += 1;
                    assert!(tries < 20, "could not commit {range}: {err}");
                }
            }
        };
        acked.push((committed.index.0, range));
    }
    let last = acked.iter().map(|(i, _)| *i).max().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen_last = lines
            .lock()
            .unwrap()
            .iter()
            .any(|v| v["index"].as_u64() == Some(last) && v["kind"] == "ownership-transition");
        if seen_last {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the watch did not reach index {last}: {:?}",
            lines.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = watcher.kill();
    let _ = watcher.wait();
    let _ = reader.join();
    let lines = lines.lock().unwrap();
    // One member at a time: a handful of role lines, not one per poll.
    let roles = lines.iter().filter(|v| v["kind"] == "role").count();
    assert!(
        roles < 20,
        "{roles} role lines: the watch keeps reconnecting"
    );
    assert!(
        !lines.iter().any(|v| v["kind"] == "compacted"),
        "a follower kept the history: nothing was compacted"
    );
    let events: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|v| v["index"].is_u64() && v["kind"] != "role")
        .collect();
    let indexes: Vec<u64> = events
        .iter()
        .map(|v| v["index"].as_u64().unwrap())
        .collect();
    assert!(
        indexes.windows(2).all(|p| p[0] < p[1]),
        "in order, once: {indexes:?}"
    );
    for (index, range) in &acked {
        let v = events
            .iter()
            .find(|v| v["index"].as_u64() == Some(*index))
            .unwrap_or_else(|| panic!("{range} at {index} was not printed"));
        assert_eq!(v["kind"], "ownership-transition");
        assert_eq!(v["range"], range.as_str());
        assert_eq!(v["owner"], "CN=node-a");
        assert_eq!(v["epoch"], 1);
        assert_eq!(v["outcome"], "applied");
    }
}
