//! The node handle: a control-plane member behind the
//! [`ControlPlaneConsensus`] boundary, its typed proposals and its reads.
//!
//! The handle holds a trait object: `synod_node_start` runs a member of a
//! replicated cluster from its configuration file, `synod_node_open_single`
//! the in-memory single-node engine, and every other function works on
//! either. There is one propose function per entry a caller may propose and
//! none that takes bytes.

use std::ffi::{c_char, c_void, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use synod::catalog::{Member, MemberState, RangeOwnership};
use synod::{
    AuditReason, ControlPlaneConsensus, ControlPlaneEntry, Epoch, FenceStatus,
    ForcedOwnershipTransition, InitialMember, LeaderHint, MemberAddress, MemberKind,
    MembershipChange, OwnershipTransition, RangeId, SingleNodeControlPlane,
};

use crate::error::{
    c_string, out_arg, str_arg, synod_status, Error, SYNOD_ERR_INVALID_ARGUMENT,
    SYNOD_ERR_NOT_FOUND, SYNOD_ERR_START, SYNOD_ERR_STORAGE,
};
use crate::identity::identity_arg;

/// What a member does: `SYNOD_MEMBER_KIND_DATA` or `SYNOD_MEMBER_KIND_WITNESS`.
/// Any other value is refused with `SYNOD_ERR_INVALID_ARGUMENT`; 0 is never a
/// kind, so a zeroed variable is never mistaken for one.
pub type synod_member_kind = u32;
/// A member that votes and may own ranges.
pub const SYNOD_MEMBER_KIND_DATA: synod_member_kind = 1;
/// A member that votes and never owns a range.
pub const SYNOD_MEMBER_KIND_WITNESS: synod_member_kind = 2;

/// Whether a member is serving or on its way out. 0 is never a state.
pub type synod_member_state = u32;
/// Admitted and eligible as a new owner (if a data member).
pub const SYNOD_MEMBER_STATE_ACTIVE: synod_member_state = 1;
/// Draining: not eligible as a new owner.
pub const SYNOD_MEMBER_STATE_DRAINING: synod_member_state = 2;

/// The answer of `synod_node_fence_check`. 0 is never an answer, so a zeroed
/// variable is never mistaken for `SYNOD_FENCE_CURRENT`.
pub type synod_fence_status = u32;
/// The (owner, epoch) pair is the range's current owner and epoch.
pub const SYNOD_FENCE_CURRENT: synod_fence_status = 1;
/// The pair is fenced: the range has moved on to another owner or epoch.
pub const SYNOD_FENCE_STALE: synod_fence_status = 2;
/// This member cannot vouch for the pair: the range has no owner here, or the
/// epoch is newer than anything it has applied.
pub const SYNOD_FENCE_UNKNOWN: synod_fence_status = 3;

/// A proposal that was committed and took effect.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct synod_commit {
    /// Where the entry sits in the log (from 1).
    pub index: u64,
    /// The term that committed it.
    pub term: u64,
    /// The catalog version after applying it.
    pub version: u64,
    /// False when the entry was an idempotent repeat that changed nothing.
    pub changed: bool,
}

/// A control-plane member.
///
/// Thread safety: every function taking a `const synod_node *` may be called
/// from any number of threads at once; `synod_node_free` must not race with
/// any other call on the same handle.
pub struct synod_node {
    engine: Arc<dyn ControlPlaneConsensus>,
    stop: Box<dyn Fn() + Send + Sync>,
    /// Set when `synod_node_shutdown` (or free) began: no new callback is
    /// registered from then on.
    shut_down: AtomicBool,
    id: CString,
}

/// Who owns a range, and which log entry made it so: a snapshot taken by
/// `synod_node_owner`.
///
/// Immutable: one handle may be read from any number of threads at once;
/// free it exactly once with `synod_ownership_free`.
pub struct synod_ownership {
    owner: CString,
    epoch: u64,
    version: u64,
    term: u64,
    index: u64,
}

/// The members of the catalog, in identity order: a snapshot taken by
/// `synod_node_members`.
///
/// Immutable: one handle may be read from any number of threads at once;
/// free it exactly once with `synod_member_list_free`.
pub struct synod_member_list {
    members: Vec<MemberRow>,
}

struct MemberRow {
    id: CString,
    address: CString,
    kind: synod_member_kind,
    state: synod_member_state,
}

