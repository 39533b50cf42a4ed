//! `synod inspect` end to end: a real data directory, text and JSON, and
//! exit code 2 with a clear error on damage.

#![allow(clippy::field_reassign_with_default)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use raft::eraftpb::{Entry, HardState};
use synod::catalog::InitialMember;
use synod::storage::store::snapshot_name;
use synod::storage::{DurableStore, RealDisk, StoreOptions, GENESIS_INDEX, GENESIS_TERM};
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
    // The log starts right after the genesis snapshot.
    let mut noop = Entry::default();
    noop.index = GENESIS_INDEX + 1;
    noop.term = 1;
    let mut config = Entry::default();
    config.index = GENESIS_INDEX + 2;
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
    hs.commit = GENESIS_INDEX + 2;
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
    let (first, last) = (GENESIS_INDEX + 1, GENESIS_INDEX + 2);
    assert!(
        text.contains(&format!("term 1, vote 2, commit {last}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("first index {first}, last index {last}")),
        "{text}"
    );
    assert!(text.contains("CN=b (term 1)"), "{text}");

    let out = synod(&["inspect", dir, "--json"]);
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["hard_state"]["commit"], last);
    assert_eq!(v["last_index"], last);
    assert_eq!(v["snapshot"]["index"], GENESIS_INDEX);
    assert_eq!(v["snapshot"]["term"], GENESIS_TERM);
    assert_eq!(v["conf_state"]["voters"], serde_json::json!([1, 2, 3]));
    assert_eq!(v["catalog"]["members"].as_array().unwrap().len(), 3);
    assert_eq!(v["catalog"]["ranges"], 0);
    assert_eq!(v["catalog"]["applied_index"], last);
}

#[test]
fn inspect_of_a_damaged_directory_exits_2_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    build(tmp.path());
    // The genesis snapshot, the one the log refers to.
    let name = snapshot_name(GENESIS_INDEX);
    let snap = tmp.path().join(&name);
    assert!(snap.exists(), "{}", snap.display());
    std::fs::write(&snap, b"garbage").unwrap();
    let out = synod(&["inspect", tmp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(&name), "{err}");
    assert!(err.contains("offset"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let out = synod(&["inspect", "/nonexistent/synod/dir", "--json"]);
    assert_eq!(out.status.code(), Some(2));
}
