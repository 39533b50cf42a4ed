//! Tests of the TCP transport's own pieces: the dialer's identity check,
//! the inbound connection limits (slots, per source, per client identity,
//! per peer id, idle clients), keepalive and prompt shutdown.

use std::time::Instant;

use super::dialer::{dial, dial_on};
use super::*;
use crate::entry::NodeId;
use crate::transport::certs::DevCa;
use crate::transport::tls::TlsConfig;
use crate::transport::wire::HelloRole;

fn tls(ca: &DevCa, name: &str) -> Security {
    let c = ca.issue(name).unwrap();
    Security::Tls(
        TlsConfig::from_pem(
            c.cert_pem.as_bytes(),
            c.key_pem.as_bytes(),
            ca.cert_pem().as_bytes(),
        )
        .unwrap(),
    )
}

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn peer(peer_id: u64, name: &str) -> Peer {
    Peer {
        peer_id,
        id: NodeId::from_certificate_subject(name).unwrap(),
        address: "127.0.0.1:1".parse().unwrap(),
    }
}

#[test]
fn the_dialer_checks_whom_it_reached() {
    let ca = DevCa::new("ca").unwrap();
    let mut cfg = TcpConfig::new(local(), tls(&ca, "node-1"));
    cfg.seed_peers = vec![peer(1, "CN=node-1"), peer(2, "CN=node-2")];
    let t = TcpTransport::bind(cfg).unwrap();
    let addr = t.local_addr().to_string();
    let node2 = tls(&ca, "node-2");
    let t5 = Duration::from_secs(5);
    let role = HelloRole::Peer { peer_id: 2 };
    let expect = NodeId::from_certificate_subject("CN=node-3").unwrap();
    match dial(&node2, &addr, role, Some(&expect), t5, t5, None) {
        Err(TransportError::NotAuthorized(_)) => {}
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("reached the wrong member"),
    }
    let expect = NodeId::from_certificate_subject("CN=node-1").unwrap();
    let (_, server) = dial(&node2, &addr, role, Some(&expect), t5, t5, None).unwrap();
    assert_eq!(server, Some(expect));
}

struct Nop;
impl ClientHandler for Nop {
    fn handle(&self, _: &NodeId, _: &[u8]) -> Vec<u8> {
        Vec::new()
    }
}

#[test]
fn connections_over_the_limit_are_refused() {
    let id = NodeId::from_certificate_subject("CN=x").unwrap();
    let sec = Security::Insecure { identity: id };
    let mut cfg = TcpConfig::new(local(), sec.clone());
    cfg.max_client_connections = 1;
    cfg.client_handler = Some(Arc::new(Nop));
    let t = TcpTransport::bind(cfg).unwrap();
    let addr = t.local_addr().to_string();
    let t5 = Duration::from_secs(5);
    let mut first = connect_client(&addr, &sec, t5).unwrap();
    assert!(connect_client(&addr, &sec, t5).is_err());
    // Counted as the refused connection's task ends (just after it closed).
    eventually("the refusal is counted", || {
        t.stats().refused_connections == 1
    });
    assert_eq!(first.request(b"", t5).unwrap(), Vec::<u8>::new());
    drop(first);
    let deadline = Instant::now() + t5;
    while t.stats().client_connections > 0 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(connect_client(&addr, &sec, t5).is_ok());
}

/// Clients that said Hello hold no inbound slot: with one slot, a client
/// connection open does not keep the next handshake (a member's) out.
/// Before, every client held a slot (and a thread) for its life.
#[test]
fn established_clients_leave_the_inbound_slots_to_handshakes() {
    let id = NodeId::from_certificate_subject("CN=x").unwrap();
    let sec = Security::Insecure { identity: id };
    let mut cfg = TcpConfig::new(local(), sec.clone());
    cfg.max_inbound = 1;
    cfg.client_handler = Some(Arc::new(Nop));
    let t = TcpTransport::bind(cfg).unwrap();
    let addr = t.local_addr().to_string();
    let t5 = Duration::from_secs(5);
    let mut clients: Vec<_> = (0..4)
        .map(|_| connect_client(&addr, &sec, t5).expect("a client is let in"))
        .collect();
    for c in &mut clients {
        assert_eq!(c.request(b"", t5).unwrap(), Vec::<u8>::new());
    }
    let stats = t.stats();
    assert_eq!(stats.client_connections, 4, "{stats:?}");
    assert_eq!(stats.inbound_connections, 0, "{stats:?}");
    assert_eq!(stats.refused_connections, 0, "{stats:?}");
}

