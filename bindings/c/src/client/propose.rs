//! A client's typed proposals, one per entry the node API lets a caller
//! propose (admit, begin drain, remove, transition, forced transition),
//! each blocking until its commit; and `synod_client_propose_transitions`,
//! a pipelined batch of transitions. None takes bytes.
//!
//! Every proposal is exactly-once: it carries the client's session and a
//! sequence number of its own, and the client's retries (another member, a
//! new leader) repeat both, so it takes effect at most once. What each
//! status promises about the outcome is stated once, on
//! `synod_client_propose_admit`.

use std::ffi::c_char;

use synod::{Committed, ControlPlaneEntry, Epoch, OwnershipTransition};

use super::handle::{client_arg, client_error, parsed, synod_client, write_out};
use crate::error::{out_arg, synod_refusal_code, synod_status, Error, SYNOD_OK};
use crate::identity::identity_arg;
use crate::node::{entry_arg, synod_commit, synod_entry, synod_member_kind};

fn commit_out(c: &Committed) -> synod_commit {
    synod_commit::from(c)
}

/// The shared body of the blocking proposals.
unsafe fn propose(
    client: *const synod_client,
    timeout_ms: u32,
    out: *mut synod_commit,
    entry: impl FnOnce() -> Result<ControlPlaneEntry, Error>,
) -> Result<(), Error> {
    // SAFETY: forwarded caller contract.
    let client = unsafe { client_arg(client)? };
    let out = out_arg(out, "out")?;
    let entry = entry()?;
    let committed = client
        .lock(timeout_ms)
        .propose(entry)
        .map_err(client_error)?;
    // SAFETY: checked non-NULL above.
    unsafe { write_out(out, commit_out(&committed)) };
    Ok(())
}

/// Proposes admitting `member` as a `kind` member reachable at `address`
/// through the leader, and waits up to `timeout_ms` (0: the client's
/// default) for it to commit, following the leader and retrying in the
/// client's session.
///
/// On `SYNOD_OK` `*out` receives the commit (`changed == false` for a
/// repeat that was already in effect); on any failure it is untouched.
/// What a failure says about the outcome, for every
/// `synod_client_propose_*`:
/// * `SYNOD_ERR_INDETERMINATE`: an attempt may have reached the log and the
///   deadline passed before a retry learnt its fate: it may have taken
///   effect (once). Read the state before acting on it.
/// * `SYNOD_ERR_PROTOCOL`: a member answered something that is not a
///   commit: as indeterminate.
/// * `SYNOD_ERR_REFUSED` (see `synod_last_refusal_code`,
///   `synod_last_refusal_position`), `SYNOD_ERR_UNREACHABLE` (no member
///   reached, or none led, in time: no attempt can have reached a log),
///   `SYNOD_ERR_UNAUTHORIZED`, `SYNOD_ERR_INVALID_ARGUMENT`,
///   `SYNOD_ERR_INVALID_IDENTITY`, `SYNOD_ERR_NULL_ARGUMENT`: it did not
///   take effect.
///
/// Serialized with the client's other calls; strings are borrowed for the
/// call only.
#[no_mangle]
pub unsafe extern "C" fn synod_client_propose_admit(
    client: *const synod_client,
    member: *const c_char,
    kind: synod_member_kind,
    address: *const c_char,
    timeout_ms: u32,
    out: *mut synod_commit,
) -> synod_status {
    ffi_boundary!(status "synod_client_propose_admit", {
        unsafe {
            propose(client, timeout_ms, out, || {
                entry_arg(&synod_entry::admit(member, kind, address))
            })
        }
    })
}

/// Proposes putting `member` into drain, as `synod_client_propose_admit`
/// proposes (same statuses and promises).
#[no_mangle]
pub unsafe extern "C" fn synod_client_propose_begin_drain(
    client: *const synod_client,
    member: *const c_char,
    timeout_ms: u32,
    out: *mut synod_commit,
) -> synod_status {
    ffi_boundary!(status "synod_client_propose_begin_drain", {
        unsafe {
            propose(client, timeout_ms, out, || {
                entry_arg(&synod_entry::begin_drain(member))
            })
        }
    })
}

/// Proposes removing `member` (refused while it owns ranges, and for the
/// last member), as `synod_client_propose_admit` proposes (same statuses
/// and promises).
#[no_mangle]
pub unsafe extern "C" fn synod_client_propose_remove(
    client: *const synod_client,
    member: *const c_char,
    timeout_ms: u32,
    out: *mut synod_commit,
) -> synod_status {
    ffi_boundary!(status "synod_client_propose_remove", {
        unsafe {
            propose(client, timeout_ms, out, || {
                entry_arg(&synod_entry::remove(member))
            })
        }
    })
}