/// The leader a follower named when it answered `SYNOD_ERR_NOT_LEADER`; see
/// `synod_last_leader_hint`.
///
/// Immutable: one handle may be read from any number of threads at once;
/// free it exactly once with `synod_leader_hint_free`.
pub struct synod_leader_hint {
    id: CString,
    address: Option<CString>,
}

impl synod_leader_hint {
    pub(crate) fn new(hint: &LeaderHint) -> Result<Self, Error> {
        Ok(Self {
            id: c_string(hint.id.as_str())?,
            address: hint
                .address
                .as_ref()
                .map(|a| c_string(a.as_str()))
                .transpose()?,
        })
    }
}

fn kind_arg(kind: synod_member_kind) -> Result<MemberKind, Error> {
    match kind {
        SYNOD_MEMBER_KIND_DATA => Ok(MemberKind::Data),
        SYNOD_MEMBER_KIND_WITNESS => Ok(MemberKind::Witness),
        other => Err(Error::new(
            SYNOD_ERR_INVALID_ARGUMENT,
            format!("kind {other} is not a synod_member_kind"),
        )),
    }
}

fn kind_out(kind: MemberKind) -> synod_member_kind {
    match kind {
        MemberKind::Data => SYNOD_MEMBER_KIND_DATA,
        MemberKind::Witness => SYNOD_MEMBER_KIND_WITNESS,
    }
}

/// Parses a string argument with `T`'s `FromStr`, refusals becoming
/// `SYNOD_ERR_INVALID_ARGUMENT`.
unsafe fn parsed_arg<T>(p: *const c_char, what: &str) -> Result<T, Error>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    // SAFETY: forwarded caller contract.
    let s = unsafe { str_arg(p, what)? };
    s.parse()
        .map_err(|e| Error::new(SYNOD_ERR_INVALID_ARGUMENT, format!("{what}: {e}")))
}

unsafe fn node_arg<'a>(node: *const synod_node) -> Result<&'a synod_node, Error> {
    // SAFETY: NULL or a live handle (caller contract).
    unsafe { node.as_ref() }.ok_or_else(|| Error::null("node"))
}

/// Writes `value` to `out` (checked non-NULL beforehand).
unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: `out` is valid and writable (caller contract, checked non-NULL).
    unsafe { out.write(value) }
}

/// The shared body of the propose functions: checks `node` and `out`, builds
/// the entry, proposes it and writes `*out` on success only.
unsafe fn propose(
    node: *const synod_node,
    out: *mut synod_commit,
    timeout_ms: u32,
    entry: impl FnOnce() -> Result<ControlPlaneEntry, Error>,
) -> Result<(), Error> {
    // SAFETY: forwarded caller contract.
    let node = unsafe { node_arg(node)? };
    let out = out_arg(out, "out")?;
    let entry = entry()?;
    let committed = node
        .engine
        .propose(entry, Duration::from_millis(u64::from(timeout_ms)))?;
    let commit = synod_commit {
        index: committed.index.get(),
        term: committed.term.get(),
        version: committed.version.get(),
        changed: committed.changed,
    };
    // SAFETY: checked non-NULL above.
    unsafe { write_out(out, commit) };
    Ok(())
}

/// Starts a member of a replicated cluster from its configuration file, the
/// format `synod node --config` reads: opens its data directory (or writes
/// the genesis of a new cluster, or joins through the configured member),
/// binds its listener with mutual TLS, and starts its driver thread. The
/// returned node proposes, reads and answers exactly like any other.
///
/// Returns `SYNOD_OK` and writes `*out`. On failure `*out` is left untouched:
/// `SYNOD_ERR_NULL_ARGUMENT`; `SYNOD_ERR_INVALID_ARGUMENT` for an unreadable
/// or invalid configuration (the last error names the field);
/// `SYNOD_ERR_STORAGE` for a damaged or locked data directory;
/// `SYNOD_ERR_START` when the listener, the TLS material or joining fails.
/// The caller owns `*out` and frees it with `synod_node_free`, which shuts
/// the member down.
#[no_mangle]
pub unsafe extern "C" fn synod_node_start(
    config_path: *const c_char,
    out: *mut *mut synod_node,
) -> synod_status {
    ffi_boundary!(status "synod_node_start", {
        let out = out_arg(out, "out")?;
        let path = unsafe { str_arg(config_path, "config_path")? };
        let config = synod::node::config::NodeConfig::load(std::path::Path::new(path))
            .map_err(|e| Error::new(SYNOD_ERR_INVALID_ARGUMENT, e.to_string()))?;
        let member = synod::node::runner::start_member(&config).map_err(|e| {
            let status = match &e {
                synod::node::runner::RunError::Storage(_) => SYNOD_ERR_STORAGE,
                _ => SYNOD_ERR_START,
            };
            Error::new(status, e.to_string())
        })?;
        let id_text = c_string(config.id.as_str())?;
        let engine: Arc<dyn ControlPlaneConsensus> = member.node().clone();
        let running = std::sync::Mutex::new(Some(member));
        let node = Box::new(synod_node {
            engine,
            shut_down: AtomicBool::new(false),
            stop: Box::new(move || {
                let m = running.lock().unwrap_or_else(|p| p.into_inner()).take();
                if let Some(m) = m {
                    m.shutdown();
                }
            }),
            id: id_text,
        });
        unsafe { write_out(out, Box::into_raw(node)) };
        Ok(())
    })
}