#[test]
fn shutdown_is_prompt_while_a_peer_is_unreachable() {
    let id = NodeId::from_certificate_subject("CN=x").unwrap();
    let mut cfg = TcpConfig::new(
        local(),
        Security::Insecure {
            identity: id.clone(),
        },
    );
    // A peer that does not answer: a listener that never accepts.
    let silent = std::net::TcpListener::bind(local()).unwrap();
    cfg.seed_peers = vec![
        Peer {
            peer_id: 1,
            id,
            address: "127.0.0.1:1".parse().unwrap(),
        },
        Peer {
            peer_id: 2,
            id: NodeId::from_certificate_subject("CN=y").unwrap(),
            address: silent.local_addr().unwrap().to_string().parse().unwrap(),
        },
    ];
    cfg.io_timeout = Duration::from_secs(30);
    let mut t = TcpTransport::bind(cfg).unwrap();
    let mut m = Message::default();
    m.set_msg_type(MessageType::MsgHeartbeat);
    m.from = 1;
    m.to = 2;
    t.send(m);
    std::thread::sleep(Duration::from_millis(200));
    let t0 = Instant::now();
    t.shutdown();
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
}

/// Only the peer closing its newest connection tells the engine the peer is
/// unreachable (a follower then drops its leader's lease): not an older
/// connection ending while a newer one serves, and not a connection this
/// side cut for a bad frame.
#[test]
fn only_the_peer_closing_its_newest_connection_reports_it_unreachable() {
    use crate::transport::{Deliver, Inbound, Inbox, Traffic};
    use std::io::Write;
    let ca = DevCa::new("ca").unwrap();
    let mut cfg = TcpConfig::new(local(), tls(&ca, "node-1"));
    cfg.seed_peers = vec![peer(1, "CN=node-1"), peer(2, "CN=node-2")];
    let reports = Arc::new(Mutex::new(Vec::new()));
    let r = reports.clone();
    let deliver: Deliver = Arc::new(move |inbound| {
        if let Inbound::Unreachable { peer_id } = inbound {
            r.lock().unwrap().push(peer_id);
        }
        true
    });
    let t = TcpTransport::bind(cfg)
        .unwrap()
        .attach(Inbox::new(deliver, Arc::new(Traffic::default())));
    let addr = t.local_addr().to_string();
    let node2 = tls(&ca, "node-2");
    let t5 = Duration::from_secs(5);
    let role = HelloRole::Peer { peer_id: 2 };
    let settle = || std::thread::sleep(Duration::from_millis(300));
    let (older, _) = dial(&node2, &addr, role, None, t5, t5, None).unwrap();
    let (mut newer, _) = dial(&node2, &addr, role, None, t5, t5, None).unwrap();
    settle();
    drop(older);
    settle();
    assert!(
        reports.lock().unwrap().is_empty(),
        "an older connection ended"
    );
    // A bad frame: this side cuts the connection; the peer is not down.
    newer.write_all(b"this is not a frame at all").unwrap();
    newer.flush().unwrap();
    settle();
    assert!(
        reports.lock().unwrap().is_empty(),
        "we cut it for a bad frame"
    );
    drop(newer);
    // The peer closes its newest connection: now it is reported.
    let (newest, _) = dial(&node2, &addr, role, None, t5, t5, None).unwrap();
    settle();
    drop(newest);
    let deadline = Instant::now() + t5;
    while reports.lock().unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the peer's close was not reported"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(*reports.lock().unwrap(), vec![2]);
}

/// A member removed from the catalog (its peer id is below the next peer id
/// and no peer has it) is told so when it dials, instead of being cut off
/// without a word; one the catalog has not heard of yet is refused plainly.
#[test]
fn a_removed_member_is_told_it_was_removed() {
    let ca = DevCa::new("ca").unwrap();
    let mut t = TcpTransport::bind(TcpConfig::new(local(), tls(&ca, "node-1"))).unwrap();
    t.set_peers(&[peer(1, "CN=node-1"), peer(2, "CN=node-2")]);
    t.set_next_peer_id(5);
    let addr = t.local_addr().to_string();
    let t5 = Duration::from_secs(5);
    let node3 = tls(&ca, "node-3");
    match dial(
        &node3,
        &addr,
        HelloRole::Peer { peer_id: 3 },
        None,
        t5,
        t5,
        None,
    ) {
        Err(TransportError::Removed { detail, .. }) => {
            assert!(detail.contains("CN=node-3"), "{detail}");
            assert!(detail.contains("removed"), "{detail}");
        }
        Err(e) => panic!("not told it was removed: {e}"),
        Ok(_) => panic!("a removed member was accepted"),
    }
    // Peer id 7 was never assigned by this catalog: no news to give.
    let node7 = tls(&ca, "node-7");
    match dial(
        &node7,
        &addr,
        HelloRole::Peer { peer_id: 7 },
        None,
        t5,
        t5,
        None,
    ) {
        Err(TransportError::Refused { .. }) => {}
        Err(e) => panic!("expected a plain refusal, got {e}"),
        Ok(_) => panic!("a stranger was accepted"),
    }
    // A current member is accepted.
    let node2 = tls(&ca, "node-2");
    dial(
        &node2,
        &addr,
        HelloRole::Peer { peer_id: 2 },
        None,
        t5,
        t5,
        None,
    )
    .unwrap();
}

