//! Tests of the TCP transport's own pieces: the dialer's identity check,
//! the inbound connection limit and prompt shutdown.

use std::time::Instant;

use super::dialer::dial;
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
    cfg.max_inbound = 1;
    cfg.client_handler = Some(Arc::new(Nop));
    let t = TcpTransport::bind(cfg).unwrap();
    let addr = t.local_addr().to_string();
    let t5 = Duration::from_secs(5);
    let mut first = connect_client(&addr, &sec, t5).unwrap();
    assert!(connect_client(&addr, &sec, t5).is_err());
    assert_eq!(t.stats().refused_connections, 1);
    assert_eq!(first.request(b"", t5).unwrap(), Vec::<u8>::new());
    drop(first);
    let deadline = Instant::now() + t5;
    while t.stats().inbound_connections > 0 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(connect_client(&addr, &sec, t5).is_ok());
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
