//! One frame from any member must not take the receiver down. Frames that
//! would reach one of raft-rs's fatal checks (a panic) are refused before
//! raft sees them.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use raft::eraftpb::{Entry, Message, MessageType};
use synod::catalog::InitialMember;
use synod::engine::{EngineConfig, EngineError, Replica};
use synod::storage::{DurableStore, RealDisk, StoreOptions};
use synod::{MemberKind, NodeId};

fn member(dir: &std::path::Path) -> Replica<DurableStore> {
    let id = NodeId::from_certificate_subject("CN=node-1").unwrap();
    let initial = [InitialMember {
        id: id.clone(),
        kind: MemberKind::Data,
        address: "127.0.0.1:7001".parse().unwrap(),
    }];
    DurableStore::bootstrap(Arc::new(RealDisk), dir, StoreOptions::default(), &initial).unwrap();
    let (store, _) = DurableStore::open(Arc::new(RealDisk), dir, StoreOptions::default()).unwrap();
    Replica::open(EngineConfig::default(), id, None, store, 7).unwrap()
}

fn from_peer_2(ty: MessageType, term: u64) -> Message {
    let mut m = Message::default();
    m.set_msg_type(ty);
    m.from = 2;
    m.to = 1;
    m.term = term;
    m
}

fn refused(r: &mut Replica<DurableStore>, m: Message) {
    match catch_unwind(AssertUnwindSafe(|| r.step(m))) {
        Ok(Err(EngineError::Refused(why))) => assert!(!why.is_empty()),
        Ok(other) => panic!("expected a refusal, got {other:?}"),
        Err(_) => panic!("the frame reached a raft-rs panic"),
    }
}

#[test]
fn a_heartbeat_committing_beyond_the_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = member(dir.path());
    let mut m = from_peer_2(MessageType::MsgHeartbeat, 9);
    m.commit = 1_000_000;
    refused(&mut r, m);
    // The member still works: it leads its one-member cluster.
    let mut sink = Vec::new();
    for _ in 0..50 {
        r.tick();
        r.process_ready(&mut sink).unwrap();
    }
}

#[test]
fn an_append_contradicting_a_committed_entry_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = member(dir.path());
    let mut sink = Vec::new();
    for _ in 0..50 {
        r.tick();
        r.process_ready(&mut sink).unwrap();
    }
    let committed = r.status().commit.0;
    assert!(committed >= 2, "the leader committed its configuration");
    // Rewrites the committed entry at `committed` with another term (the
    // entries do not follow the index they claim to follow).
    let mut m = from_peer_2(MessageType::MsgAppend, 99);
    m.index = committed;
    m.log_term = r.store().term(committed).unwrap();
    m.mut_entries().push(Entry {
        index: committed,
        term: 98,
        ..Entry::default()
    });
    m.commit = committed;
    refused(&mut r, m);
}
