//! Writes the seed inputs under `corpus/<target>/seed-*`: small valid
//! inputs of every kind each target decodes, so that a short run starts
//! from meaningful bytes. Run from `fuzz/` after a format changes:
//! `cargo run --example seeds` (reproducers of fixed defects, `crash-*`,
//! are kept as they are).

use std::fs;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use raft::eraftpb::{ConfState, Entry, HardState};
use raft::eraftpb::{Message, MessageType};
use synod::catalog::AuditRecord;
use synod::entry::{ClientId, Proposal, ProposalSession};
use synod::node::protocol::{ClientError, Request, Response, StatusInfo};
use synod::storage::record::{self, SegmentHead};
use synod::transport::wire::{
    call_payload, encode_hello, encode_hello_ack, encode_message, encode_who_is,
    encode_who_is_answer, frame, snapshot_frames, FrameKind, Hello, HelloRole, WhoIs, WhoIsAnswer,
    WhoIsMember,
};
use synod::{
    Catalog, CatalogVersion, Committed, ControlPlaneEntry, Epoch, FenceStatus,
    ForcedOwnershipTransition, Index, InitialMember, LeaderHint, MemberKind, MembershipChange,
    NodeId, OwnershipTransition, ProposeError, Term,
};
use synod_fuzz::{framed_records, genesis_file, genesis_segment, genesis_snapshot};

fn id(s: &str) -> NodeId {
    s.parse().expect("a valid identity")
}

/// One of each entry kind.
fn entries() -> Vec<(&'static str, ControlPlaneEntry)> {
    vec![
        (
            "admit",
            ControlPlaneEntry::Membership(MembershipChange::Admit {
                member: id("CN=node-d"),
                kind: MemberKind::Data,
                address: "127.0.0.1:7404".parse().expect("an address"),
            }),
        ),
        (
            "transition",
            ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
                range: "users:[0,1000)".parse().expect("a range"),
                new_owner: id("CN=node-a"),
                epoch: Epoch(1),
            }),
        ),
        (
            "forced",
            ControlPlaneEntry::ForcedOwnershipTransition(ForcedOwnershipTransition {
                range: "users:[0,1000)".parse().expect("a range"),
                new_owner: id("CN=node-b"),
                operator: id("CN=ops"),
                reason: "node-a is gone".parse().expect("a reason"),
            }),
        ),
        (
            "leader",
            ControlPlaneEntry::LeaderConfiguration {
                term: Term(2),
                leader: id("CN=node-a"),
            },
        ),
        (
            "drain",
            ControlPlaneEntry::Membership(MembershipChange::BeginDrain {
                member: id("CN=node-d"),
            }),
        ),
        (
            "remove",
            ControlPlaneEntry::Membership(MembershipChange::Remove {
                member: id("CN=node-d"),
            }),
        ),
    ]
}

/// A catalog with members, ranges, an audit record, a client session and a
/// departed member.
fn busy_catalog() -> Catalog {
    let member = |name: &str, kind, port: u16| InitialMember {
        id: id(name),
        kind,
        address: format!("127.0.0.1:{port}").parse().expect("an address"),
    };
    let mut c = Catalog::bootstrap(&[
        member("CN=node-a", MemberKind::Data, 7401),
        member("CN=node-b", MemberKind::Data, 7402),
        member("CN=node-w", MemberKind::Witness, 7403),
    ])
    .expect("bootstrap");
    c.skip(Index(1), Term(1)).expect("genesis");
    let session = ProposalSession {
        client: ClientId(0x0123_4567_89ab_cdef_0011_2233_4455_6677),
        seq: 1,
    };
    let mut index = 1;
    for (i, (_, e)) in entries().into_iter().enumerate() {
        index += 1;
        let proposal = Proposal {
            session: (i == 3).then_some(session),
            entry: e,
        };
        c.apply_proposal(Index(index), Term(2), &proposal)
            .expect("apply");
    }
    c
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    fs::create_dir_all(&dir).expect("create the corpus directory");
    fs::write(dir.join(format!("seed-{name}")), bytes).expect("write a seed");
}