/// A transport bound on loopback with `name`'s certificate whose inbox
/// collects the raft messages it receives.
fn collecting(ca: &DevCa, name: &str) -> (TcpTransport, Arc<Mutex<Vec<Message>>>) {
    use crate::transport::{Deliver, Inbound, Inbox, Traffic};
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let deliver: Deliver = Arc::new(move |inbound| {
        if let Inbound::Message(m) = inbound {
            g.lock().unwrap().push(m);
        }
        true
    });
    let t = TcpTransport::bind(TcpConfig::new(local(), tls(ca, name)))
        .unwrap()
        .attach(Inbox::new(deliver, Arc::new(Traffic::default())));
    (t, got)
}

/// `name` (`CN=...`) as raft peer `peer_id`, listening where `t` does.
fn at(peer_id: u64, name: &str, t: &TcpTransport) -> Peer {
    Peer {
        peer_id,
        id: NodeId::from_certificate_subject(name).unwrap(),
        address: t.local_addr().to_string().parse().unwrap(),
    }
}

fn heartbeat(from: u64, to: u64) -> Message {
    let mut m = Message::default();
    m.set_msg_type(MessageType::MsgHeartbeat);
    m.from = from;
    m.to = to;
    m
}

/// Waits until `what` holds, for at most 5 s.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A member whose catalog lags (A: members 1 and 2, next peer id 3) accepts
/// a peer admitted after its view (D, peer id 4) because a member it knows
/// (B, whose catalog lists D) vouches for it, and links back to D so its
/// answers flow. Nobody vouches for a certificate claiming D's peer id, nor
/// for a peer id nobody knows; a member claiming another's peer id is
/// refused without asking; a refused claim is not asked about again at
/// once. Once A's catalog passes peer id 4 without listing D, the vouch is
/// gone: D is refused (told it was removed) and A's link to it is closed.
#[test]
fn a_known_member_vouches_for_a_peer_admitted_after_this_catalog() {
    let ca = DevCa::new("ca").unwrap();
    let (mut a, _) = collecting(&ca, "node-a");
    let (mut b, _) = collecting(&ca, "node-b");
    let (mut d, d_got) = collecting(&ca, "node-d");
    let (pa, pb, pd) = (
        at(1, "CN=node-a", &a),
        at(2, "CN=node-b", &b),
        at(4, "CN=node-d", &d),
    );
    a.set_peers(&[pa.clone(), pb.clone()]);
    a.set_next_peer_id(3);
    for t in [&mut b, &mut d] {
        t.set_peers(&[pa.clone(), pb.clone(), pd.clone()]);
        t.set_next_peer_id(5);
    }
    let addr = a.local_addr().to_string();
    let t5 = Duration::from_secs(5);
    let claim = |name: &str, peer_id: u64| {
        dial(
            &tls(&ca, name),
            &addr,
            HelloRole::Peer { peer_id },
            Some(&pa.id),
            t5,
            t5,
            None,
        )
    };

    // E claims D's peer id: B says peer id 4 is D.
    assert!(claim("node-e", 4).is_err(), "E accepted as peer 4");
    assert_eq!(a.stats().vouch_queries, 1, "A asked B once");
    // Refused again at once, without asking.
    assert!(claim("node-e", 4).is_err());
    assert_eq!(a.stats().vouch_queries, 1, "asked again about E");

    // D is accepted on B's word, and A reaches D with a message for peer 4.
    let (conn, _) = claim("node-d", 4).unwrap_or_else(|e| panic!("D was refused: {e}"));
    drop(conn);
    let stats = a.stats();
    assert_eq!(stats.vouched_peers, 1);
    assert_eq!(stats.vouch_queries, 2, "A asked B about D");
    a.send(heartbeat(1, 4));
    eventually("A's message reaches D", || {
        d_got
            .lock()
            .unwrap()
            .iter()
            .any(|m| m.from == 1 && m.to == 4)
    });
    // Accepted again without asking.
    claim("node-d", 4).unwrap();
    assert_eq!(a.stats().vouch_queries, 2);

    // Peer id 6: nobody knows it.
    assert!(claim("node-f", 6).is_err(), "an unknown peer id accepted");
    assert_eq!(a.stats().vouch_queries, 3);
    // Neither a member claiming a peer id above A's view nor another
    // identity claiming D's vouched peer id is asked about.
    assert!(claim("node-b", 4).is_err(), "B accepted as peer 4");
    assert!(claim("node-g", 4).is_err(), "G accepted as peer 4");
    assert_eq!(a.stats().vouch_queries, 3, "asked needlessly");
    assert_eq!(a.stats().vouched_peers, 1);

    // A's catalog passes peer id 4 and does not list D: D was removed.
    a.set_next_peer_id(5);
    assert_eq!(a.stats().vouched_peers, 0);
    match claim("node-d", 4) {
        Err(TransportError::Removed { .. }) => {}
        Err(e) => panic!("expected D to be told it was removed, got {e}"),
        Ok(_) => panic!("D accepted after its vouch was dropped"),
    }
    let dropped = a.stats().dropped_messages;
    a.send(heartbeat(1, 4));
    assert_eq!(
        a.stats().dropped_messages,
        dropped + 1,
        "A still links to D"
    );
}

