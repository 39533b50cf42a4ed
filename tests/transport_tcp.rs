//! Members over real sockets on 127.0.0.1: the TCP transport with mutual
//! TLS (certificates from the `synod certs` code), real stores, real driver
//! threads. Refusals are checked on the wire and in the logs.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use raft::eraftpb::{Message, MessageType};
use synod::catalog::InitialMember;
use synod::engine::EngineConfig;
use synod::storage::{DurableStore, RealDisk, StoreOptions};
use synod::transport::certs::write_dev_certs;
use synod::transport::tcp::{
    connect_client, ClientHandler, FrameConnection, TcpConfig, TcpHandle, TcpTransport,
};
use synod::transport::tls::TlsConfig;
use synod::transport::wire::{self, FrameKind, HelloRole};
use synod::transport::{Peer, Security, TransportError};
use synod::{
    ControlPlaneConsensus, ControlPlaneEntry, Epoch, MemberKind, MembershipChange, Node, NodeId,
    NodeOptions, OwnershipTransition, ProposeError,
};

const T: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------
// Log capture: warnings from every thread end up here.
// ---------------------------------------------------------------------------

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let w = Capture(buf.clone());
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || w.clone())
            .try_init();
        buf
    })
}

fn wait_for_log(needles: &[&str]) {
    let deadline = Instant::now() + T;
    loop {
        let text = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
        if let Some(line) = text.lines().find(|l| needles.iter().all(|n| l.contains(n))) {
            eprintln!("logged: {line}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no log line with {needles:?} in:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------
// A cluster over TCP.
// ---------------------------------------------------------------------------

fn id(s: &str) -> NodeId {
    NodeId::from_certificate_subject(s).unwrap()
}

fn engine() -> EngineConfig {
    EngineConfig {
        tick_interval: Duration::from_millis(10),
        snapshot_every: 16,
        max_learner_lag: 4,
        ..EngineConfig::default()
    }
}

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

struct Certs {
    dir: PathBuf,
}

impl Certs {
    fn tls(&self, name: &str) -> TlsConfig {
        TlsConfig::from_pem_files(
            &self.dir.join(format!("{name}.pem")),
            &self.dir.join(format!("{name}-key.pem")),
            &self.dir.join("ca.pem"),
        )
        .unwrap()
    }
    fn security(&self, name: &str) -> Security {
        Security::Tls(self.tls(name))
    }
}

struct Member {
    name: String,
    node: Option<Node>,
    handle: TcpHandle,
}

struct Cluster {
    dir: tempfile::TempDir,
    certs: Certs,
    members: Vec<Member>,
    /// For members not yet started: their bound transports.
    pending: Vec<Option<TcpTransport>>,
    configure: fn(&mut TcpConfig),
}

fn default_configure(c: &mut TcpConfig) {
    c.connect_timeout = Duration::from_millis(500);
    c.io_timeout = Duration::from_secs(2);
    c.backoff_min = Duration::from_millis(20);
    c.backoff_max = Duration::from_millis(200);
}

impl Cluster {
    /// `n` initial members (`node-0`..), `extra` more with certificates and
    /// bound listeners but not in the initial configuration.
    fn new(n: usize, extra: usize, configure: fn(&mut TcpConfig)) -> Self {
        let _ = logs();
        let dir = tempfile::tempdir().unwrap();
        let certs_dir = dir.path().join("certs");
        let names: Vec<String> = (0..n + extra).map(|i| format!("node-{i}")).collect();
        let mut all = names.clone();
        all.push("stranger".into());
        write_dev_certs(&certs_dir, &all, &["ops".into()]).unwrap();
        let certs = Certs { dir: certs_dir };
        let mut pending = Vec::new();
        let mut handles = Vec::new();
        for name in &names {
            let mut cfg = TcpConfig::new(local(), certs.security(name));
            configure(&mut cfg);
            let t = TcpTransport::bind(cfg).unwrap();
            handles.push(t.handle());
            pending.push(Some(t));
        }
        let initial: Vec<InitialMember> = (0..n)
            .map(|i| InitialMember {
                id: id(&format!("CN={}", names[i])),
                kind: MemberKind::Data,
                address: handles[i].local_addr().to_string().parse().unwrap(),
            })
            .collect();
        for name in &names[..n] {
            DurableStore::bootstrap(
                Arc::new(RealDisk),
                &dir.path().join(name),
                StoreOptions::default(),
                &initial,
            )
            .unwrap();
        }
        let members = names
            .iter()
            .zip(handles)
            .map(|(name, handle)| Member {
                name: name.clone(),
                node: None,
                handle,
            })
            .collect();
        let mut c = Cluster {
            dir,
            certs,
            members,
            pending,
            configure,
        };
        for i in 0..n {
            c.start(i, None, Vec::new());
        }
        c
    }

    fn start(&mut self, i: usize, join_peer_id: Option<u64>, seed_peers: Vec<Peer>) {
        let name = self.members[i].name.clone();
        let path = self.dir.path().join(&name);
        std::fs::create_dir_all(&path).unwrap();
        let (store, _) =
            DurableStore::open(Arc::new(RealDisk), &path, StoreOptions::default()).unwrap();
        let mut opts = NodeOptions::new(id(&format!("CN={name}")));
        opts.engine = engine();
        opts.join_peer_id = join_peer_id;
        let transport = match self.pending[i].take() {
            Some(t) if seed_peers.is_empty() => t,
            other => {
                // Rebind on the same address with the seed peers.
                let addr = self.members[i].handle.local_addr();
                drop(other);
                let mut cfg = TcpConfig::new(addr, self.certs.security(&name));
                (self.configure)(&mut cfg);
                cfg.seed_peers = seed_peers;
                let t = TcpTransport::bind(cfg).unwrap();
                self.members[i].handle = t.handle();
                t
            }
        };
        let node = Node::start(opts, store, move |inbox| transport.attach(inbox))
            .unwrap_or_else(|e| panic!("{e}"));
        self.members[i].node = Some(node);
    }

    fn node(&self, i: usize) -> &Node {
        self.members[i].node.as_ref().unwrap()
    }

    fn addr(&self, i: usize) -> String {
        self.members[i].handle.local_addr().to_string()
    }

    fn leader(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            for (i, m) in self.members.iter().enumerate() {
                if m.node.as_ref().is_some_and(|n| n.is_leader()) {
                    return i;
                }
            }
            assert!(Instant::now() < deadline, "no leader within {within:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Proposes through whoever leads, retrying across elections.
    fn commit(&self, entry: ControlPlaneEntry) -> synod::Committed {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let l = self.leader(Duration::from_secs(10));
            match self.node(l).propose(entry.clone(), T) {
                Ok(c) => return c,
                Err(ProposeError::NotLeader { .. } | ProposeError::Timeout(_)) => {}
                Err(e) => panic!("{e}"),
            }
            assert!(Instant::now() < deadline, "could not commit {entry:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn peer_id(&self, name: &str) -> u64 {
        let l = self.leader(T);
        self.node(l)
            .members()
            .into_iter()
            .find(|m| m.id.as_str() == format!("CN={name}"))
            .unwrap()
            .peer_id
    }
}

fn transition(range: &str, owner: &str, epoch: u64) -> ControlPlaneEntry {
    ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
        range: range.parse().unwrap(),
        new_owner: id(&format!("CN={owner}")),
        epoch: Epoch(epoch),
    })
}

fn wait_owner(node: &Node, range: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while node.owner(&range.parse().unwrap()).is_none() {
        assert!(Instant::now() < deadline, "{range} never applied");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until the listener at `conn` closes the connection.
fn assert_closed(conn: &mut FrameConnection) {
    match conn.read_frame(T) {
        Ok(None) => {}
        Err(TransportError::Timeout(_)) => panic!("the listener kept the connection open"),
        Err(_) => {} // reset or TLS alert: closed too
        Ok(Some((kind, _))) => panic!("unexpected {kind:?} frame"),
    }
}

// ---------------------------------------------------------------------------
// Tests.
// ---------------------------------------------------------------------------

#[test]
fn an_mtls_cluster_elects_commits_and_survives_its_leader() {
    let mut c = Cluster::new(3, 0, default_configure);
    for i in 0..10u64 {
        c.commit(transition(&format!("r{i}"), &format!("node-{}", i % 3), 1));
    }
    let l = c.leader(T);
    let killed = c.members[l].node.take().unwrap();
    killed.shutdown();
    drop(killed);
    // Its listener is gone with it.
    assert!(TcpStream::connect_timeout(&c.members[l].handle.local_addr(), T).is_err());
    let after = c.commit(transition("after", "node-0", 1));
    assert!(after.index.0 > 10);
    for m in c.members.iter().filter_map(|m| m.node.as_ref()) {
        for i in 0..10 {
            wait_owner(m, &format!("r{i}"));
        }
        wait_owner(m, "after");
    }
    for (i, m) in c.members.iter().enumerate() {
        if i != l {
            assert!(m.handle.stats().delivered_messages > 0);
            // Traffic is counted per peer in the member's metrics.
            let text = m.node.as_ref().unwrap().metrics_text();
            let counted = |family: &str| {
                text.lines().any(|l| {
                    l.starts_with(family)
                        && l.rsplit(' ')
                            .next()
                            .and_then(|v| v.parse::<u64>().ok())
                            .is_some_and(|v| v > 0)
                })
            };
            assert!(counted("synod_peer_bytes_in_total{"), "{text}");
            assert!(counted("synod_peer_bytes_out_total{"), "{text}");
        }
    }
}

#[test]
fn a_certificate_of_another_ca_is_refused() {
    let c = Cluster::new(3, 0, default_configure);
    c.commit(transition("before", "node-0", 1));
    let other = c.dir.path().join("other-ca");
    write_dev_certs(&other, &["node-0".into()], &[]).unwrap();
    let imposter = Security::Tls(
        TlsConfig::from_pem_files(
            &other.join("node-0.pem"),
            &other.join("node-0-key.pem"),
            &other.join("ca.pem"),
        )
        .unwrap(),
    );
    let refused_before = c.members[1].handle.stats().refused_connections;
    let err = FrameConnection::dial(&c.addr(1), &imposter, HelloRole::Peer { peer_id: 1 }, T)
        .unwrap_err();
    assert!(
        matches!(err, TransportError::Tls { .. }),
        "expected a TLS failure, got {err}"
    );
    // Trusting the other CA does not help a member-CA client either way:
    // the member's certificate is unknown to it.
    let err = connect_client(&c.addr(1), &imposter, T).unwrap_err();
    assert!(matches!(err, TransportError::Tls { .. }), "{err}");
    let deadline = Instant::now() + T;
    while c.members[1].handle.stats().refused_connections < refused_before + 1 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    c.commit(transition("after", "node-0", 1));
}

#[test]
fn a_valid_certificate_of_a_non_member_is_refused_and_logged() {
    let c = Cluster::new(3, 0, default_configure);
    let stranger = c.certs.security("stranger");
    let err = FrameConnection::dial(&c.addr(0), &stranger, HelloRole::Peer { peer_id: 1 }, T)
        .unwrap_err();
    assert!(matches!(err, TransportError::Refused { .. }), "{err}");
    wait_for_log(&["refused a connection", "CN=stranger", "not a member"]);

    // A member claiming another member's peer id is refused too.
    let node0 = c.certs.security("node-0");
    let wrong = c.peer_id("node-1");
    let err = FrameConnection::dial(&c.addr(2), &node0, HelloRole::Peer { peer_id: wrong }, T)
        .unwrap_err();
    assert!(matches!(err, TransportError::Refused { .. }), "{err}");
    wait_for_log(&["refused a connection", "CN=node-0", "claims peer id"]);

    // This listener serves no clients.
    let err = connect_client(&c.addr(0), &c.certs.security("ops"), T).unwrap_err();
    assert!(matches!(err, TransportError::Refused { .. }), "{err}");
    wait_for_log(&["refused a connection", "CN=ops", "serves no clients"]);
    c.commit(transition("after", "node-0", 1));
}

#[test]
fn garbage_truncated_and_oversize_frames_close_only_their_connection() {
    let c = Cluster::new(3, 0, default_configure);
    c.commit(transition("before", "node-0", 1));
    let target = 1;
    let addr = c.members[target].handle.local_addr();

    // Plain garbage where a TLS handshake should be.
    let mut s = TcpStream::connect_timeout(&addr, T).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let mut buf = [0u8; 64];
    let _ = std::io::Read::read(&mut s, &mut buf);
    drop(s);

    // Authenticated as node-0, as its own peer id, then misbehaving.
    let me = c.peer_id("node-0");
    let to = c.peer_id(&c.members[target].name);
    // The real node-0 stops first: its own redials would otherwise supersede
    // a test connection that carried a good raft frame (the newest raft
    // connection of a peer wins) before its bad frame is read, and that
    // connection would end superseded rather than bad. The other two keep a
    // quorum.
    let mut c = c;
    if let Some(real) = c.members[0].node.take() {
        real.shutdown();
    }
    let sec = c.certs.security("node-0");
    let dial = || {
        FrameConnection::dial(&addr.to_string(), &sec, HelloRole::Peer { peer_id: me }, T).unwrap()
    };
    let msg = |ty: MessageType, from: u64| {
        let mut m = Message::default();
        m.set_msg_type(ty);
        m.from = from;
        m.to = to;
        wire::encode_message(&m).unwrap()
    };
    let good = wire::frame(FrameKind::Raft, &msg(MessageType::MsgHeartbeatResponse, me));
    let mut oversize = wire::frame(FrameKind::Raft, b"x");
    oversize[6..10].copy_from_slice(&(wire::MAX_FRAME_PAYLOAD as u32 + 1).to_le_bytes());
    let mut bad_crc = good.clone();
    let last = bad_crc.len() - 1;
    bad_crc[last] ^= 0xff;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"\x00\x01 definitely not a frame".to_vec()),
        ("oversize", oversize),
        ("bad checksum", bad_crc),
        (
            "proposal",
            wire::frame(FrameKind::Raft, &msg(MessageType::MsgPropose, me)),
        ),
        (
            "spoofed sender",
            wire::frame(FrameKind::Raft, &msg(MessageType::MsgHeartbeatResponse, to)),
        ),
        ("client frame", wire::frame(FrameKind::ClientRequest, b"hi")),
        ("bad payload", wire::frame(FrameKind::Raft, &[3, 1, 2])),
        (
            "broken chunk stream",
            wire::frame(FrameKind::SnapshotChunk, &[1, 0, 0]),
        ),
    ];
    let bad_before = c.members[target].handle.stats().bad_connections;
    for (what, bytes) in &cases {
        let mut conn = dial();
        // A good frame first: the connection works until the bad one.
        conn.send_raw(&good).unwrap();
        let _ = conn.send_raw(bytes);
        assert_closed(&mut conn);
        eprintln!("{what}: closed");
    }
    // Truncated: half a frame, then the dialer goes away.
    {
        let mut conn = dial();
        let _ = conn.send_raw(&good[..good.len() / 2]);
    }
    let deadline = Instant::now() + T;
    while c.members[target].handle.stats().bad_connections < bad_before + cases.len() as u64 + 1 {
        assert!(
            Instant::now() < deadline,
            "{:?}",
            c.members[target].handle.stats()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    wait_for_log(&["closed a connection", "CN=node-0", "MsgPropose"]);
    wait_for_log(&["closed a connection", "CN=node-0", "inside a frame"]);
    // The member is fine and the cluster keeps committing.
    for i in 0..5 {
        c.commit(transition(&format!("after{i}"), "node-2", 1));
    }
    wait_owner(c.node(target), "after4");
}

#[test]
fn a_new_member_catches_up_by_snapshot_over_tcp() {
    let mut c = Cluster::new(3, 1, default_configure);
    let newcomer = id("CN=node-3");
    c.commit(ControlPlaneEntry::Membership(MembershipChange::Admit {
        member: newcomer.clone(),
        kind: MemberKind::Data,
        address: c.addr(3).parse().unwrap(),
    }));
    for i in 0..40u64 {
        c.commit(transition(&format!("r{i}"), "node-0", 1));
    }
    let l = c.leader(T);
    let members = c.node(l).members();
    let peer = members.iter().find(|m| m.id == newcomer).unwrap().peer_id;
    let seeds: Vec<Peer> = members
        .iter()
        .map(|m| Peer {
            peer_id: m.peer_id,
            id: m.id.clone(),
            address: m.address.clone(),
        })
        .collect();
    c.start(3, Some(peer), seeds);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let l = c.leader(T);
        if c.node(l).status().voters.contains(&peer) {
            break;
        }
        assert!(Instant::now() < deadline, "not promoted");
        std::thread::sleep(Duration::from_millis(10));
    }
    wait_owner(c.node(3), "r39");
    assert!(c.members[3].handle.stats().snapshots_received >= 1);
    let sent: u64 = c.members[..3]
        .iter()
        .map(|m| m.handle.stats().snapshots_sent)
        .sum();
    assert!(sent >= 1);
    // And it takes part from now on.
    c.commit(transition("late", "node-3", 1));
    wait_owner(c.node(3), "late");
}

fn small_queues(c: &mut TcpConfig) {
    default_configure(c);
    c.queue_bytes = 2048;
}

#[test]
fn a_down_peer_costs_bounded_memory_and_is_reported_unreachable() {
    let mut c = Cluster::new(3, 0, small_queues);
    let l = c.leader(T);
    let down = (l + 1) % 3;
    let n = c.members[down].node.take().unwrap();
    n.shutdown();
    drop(n);
    for i in 0..30 {
        c.commit(transition(&format!("r{i}"), "node-0", 1));
    }
    let l = c.leader(T);
    let stats = c.members[l].handle.stats();
    assert!(stats.dropped_messages > 0, "{stats:?}");
    assert!(stats.queued_bytes <= 2 * 2048, "{stats:?}");
    wait_for_log(&["cannot reach peer"]);
}

struct Echo;

impl ClientHandler for Echo {
    fn handle(&self, client: &NodeId, request: &[u8]) -> Vec<u8> {
        let mut out = format!("{client}:").into_bytes();
        out.extend_from_slice(request);
        out
    }
}

fn with_echo(cfg: TcpConfig) -> TcpConfig {
    TcpConfig {
        client_handler: Some(Arc::new(Echo)),
        ..cfg
    }
}

#[test]
fn clients_are_answered_by_the_handler_with_their_identity() {
    let dir = tempfile::tempdir().unwrap();
    write_dev_certs(dir.path(), &["node-0".into()], &["ops".into()]).unwrap();
    let certs = Certs {
        dir: dir.path().to_path_buf(),
    };
    let t =
        TcpTransport::bind(with_echo(TcpConfig::new(local(), certs.security("node-0")))).unwrap();
    let addr = t.local_addr().to_string();
    let mut client = connect_client(&addr, &certs.security("ops"), T).unwrap();
    assert_eq!(client.server_identity().unwrap().as_str(), "CN=node-0");
    for i in 0..3 {
        let req = format!("ping {i}");
        assert_eq!(
            client.request(req.as_bytes(), T).unwrap(),
            format!("CN=ops:{req}").into_bytes()
        );
    }
    // A large request goes through whole.
    let big = vec![7u8; 3 << 20];
    let resp = client.request(&big, T).unwrap();
    assert_eq!(resp.len(), "CN=ops:".len() + big.len());
    assert_eq!(t.stats().client_requests, 4);
    // Shutdown closes the client's connection.
    let h = t.handle();
    drop(t);
    assert!(client.request(b"again", T).is_err());
    assert_eq!(h.stats().inbound_connections, 0);
}

#[test]
fn insecure_mode_takes_the_identity_from_the_hello() {
    let me = id("CN=node-0");
    let t = TcpTransport::bind(with_echo(TcpConfig::new(
        local(),
        Security::Insecure {
            identity: me.clone(),
        },
    )))
    .unwrap();
    let addr = t.local_addr().to_string();
    let ops = Security::Insecure {
        identity: id("CN=ops"),
    };
    let mut client = connect_client(&addr, &ops, T).unwrap();
    assert!(client.server_identity().is_none());
    assert_eq!(client.request(b"x", T).unwrap(), b"CN=ops:x".to_vec());
    // A peer that is not a member is refused here as well.
    let err = FrameConnection::dial(&addr, &ops, HelloRole::Peer { peer_id: 9 }, T).unwrap_err();
    assert!(matches!(err, TransportError::Refused { .. }), "{err}");
}

#[test]
fn an_insecure_cluster_elects_and_commits() {
    fn insecure(c: &mut TcpConfig) {
        default_configure(c);
        let identity = c.security.identity().clone();
        c.security = Security::Insecure { identity };
    }
    let c = Cluster::new(3, 0, insecure);
    for i in 0..5 {
        c.commit(transition(&format!("r{i}"), "node-1", 1));
    }
    for m in &c.members {
        wait_owner(m.node.as_ref().unwrap(), "r4");
    }
}