/// Opens a single-member control plane: `identity` is its only member (a data
/// member listening at `address`) and the leader of term 1. Kept in memory.
///
/// Returns `SYNOD_OK` and writes `*out`; on failure (`SYNOD_ERR_NULL_ARGUMENT`,
/// `SYNOD_ERR_INVALID_ARGUMENT`, `SYNOD_ERR_INVALID_IDENTITY`) `*out` is left
/// untouched. The caller owns `*out` and frees it with `synod_node_free`.
#[no_mangle]
pub unsafe extern "C" fn synod_node_open_single(
    identity: *const c_char,
    address: *const c_char,
    out: *mut *mut synod_node,
) -> synod_status {
    ffi_boundary!(status "synod_node_open_single", {
        let out = out_arg(out, "out")?;
        let id = unsafe { identity_arg(identity, "identity")? };
        let address: MemberAddress = unsafe { parsed_arg(address, "address")? };
        let id_text = c_string(id.as_str())?;
        let engine = SingleNodeControlPlane::bootstrap_leader(InitialMember {
            id,
            kind: MemberKind::Data,
            address,
        })
        .map_err(|e| Error::new(SYNOD_ERR_INVALID_ARGUMENT, e.to_string()))?;
        let engine = Arc::new(engine);
        let stopper = Arc::clone(&engine);
        let node = Box::new(synod_node {
            engine,
            stop: Box::new(move || stopper.shutdown()),
            shut_down: AtomicBool::new(false),
            id: id_text,
        });
        unsafe { write_out(out, Box::into_raw(node)) };
        Ok(())
    })
}

/// This member's identity, or NULL when `node` is NULL.
///
/// The string is borrowed from the handle: valid until `node` is freed; the
/// caller must not free it.
#[no_mangle]
pub unsafe extern "C" fn synod_node_id(node: *const synod_node) -> *const c_char {
    ffi_boundary!(value "synod_node_id", std::ptr::null(), {
        // SAFETY: NULL or a live handle (caller contract).
        match unsafe { node.as_ref() } {
            Some(node) => node.id.as_ptr(),
            None => std::ptr::null(),
        }
    })
}

/// Writes whether this member is the leader to `*out`.
///
/// `*out` is written only on `SYNOD_OK`; the caller owns it.
#[no_mangle]
pub unsafe extern "C" fn synod_node_is_leader(
    node: *const synod_node,
    out: *mut bool,
) -> synod_status {
    ffi_boundary!(status "synod_node_is_leader", {
        let node = unsafe { node_arg(node)? };
        let out = out_arg(out, "out")?;
        unsafe { write_out(out, node.engine.is_leader()) };
        Ok(())
    })
}

/// Writes the current election term to `*out`.
///
/// `*out` is written only on `SYNOD_OK`; the caller owns it.
#[no_mangle]
pub unsafe extern "C" fn synod_node_current_term(
    node: *const synod_node,
    out: *mut u64,
) -> synod_status {
    ffi_boundary!(status "synod_node_current_term", {
        let node = unsafe { node_arg(node)? };
        let out = out_arg(out, "out")?;
        unsafe { write_out(out, node.engine.current_term().get()) };
        Ok(())
    })
}