/// Only an accepted peer connection may ask WhoIs: a client's question
/// closes its connection unanswered. A peer's question is answered from the
/// membership and its connection then closed, and that connection is not
/// the peer's raft connection: its end reports nothing, while the end of
/// the raft connection it came beside still reports the peer unreachable.
#[test]
fn only_a_peer_may_ask_who_is() {
    use crate::transport::wire::{decode_who_is_answer, encode_who_is, WhoIs};
    use crate::transport::{Deliver, Inbound, Inbox, Traffic};
    let ca = DevCa::new("ca").unwrap();
    let mut cfg = TcpConfig::new(local(), tls(&ca, "node-b"));
    cfg.client_handler = Some(Arc::new(Nop));
    let reports = Arc::new(Mutex::new(Vec::new()));
    let r = reports.clone();
    let deliver: Deliver = Arc::new(move |inbound| {
        if let Inbound::Unreachable { peer_id } = inbound {
            r.lock().unwrap().push(peer_id);
        }
        true
    });
    let mut b = TcpTransport::bind(cfg)
        .unwrap()
        .attach(Inbox::new(deliver, Arc::new(Traffic::default())));
    b.set_peers(&[
        peer(1, "CN=node-a"),
        peer(2, "CN=node-b"),
        peer(4, "CN=node-d"),
    ]);
    b.set_next_peer_id(5);
    let addr = b.local_addr().to_string();
    let t5 = Duration::from_secs(5);
    let question = encode_who_is(&WhoIs { peer_id: 4 });

    let mut client = FrameConnection::dial(&addr, &tls(&ca, "ops"), HelloRole::Client, t5).unwrap();
    client.send_frame(FrameKind::WhoIs, &question).unwrap();
    assert!(
        matches!(client.read_frame(t5), Ok(None) | Err(_)),
        "a client got an answer"
    );

    let node_a = tls(&ca, "node-a");
    let role = HelloRole::Peer { peer_id: 1 };
    let raft_conn = FrameConnection::dial(&addr, &node_a, role, t5).unwrap();
    let mut asking = FrameConnection::dial(&addr, &node_a, role, t5).unwrap();
    asking.send_frame(FrameKind::WhoIs, &question).unwrap();
    let (kind, payload) = asking.read_frame(t5).unwrap().unwrap();
    assert_eq!(kind, FrameKind::WhoIsAnswer);
    let answer = decode_who_is_answer(&payload).unwrap();
    assert_eq!(answer.peer_id, 4);
    assert_eq!(answer.member.unwrap().identity.as_str(), "CN=node-d");
    assert!(
        matches!(asking.read_frame(t5), Ok(None) | Err(_)),
        "not closed"
    );
    drop(asking);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        reports.lock().unwrap().is_empty(),
        "a question's end reported its peer unreachable"
    );
    drop(raft_conn);
    eventually("the raft connection's end is reported", || {
        !reports.lock().unwrap().is_empty()
    });
    assert_eq!(*reports.lock().unwrap(), vec![1]);
}

/// Silent connections (no TLS handshake, no Hello) fill the inbound slots;
/// before, every slot held by them refused the members' own connections
/// until each silent one timed out, and a flood renewed them forever. The
/// oldest connection that has not said Hello gives way to a new one, and
/// a member still gets in.
#[test]
fn a_flood_of_silent_connections_does_not_lock_peers_out() {
    let ca = DevCa::new("ca").unwrap();
    let mut cfg = TcpConfig::new(local(), tls(&ca, "node-1"));
    cfg.seed_peers = vec![peer(1, "CN=node-1"), peer(2, "CN=node-2")];
    cfg.max_inbound = 8;
    cfg.io_timeout = Duration::from_secs(30);
    let t = TcpTransport::bind(cfg).unwrap();
    let addr = t.local_addr().to_string();
    let silent: Vec<std::net::TcpStream> = (0..50)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let node2 = tls(&ca, "node-2");
    let t5 = Duration::from_secs(5);
    let started = Instant::now();
    dial(
        &node2,
        &addr,
        HelloRole::Peer { peer_id: 2 },
        None,
        t5,
        t5,
        None,
    )
    .expect("a member is let in during a flood of silent connections");
    assert!(started.elapsed() < Duration::from_secs(3));
    let stats = t.stats();
    assert!(
        stats.inbound_connections <= 2 * 8,
        "inbound connections stay bounded: {}",
        stats.inbound_connections
    );
    drop(silent);
}

