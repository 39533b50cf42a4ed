//! A member on a host's own transport: `synod_node_start_host` starts a
//! member of a replicated cluster whose raft messages travel through the
//! host's networking instead of Synod's TCP listener, `synod_node_deliver`
//! hands it what its peers sent, `synod_node_peer_id` names a member's raft
//! peer id.
//!
//! What it promises: outbound, each message is one frame of the core's wire
//! codec (`synod::transport::host`, the frames the TCP transport writes),
//! handed to the host's send callback on the member's consensus thread;
//! inbound, the core's checks (the frame decodes with our codec, never
//! protobuf; `from` is a current member; the message says `from`), so
//! nothing a host delivers reaches raft unchecked. The send callback never
//! runs after `synod_node_shutdown` returns and its free function runs
//! exactly once.
//! What it does not carry: peer authentication (the host's: it says who
//! sent the bytes), joining a cluster through the host (the admission is
//! asked over TCP by the core), the client service and the metrics
//! listener.

use std::collections::HashMap;
use std::ffi::{c_char, c_void, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use raft::eraftpb::Message;
use synod::node::config::{ClusterStart, NodeConfig};
use synod::storage::{DurableStore, RealDisk, StoreOptions};
use synod::transport::host::{HostHandle, HostSender, HostTransport};
use synod::transport::wire::{FRAME_HEADER_LEN, MAX_FRAME_PAYLOAD};
use synod::transport::{Inbox, Peer, Transport, TransportError};
use synod::{ControlPlaneConsensus, Node, NodeOptions};

use super::handle::{node_arg, running_member, synod_node, write_out};
use super::propose::synod_free_callback;
use crate::config::synod_config;
use crate::error::{
    c_string, out_arg, synod_status, Error, SYNOD_ERR_INVALID_ARGUMENT, SYNOD_ERR_NOT_FOUND,
    SYNOD_ERR_OVERLOADED, SYNOD_ERR_SHUTDOWN, SYNOD_ERR_START, SYNOD_ERR_STORAGE,
    SYNOD_ERR_UNAUTHORIZED,
};
use crate::identity::identity_arg;

/// Hands one outbound message of a member started with
/// `synod_node_start_host` to the host.
///
/// `user_data` is the pointer given to `synod_node_start_host`;
/// `to_peer_id` the raft peer id of the destination and `to_identity` its
/// identity (NUL-terminated, or NULL if the member does not know it); both
/// borrowed for the call only. `bytes[0..len)` is one complete frame of
/// Synod's wire codec, valid during the call only: the host copies it and
/// carries it, unchanged and whole, to that member, whose host passes it to
/// `synod_node_deliver` with this member's peer id as `from`. Frames may be
/// lost, duplicated or reordered (raft retries); a frame must never be cut
/// or merged with another.
///
/// Runs on the member's consensus thread, one call at a time, never after
/// `synod_node_shutdown` of the member returns. While it runs the member
/// does nothing else: copy, queue, return (drop under pressure: raft
/// retries). It may call `synod_node_deliver` on any node, the member's
/// own included, and the node's non-blocking functions; it must not wait
/// for the member (its blocking calls, `synod_node_propose_*`, reads at a
/// level, `synod_node_wait_applied`, would wait until their timeout), and
/// must not shut it down (`synod_node_shutdown` answers
/// `SYNOD_ERR_INVALID_ARGUMENT`) or free it.
pub type synod_host_send_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        to_peer_id: u64,
        to_identity: *const c_char,
        bytes: *const u8,
        len: usize,
    ),
>;

/// The largest `len` `synod_node_deliver` takes: one frame header and the
/// largest payload of the wire codec.
pub const SYNOD_HOST_MAX_FRAME: usize = 16_777_230;
const _: () = assert!(SYNOD_HOST_MAX_FRAME == FRAME_HEADER_LEN + MAX_FRAME_PAYLOAD);