/// Writes the index of the highest committed entry to `*out`, 0 when nothing
/// is committed yet (log indices start at 1).
///
/// `*out` is written only on `SYNOD_OK`; the caller owns it.
#[no_mangle]
pub unsafe extern "C" fn synod_node_commit_index(
    node: *const synod_node,
    out: *mut u64,
) -> synod_status {
    ffi_boundary!(status "synod_node_commit_index", {
        let node = unsafe { node_arg(node)? };
        let out = out_arg(out, "out")?;
        let index = node.engine.commit_index().map_or(0, |i| i.get());
        unsafe { write_out(out, index) };
        Ok(())
    })
}

/// Proposes admitting `member` as a `kind` member reachable at `address`, and
/// waits up to `timeout_ms` for it to commit.
///
/// Admitting a member already admitted with the same kind and address commits
/// with `changed == false`. On `SYNOD_OK` `*out` receives the commit; on any
/// failure it is untouched (`SYNOD_ERR_REFUSED`: see
/// `synod_last_refusal_code`; `SYNOD_ERR_NOT_LEADER`: see
/// `synod_last_leader_hint`). The caller owns `*out`; strings are borrowed for
/// the call only.
#[no_mangle]
pub unsafe extern "C" fn synod_node_propose_admit(
    node: *const synod_node,
    member: *const c_char,
    kind: synod_member_kind,
    address: *const c_char,
    timeout_ms: u32,
    out: *mut synod_commit,
) -> synod_status {
    ffi_boundary!(status "synod_node_propose_admit", {
        unsafe {
            propose(node, out, timeout_ms, || {
                Ok(ControlPlaneEntry::Membership(MembershipChange::Admit {
                    member: identity_arg(member, "member")?,
                    kind: kind_arg(kind)?,
                    address: parsed_arg(address, "address")?,
                }))
            })
        }
    })
}

/// Proposes putting `member` into drain (no longer eligible as a new owner),
/// and waits up to `timeout_ms` for it to commit.
///
/// On `SYNOD_OK` `*out` receives the commit; on any failure it is untouched.
/// The caller owns `*out`; strings are borrowed for the call only.
#[no_mangle]
pub unsafe extern "C" fn synod_node_propose_begin_drain(
    node: *const synod_node,
    member: *const c_char,
    timeout_ms: u32,
    out: *mut synod_commit,
) -> synod_status {
    ffi_boundary!(status "synod_node_propose_begin_drain", {
        unsafe {
            propose(node, out, timeout_ms, || {
                Ok(ControlPlaneEntry::Membership(MembershipChange::BeginDrain {
                    member: identity_arg(member, "member")?,
                }))
            })
        }
    })
}

/// Proposes removing `member` from the authorized set (refused while it owns
/// ranges, and for the last member), and waits up to `timeout_ms` for it to
/// commit.
///
/// On `SYNOD_OK` `*out` receives the commit; on any failure it is untouched.
/// The caller owns `*out`; strings are borrowed for the call only.
#[no_mangle]
pub unsafe extern "C" fn synod_node_propose_remove(
    node: *const synod_node,
    member: *const c_char,
    timeout_ms: u32,
    out: *mut synod_commit,
) -> synod_status {
    ffi_boundary!(status "synod_node_propose_remove", {
        unsafe {
            propose(node, out, timeout_ms, || {
                Ok(ControlPlaneEntry::Membership(MembershipChange::Remove {
                    member: identity_arg(member, "member")?,
                }))
            })
        }
    })
}

/// Proposes the fenced transition of `range` to `new_owner` at `epoch`, which
/// must be strictly above the range's current epoch, and waits up to
/// `timeout_ms` for it to commit.
///
/// A stale epoch is refused before it enters the log (`SYNOD_ERR_REFUSED`,
/// refusal code `SYNOD_REFUSAL_STALE_EPOCH`). On `SYNOD_OK` `*out` receives
/// the commit; on any failure it is untouched. The caller owns `*out`;
/// strings are borrowed for the call only.
#[no_mangle]
pub unsafe extern "C" fn synod_node_propose_transition(
    node: *const synod_node,
    range: *const c_char,
    new_owner: *const c_char,
    epoch: u64,
    timeout_ms: u32,
    out: *mut synod_commit,
) -> synod_status {
    ffi_boundary!(status "synod_node_propose_transition", {
        unsafe {
            propose(node, out, timeout_ms, || {
                Ok(ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
                    range: parsed_arg(range, "range")?,
                    new_owner: identity_arg(new_owner, "new_owner")?,
                    epoch: Epoch(epoch),
                }))
            })
        }
    })
}