/// A TCP connection to `addr` from the loopback address `from` (Linux
/// routes all of 127.0.0.0/8 to loopback), sending nothing.
fn silent_from(from: &str, addr: &str) -> std::net::TcpStream {
    use socket2::{Domain, SockAddr, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let local: SocketAddr = format!("{from}:0").parse().unwrap();
    s.bind(&SockAddr::from(local)).unwrap();
    let remote: SocketAddr = addr.parse().unwrap();
    s.connect(&SockAddr::from(remote)).unwrap();
    s.into()
}

/// Whether the listener closed `s` (end of stream or reset) within
/// `within`.
fn closed_within(s: &std::net::TcpStream, within: Duration) -> bool {
    use std::io::Read;
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 1];
    !matches!((&*s).read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
        || e.kind() == std::io::ErrorKind::TimedOut)
}

/// Whether the listener has closed `s` (end of stream or reset), without
/// waiting.
fn closed_now(s: &std::net::TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let closed =
        !matches!(s.peek(&mut [0u8; 1]), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    s.set_nonblocking(false).unwrap();
    closed
}

/// One address may hold at most its share (by default half the slots) of
/// the connections that have not said Hello: past it, its own oldest give
/// way, though the slots are not full. Before, one address could hold every
/// slot.
#[test]
fn one_source_holds_at_most_its_share_of_unfinished_handshakes() {
    let ca = DevCa::new("ca").unwrap();
    let mut cfg = TcpConfig::new(local(), tls(&ca, "node-1"));
    cfg.max_inbound = 16;
    cfg.io_timeout = Duration::from_secs(30);
    let t = TcpTransport::bind(cfg).unwrap();
    let addr = t.local_addr().to_string();
    let silent: Vec<std::net::TcpStream> =
        (0..12).map(|_| silent_from("127.0.0.2", &addr)).collect();
    eventually("the 12 connections are accepted", || {
        t.stats().evicted_connections + t.stats().pending_connections as u64 == 12
    });
    let stats = t.stats();
    assert_eq!(stats.pending_connections, 8, "{stats:?}");
    assert_eq!(stats.evicted_connections, 4, "{stats:?}");
    // The oldest gave way, the newest stay.
    let t2 = Duration::from_secs(2);
    assert!(silent[..4].iter().all(|s| closed_within(s, t2)));
    assert!(
        !silent[4..]
            .iter()
            .any(|s| closed_within(s, Duration::from_millis(50))),
        "a newer connection was closed"
    );
    // Another address is not held back by that one's share.
    let other: Vec<std::net::TcpStream> = (0..4).map(|_| silent_from("127.0.0.3", &addr)).collect();
    eventually("the other address's connections are accepted", || {
        t.stats().pending_connections == 12
    });
    assert_eq!(t.stats().evicted_connections, 4);
    drop((silent, other));
}

/// When the slots are full, the connection that gives way is the oldest of
/// the address holding the most unfinished handshakes, not the oldest of
/// all: a member's slow handshake from another address survives a flood
/// from one address. Before, the member's connection, being the oldest,
/// was the first closed.
#[test]
fn a_flood_from_one_address_makes_room_from_its_own_connections() {
    let ca = DevCa::new("ca").unwrap();
    let mut cfg = TcpConfig::new(local(), tls(&ca, "node-1"));
    cfg.seed_peers = vec![peer(1, "CN=node-1"), peer(2, "CN=node-2")];
    cfg.max_inbound = 8;
    // No share per address: only the choice of whom to close is tested.
    cfg.max_pending_per_source = Some(8);
    cfg.io_timeout = Duration::from_secs(30);
    let t = TcpTransport::bind(cfg).unwrap();
    let addr = t.local_addr().to_string();
    // The member connects first and is slow to start its handshake.
    let member = silent_from("127.0.0.1", &addr);
    eventually("the member's connection is accepted", || {
        t.stats().pending_connections == 1
    });
    let flood: Vec<std::net::TcpStream> =
        (0..50).map(|_| silent_from("127.0.0.2", &addr)).collect();
    // The listener took all: 7 of the flood wait with the member, the
    // rest were closed (evicted, or refused while the closed ones left).
    eventually("the flood is taken in", || {
        t.stats().pending_connections == 8 && flood.iter().filter(|s| closed_now(s)).count() == 43
    });
    let t5 = Duration::from_secs(5);
    dial_on(
        member,
        &tls(&ca, "node-2"),
        &addr,
        HelloRole::Peer { peer_id: 2 },
        None,
        t5,
        None,
    )
    .expect("the member's handshake survives a flood from another address");
    drop(flood);
}

/// One client identity may hold at most
/// `max_client_connections_per_identity` connections; more are refused
/// (other identities are not), and a freed one can be taken again.
/// Before, one identity could take every client slot.
#[test]
fn one_client_identity_holds_at_most_its_share_of_connections() {
    let ca = DevCa::new("ca").unwrap();
    let mut cfg = TcpConfig::new(local(), tls(&ca, "node-1"));
    cfg.max_client_connections_per_identity = 2;
    cfg.client_handler = Some(Arc::new(Nop));
    let t = TcpTransport::bind(cfg).unwrap();
    let addr = t.local_addr().to_string();
    let t5 = Duration::from_secs(5);
    let (ops, boss) = (tls(&ca, "ops"), tls(&ca, "boss"));
    let first = connect_client(&addr, &ops, t5).unwrap();
    let mut second = connect_client(&addr, &ops, t5).unwrap();
    match connect_client(&addr, &ops, t5) {
        Err(TransportError::Refused { .. }) => {}
        Err(e) => panic!("expected a refusal, got {e}"),
        Ok(_) => panic!("a third connection of one identity was accepted"),
    }
    eventually("the refusal is counted", || {
        t.stats().refused_connections == 1
    });
    let mut other = connect_client(&addr, &boss, t5).expect("another identity is let in");
    assert_eq!(other.request(b"", t5).unwrap(), Vec::<u8>::new());
    assert_eq!(second.request(b"", t5).unwrap(), Vec::<u8>::new());
    drop(first);
    eventually("the freed slot is taken again", || {
        connect_client(&addr, &ops, t5).is_ok()
    });
}

/// A peer id holds one raft connection's slot, not many: when a newer
/// connection of the peer carries raft frames the older raft connection is
/// closed (and an older one that speaks up late is closed itself), and
/// beyond two spare connections (a question, the next raft connection) the
/// oldest spare is closed. Before, a member's certificate could hold every
/// slot.
#[test]
fn a_peer_holds_one_raft_connection_and_few_spares() {
    let ca = DevCa::new("ca").unwrap();
    let mut cfg = TcpConfig::new(local(), tls(&ca, "node-1"));
    cfg.seed_peers = vec![peer(1, "CN=node-1"), peer(2, "CN=node-2")];
    let t = TcpTransport::bind(cfg).unwrap();
    let addr = t.local_addr().to_string();
    let node2 = tls(&ca, "node-2");
    let t5 = Duration::from_secs(5);
    let role = HelloRole::Peer { peer_id: 2 };
    let hb = encode_message(&heartbeat(2, 1)).unwrap();
    let conn = || FrameConnection::dial(&addr, &node2, role, t5).unwrap();
    let closed = |c: &mut FrameConnection| {
        matches!(
            c.read_frame(Duration::from_millis(500)),
            Ok(None) | Err(TransportError::Io { .. } | TransportError::Closed(_))
        )
    };

    let mut raft1 = conn();
    raft1.send_frame(FrameKind::Raft, &hb).unwrap();
    eventually("delivered", || {
        t.stats().delivered_messages + t.stats().dropped_messages >= 1
    });
    let mut raft2 = conn();
    raft2.send_frame(FrameKind::Raft, &hb).unwrap();
    assert!(closed(&mut raft1), "the older raft connection stayed open");
    // Spares: the third silent one closes the first.
    let mut spares: Vec<FrameConnection> = (0..3).map(|_| conn()).collect();
    assert!(closed(&mut spares[0]), "the oldest spare stayed open");
    assert!(!closed(&mut spares[1]) && !closed(&mut spares[2]));
    assert!(
        !closed(&mut raft2),
        "the raft connection was closed for a spare"
    );
    eventually("the peer holds three connections", || {
        t.shared.peer_connections(2) == 3
    });
    // A newer spare carries raft frames; then an older one speaks up late.
    spares[2].send_frame(FrameKind::Raft, &hb).unwrap();
    assert!(
        closed(&mut raft2),
        "the replaced raft connection stayed open"
    );
    let _ = spares[1].send_frame(FrameKind::Raft, &hb);
    assert!(
        closed(&mut spares[1]),
        "a superseded connection stayed open"
    );
    assert!(
        !closed(&mut spares[2]),
        "the newest raft connection was closed"
    );
    assert!(
        t.stats().superseded_peer_connections >= 4,
        "{:?}",
        t.stats()
    );
}

/// A client connection that asks nothing for `client_idle_timeout` is
/// closed; one that keeps asking is not. A [`ClientConnection`] whose
/// connection was closed so dials again for its next request (nothing was
/// sent on the closed one). Before, an authenticated client held its slot
/// for ever.
#[test]
fn an_idle_client_connection_is_closed() {
    let ca = DevCa::new("ca").unwrap();
    let mut cfg = TcpConfig::new(local(), tls(&ca, "node-1"));
    cfg.client_handler = Some(Arc::new(Nop));
    cfg.client_idle_timeout = Duration::from_millis(400);
    let t = TcpTransport::bind(cfg).unwrap();
    let addr = t.local_addr().to_string();
    let t5 = Duration::from_secs(5);
    let ops = tls(&ca, "ops");
    let mut busy = connect_client(&addr, &ops, t5).unwrap();
    let mut idle = FrameConnection::dial(&addr, &ops, HelloRole::Client, t5).unwrap();
    let mut reconnects = connect_client(&addr, &ops, t5).unwrap();
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(100));
        busy.request(b"", t5).expect("a busy client was closed");
    }
    assert!(
        matches!(
            idle.read_frame(t5),
            Ok(None) | Err(TransportError::Io { .. })
        ),
        "an idle client stayed open"
    );
    let stats = t.stats();
    assert_eq!(stats.idle_clients_closed, 2, "{stats:?}");
    assert_eq!(stats.client_connections, 1, "{stats:?}");
    assert_eq!(
        reconnects
            .request(b"", t5)
            .expect("no new connection after an idle close"),
        Vec::<u8>::new()
    );
}