/// The identities of the member's peers, by raft peer id, as its transport
/// last heard of them.
type PeerNames = Arc<Mutex<HashMap<u64, CString>>>;

/// The host's send callback with its user data: called while open, and
/// released (its free function) exactly once.
struct HostSend {
    callback: unsafe extern "C" fn(*mut c_void, u64, *const c_char, *const u8, usize),
    user_data: *mut c_void,
    free: synod_free_callback,
    names: PeerNames,
    /// True once released: the callback never runs again. Held while it
    /// runs, so a release waits for a call in progress.
    released: Mutex<bool>,
}

// SAFETY: the C caller hands user_data to the library until the free
// function runs; the header says the callback and the free function run on
// a library thread. The callback runs one call at a time (under
// `released`).
unsafe impl Send for HostSend {}
unsafe impl Sync for HostSend {}

thread_local! {
    /// The sender whose callback this thread is running (NULL elsewhere):
    /// compared, never dereferenced.
    static SENDING: std::cell::Cell<*const HostSend> =
        const { std::cell::Cell::new(std::ptr::null()) };
}

impl HostSend {
    /// Calls the free function, once; afterwards the callback never runs.
    fn release(&self) {
        let mut released = self.released.lock().unwrap_or_else(|p| p.into_inner());
        if !*released {
            *released = true;
            if let Some(free) = self.free {
                // SAFETY: the caller's release function, called exactly once.
                unsafe { free(self.user_data) };
            }
        }
    }
}

impl Drop for HostSend {
    fn drop(&mut self) {
        self.release();
    }
}

impl HostSender for HostSend {
    fn send(&self, to: u64, frame: &[u8]) {
        let released = self.released.lock().unwrap_or_else(|p| p.into_inner());
        if *released {
            return;
        }
        // A copy: the callback may deliver to this very member, which reads
        // the names.
        let name = self
            .names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&to)
            .cloned();
        let name_ptr = name.as_ref().map_or(std::ptr::null(), |n| n.as_ptr());
        // Restored even if the callback unwinds (it must not, being C).
        struct Restore(*const HostSend);
        impl Drop for Restore {
            fn drop(&mut self) {
                let _ = SENDING.try_with(|c| c.set(self.0));
            }
        }
        let _restore = Restore(
            SENDING
                .try_with(|c| c.replace(self as *const HostSend))
                .unwrap_or(std::ptr::null()),
        );
        // SAFETY: the caller's callback with its own user data; the peer's
        // name and the frame outlive the call.
        unsafe {
            (self.callback)(self.user_data, to, name_ptr, frame.as_ptr(), frame.len());
        }
        drop(released);
    }
}

/// The core's host transport, plus the peers' names for the send callback
/// and the membership check of `synod_node_deliver`.
struct Bridge {
    inner: HostTransport,
    names: PeerNames,
    /// Set with the first `set_peers`: the start returns after it.
    known: Arc<(Mutex<bool>, std::sync::Condvar)>,
}

impl Transport for Bridge {
    fn send(&mut self, msg: Message) {
        self.inner.send(msg);
    }

    fn set_peers(&mut self, peers: &[Peer]) {
        let mut names = HashMap::with_capacity(peers.len());
        for p in peers {
            if let Ok(name) = CString::new(p.id.as_str()) {
                names.insert(p.peer_id, name);
            }
        }
        // The same list the core checks `from` against (no seed peers:
        // a member on a host's transport never joins through it).
        *self.names.lock().unwrap_or_else(|p| p.into_inner()) = names;
        self.inner.set_peers(peers);
        let (known, set) = &*self.known;
        *known.lock().unwrap_or_else(|p| p.into_inner()) = true;
        set.notify_all();
    }

    fn set_next_peer_id(&mut self, next_peer_id: u64) {
        self.inner.set_next_peer_id(next_peer_id);
    }

    fn probe_removed(&mut self, my_peer_id: u64) {
        self.inner.probe_removed(my_peer_id);
    }
}