/// Called exactly once with the answer to a non-blocking proposal.
/// `user_data` is the pointer given with the proposal; `status` is
/// `SYNOD_OK` with `commit` pointing at the commit (valid during the call
/// only), or an error status with `commit` NULL, in which case this thread's
/// last error (`synod_last_error_message`, `synod_last_refusal_code`,
/// `synod_last_leader_hint`) describes it during the call. The callback must
/// not call `synod_node_shutdown` or `synod_node_free` on the same node.
pub type synod_propose_callback = Option<
    unsafe extern "C" fn(user_data: *mut c_void, status: synod_status, commit: *const synod_commit),
>;

/// Releases the `user_data` of a registration. Called exactly once per
/// registration: after the callback ran, or without it when the
/// registration failed. May be NULL when there is nothing to release.
pub type synod_free_callback = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// A callback, its user data and the user data's release, handed across
/// threads: the free function runs exactly once, when this is dropped.
struct Registration {
    callback: unsafe extern "C" fn(*mut c_void, synod_status, *const synod_commit),
    user_data: *mut c_void,
    free: synod_free_callback,
}

// SAFETY: the C caller hands user_data over to the library for the
// registration's lifetime; the header states that the callback and the free
// function may run on another thread.
unsafe impl Send for Registration {}

impl Registration {
    fn answer(self, result: Result<synod::Committed, synod::ProposeError>) {
        match result {
            Ok(c) => {
                let commit = synod_commit {
                    index: c.index.get(),
                    term: c.term.get(),
                    version: c.version.get(),
                    changed: c.changed,
                };
                // SAFETY: the caller's callback, with its own user data.
                unsafe { (self.callback)(self.user_data, crate::error::SYNOD_OK, &commit) };
            }
            Err(e) => {
                let status = crate::error::record(Error::from(e));
                // SAFETY: as above.
                unsafe { (self.callback)(self.user_data, status, std::ptr::null()) };
            }
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            // SAFETY: the caller's release function, called exactly once.
            unsafe { free(self.user_data) };
        }
    }
}

/// Proposes the fenced transition of `range` to `new_owner` at `epoch`
/// without waiting: `callback` receives the answer exactly once, then
/// `free_user_data` (if not NULL) releases `user_data`.
///
/// Returns `SYNOD_OK` when the proposal was handed to the member; the
/// callback may run before this function returns (on the calling thread,
/// for the single-node engine) or later on the member's driver thread (a
/// started member). It never runs after `synod_node_shutdown` returns: a
/// shutdown answers every proposal still waiting (`SYNOD_ERR_SHUTDOWN`)
/// before it returns. On failure (`SYNOD_ERR_NULL_ARGUMENT`,
/// `SYNOD_ERR_INVALID_ARGUMENT`, `SYNOD_ERR_INVALID_IDENTITY`,
/// `SYNOD_ERR_SHUTDOWN` once shutdown began) the callback is not called and
/// `free_user_data` is called before this function returns. Strings are
/// borrowed for the call only.
#[no_mangle]
pub unsafe extern "C" fn synod_node_propose_transition_async(
    node: *const synod_node,
    range: *const c_char,
    new_owner: *const c_char,
    epoch: u64,
    timeout_ms: u32,
    callback: synod_propose_callback,
    user_data: *mut c_void,
    free_user_data: synod_free_callback,
) -> synod_status {
    ffi_boundary!(status "synod_node_propose_transition_async", {
        let Some(callback) = callback else {
            if let Some(free) = free_user_data {
                // SAFETY: the caller's release function, called exactly once.
                unsafe { free(user_data) };
            }
            return Err(Error::null("callback"));
        };
        // From here on the registration owns user_data: dropping it on any
        // early return releases it exactly once.
        let registration = Registration {
            callback,
            user_data,
            free: free_user_data,
        };
        let node = unsafe { node_arg(node)? };
        let entry = ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
            range: unsafe { parsed_arg(range, "range")? },
            new_owner: unsafe { identity_arg(new_owner, "new_owner")? },
            epoch: Epoch(epoch),
        });
        if node.shut_down.load(Ordering::SeqCst) {
            return Err(Error::new(
                crate::error::SYNOD_ERR_SHUTDOWN,
                "the node is shut down",
            ));
        }
        node.engine.propose_with(
            entry,
            Duration::from_millis(u64::from(timeout_ms)),
            Box::new(move |result| registration.answer(result)),
        );
        Ok(())
    })
}