/// Every accepted and every dialled socket has TCP keepalive on, probing
/// after `KEEPALIVE_TIME`: a peer or client that vanished without a word
/// is noticed. Before, an idle connection to a vanished host stayed open
/// for ever.
#[test]
fn accepted_and_dialled_sockets_keep_alive() {
    let ca = DevCa::new("ca").unwrap();
    let mut cfg = TcpConfig::new(local(), tls(&ca, "node-1"));
    cfg.client_handler = Some(Arc::new(Nop));
    let t = TcpTransport::bind(cfg).unwrap();
    let addr = t.local_addr().to_string();
    let t5 = Duration::from_secs(5);
    let (stream, _) = dial(
        &tls(&ca, "ops"),
        &addr,
        HelloRole::Client,
        None,
        t5,
        t5,
        None,
    )
    .unwrap();
    let keeps_alive = |s: &std::net::TcpStream| {
        let s = socket2::SockRef::from(s);
        s.keepalive().unwrap() && s.tcp_keepalive_time().unwrap() == KEEPALIVE_TIME
    };
    assert!(keeps_alive(stream.socket()), "the dialled socket");
    // An established client's socket is the runtime's; a connection still
    // in its handshake is registered (and so is a peer's).
    let _silent = std::net::TcpStream::connect(&addr).unwrap();
    eventually("the accepted socket keeps alive", || {
        let socks = t.shared.registered_sockets();
        !socks.is_empty() && socks.iter().all(keeps_alive)
    });
}