/// Proposes the fenced transition of `range` to `new_owner` at `epoch`
/// (exactly the range's current epoch plus one: a stale one is refused
/// with `SYNOD_REFUSAL_STALE_EPOCH`, one that skips with
/// `SYNOD_REFUSAL_EPOCH_NOT_NEXT`), as `synod_client_propose_admit`
/// proposes (same statuses and promises).
#[no_mangle]
pub unsafe extern "C" fn synod_client_propose_transition(
    client: *const synod_client,
    range: *const c_char,
    new_owner: *const c_char,
    epoch: u64,
    timeout_ms: u32,
    out: *mut synod_commit,
) -> synod_status {
    ffi_boundary!(status "synod_client_propose_transition", {
        unsafe {
            propose(client, timeout_ms, out, || {
                entry_arg(&synod_entry::transition(range, new_owner, epoch))
            })
        }
    })
}

/// Proposes an operator's forced transition of `range` to `new_owner`
/// (recorded in the audit list with `operator_id` and `reason`, never
/// blank; the range moves to its current epoch plus one), as
/// `synod_client_propose_admit` proposes (same statuses and promises).
#[no_mangle]
pub unsafe extern "C" fn synod_client_propose_forced_transition(
    client: *const synod_client,
    range: *const c_char,
    new_owner: *const c_char,
    operator_id: *const c_char,
    reason: *const c_char,
    timeout_ms: u32,
    out: *mut synod_commit,
) -> synod_status {
    ffi_boundary!(status "synod_client_propose_forced_transition", {
        unsafe {
            propose(client, timeout_ms, out, || {
                entry_arg(&synod_entry::forced_transition(range, new_owner, operator_id, reason))
            })
        }
    })
}

/// One transition of a pipelined batch (`synod_client_propose_transitions`).
/// The strings are borrowed for the call only.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct synod_transition_request {
    /// The range.
    pub range: *const c_char,
    /// Its new owner.
    pub new_owner: *const c_char,
    /// Exactly the range's current epoch plus one.
    pub epoch: u64,
}

/// The outcome of one entry of a batch.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct synod_batch_result {
    /// `SYNOD_OK` (then `commit` is its commit) or the status its own
    /// proposal would have returned, with the same promise about the
    /// outcome (see `synod_client_propose_admit`).
    pub status: synod_status,
    /// For `SYNOD_ERR_REFUSED`: why; else `SYNOD_REFUSAL_NONE`.
    pub refusal: synod_refusal_code,
    /// For `SYNOD_OK`: the commit; else zeroed.
    pub commit: synod_commit,
}

/// Proposes the `n` transitions of `requests` pipelined: sent to the
/// leader on one connection without waiting for each other (they commit
/// together, in an order not promised), each exactly once in a sequence
/// number of its own; an entry the pipelined attempt did not settle is
/// retried alone, as a single proposal is. All share `timeout_ms` (0: the
/// client's default).
///
/// Every request is checked before anything is sent: a NULL or invalid
/// string returns its status (`SYNOD_ERR_NULL_ARGUMENT`,
/// `SYNOD_ERR_INVALID_ARGUMENT`, `SYNOD_ERR_INVALID_IDENTITY`, the last
/// error naming the request) and nothing is proposed or written. Otherwise
/// returns `SYNOD_OK` and writes each entry's outcome to `results[i]` (an
/// array of `n` the caller owns): `SYNOD_OK` does not mean every entry
/// committed; look at each `status`. `n == 0` returns `SYNOD_OK` at once
/// (`requests` and `results` may then be NULL). The last error is left as
/// it was by the batch's entries: read each entry's `status`.
#[no_mangle]
pub unsafe extern "C" fn synod_client_propose_transitions(
    client: *const synod_client,
    requests: *const synod_transition_request,
    n: usize,
    timeout_ms: u32,
    results: *mut synod_batch_result,
) -> synod_status {
    ffi_boundary!(status "synod_client_propose_transitions", {
        let client = unsafe { client_arg(client)? };
        if n == 0 {
            return Ok(());
        }
        if requests.is_null() {
            return Err(Error::null("requests"));
        }
        let results = out_arg(results, "results")?;
        // SAFETY: `requests` holds `n` readable requests (caller contract).
        let requests = unsafe { std::slice::from_raw_parts(requests, n) };
        let entries = requests
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let what = |field: &str| format!("requests[{i}].{field}");
                Ok(ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
                    range: unsafe { parsed(r.range, &what("range"))? },
                    new_owner: unsafe { identity_arg(r.new_owner, &what("new_owner"))? },
                    epoch: Epoch(r.epoch),
                }))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let outcomes = client.lock(timeout_ms).propose_all(entries);
        for (i, outcome) in outcomes.into_iter().enumerate().take(n) {
            let zero = synod_commit {
                index: 0,
                term: 0,
                version: 0,
                changed: false,
            };
            let result = match outcome {
                Ok(c) => synod_batch_result {
                    status: SYNOD_OK,
                    refusal: 0,
                    commit: commit_out(&c),
                },
                Err(e) => {
                    let e = client_error(e);
                    synod_batch_result {
                        status: e.status,
                        refusal: e.refusal.map_or(0, |r| r.code),
                        commit: zero,
                    }
                }
            };
            // SAFETY: `results` holds `n` writable results (caller contract).
            unsafe { write_out(results.add(i), result) };
        }
        Ok(())
    })
}