/// Proposes an operator's forced transition of `range` to `new_owner`,
/// recorded in the audit list with `operator_id` and `reason` (never blank). The
/// range moves to its current epoch plus one. Waits up to `timeout_ms` for it
/// to commit.
///
/// On `SYNOD_OK` `*out` receives the commit; on any failure it is untouched.
/// The caller owns `*out`; strings are borrowed for the call only.
#[no_mangle]
pub unsafe extern "C" fn synod_node_propose_forced_transition(
    node: *const synod_node,
    range: *const c_char,
    new_owner: *const c_char,
    operator_id: *const c_char,
    reason: *const c_char,
    timeout_ms: u32,
    out: *mut synod_commit,
) -> synod_status {
    ffi_boundary!(status "synod_node_propose_forced_transition", {
        unsafe {
            propose(node, out, timeout_ms, || {
                Ok(ControlPlaneEntry::ForcedOwnershipTransition(
                    ForcedOwnershipTransition {
                        range: parsed_arg(range, "range")?,
                        new_owner: identity_arg(new_owner, "new_owner")?,
                        operator: identity_arg(operator_id, "operator_id")?,
                        reason: parsed_arg::<AuditReason>(reason, "reason")?,
                    },
                ))
            })
        }
    })
}

/// Looks up the owner of `range` as this member has applied it.
///
/// Returns `SYNOD_OK` and writes a new snapshot to `*out`, or
/// `SYNOD_ERR_NOT_FOUND` when the range has no owner (and the other errors),
/// leaving `*out` untouched. The caller owns `*out` and frees it with
/// `synod_ownership_free`.
#[no_mangle]
pub unsafe extern "C" fn synod_node_owner(
    node: *const synod_node,
    range: *const c_char,
    out: *mut *mut synod_ownership,
) -> synod_status {
    ffi_boundary!(status "synod_node_owner", {
        let node = unsafe { node_arg(node)? };
        let out = out_arg(out, "out")?;
        let range: RangeId = unsafe { parsed_arg(range, "range")? };
        let RangeOwnership {
            owner,
            epoch,
            version,
            term,
            index,
        } = node.engine.owner(&range).ok_or_else(|| {
            Error::new(SYNOD_ERR_NOT_FOUND, format!("range {range} has no owner"))
        })?;
        let snapshot = Box::new(synod_ownership {
            owner: c_string(owner.as_str())?,
            epoch: epoch.get(),
            version: version.get(),
            term: term.get(),
            index: index.get(),
        });
        unsafe { write_out(out, Box::into_raw(snapshot)) };
        Ok(())
    })
}

/// The owner's identity, or NULL when `ownership` is NULL.
///
/// Borrowed from the handle: valid until `ownership` is freed; the caller must
/// not free it.
#[no_mangle]
pub unsafe extern "C" fn synod_ownership_owner(ownership: *const synod_ownership) -> *const c_char {
    ffi_boundary!(value "synod_ownership_owner", std::ptr::null(), {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { ownership.as_ref() }.map_or(std::ptr::null(), |o| o.owner.as_ptr())
    })
}

/// The range's ownership epoch, or 0 when `ownership` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_ownership_epoch(ownership: *const synod_ownership) -> u64 {
    ffi_boundary!(value "synod_ownership_epoch", 0, {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { ownership.as_ref() }.map_or(0, |o| o.epoch)
    })
}

/// The catalog version the transition produced, or 0 when `ownership` is
/// NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_ownership_version(ownership: *const synod_ownership) -> u64 {
    ffi_boundary!(value "synod_ownership_version", 0, {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { ownership.as_ref() }.map_or(0, |o| o.version)
    })
}

/// The term of the entry that set the owner, or 0 when `ownership` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_ownership_term(ownership: *const synod_ownership) -> u64 {
    ffi_boundary!(value "synod_ownership_term", 0, {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { ownership.as_ref() }.map_or(0, |o| o.term)
    })
}

/// The log index of the entry that set the owner, or 0 when `ownership` is
/// NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_ownership_index(ownership: *const synod_ownership) -> u64 {
    ffi_boundary!(value "synod_ownership_index", 0, {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { ownership.as_ref() }.map_or(0, |o| o.index)
    })
}