/// What a node started on a host's transport keeps for the host.
pub(crate) struct HostLink {
    handle: HostHandle,
    sender: Arc<HostSend>,
    names: PeerNames,
    node: Arc<Node>,
}

/// Refuses a shutdown from the send callback of the same node (it would
/// wait for that very callback's thread).
pub(super) fn refuse_shutdown_from_send(node: &synod_node) -> Result<(), Error> {
    let Some(link) = node
        .host
        .as_ref()
        .and_then(|h| h.downcast_ref::<HostLink>())
    else {
        return Ok(());
    };
    let sending = SENDING.try_with(|c| c.get()).unwrap_or(std::ptr::null());
    if std::ptr::eq(sending, Arc::as_ptr(&link.sender)) {
        return Err(Error::new(
            SYNOD_ERR_INVALID_ARGUMENT,
            "synod_node_shutdown was called from the send callback of the same node, which runs \
             on the thread shutdown waits for: shut down from another thread",
        ));
    }
    Ok(())
}

/// Starts a member of a replicated cluster from a configuration built with
/// the `synod_config_*` functions (or read by `synod_config_from_file`),
/// whose raft messages travel through the host's own networking instead of
/// Synod's TCP transport: each outbound message is handed to `send` (see
/// `synod_host_send_callback`), and the host hands each message that
/// arrives for it to `synod_node_deliver`. It opens its data directory (or
/// writes the genesis of a new cluster from the bootstrap members) and
/// starts its consensus thread; it opens no socket. When this returns the
/// member takes deliveries from the members of its catalog.
///
/// The configuration: `id`, `data_dir`, the `[cluster]` bootstrap members
/// (their addresses are recorded in the catalog, where the host may read
/// them; Synod never dials them), `[engine]` apply. `listen`, the `[tls]`
/// files and flags, `[authorization]` and the client connection limits
/// belong to the TCP transport and its client service and are ignored (no
/// `synod_client` can reach this member). Refused
/// (`SYNOD_ERR_INVALID_ARGUMENT`, the field named): `tls.deny` and
/// `tls.crl` (the host authenticates its peers and refuses them itself),
/// `admin.metrics_listen` (read metrics with `synod_node_metrics_text`),
/// and `cluster.join` on a data directory that holds no cluster yet (the
/// core asks an existing member for the admission over TCP; restarting a
/// member whose data directory holds its cluster works). `cfg` is only
/// read and may be freed once this returns.
///
/// Peers: the host authenticates who sent the bytes it delivers (its own
/// TLS, tokens, ...) and says so with `from` (the sender's raft peer id,
/// see `synod_node_peer_id`); the member still refuses a `from` that is not
/// a current member and a message that claims another sender.
///
/// `free_user_data` (if not NULL) releases `user_data` exactly once: during
/// `synod_node_shutdown` (or `synod_node_free`), after the last call of
/// `send` and before it returns; or before this returns when the start
/// fails. A member that stops on its own (removed, storage failure) stops
/// calling `send`; its free function still runs at its shutdown.
///
/// Returns `SYNOD_OK` and writes `*out`. On failure `send` is never called,
/// `free_user_data` is called before this returns and `*out` is untouched:
/// `SYNOD_ERR_NULL_ARGUMENT` (`cfg`, `send`, `out`);
/// `SYNOD_ERR_INVALID_ARGUMENT` for an incomplete, invalid or refused
/// configuration (the last error names the field); `SYNOD_ERR_STORAGE` for
/// a damaged or locked data directory; `SYNOD_ERR_START` when the data
/// directory cannot be created or the system refused a thread. The caller
/// owns `*out` and frees it with `synod_node_free`, which shuts the member
/// down. Thread-safe: any number of starts may run at once.
#[no_mangle]
pub unsafe extern "C" fn synod_node_start_host(
    cfg: *const synod_config,
    send: synod_host_send_callback,
    user_data: *mut c_void,
    free_user_data: synod_free_callback,
    out: *mut *mut synod_node,
) -> synod_status {
    ffi_boundary!(status "synod_node_start_host", {
        let Some(callback) = send else {
            if let Some(free) = free_user_data {
                // SAFETY: the caller's release function, called exactly once.
                unsafe { free(user_data) };
            }
            return Err(Error::null("send"));
        };
        let names: PeerNames = Arc::new(Mutex::new(HashMap::new()));
        // From here on the sender owns user_data: dropping it on any early
        // return releases it exactly once.
        let sender = Arc::new(HostSend {
            callback,
            user_data,
            free: free_user_data,
            names: Arc::clone(&names),
            released: Mutex::new(false),
        });
        let out = out_arg(out, "out")?;
        // SAFETY: NULL or a live configuration not being changed (caller
        // contract).
        let cfg = unsafe { cfg.as_ref() }.ok_or_else(|| Error::null("cfg"))?;
        let config = cfg.host_node_config()?;
        let result = start(&config, &sender, &names);
        let (node, handle) = match result {
            Ok(started) => started,
            Err(e) => {
                // Whatever the failed start dropped, the free function runs
                // now, before the caller hears of the failure.
                sender.release();
                return Err(e);
            }
        };
        let id = c_string(config.id.as_str())?;
        let engine: Arc<dyn ControlPlaneConsensus> = node.clone();
        let stopping = Arc::clone(&node);
        let releasing = Arc::clone(&sender);
        let handle_box = Box::new(synod_node {
            engine,
            stop: Box::new(move || {
                // The consensus thread is joined: no send runs after this.
                stopping.shutdown();
                releasing.release();
            }),
            shut_down: AtomicBool::new(false),
            inline_callbacks: false,
            id,
            reload: None,
            member: Some(Arc::clone(&node)),
            watches: Mutex::new(Vec::new()),
            host: Some(Box::new(HostLink {
                handle,
                sender,
                names,
                node,
            })),
        });
        unsafe { write_out(out, Box::into_raw(handle_box)) };
        Ok(())
    })
}

