//! Typed proposals, one function per entry a caller may propose and none that
//! takes bytes: membership changes and ownership transitions that wait for
//! their commit, and the ownership transition that answers through a callback
//! (`synod_node_propose_transition_async`, with the registration that carries
//! the callback and its user data across threads).

use std::cell::Cell;
use std::ffi::{c_char, c_void};
use std::sync::atomic::Ordering;
use std::time::Duration;

use synod::entry::Proposal;
use synod::ControlPlaneEntry;

use super::entry::{entry_arg, synod_entry};
use super::handle::{node_arg, synod_node, write_out};
use super::values::{synod_commit, synod_member_kind};
use crate::error::{out_arg, synod_status, Error};

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
    let commit = synod_commit::from(&committed);
    // SAFETY: checked non-NULL above.
    unsafe { write_out(out, commit) };
    Ok(())
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
                entry_arg(&synod_entry::admit(member, kind, address))
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
                entry_arg(&synod_entry::begin_drain(member))
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
                entry_arg(&synod_entry::remove(member))
            })
        }
    })
}

/// Proposes the fenced transition of `range` to `new_owner` at `epoch`, which
/// must be exactly the range's current epoch plus one (a compare-and-set),
/// and waits up to `timeout_ms` for it to commit.
///
/// A stale epoch is refused before it enters the log (`SYNOD_ERR_REFUSED`,
/// refusal code `SYNOD_REFUSAL_STALE_EPOCH`), and so is one that skips
/// epochs (`SYNOD_REFUSAL_EPOCH_NOT_NEXT`). On `SYNOD_OK` `*out` receives
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
                entry_arg(&synod_entry::transition(range, new_owner, epoch))
            })
        }
    })
}

/// Called exactly once with the answer to a non-blocking proposal.
/// `user_data` is the pointer given with the proposal; `status` is
/// `SYNOD_OK` with `commit` pointing at the commit (valid during the call
/// only), or an error status with `commit` NULL, in which case this thread's
/// last error (`synod_last_error_message`, `synod_last_refusal_code`,
/// `synod_last_leader_hint`) describes it during the call.
///
/// A started member (`synod_node_start`) runs callbacks on a thread of its
/// own, one at a time in the order of the answers, never on its consensus
/// thread: a callback may call any function on the same node, blocking ones
/// included (`synod_node_propose_*`, reads), and `synod_node_shutdown`,
/// which then runs the node's remaining callbacks before it returns; a slow
/// callback delays the node's later callbacks, not its consensus. The
/// single-node engine runs the callback on the registering thread before
/// `synod_node_propose_transition_async` returns: there `synod_node_shutdown`
/// on the same node returns `SYNOD_ERR_INVALID_ARGUMENT` and does nothing.
/// No callback may call `synod_node_free` on its own node.
pub type synod_propose_callback = Option<
    unsafe extern "C" fn(user_data: *mut c_void, status: synod_status, commit: *const synod_commit),
>;

/// Releases the `user_data` of a registration. Called exactly once per
/// registration: after the callback ran, or without it when the
/// registration failed. May be NULL when there is nothing to release.
pub type synod_free_callback = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// A callback, its user data and the user data's release, handed across
/// threads: the free function runs exactly once, when this is dropped.
pub(super) struct Registration {
    callback: unsafe extern "C" fn(*mut c_void, synod_status, *const synod_commit),
    user_data: *mut c_void,
    free: synod_free_callback,
    /// The node it was registered on: compared, never dereferenced.
    node: *const synod_node,
}

thread_local! {
    /// The node whose callback this thread is running, if any (NULL).
    static CALLING_BACK: Cell<*const synod_node> = const { Cell::new(std::ptr::null()) };
}

/// Whether this thread is inside a callback registered on `node`.
pub(super) fn in_callback_of(node: *const synod_node) -> bool {
    CALLING_BACK
        .try_with(|c| !node.is_null() && c.get() == node)
        .unwrap_or(false)
}

// SAFETY: the C caller hands user_data over to the library for the
// registration's lifetime; the header states that the callback and the free
// function may run on another thread.
unsafe impl Send for Registration {}

impl Registration {
    /// The registration of `callback` (or, with no callback, the release of
    /// `user_data` and the NULL-argument error).
    pub(super) fn new(
        node: *const synod_node,
        callback: synod_propose_callback,
        user_data: *mut c_void,
        free: synod_free_callback,
    ) -> Result<Self, Error> {
        let Some(callback) = callback else {
            if let Some(free) = free {
                // SAFETY: the caller's release function, called exactly once.
                unsafe { free(user_data) };
            }
            return Err(Error::null("callback"));
        };
        Ok(Self {
            callback,
            user_data,
            free,
            node,
        })
    }

    /// Hands `proposal` to `node` with this registration answering it; on
    /// refusal the registration is dropped here (its free function runs
    /// before this returns, the callback never does).
    pub(super) fn submit(
        self,
        node: &synod_node,
        proposal: Proposal,
        timeout_ms: u32,
    ) -> Result<(), Error> {
        if node.shut_down.load(Ordering::SeqCst) {
            return Err(Error::new(
                crate::error::SYNOD_ERR_SHUTDOWN,
                "the node is shut down",
            ));
        }
        // Registered, or handed back uncalled when the member stopped or a
        // shutdown began in the meantime: then dropping it releases
        // user_data here, before this function returns, and the callback
        // never runs. A member that stopped on its own says why.
        node.engine
            .try_submit_with(
                proposal,
                Duration::from_millis(u64::from(timeout_ms)),
                Box::new(move |result| self.answer(result)),
            )
            .map_err(|uncalled| Error::from(uncalled.error))
    }

    fn answer(self, result: Result<synod::Committed, synod::ProposeError>) {
        // Restored even if the callback unwinds (it must not, being C).
        struct Restore(*const synod_node);
        impl Drop for Restore {
            fn drop(&mut self) {
                let _ = CALLING_BACK.try_with(|c| c.set(self.0));
            }
        }
        let _restore = Restore(
            CALLING_BACK
                .try_with(|c| c.replace(self.node))
                .unwrap_or(std::ptr::null()),
        );
        match result {
            Ok(c) => {
                let commit = synod_commit::from(&c);
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
/// for the single-node engine) or later on the member's callback thread (a
/// started member; see `synod_propose_callback` for what a callback may
/// call). It never runs after `synod_node_shutdown` returns: a shutdown
/// answers every proposal still waiting (`SYNOD_ERR_SHUTDOWN`) before it
/// returns. On failure (`SYNOD_ERR_NULL_ARGUMENT`,
/// `SYNOD_ERR_INVALID_ARGUMENT`, `SYNOD_ERR_INVALID_IDENTITY`,
/// `SYNOD_ERR_SHUTDOWN` once shutdown began or the member stopped,
/// `SYNOD_ERR_STORAGE` once it stopped on a storage failure,
/// `SYNOD_ERR_OVERLOADED` when the member has as many calls in flight as it
/// takes: this never waits for room) the callback is
/// not called and `free_user_data` is called before this function returns.
/// Strings are borrowed for the call only.
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
        // From here on the registration owns user_data: dropping it on any
        // early return releases it exactly once.
        let registration = Registration::new(node, callback, user_data, free_user_data)?;
        let node = unsafe { node_arg(node)? };
        let entry = unsafe { entry_arg(&synod_entry::transition(range, new_owner, epoch))? };
        registration.submit(node, Proposal::bare(entry), timeout_ms)
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
                entry_arg(&synod_entry::forced_transition(range, new_owner, operator_id, reason))
            })
        }
    })
}