/// Frees an ownership snapshot; `synod_ownership_free(NULL)` does nothing.
///
/// Takes ownership of `ownership`, which must come from `synod_node_owner` and
/// not be used again.
#[no_mangle]
pub unsafe extern "C" fn synod_ownership_free(ownership: *mut synod_ownership) {
    ffi_boundary!(value "synod_ownership_free", (), {
        if !ownership.is_null() {
            // SAFETY: created by `Box::into_raw`, freed once (caller contract).
            drop(unsafe { Box::from_raw(ownership) });
        }
    })
}

/// Checks whether (`owner`, `epoch`) is the current owner of `range`, as this
/// member has applied it: a data plane's fence.
///
/// Writes `SYNOD_FENCE_CURRENT`, `SYNOD_FENCE_STALE` or `SYNOD_FENCE_UNKNOWN`
/// to `*out` on `SYNOD_OK` only. The caller owns `*out`; strings are borrowed
/// for the call only.
#[no_mangle]
pub unsafe extern "C" fn synod_node_fence_check(
    node: *const synod_node,
    range: *const c_char,
    owner: *const c_char,
    epoch: u64,
    out: *mut synod_fence_status,
) -> synod_status {
    ffi_boundary!(status "synod_node_fence_check", {
        let node = unsafe { node_arg(node)? };
        let out = out_arg(out, "out")?;
        let range: RangeId = unsafe { parsed_arg(range, "range")? };
        let owner = unsafe { identity_arg(owner, "owner")? };
        let status = match node.engine.fence_check(&range, &owner, Epoch(epoch)) {
            FenceStatus::Current => SYNOD_FENCE_CURRENT,
            FenceStatus::Stale { .. } => SYNOD_FENCE_STALE,
            FenceStatus::Unknown => SYNOD_FENCE_UNKNOWN,
        };
        unsafe { write_out(out, status) };
        Ok(())
    })
}

