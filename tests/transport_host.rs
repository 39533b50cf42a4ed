//! The host-provided transport: members whose frames are carried by the
//! host's own "RPC stack" (here an in-process router), and the checks
//! `HostHandle::deliver` applies to what arrives.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use raft::eraftpb::{Message, MessageType};
use synod::catalog::InitialMember;
use synod::engine::EngineConfig;
use synod::storage::{DurableStore, RealDisk, StoreOptions};
use synod::transport::host::{HostHandle, HostSender, HostTransport};
use synod::transport::wire::{self, FrameKind, WireError};
use synod::transport::{Peer, TransportError};
use synod::{
    ControlPlaneConsensus, ControlPlaneEntry, Epoch, MemberKind, MembershipChange, Node, NodeId,
    NodeOptions, OwnershipTransition, ProposeError,
};

const T: Duration = Duration::from_secs(5);

fn id(s: &str) -> NodeId {
    NodeId::from_certificate_subject(s).unwrap()
}

#[derive(Default)]
struct Router {
    handles: Mutex<HashMap<u64, HostHandle>>,
    /// Frames a member refused (none should be).
    refused: Mutex<Vec<String>>,
}

struct Sender {
    me: u64,
    router: Arc<Router>,
}

impl HostSender for Sender {
    fn send(&self, to: u64, frame: &[u8]) {
        let h = self.router.handles.lock().unwrap().get(&to).cloned();
        match h {
            Some(h) => {
                if let Err(e) = h.deliver(self.me, frame) {
                    let text = format!("frame from {} to {to} refused: {e}", self.me);
                    self.router.refused.lock().unwrap().push(text);
                }
            }
            None => {
                // Not running: the host tells the sender's member.
                if let Some(mine) = self.router.handles.lock().unwrap().get(&self.me) {
                    mine.report_unreachable(to);
                }
            }
        }
    }
}

struct Cluster {
    dir: tempfile::TempDir,
    router: Arc<Router>,
    nodes: Vec<Node>,
}

fn engine() -> EngineConfig {
    EngineConfig {
        tick_interval: Duration::from_millis(10),
        snapshot_every: 16,
        max_learner_lag: 4,
        ..EngineConfig::default()
    }
}

impl Cluster {
    fn new(n: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let initial: Vec<InitialMember> = (0..n)
            .map(|i| InitialMember {
                id: id(&format!("CN=node-{i}")),
                kind: MemberKind::Data,
                address: format!("host:{i}").parse().unwrap(),
            })
            .collect();
        for i in 0..n {
            DurableStore::bootstrap(
                Arc::new(RealDisk),
                &dir.path().join(format!("node-{i}")),
                StoreOptions::default(),
                &initial,
            )
            .unwrap();
        }
        let mut c = Cluster {
            dir,
            router: Arc::default(),
            nodes: Vec::new(),
        };
        for i in 0..n {
            let node = c.start(i, i as u64 + 1, None, &[]);
            c.nodes.push(node);
        }
        c
    }

    fn start(&self, i: usize, peer: u64, join: Option<u64>, seeds: &[Peer]) -> Node {
        let path = self.dir.path().join(format!("node-{i}"));
        std::fs::create_dir_all(&path).unwrap();
        let (store, _) =
            DurableStore::open(Arc::new(RealDisk), &path, StoreOptions::default()).unwrap();
        let mut opts = NodeOptions::new(id(&format!("CN=node-{i}")));
        opts.engine = engine();
        opts.join_peer_id = join;
        let sender = Arc::new(Sender {
            me: peer,
            router: self.router.clone(),
        });
        let (transport, handle) = HostTransport::new(sender, seeds);
        let node = Node::start(opts, store, move |inbox| transport.attach(inbox)).unwrap();
        // Route to it once it knows its peers (a frame of the wrong kind is
        // refused as a protocol error by a member that knows peer 1, as
        // not authorized before).
        let probe = wire::frame(FrameKind::ClientRequest, b"");
        let deadline = Instant::now() + T;
        while matches!(
            handle.deliver(1, &probe),
            Err(TransportError::NotAuthorized(_) | TransportError::Shutdown)
        ) {
            assert!(Instant::now() < deadline, "member never learned its peers");
            std::thread::sleep(Duration::from_millis(1));
        }
        self.router.handles.lock().unwrap().insert(peer, handle);
        node
    }

