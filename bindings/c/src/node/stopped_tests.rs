//! A started member that stopped on a storage failure answers every call
//! `SYNOD_ERR_STORAGE` (the C tests cover a shut-down member; the C API
//! has no hook to break a member's disk).

use std::ffi::c_char;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use synod::engine::EngineConfig;
use synod::storage::sim::{Fault, SimDisk};
use synod::storage::{DurableStore, StoreOptions};
use synod::transport::memory::MemoryNetwork;
use synod::{ControlPlaneConsensus, InitialMember, MemberKind, Node, NodeId, NodeOptions};

use super::*;
use crate::error::{synod_last_error_status, SYNOD_ERR_STORAGE, SYNOD_OK};

const ME: &str = "CN=c-storage";

fn wait(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "{what}: not within 10 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_member_whose_store_failed_answers_storage_to_every_call() {
    let me = NodeId::from_certificate_subject(ME).unwrap();
    let dir = Path::new("/sim/c-storage");
    let disk = SimDisk::new();
    DurableStore::bootstrap(
        Arc::new(disk.clone()),
        dir,
        StoreOptions::default(),
        &[InitialMember {
            id: me.clone(),
            kind: MemberKind::Data,
            address: "mem:0".parse().unwrap(),
        }],
    )
    .unwrap();
    let (store, _) =
        DurableStore::open(Arc::new(disk.clone()), dir, StoreOptions::default()).unwrap();
    let mut opts = NodeOptions::new(me.clone());
    opts.engine = EngineConfig {
        tick_interval: Duration::from_millis(10),
        ..EngineConfig::default()
    };
    let net = MemoryNetwork::new();
    let member = Arc::new(Node::start(opts, store, move |inbox| net.join(1, inbox)).unwrap());
    wait("the member leads", || member.is_leader());
    let stopper = Arc::clone(&member);
    let node = synod_node {
        engine: member.clone(),
        stop: Box::new(move || stopper.shutdown()),
        shut_down: AtomicBool::new(false),
        inline_callbacks: false,
        id: std::ffi::CString::new(ME).unwrap(),
        reload: None,
    };
    let range = c"r".as_ptr();
    let owner = c"CN=c-storage".as_ptr();
    let mut commit = synod_commit {
        index: 0,
        term: 0,
        version: 0,
        changed: false,
    };
    unsafe {
        assert_eq!(
            synod_node_propose_transition(&node, range, owner, 1, 5000, &mut commit),
            SYNOD_OK
        );
    }

    // The disk dies; the next write stops the member.
    disk.set_fault(Some(Fault {
        at_op: disk.stats().ops,
        then_dead: true,
    }));
    unsafe {
        assert_eq!(
            synod_node_propose_transition(&node, range, owner, 2, 5000, &mut commit),
            SYNOD_ERR_STORAGE
        );
    }
    wait("the member stops", || member.stopped().is_some());

    let sentinel = std::ptr::dangling_mut::<synod_ownership>();
    let mut own = sentinel;
    let mut list = std::ptr::dangling_mut::<synod_member_list>();
    let mut fence: synod_fence_status = 0xdead;
    let (mut leader, mut n) = (true, 42u64);
    unsafe {
        assert_eq!(synod_node_owner(&node, range, &mut own), SYNOD_ERR_STORAGE);
        assert_eq!(
            synod_node_owner(&node, c"never".as_ptr() as *const c_char, &mut own),
            SYNOD_ERR_STORAGE
        );
        assert_eq!(synod_node_members(&node, &mut list), SYNOD_ERR_STORAGE);
        assert_eq!(
            synod_node_fence_check(&node, range, owner, 1, &mut fence),
            SYNOD_ERR_STORAGE
        );
        assert_eq!(synod_node_is_leader(&node, &mut leader), SYNOD_ERR_STORAGE);
        assert_eq!(synod_node_current_term(&node, &mut n), SYNOD_ERR_STORAGE);
        assert_eq!(synod_node_commit_index(&node, &mut n), SYNOD_ERR_STORAGE);
        assert_eq!(
            synod_node_propose_transition_async(
                &node,
                range,
                owner,
                3,
                1000,
                Some(never_called),
                std::ptr::null_mut(),
                None
            ),
            SYNOD_ERR_STORAGE
        );
    }
    assert_eq!(synod_last_error_status(), SYNOD_ERR_STORAGE);
    assert_eq!(own, sentinel);
    assert_eq!(list, std::ptr::dangling_mut::<synod_member_list>());
    assert_eq!((fence, leader, n), (0xdead, true, 42));
    // Shutting it down afterwards keeps the fatal status.
    unsafe {
        assert_eq!(synod_node_shutdown(&node), SYNOD_OK);
        assert_eq!(synod_node_members(&node, &mut list), SYNOD_ERR_STORAGE);
    }
}

unsafe extern "C" fn never_called(
    _: *mut std::ffi::c_void,
    _: crate::error::synod_status,
    _: *const synod_commit,
) {
    panic!("a callback ran on a stopped member");
}