/// Opens the store and starts the member over the bridge.
fn start(
    config: &NodeConfig,
    sender: &Arc<HostSend>,
    names: &PeerNames,
) -> Result<(Arc<Node>, HostHandle), Error> {
    for warning in &config.warnings {
        tracing::warn!(id = %config.id, "{warning}");
    }
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        Error::new(
            SYNOD_ERR_START,
            format!(
                "cannot create the data directory {}: {e}",
                config.data_dir.display()
            ),
        )
    })?;
    let storage = |e: synod::storage::StorageError| Error::new(SYNOD_ERR_STORAGE, e.to_string());
    let disk = Arc::new(RealDisk);
    let (mut store, report) =
        DurableStore::open(disk.clone(), &config.data_dir, StoreOptions::default())
            .map_err(storage)?;
    if let Some(torn) = &report.torn_tail {
        tracing::warn!("recovered from a torn write: {torn:?}");
    }
    if !store.has_snapshot() {
        match &config.cluster {
            ClusterStart::Bootstrap(members) => {
                drop(store);
                store = DurableStore::bootstrap(
                    disk,
                    &config.data_dir,
                    StoreOptions::default(),
                    members,
                )
                .map_err(storage)?
                .0;
                tracing::info!(members = members.len(), "bootstrapped a new cluster");
            }
            ClusterStart::Join(addr) => {
                return Err(Error::new(
                    SYNOD_ERR_INVALID_ARGUMENT,
                    format!(
                        "cluster.join: {} holds no cluster yet and a member on a host's \
                         transport cannot join through {addr} (the admission is asked over TCP)",
                        config.data_dir.display()
                    ),
                ));
            }
        }
    }
    let mut options = NodeOptions::new(config.id.clone());
    options.engine = config.engine.clone();
    options.max_pending_calls = config.max_pending_calls;
    options.max_inbound_messages = config.max_inbound_messages;
    options.watch_history = config.watch_history;
    let as_sender: Arc<dyn HostSender> = sender.clone();
    let (transport, handle) = HostTransport::new(as_sender, &[]);
    let bridge_names = Arc::clone(names);
    let known = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
    let bridge_known = Arc::clone(&known);
    let node = Node::start(options, store, move |inbox: Inbox| Bridge {
        inner: transport.attach(inbox),
        names: bridge_names,
        known: bridge_known,
    })
    .map_err(|e| Error::new(SYNOD_ERR_START, e.to_string()))?;
    // The consensus thread names the peers first thing: once it has, the
    // member takes deliveries from them (a single voter may lead before).
    let (flag, set) = &*known;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut named = flag.lock().unwrap_or_else(|p| p.into_inner());
    while !*named && node.stopped().is_none() && std::time::Instant::now() < deadline {
        named = set
            .wait_timeout(named, std::time::Duration::from_millis(20))
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
    drop(named);
    tracing::info!(id = %config.id, "started a member on the host's transport");
    Ok((Arc::new(node), handle))
}