    fn leader(&self) -> usize {
        let deadline = Instant::now() + T;
        loop {
            if let Some(i) = self.nodes.iter().position(|n| n.is_leader()) {
                return i;
            }
            assert!(Instant::now() < deadline, "no leader");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn commit(&self, entry: ControlPlaneEntry) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match self.nodes[self.leader()].propose(entry.clone(), T) {
                Ok(_) => return,
                Err(ProposeError::NotLeader { .. } | ProposeError::Timeout(_)) => {}
                Err(e) => panic!("{e}"),
            }
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn transition(range: &str, owner: &str) -> ControlPlaneEntry {
    ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
        range: range.parse().unwrap(),
        new_owner: id(owner),
        epoch: Epoch(1),
    })
}

fn wait_owner(node: &Node, range: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while node.owner(&range.parse().unwrap()).is_none() {
        assert!(Instant::now() < deadline, "{range} never applied");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_cluster_over_a_host_stack_commits_and_a_newcomer_joins_by_snapshot() {
    let mut c = Cluster::new(3);
    c.commit(ControlPlaneEntry::Membership(MembershipChange::Admit {
        member: id("CN=node-3"),
        kind: MemberKind::Data,
        address: "host:3".parse().unwrap(),
    }));
    for i in 0..40 {
        c.commit(transition(&format!("r{i}"), "CN=node-1"));
    }
    let members = c.nodes[c.leader()].members();
    let peer = members
        .iter()
        .find(|m| m.id.as_str() == "CN=node-3")
        .unwrap()
        .peer_id;
    let seeds: Vec<Peer> = members
        .iter()
        .map(|m| Peer {
            peer_id: m.peer_id,
            id: m.id.clone(),
            address: m.address.clone(),
        })
        .collect();
    let node = c.start(3, peer, Some(peer), &seeds);
    c.nodes.push(node);
    wait_owner(&c.nodes[3], "r39");
    c.commit(transition("late", "CN=node-3"));
    wait_owner(&c.nodes[3], "late");
    assert_eq!(*c.router.refused.lock().unwrap(), Vec::<String>::new());
}

struct Null;
impl HostSender for Null {
    fn send(&self, _to: u64, _frame: &[u8]) {}
}

#[test]
fn deliver_refuses_what_the_tcp_listener_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lone");
    let initial = vec![
        InitialMember {
            id: id("CN=a"),
            kind: MemberKind::Data,
            address: "host:1".parse().unwrap(),
        },
        InitialMember {
            id: id("CN=b"),
            kind: MemberKind::Data,
            address: "host:2".parse().unwrap(),
        },
    ];
    DurableStore::bootstrap(Arc::new(RealDisk), &dir, StoreOptions::default(), &initial).unwrap();
    let (store, _) = DurableStore::open(Arc::new(RealDisk), &dir, StoreOptions::default()).unwrap();
    let (transport, handle) = HostTransport::new(Arc::new(Null), &[]);
    let msg = |ty: MessageType, from: u64| {
        let mut m = Message::default();
        m.set_msg_type(ty);
        m.from = from;
        m.to = 1;
        m.term = 1;
        wire::frame(FrameKind::Raft, &wire::encode_message(&m).unwrap())
    };
    let good = msg(MessageType::MsgHeartbeat, 2);
    // Before the member is attached.
    assert!(matches!(
        handle.deliver(2, &good),
        Err(TransportError::Shutdown)
    ));
    let mut opts = NodeOptions::new(id("CN=a"));
    opts.engine = engine();
    let node = Node::start(opts, store, move |inbox| transport.attach(inbox)).unwrap();
    // set_peers runs on the driver's first turn.
    let deadline = Instant::now() + T;
    while handle.deliver(2, &good).is_err() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    let err = |from: u64, bytes: &[u8]| handle.deliver(from, bytes).unwrap_err();
    assert!(matches!(
        err(9, &msg(MessageType::MsgHeartbeat, 9)),
        TransportError::NotAuthorized(_)
    ));
    assert!(matches!(
        err(2, &msg(MessageType::MsgHeartbeat, 1)),
        TransportError::NotAuthorized(_)
    ));
    assert!(matches!(
        err(2, &msg(MessageType::MsgPropose, 2)),
        TransportError::Wire(WireError::RefusedType(MessageType::MsgPropose))
    ));
    assert!(matches!(
        err(2, &good[..good.len() - 1]),
        TransportError::Protocol { .. }
    ));
    let mut two = good.clone();
    two.extend_from_slice(&good);
    assert!(matches!(err(2, &two), TransportError::Protocol { .. }));
    assert!(matches!(
        err(2, b"garbage!garbage!"),
        TransportError::Wire(WireError::BadMagic)
    ));
    assert!(matches!(
        err(2, &wire::frame(FrameKind::ClientRequest, b"x")),
        TransportError::Protocol { .. }
    ));
    assert!(matches!(
        err(2, &wire::frame(FrameKind::SnapshotChunk, &[1, 0])),
        TransportError::Wire(_)
    ));
    // A chunked message that is not a snapshot.
    let hb = wire::encode_message(&{
        let mut m = Message::default();
        m.set_msg_type(MessageType::MsgHeartbeat);
        m.from = 2;
        m.to = 1;
        m
    })
    .unwrap();
    let frames: Vec<Vec<u8>> = wire::snapshot_frames(1, &hb, 16).collect();
    let (last, rest) = frames.split_last().unwrap();
    for f in rest {
        handle.deliver(2, f).unwrap();
    }
    assert!(matches!(err(2, last), TransportError::Protocol { .. }));
    // The member is unharmed.
    assert!(node.status().term.0 >= 1);
    node.shutdown();
    assert!(matches!(
        handle.deliver(2, &good),
        Err(TransportError::Shutdown)
    ));
}
