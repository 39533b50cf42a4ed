//! `synod inspect` end to end: a real data directory, text and JSON, and
//! exit code 2 with a clear error on damage.

#![allow(clippy::field_reassign_with_default)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use raft::eraftpb::{Entry, HardState};
use synod::catalog::InitialMember;
use synod::storage::{DurableStore, RealDisk, StoreOptions};
use synod::{ControlPlaneEntry, MemberKind, NodeId, Term};

fn synod(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_synod"))
        .args(args)
        .output()
        .unwrap()
}

fn build(dir: &Path) {
    let members: Vec<InitialMember> = ["CN=a", "CN=b", "CN=w"]
        .iter()
        .enumerate()
        .map(|(i, n)| InitialMember {
            id: NodeId::from_certificate_subject(n).unwrap(),
            kind: if *n == "CN=w" {
                MemberKind::Witness
            } else {
                MemberKind::Data
            },
            address: format!("10.0.0.{}:7000", i + 1).parse().unwrap(),
        })
        .collect();
    let (mut store, _) =
        DurableStore::bootstrap(Arc::new(RealDisk), dir, StoreOptions::default(), &members)
            .unwrap();
    let mut noop = Entry::default();
    noop.index = 1;
    noop.term = 1;
    let mut config = Entry::default();
    config.index = 2;
    config.term = 1;
    config.data = Bytes::from(
        ControlPlaneEntry::LeaderConfiguration {
            term: Term(1),
            leader: NodeId::from_certificate_subject("CN=b").unwrap(),
        }
        .encode(),
    );
    store.append(&[noop, config]).unwrap();
    let mut hs = HardState::default();
    hs.term = 1;
    hs.vote = 2;
    hs.commit = 2;
    store.set_hard_state(&hs).unwrap();
    store.sync().unwrap();
}

#[test]
fn inspect_prints_text_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path());
    let dir = tmp.path().to_str().unwrap();
    let out = synod(&["inspect", dir]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("term 1, vote 2, commit 2"), "{text}");
    assert!(text.contains("first index 1, last index 2"), "{text}");
    assert!(text.contains("CN=b (term 1)"), "{text}");

    let out = synod(&["inspect", dir, "--json"]);
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["hard_state"]["commit"], 2);
    assert_eq!(v["last_index"], 2);
    assert_eq!(v["snapshot"]["index"], 0);
    assert_eq!(v["conf_state"]["voters"], serde_json::json!([1, 2, 3]));
    assert_eq!(v["catalog"]["members"].as_array().unwrap().len(), 3);
    assert_eq!(v["catalog"]["ranges"], 0);
    assert_eq!(v["catalog"]["applied_index"], 2);
}

#[test]
fn inspect_of_a_damaged_directory_exits_2_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path());
    let snap = tmp.path().join("snap-00000000000000000000.snap");
    std::fs::write(&snap, b"garbage").unwrap();
    let out = synod(&["inspect", tmp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("snap-00000000000000000000.snap"), "{err}");
    assert!(err.contains("offset"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let out = synod(&["inspect", "/nonexistent/synod/dir", "--json"]);
    assert_eq!(out.status.code(), Some(2));
}