fn client_requests() {
    let range = || "users:[0,1000)".parse().expect("a range");
    let mut requests = vec![
        ("status", Request::Status),
        (
            "owner",
            Request::Owner {
                range: range(),
                linearizable: true,
            },
        ),
        (
            "fence-check",
            Request::FenceCheck {
                range: range(),
                owner: id("CN=node-a"),
                epoch: Epoch(3),
                linearizable: false,
            },
        ),
        ("members", Request::Members { linearizable: true }),
        (
            "ranges",
            Request::Ranges {
                after: Some(range()),
                limit: 100,
                linearizable: false,
            },
        ),
        ("audit", Request::Audit { linearizable: true }),
        (
            "transfer",
            Request::TransferLeader {
                to: id("CN=node-b"),
            },
        ),
        ("metrics", Request::Metrics),
    ];
    for (i, (name, entry)) in entries().into_iter().enumerate() {
        let session = (i % 2 == 0).then_some(ProposalSession {
            client: ClientId(u128::MAX - 7),
            seq: 42,
        });
        let name = if session.is_some() {
            format!("propose-session-{name}")
        } else {
            format!("propose-{name}")
        };
        requests.push((
            Box::leak(name.into_boxed_str()),
            Request::Propose {
                entry,
                session,
                timeout_ms: 5000,
            },
        ));
    }
    for (name, r) in &requests {
        write("client_requests", name, &r.encode());
    }
    let hello = Hello {
        role: HelloRole::Client,
        identity: Some(id("CN=client")),
    };
    let mut stream = frame(FrameKind::Hello, &encode_hello(&hello));
    for (_, r) in requests.iter().take(3) {
        stream.extend_from_slice(&frame(FrameKind::ClientRequest, &r.encode()));
    }
    write("client_requests", "stream", &stream);
    // Calls in flight on one connection: call ids, then the requests.
    let mut calls = frame(FrameKind::Hello, &encode_hello(&hello));
    for (n, (_, r)) in requests.iter().take(3).enumerate() {
        calls.extend_from_slice(&frame(
            FrameKind::ClientCall,
            &call_payload(n as u64 + 1, &r.encode()),
        ));
    }
    write("wire_frames", "client-calls", &calls);
}

fn client_responses() {
    let c = busy_catalog();
    let at = Index(7);
    let leader = LeaderHint {
        id: id("CN=node-a"),
        address: Some("127.0.0.1:7401".parse().expect("an address")),
    };
    let ranges: Vec<_> = c.ranges().map(|(r, o)| (r.clone(), o.clone())).collect();
    let audit: Vec<AuditRecord> = c.audit_log().iter().cloned().collect();
    let responses = vec![
        (
            "status",
            Response::Status(StatusInfo {
                id: id("CN=node-a"),
                peer_id: 1,
                role: "leader".into(),
                term: Term(2),
                leader: Some(leader.clone()),
                commit: at,
                applied: at,
                version: c.version(),
                voters: vec![1, 2, 3],
                learners: vec![4],
                peers: vec![synod::node::protocol::PeerInfo {
                    peer_id: 2,
                    id: Some(id("CN=node-b")),
                    address: Some("127.0.0.1:7002".parse().unwrap()),
                    voter: true,
                    progress: Some((at, 1)),
                }],
            }),
        ),
        (
            "owner",
            Response::Owner(ranges.first().map(|(_, o)| o.clone()), at),
        ),
        ("owner-none", Response::Owner(None, at)),
        ("fence-current", Response::Fence(FenceStatus::Current, at)),
        ("fence-unknown", Response::Fence(FenceStatus::Unknown, at)),
        (
            "fence-stale",
            Response::Fence(
                FenceStatus::Stale {
                    owner: id("CN=node-b"),
                    epoch: Epoch(2),
                },
                at,
            ),
        ),
        (
            "members",
            Response::Members(c.members().cloned().collect(), at),
        ),
        ("ranges", Response::Ranges(ranges, true, at)),
        ("audit", Response::Audit(audit, at)),
        (
            "committed",
            Response::Committed(Committed {
                index: at,
                term: Term(2),
                version: CatalogVersion(5),
                changed: true,
            }),
        ),
        ("done", Response::Done),
        ("metrics", Response::Metrics("synod_term 2\n".into())),
        (
            "not-leader",
            Response::Error(
                ProposeError::NotLeader {
                    leader: Some(leader),
                }
                .into(),
            ),
        ),
        ("no-quorum", Response::Error(ProposeError::NoQuorum.into())),
        (
            "timeout",
            Response::Error(ProposeError::Timeout(Duration::from_millis(1500)).into()),
        ),
        (
            "refused",
            Response::Error(
                ProposeError::Refused {
                    refusal: synod::Refusal::StaleEpoch {
                        range: "users:[0,1000)".parse().expect("a range"),
                        current: Epoch(2),
                        proposed: Epoch(1),
                    },
                    at: Some((at, Term(2))),
                }
                .into(),
            ),
        ),
        ("shutdown", Response::Error(ProposeError::Shutdown.into())),
        (
            "storage",
            Response::Error(ProposeError::Storage("disk full".into()).into()),
        ),
        (
            "unauthorized",
            Response::Error(ClientError::Unauthorized {
                identity: id("CN=reader"),
                action: "propose".into(),
            }),
        ),
        (
            "bad-request",
            Response::Error(ClientError::BadRequest("unknown tag".into())),
        ),
        (
            "indeterminate",
            Response::Error(ProposeError::Indeterminate("lost the connection".into()).into()),
        ),
        (
            "not-transferred",
            Response::Error(ProposeError::NotTransferred("no election".into()).into()),
        ),
    ];
    for (name, r) in &responses {
        write("client_responses", name, &r.encode());
    }
    let mut stream = frame(FrameKind::HelloAck, &encode_hello_ack());
    stream.extend_from_slice(&frame(FrameKind::ClientResponse, &responses[0].1.encode()));
    write("client_responses", "stream", &stream);
}