/// Takes a snapshot of the members, in identity order.
///
/// Returns `SYNOD_OK` and writes `*out`, leaving it untouched on failure. The
/// caller owns `*out` and frees it with `synod_member_list_free`.
#[no_mangle]
pub unsafe extern "C" fn synod_node_members(
    node: *const synod_node,
    out: *mut *mut synod_member_list,
) -> synod_status {
    ffi_boundary!(status "synod_node_members", {
        let node = unsafe { node_arg(node)? };
        let out = out_arg(out, "out")?;
        let members = node
            .engine
            .members()
            .into_iter()
            .map(|m: Member| {
                Ok(MemberRow {
                    id: c_string(m.id.as_str())?,
                    address: c_string(m.address.as_str())?,
                    kind: kind_out(m.kind),
                    state: match m.state {
                        MemberState::Active => SYNOD_MEMBER_STATE_ACTIVE,
                        MemberState::Draining => SYNOD_MEMBER_STATE_DRAINING,
                    },
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let list = Box::new(synod_member_list { members });
        unsafe { write_out(out, Box::into_raw(list)) };
        Ok(())
    })
}

/// Runs `f` on row `i` of `list`, or returns `none` when `list` is NULL or
/// `i` is out of range.
unsafe fn row<R>(
    list: *const synod_member_list,
    i: usize,
    none: R,
    f: impl FnOnce(&MemberRow) -> R,
) -> R {
    // SAFETY: NULL or a live handle (caller contract).
    match unsafe { list.as_ref() }.and_then(|l| l.members.get(i)) {
        Some(row) => f(row),
        None => none,
    }
}

/// The number of members in the snapshot, 0 when `list` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_member_list_len(list: *const synod_member_list) -> usize {
    ffi_boundary!(value "synod_member_list_len", 0, {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { list.as_ref() }.map_or(0, |l| l.members.len())
    })
}

/// The identity of member `i`, or NULL when `list` is NULL or `i` is out of
/// range.
///
/// Borrowed from the handle: valid until `list` is freed; the caller must not
/// free it.
#[no_mangle]
pub unsafe extern "C" fn synod_member_list_id(
    list: *const synod_member_list,
    i: usize,
) -> *const c_char {
    ffi_boundary!(value "synod_member_list_id", std::ptr::null(), {
        unsafe { row(list, i, std::ptr::null(), |r| r.id.as_ptr()) }
    })
}

/// The peer address of member `i`, or NULL when `list` is NULL or `i` is out
/// of range.
///
/// Borrowed from the handle: valid until `list` is freed; the caller must not
/// free it.
#[no_mangle]
pub unsafe extern "C" fn synod_member_list_address(
    list: *const synod_member_list,
    i: usize,
) -> *const c_char {
    ffi_boundary!(value "synod_member_list_address", std::ptr::null(), {
        unsafe { row(list, i, std::ptr::null(), |r| r.address.as_ptr()) }
    })
}

/// The kind of member `i`, or 0 (no kind) when `list` is NULL or `i` is out
/// of range.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_member_list_kind(
    list: *const synod_member_list,
    i: usize,
) -> synod_member_kind {
    ffi_boundary!(value "synod_member_list_kind", 0, {
        unsafe { row(list, i, 0, |r| r.kind) }
    })
}

/// The state of member `i`, or 0 (no state) when `list` is NULL or `i` is out
/// of range.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_member_list_state(
    list: *const synod_member_list,
    i: usize,
) -> synod_member_state {
    ffi_boundary!(value "synod_member_list_state", 0, {
        unsafe { row(list, i, 0, |r| r.state) }
    })
}

/// Frees a member snapshot; `synod_member_list_free(NULL)` does nothing.
///
/// Takes ownership of `list`, which must come from `synod_node_members` and
/// not be used again.
#[no_mangle]
pub unsafe extern "C" fn synod_member_list_free(list: *mut synod_member_list) {
    ffi_boundary!(value "synod_member_list_free", (), {
        if !list.is_null() {
            // SAFETY: created by `Box::into_raw`, freed once (caller contract).
            drop(unsafe { Box::from_raw(list) });
        }
    })
}

/// The leader's identity, or NULL when `hint` is NULL.
///
/// Borrowed from the handle: valid until `hint` is freed; the caller must not
/// free it.
#[no_mangle]
pub unsafe extern "C" fn synod_leader_hint_id(hint: *const synod_leader_hint) -> *const c_char {
    ffi_boundary!(value "synod_leader_hint_id", std::ptr::null(), {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { hint.as_ref() }.map_or(std::ptr::null(), |h| h.id.as_ptr())
    })
}

/// The leader's peer address, or NULL when it is not known (or `hint` is
/// NULL).
///
/// Borrowed from the handle: valid until `hint` is freed; the caller must not
/// free it.
#[no_mangle]
pub unsafe extern "C" fn synod_leader_hint_address(
    hint: *const synod_leader_hint,
) -> *const c_char {
    ffi_boundary!(value "synod_leader_hint_address", std::ptr::null(), {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { hint.as_ref() }
            .and_then(|h| h.address.as_ref())
            .map_or(std::ptr::null(), |a| a.as_ptr())
    })
}

/// Frees a leader hint; `synod_leader_hint_free(NULL)` does nothing.
///
/// Takes ownership of `hint`, which must come from `synod_last_leader_hint`
/// and not be used again.
#[no_mangle]
pub unsafe extern "C" fn synod_leader_hint_free(hint: *mut synod_leader_hint) {
    ffi_boundary!(value "synod_leader_hint_free", (), {
        if !hint.is_null() {
            // SAFETY: created by `Box::into_raw`, freed once (caller contract).
            drop(unsafe { Box::from_raw(hint) });
        }
    })
}

/// Stops the node: every later proposal answers `SYNOD_ERR_SHUTDOWN`; reads
/// keep working. Calling it again does nothing more.
///
/// Does not free `node`; the caller still owns it and frees it with
/// `synod_node_free`.
#[no_mangle]
pub unsafe extern "C" fn synod_node_shutdown(node: *const synod_node) -> synod_status {
    ffi_boundary!(status "synod_node_shutdown", {
        let node = unsafe { node_arg(node)? };
        node.shut_down.store(true, Ordering::SeqCst);
        (node.stop)();
        Ok(())
    })
}

/// Shuts the node down if it is not already, and frees it;
/// `synod_node_free(NULL)` does nothing.
///
/// Takes ownership of `node`, which must come from `synod_node_start` or
/// `synod_node_open_single` and not be used again; strings borrowed from it become invalid.
#[no_mangle]
pub unsafe extern "C" fn synod_node_free(node: *mut synod_node) {
    ffi_boundary!(value "synod_node_free", (), {
        if !node.is_null() {
            // SAFETY: created by `Box::into_raw`, freed once (caller contract).
            let node = unsafe { Box::from_raw(node) };
            (node.stop)();
            drop(node);
        }
    })
}