/// Hands one frame that arrived from peer `from_peer_id` to a member
/// started with `synod_node_start_host`: `bytes[0..len)` is exactly one
/// frame as the sending member's `synod_host_send_callback` produced it,
/// borrowed for the call only. The host says who sent it and is
/// responsible for having authenticated that (see
/// `synod_node_start_host`). A snapshot travels as several frames: each
/// part is delivered like any frame, and the snapshot reaches the member
/// with its last part.
///
/// Returns `SYNOD_OK` when the member took the message (or a snapshot part).
/// A refused delivery changes nothing (the member never sees it) and
/// returns: `SYNOD_ERR_NULL_ARGUMENT` (`node`; `bytes` NULL with `len` not
/// 0); `SYNOD_ERR_INVALID_ARGUMENT` for bytes that are not one whole valid
/// frame (empty, truncated, followed by more bytes, longer than
/// `SYNOD_HOST_MAX_FRAME`, a bad magic, version or checksum, a message our
/// codec refuses: a proposal, a raft-local type, a field out of bounds), a
/// message that says it is from another peer than `from_peer_id`, or a node
/// not started with `synod_node_start_host`; `SYNOD_ERR_UNAUTHORIZED` when
/// `from_peer_id` is not one of the member's current peers (a member not
/// yet, or no longer, in its catalog); `SYNOD_ERR_SHUTDOWN` /
/// `SYNOD_ERR_STORAGE` once the member stopped.
///
/// Back-pressure: when the member's inbox is full (`max_inbound_messages`
/// messages waiting for its consensus thread), the call waits up to one
/// tick (`tick_ms`) for room and then drops the message and returns
/// `SYNOD_ERR_OVERLOADED` (raft retransmits; `synod_inbox_dropped_total`
/// counts it); called on a member's consensus thread (from a send
/// callback) it does not wait. It never blocks longer. With several
/// threads delivering to one member at once, `SYNOD_ERR_OVERLOADED` may
/// also answer a message that was taken while another thread's was
/// dropped: either way the host may simply drop the frame.
///
/// A message addressed to another member passes these checks and is
/// refused by the member itself (logged). Thread-safe: any thread, any
/// number at once, from a send callback too, until `synod_node_free`.
#[no_mangle]
pub unsafe extern "C" fn synod_node_deliver(
    node: *const synod_node,
    from_peer_id: u64,
    bytes: *const u8,
    len: usize,
) -> synod_status {
    ffi_boundary!(status "synod_node_deliver", {
        let node = unsafe { node_arg(node)? };
        if bytes.is_null() && len != 0 {
            return Err(Error::null("bytes"));
        }
        let link = host_link(node, "synod_node_deliver")?;
        node.engine.check_running()?;
        if len == 0 {
            return Err(Error::new(SYNOD_ERR_INVALID_ARGUMENT, "bytes: empty, not a frame"));
        }
        if len > SYNOD_HOST_MAX_FRAME {
            return Err(Error::new(
                SYNOD_ERR_INVALID_ARGUMENT,
                format!("bytes: {len} bytes, more than a frame can hold ({SYNOD_HOST_MAX_FRAME})"),
            ));
        }
        // SAFETY: `bytes[0..len)` is readable for the call (caller contract,
        // checked non-NULL and bounded above).
        let bytes = unsafe { std::slice::from_raw_parts(bytes, len) };
        let is_peer = link
            .names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&from_peer_id);
        if !is_peer {
            return Err(Error::new(
                SYNOD_ERR_UNAUTHORIZED,
                format!("peer {from_peer_id} is not a current member of this member's cluster"),
            ));
        }
        let dropped = &link.node.metrics().inbox_dropped;
        let before = dropped.load(Ordering::SeqCst);
        link.handle
            .deliver(from_peer_id, bytes)
            .map_err(|e| delivery_error(node, e))?;
        if dropped.load(Ordering::SeqCst) != before {
            return Err(Error::new(
                SYNOD_ERR_OVERLOADED,
                "the member's inbox is full: the message was dropped (raft retransmits)",
            ));
        }
        Ok(())
    })
}