/// Answers each request with itself reversed, after every one of `together`
/// calls is inside the handler at once (so calls served one at a time
/// never finish), and streams `stream_len` numbered responses for a request
/// starting with `b'S'`.
struct Together {
    barrier: std::sync::Barrier,
}

impl ClientHandler for Together {
    fn handle(&self, _: &NodeId, request: &[u8]) -> Vec<u8> {
        if request.first() == Some(&b'B') {
            self.barrier.wait();
        }
        request.iter().rev().copied().collect()
    }

    fn stream(&self, _: &NodeId, request: &[u8]) -> Option<Box<dyn ResponseStream>> {
        (request.first() == Some(&b'S')).then(|| Box::new(Counting(0)) as Box<dyn ResponseStream>)
    }
}

/// Yields 0, 1, 2 (one byte each), then ends.
struct Counting(u8);

impl ResponseStream for Counting {
    fn poll_next(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Option<Vec<u8>>> {
        let n = self.0;
        self.0 += 1;
        std::task::Poll::Ready((n < 3).then(|| vec![n]))
    }

    fn heartbeat(&mut self) -> Option<Vec<u8>> {
        None
    }
}

/// Many calls in flight on one connection are served concurrently and
/// each answer finds its call by id, whatever order they finish in.
/// Before, a connection was served one request at a time (the eight calls
/// that wait for each other never finished).
#[test]
fn calls_on_one_connection_run_together_and_answers_find_their_call() {
    let ca = DevCa::new("ca").unwrap();
    let mut cfg = TcpConfig::new(local(), tls(&ca, "node-1"));
    cfg.client_handler = Some(Arc::new(Together {
        barrier: std::sync::Barrier::new(8),
    }));
    let t = TcpTransport::bind(cfg).unwrap();
    let addr = t.local_addr().to_string();
    let t5 = Duration::from_secs(5);
    let mut c = connect_client(&addr, &tls(&ca, "ops"), t5).unwrap();
    let requests: Vec<Vec<u8>> = (0..8).map(|i| format!("B{i}x").into_bytes()).collect();
    let answers = c
        .call_all(&requests, t5)
        .expect("calls waiting for each other");
    for (q, a) in requests.iter().zip(&answers) {
        let mut want = q.clone();
        want.reverse();
        assert_eq!(a, &want);
    }
    // Past the per-connection bound: the connection is read as calls end.
    let many: Vec<Vec<u8>> = (0..1000u32).map(|i| format!("x{i}").into_bytes()).collect();
    let answers = c.call_all(&many, t5).unwrap();
    assert_eq!(answers.len(), 1000);
    for (q, a) in many.iter().zip(&answers) {
        assert_eq!(a.iter().rev().copied().collect::<Vec<_>>(), *q);
    }
    // The first protocol on the same connection still answers in order.
    assert_eq!(c.request(b"ab", t5).unwrap(), b"ba");
    assert_eq!(t.stats().client_requests, 1009);
}

/// A streaming call's responses carry its call id; the stream ends and the
/// connection goes on serving.
#[test]
fn a_streaming_call_replies_with_its_id_and_the_connection_goes_on() {
    let ca = DevCa::new("ca").unwrap();
    let mut cfg = TcpConfig::new(local(), tls(&ca, "node-1"));
    cfg.client_handler = Some(Arc::new(Together {
        barrier: std::sync::Barrier::new(1),
    }));
    let t = TcpTransport::bind(cfg).unwrap();
    let addr = t.local_addr().to_string();
    let t5 = Duration::from_secs(5);
    let mut c = FrameConnection::dial(&addr, &tls(&ca, "ops"), HelloRole::Client, t5).unwrap();
    c.send_frame(FrameKind::ClientCall, &wire::call_payload(7, b"S"))
        .unwrap();
    c.send_frame(FrameKind::ClientCall, &wire::call_payload(8, b"xy"))
        .unwrap();
    let mut streamed = Vec::new();
    let mut other = None;
    while streamed.len() < 3 || other.is_none() {
        let Some((FrameKind::ClientReply, p)) = c.read_frame(t5).unwrap() else {
            panic!("expected a ClientReply");
        };
        let (id, body) = wire::split_call(&p).unwrap();
        match id {
            7 => streamed.push(body.to_vec()),
            8 => other = Some(body.to_vec()),
            _ => panic!("a reply to call {id}"),
        }
    }
    assert_eq!(streamed, vec![vec![0], vec![1], vec![2]]);
    assert_eq!(other.as_deref(), Some(&b"yx"[..]));
}

/// A member holds many more client connections than it has threads: 600
/// clients (each with a request answered) are open at once on a runtime of
/// two threads. Before, each took a thread and 64 inbound slots bounded
/// them.
#[test]
fn many_client_connections_are_held_without_a_thread_each() {
    let id = NodeId::from_certificate_subject("CN=x").unwrap();
    let sec = Security::Insecure { identity: id };
    let mut cfg = TcpConfig::new(local(), sec.clone());
    cfg.client_threads = 2;
    cfg.max_client_connections_per_identity = 1000;
    cfg.client_handler = Some(Arc::new(Nop));
    let t = TcpTransport::bind(cfg).unwrap();
    let addr = t.local_addr().to_string();
    let t5 = Duration::from_secs(5);
    // Three descriptors a connection (the client's, the member's and the
    // clone shutdown cuts), beside the other tests'.
    let _ = crate::transport::raise_open_file_limit();
    let threads_before = threads_of_this_process();
    let mut clients: Vec<_> = (0..600)
        .map(|_| connect_client(&addr, &sec, t5).expect("a client is let in"))
        .collect();
    for c in &mut clients {
        assert_eq!(c.request(b"", t5).unwrap(), Vec::<u8>::new());
    }
    let stats = t.stats();
    assert_eq!(stats.client_connections, 600, "{stats:?}");
    let grew = threads_of_this_process().saturating_sub(threads_before);
    assert!(grew < 50, "{grew} more threads for 600 connections");
}

fn threads_of_this_process() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}
