//! The library never raises SIGPIPE in its host. A C/C++ host does not
//! ignore SIGPIPE the way Rust's own `main` does, so a write to a peer or a
//! member that died must come back as an error, never as a signal that kills
//! the whole process.
//!
//! Each test re-runs itself in a child process whose SIGPIPE disposition is
//! the default (terminate), as in a C host, and checks the child was not
//! killed by the signal.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use raft::eraftpb::{Message, MessageType};
use synod::transport::certs::write_dev_certs;
use synod::transport::tcp::{connect_client, ClientHandler, TcpConfig, TcpTransport};
use synod::transport::tls::TlsConfig;
use synod::transport::{Peer, Security, Transport};
use synod::NodeId;

const CHILD: &str = "SYNOD_SIGPIPE_CHILD";
const T: Duration = Duration::from_secs(5);

/// Runs `test` in a child with SIGPIPE at its default disposition.
fn in_a_c_like_host(test: &str, body: fn()) {
    if std::env::var_os(CHILD).is_some_and(|v| v == test) {
        // SAFETY: setting a signal disposition in this single-purpose
        // child process, before any library thread starts.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        body();
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, test)
        .output()
        .unwrap();
    assert_ne!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "the host was killed by SIGPIPE\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "child failed: {:?}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn security(dir: &std::path::Path, name: &str) -> Security {
    Security::Tls(
        TlsConfig::from_pem_files(
            &dir.join(format!("{name}.pem")),
            &dir.join(format!("{name}-key.pem")),
            &dir.join("ca.pem"),
        )
        .unwrap(),
    )
}

struct Echo;

impl ClientHandler for Echo {
    fn handle(&self, _client: &NodeId, request: &[u8]) -> Vec<u8> {
        request.to_vec()
    }
}

fn client_writes_to_a_member_that_went_away() {
    let dir = tempfile::tempdir().unwrap();
    write_dev_certs(dir.path(), &["node-0".into()], &["ops".into()]).unwrap();
    let cfg = TcpConfig {
        client_handler: Some(Arc::new(Echo)),
        ..TcpConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            security(dir.path(), "node-0"),
        )
    };
    let member = TcpTransport::bind(cfg).unwrap();
    let addr = member.local_addr().to_string();
    let mut client = connect_client(&addr, &security(dir.path(), "ops"), T).unwrap();
    assert_eq!(client.request(b"hello", T).unwrap(), b"hello");
    drop(member);
    // The member is gone: every write is refused by the kernel (EPIPE after
    // the first reset). Each must be an error, not a signal.
    let big = vec![1u8; 256 << 10];
    for _ in 0..20 {
        assert!(client.request(&big, Duration::from_millis(200)).is_err());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn peer_link_writes_to_a_peer_that_died() {
    let dir = tempfile::tempdir().unwrap();
    write_dev_certs(dir.path(), &["node-1".into(), "node-2".into()], &[]).unwrap();
    let bind = |name: &str| {
        TcpTransport::bind(TcpConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            security(dir.path(), name),
        ))
        .unwrap()
    };
    let mut a = bind("node-1");
    let b = bind("node-2");
    let peers = [
        Peer {
            peer_id: 1,
            id: NodeId::from_certificate_subject("CN=node-1").unwrap(),
            address: a.local_addr().to_string().parse().unwrap(),
        },
        Peer {
            peer_id: 2,
            id: NodeId::from_certificate_subject("CN=node-2").unwrap(),
            address: b.local_addr().to_string().parse().unwrap(),
        },
    ];
    a.set_peers(&peers);
    let heartbeat = |n: u64| {
        let mut m = Message::default();
        m.set_msg_type(MessageType::MsgHeartbeat);
        m.from = 1;
        m.to = 2;
        m.term = n;
        m
    };
    for n in 0..50 {
        a.send(heartbeat(n));
    }
    std::thread::sleep(Duration::from_millis(200));
    // The peer dies; the writer keeps writing to the broken connection.
    drop(b);
    for n in 50..2000 {
        a.send(heartbeat(n));
        if n % 50 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    drop(a);
}

#[test]
fn a_client_writing_to_a_dead_member_gets_an_error_not_sigpipe() {
    in_a_c_like_host(
        "a_client_writing_to_a_dead_member_gets_an_error_not_sigpipe",
        client_writes_to_a_member_that_went_away,
    );
}

#[test]
fn a_member_writing_to_a_dead_peer_gets_an_error_not_sigpipe() {
    in_a_c_like_host(
        "a_member_writing_to_a_dead_peer_gets_an_error_not_sigpipe",
        peer_link_writes_to_a_peer_that_died,
    );
}
