//! A 3-member cluster of real `synod node` processes over mutual TLS on
//! 127.0.0.1: kill -9 the leader under load and lose nothing acknowledged;
//! strangers and garbage are refused without harm; the demo runs end to end.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
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

fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
    assert!(matches!(
        foreign.status(),
        Err(ClientCallError::Unreachable(_))
    ));
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

/// 300 silent connections (no TLS, no Hello) to every member: members
/// still reach each other (a killed member comes back and catches up),
/// clients are served, and nobody exits.
#[test]
fn three_hundred_silent_connections_lock_nobody_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut procs = cluster(dir.path());
    let endpoints: Vec<String> = procs.iter().map(|p| p.addr.clone()).collect();
    let mut ops = client_as(dir.path(), "ops", endpoints.clone());
    let l = leader(&mut ops, &procs);
    let silent: Vec<TcpStream> = procs
        .iter()
        .flat_map(|p| (0..100).filter_map(|_| TcpStream::connect(&p.addr).ok()))
        .collect();
    assert!(silent.len() >= 290, "the flood opened {}", silent.len());
    // A follower dies and comes back: it must get through the flood.
    let f = (l + 1) % 3;
    procs[f].kill9();
    let owner = NodeId::from_certificate_subject("CN=node-a").unwrap();
    for epoch in 1..=20 {
        ops.propose(ControlPlaneEntry::OwnershipTransition(
            OwnershipTransition {
                range: "flood".parse().unwrap(),
                new_owner: owner.clone(),
                epoch: Epoch(epoch),
            },
        ))
        .unwrap();
    }
    procs[f].start();
    let mut follower = client_as(dir.path(), "ops", vec![procs[f].addr.clone()]);
    // Well within the handshake deadline (5 s), after which the members
    // would close the silent connections themselves.
    let deadline = Instant::now() + Duration::from_secs(4);
    loop {
        let caught_up = follower
            .ranges(false)
            .map(|v| {
                v.iter()
                    .any(|(r, o)| r.as_str() == "flood" && o.epoch == Epoch(20))
            })
            .unwrap_or(false);
        if caught_up {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the restarted member did not catch up through the flood"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for p in procs.iter_mut() {
        let exited = p.child.as_mut().unwrap().try_wait().unwrap();
        assert!(exited.is_none(), "a member exited: {exited:?}");
    }
    drop(silent);
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