fn storage_records() {
    let cs = ConfState {
        voters: vec![1, 2, 3],
        learners: vec![4],
        ..Default::default()
    };
    let hs = HardState {
        term: 2,
        vote: 1,
        commit: 1,
        ..Default::default()
    };
    let head = SegmentHead {
        seq: 2,
        last_index: 1,
        snapshot: Some((1, 1)),
        reset: false,
        hard_state: hs.clone(),
        conf_state: cs.clone(),
    };
    // Entries 2.. at term 2 carrying proposals, then a hard state that
    // commits them and a snapshot mark.
    let mut records = Vec::new();
    let mut framed = Vec::new();
    let mut index = 1;
    for (i, (_, e)) in entries().into_iter().enumerate() {
        index += 1;
        let session = (i % 2 == 1).then_some(ProposalSession {
            client: ClientId(9),
            seq: i as u64,
        });
        let entry = Entry {
            index,
            term: 2,
            data: Bytes::from(Proposal { session, entry: e }.encode()),
            ..Default::default()
        };
        records.push(Vec::new());
        record::frame_entry(records.last_mut().expect("pushed"), &entry);
    }
    let commit = HardState {
        commit: index,
        ..hs.clone()
    };
    records.push(Vec::new());
    record::frame_hard_state(records.last_mut().expect("pushed"), &commit);
    records.push(Vec::new());
    record::frame_conf_state(records.last_mut().expect("pushed"), &cs);
    records.push(Vec::new());
    record::frame_snapshot_mark(records.last_mut().expect("pushed"), 1, 1);
    let mut head_record = Vec::new();
    record::frame_head(&mut head_record, &head);

    let payload = |framed: &[u8]| framed[record::HEADER_LEN..].to_vec();
    write("storage_records", "head", &payload(&head_record));
    for (name, r) in ["entry", "hard-state", "conf-state", "snapshot-mark"]
        .iter()
        .zip([&records[0], &records[6], &records[7], &records[8]])
    {
        write("storage_records", name, &payload(r));
    }
    let mut current = Vec::new();
    record::frame_current(&mut current, 1);
    write("storage_records", "current", &current);

    let genesis = genesis_file(&genesis_segment());
    write(
        "storage_records",
        "segment-genesis",
        &[&[0u8][..], genesis].concat(),
    );
    for r in &records {
        framed.extend_from_slice(r);
    }
    write(
        "storage_records",
        "segment-appended",
        &[&[1u8][..], &framed].concat(),
    );
    // Mode 2: each record payload behind a length byte.
    let mut chunks = vec![2u8];
    for r in &records {
        let p = payload(r);
        chunks.push(u8::try_from(p.len()).expect("a short record"));
        chunks.extend_from_slice(&p);
    }
    assert_eq!(framed_records(&chunks[1..]), framed);
    write("storage_records", "segment-records", &chunks);
}

fn snapshot_files() {
    let genesis = genesis_file(&genesis_snapshot());
    let file = record::decode_snapshot_file(genesis.to_vec()).expect("genesis");
    write("snapshot_files", "catalog-genesis", &file.data);
    write("snapshot_files", "file-genesis", genesis);
    write(
        "snapshot_files",
        "store-file-genesis",
        &[&[0u8][..], genesis].concat(),
    );
    let busy = busy_catalog().encode_snapshot();
    write("snapshot_files", "catalog-busy", &busy);
    let (index, term) = busy_catalog().applied();
    write(
        "snapshot_files",
        "file-busy",
        &record::encode_snapshot_file(index.0, term.0, &file.conf_state, &busy),
    );
    write(
        "snapshot_files",
        "store-catalog-genesis",
        &[&[1u8][..], &file.data].concat(),
    );
}