/// The status of a refused delivery.
fn delivery_error(node: &synod_node, e: TransportError) -> Error {
    match e {
        TransportError::Shutdown => match node.engine.check_running() {
            Err(stopped) => stopped.into(),
            Ok(()) => Error::new(SYNOD_ERR_SHUTDOWN, "the member is shut down"),
        },
        other => Error::new(SYNOD_ERR_INVALID_ARGUMENT, format!("bytes: {other}")),
    }
}

/// The host link of `node`: `SYNOD_ERR_INVALID_ARGUMENT` for a node not
/// started with `synod_node_start_host`.
fn host_link<'a>(node: &'a synod_node, what: &str) -> Result<&'a HostLink, Error> {
    node.host
        .as_ref()
        .and_then(|h| h.downcast_ref::<HostLink>())
        .ok_or_else(|| {
            Error::new(
                SYNOD_ERR_INVALID_ARGUMENT,
                format!("{what} needs a member started with synod_node_start_host"),
            )
        })
}

/// Writes the raft peer id of member `identity` (this member included) to
/// `*out`, as the catalog this started member applied names it: the `from`
/// a host passes to `synod_node_deliver` for what that member sent, and the
/// `to_peer_id` of the send callback. A peer id is never reused in a
/// cluster.
///
/// Returns `SYNOD_OK` and writes `*out`. On failure `*out` is untouched:
/// `SYNOD_ERR_NULL_ARGUMENT`; `SYNOD_ERR_INVALID_IDENTITY` for an identity
/// that does not parse; `SYNOD_ERR_NOT_FOUND` when the catalog holds no
/// such member; `SYNOD_ERR_INVALID_ARGUMENT` for a single-node engine;
/// `SYNOD_ERR_SHUTDOWN` / `SYNOD_ERR_STORAGE` once the member stopped.
/// Thread-safe; never waits; may be called from a send callback.
#[no_mangle]
pub unsafe extern "C" fn synod_node_peer_id(
    node: *const synod_node,
    identity: *const c_char,
    out: *mut u64,
) -> synod_status {
    ffi_boundary!(status "synod_node_peer_id", {
        let node = unsafe { node_arg(node)? };
        let id = unsafe { identity_arg(identity, "identity")? };
        let out = out_arg(out, "out")?;
        let member = running_member(node, "synod_node_peer_id")?;
        let view = member.view()?;
        let peer = view
            .members()
            .find(|m| m.id == id)
            .map(|m| m.peer_id)
            .ok_or_else(|| {
                Error::new(
                    SYNOD_ERR_NOT_FOUND,
                    format!("{id} is not a member in this member's catalog"),
                )
            })?;
        unsafe { write_out(out, peer) };
        Ok(())
    })
}
