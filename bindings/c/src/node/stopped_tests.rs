//! A started member that stopped on a storage failure answers every call
//! `SYNOD_ERR_STORAGE`, and ends its watches with a `SYNOD_WATCH_END` that
//! says so (the C tests cover a shut-down member; the C API has no hook to
//! break a member's disk).

use std::ffi::c_char;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
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
        member: Some(member.clone()),
        watches: std::sync::Mutex::new(Vec::new()),
        host: None,
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

    // A watch that is running when the member stops on its own.
    let ended = Box::into_raw(Box::new(WatchEnd::default()));
    let mut watch = std::ptr::null_mut();
    unsafe {
        assert_eq!(
            synod_node_watch(
                &node,
                1,
                std::ptr::null(),
                Some(on_watch_event),
                ended.cast(),
                Some(on_watch_free),
                &mut watch
            ),
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
    // The watch ended by itself with why, then released its user data.
    // SAFETY: freed only by `on_watch_free`, which sets `freed` last.
    let end = unsafe { &*ended };
    wait("the watch ends", || end.freed.load(Ordering::SeqCst) == 1);
    assert_eq!(end.end_status.load(Ordering::SeqCst), SYNOD_ERR_STORAGE);
    assert_eq!(end.ends.load(Ordering::SeqCst), 1);

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
        let mut view = std::ptr::dangling_mut::<synod_view>();
        assert_eq!(
            synod_node_read(&node, SYNOD_READ_LOCAL, 0, 0, &mut view),
            SYNOD_ERR_STORAGE
        );
        assert_eq!(view, std::ptr::dangling_mut::<synod_view>());
        let mut status = std::ptr::dangling_mut::<synod_replica_status>();
        assert_eq!(synod_node_status(&node, &mut status), SYNOD_ERR_STORAGE);
        let mut leader_out = std::ptr::dangling_mut::<synod_leader>();
        assert_eq!(synod_node_leader(&node, &mut leader_out), SYNOD_ERR_STORAGE);
        assert_eq!(synod_node_wait_applied(&node, 1, 100), SYNOD_ERR_STORAGE);
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
        // The ended watch: cancelling does nothing more, freeing releases it.
        assert_eq!(synod_watch_cancel(watch), SYNOD_OK);
        synod_watch_free(watch);
        drop(Box::from_raw(ended));
    }
}

#[derive(Default)]
struct WatchEnd {
    ends: AtomicU32,
    end_status: AtomicU32,
    freed: AtomicU32,
}

unsafe extern "C" fn on_watch_event(
    user_data: *mut std::ffi::c_void,
    event: *const synod_watch_event,
) {
    let end = unsafe { &*(user_data as *const WatchEnd) };
    let event = unsafe { &*event };
    if event.kind == SYNOD_WATCH_END {
        end.ends.fetch_add(1, Ordering::SeqCst);
        end.end_status.store(event.status, Ordering::SeqCst);
    }
}

unsafe extern "C" fn on_watch_free(user_data: *mut std::ffi::c_void) {
    let end = unsafe { &*(user_data as *const WatchEnd) };
    end.freed.fetch_add(1, Ordering::SeqCst);
}

unsafe extern "C" fn never_called(
    _: *mut std::ffi::c_void,
    _: crate::error::synod_status,
    _: *const synod_commit,
) {
    panic!("a callback ran on a stopped member");
}