fn config_file() {
    let configs = [
        (
            "mutual",
            r#"id = "CN=node-a,O=Acme"
listen = "127.0.0.1:7401"
data_dir = "data/a"

[tls]
cert = "certs/node-a.pem"
key = "certs/node-a-key.pem"
ca = "/etc/synod/ca.pem"
deny = ["CN=old-client"]
crl = "certs/ca.crl.pem"

[cluster]
bootstrap = [
  { id = "CN=node-a,O=Acme", kind = "data", address = "127.0.0.1:7401" },
  { id = "CN=node-b,O=Acme", address = "10.0.0.2:7401" },
  { id = "CN=node-w,O=Acme", kind = "witness", address = "[::1]:7403" },
]

[authorization]
readers = ["CN=reader"]
proposers = ["CN=app"]
operators = ["CN=ops"]

[engine]
tick_ms = 20
heartbeat_ticks = 2
election_ticks = 15
snapshot_every = 5000
max_learner_lag = 32

[admin]
metrics_listen = "9401"

[transport]
max_inbound = 32
max_client_connections_per_identity = 8
"#,
        ),
        (
            "insecure-join",
            r#"id = "CN=node-d"
listen = "localhost:7404"
data_dir = "/var/lib/synod/d"

[tls]
insecure = true

[cluster]
join = "127.0.0.1:7401"
"#,
        ),
        (
            "insecure-exposed",
            r#"id = "CN=node-e"
listen = "0.0.0.0:7405"
data_dir = "e"
[tls]
insecure = true
allow_insecure_non_loopback = true
[cluster]
bootstrap = [{ id = "CN=node-e", address = "0.0.0.0:7405" }]
[admin]
metrics_listen = "[::]:9405"
"#,
        ),
    ];
    for (name, text) in configs {
        synod::node::config::NodeConfig::parse(text, &synod_fuzz::config_path())
            .unwrap_or_else(|e| panic!("seed {name} is refused: {e}"));
        write("config_file", name, text.as_bytes());
    }
}

fn wire_frames() {
    let mut heartbeat = Message::default();
    heartbeat.set_msg_type(MessageType::MsgHeartbeat);
    heartbeat.to = 2;
    heartbeat.from = 1;
    heartbeat.term = 3;
    heartbeat.commit = 5;
    let mut append = Message::default();
    append.set_msg_type(MessageType::MsgAppend);
    append.to = 2;
    append.from = 1;
    append.term = 3;
    append.log_term = 3;
    append.index = 5;
    append.commit = 5;
    append.set_entries(
        vec![Entry {
            index: 6,
            term: 3,
            data: Bytes::from(Proposal::bare(entries().remove(1).1).encode()),
            ..Default::default()
        }]
        .into(),
    );
    let mut snapshot = Message::default();
    snapshot.set_msg_type(MessageType::MsgSnapshot);
    snapshot.to = 2;
    snapshot.from = 1;
    snapshot.term = 3;
    let meta = snapshot.mut_snapshot().mut_metadata();
    meta.index = 7;
    meta.term = 3;
    meta.mut_conf_state().voters = vec![1, 2, 3];
    snapshot.mut_snapshot().data = Bytes::from(busy_catalog().encode_snapshot());
    let encoded = |m: &Message| encode_message(m).expect("an encodable message");

    let hello = Hello {
        role: HelloRole::Peer { peer_id: 1 },
        identity: Some(id("CN=node-a")),
    };
    let mut peer = frame(FrameKind::Hello, &encode_hello(&hello));
    peer.extend_from_slice(&frame(FrameKind::Raft, &encoded(&heartbeat)));
    peer.extend_from_slice(&frame(FrameKind::Raft, &encoded(&append)));
    write("wire_frames", "peer-stream", &peer);
    write("wire_frames", "message-append", &encoded(&append));
    let mut who = frame(FrameKind::HelloAck, &encode_hello_ack());
    who.extend_from_slice(&frame(
        FrameKind::WhoIs,
        &encode_who_is(&WhoIs { peer_id: 4 }),
    ));
    who.extend_from_slice(&frame(
        FrameKind::WhoIsAnswer,
        &encode_who_is_answer(&WhoIsAnswer {
            peer_id: 4,
            member: Some(WhoIsMember {
                identity: id("CN=node-d"),
                address: "127.0.0.1:7404".parse().expect("an address"),
            }),
        }),
    ));
    write("wire_frames", "who-is-stream", &who);
    let chunks: Vec<u8> = snapshot_frames(1, &encoded(&snapshot), 256)
        .flatten()
        .collect();
    write("wire_frames", "snapshot-stream", &chunks);
}

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    if let Ok(dirs) = fs::read_dir(&corpus) {
        for file in dirs
            .flatten()
            .filter_map(|d| fs::read_dir(d.path()).ok())
            .flatten()
            .flatten()
        {
            if file.file_name().to_string_lossy().starts_with("seed-") {
                fs::remove_file(file.path()).expect("remove an old seed");
            }
        }
    }
    client_requests();
    client_responses();
    storage_records();
    snapshot_files();
    config_file();
    wire_frames();
}
