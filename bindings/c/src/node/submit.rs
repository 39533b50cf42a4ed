//! Every entry kind a caller may propose, through one typed description
//! (`synod_entry`, see `entry`), blocking (`synod_node_submit`) or answered through a callback
//! (`synod_node_submit_async`), optionally in an exactly-once session
//! (`synod_session`): a proposal retried with the same client id and
//! sequence number takes effect once, and the retry answers the first
//! outcome (docs/adr/0006-exactly-once-proposals.md).

use std::ffi::c_void;
use std::time::Duration;

use synod::entry::{ClientId, Proposal, ProposalSession};

use super::entry::{entry_arg, synod_entry};
use super::handle::{node_arg, synod_node, write_out};
use super::propose::{synod_free_callback, synod_propose_callback, Registration};
use super::values::synod_commit;
use crate::error::{out_arg, synod_status, Error, SYNOD_ERR_INVALID_ARGUMENT};

/// An exactly-once session: a client id (128 bits, random: see
/// `synod_session_new`) and the sequence number of one proposal. Give each
/// new proposal the next `seq`; give a retry of a proposal the same
/// `client_hi`, `client_lo` and `seq` as its first attempt: it takes effect
/// once, and the retry answers the first attempt's outcome. Keep at most 128
/// proposals of one client in flight (the catalog remembers the outcomes of
/// a client's 128 highest sequence numbers).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct synod_session {
    /// The client id's high 64 bits.
    pub client_hi: u64,
    /// The client id's low 64 bits.
    pub client_lo: u64,
    /// This proposal's sequence number (from 1).
    pub seq: u64,
}

/// Writes a new session to `*out`: a random client id and `seq` 0 (set
/// `seq` to 1 for the first proposal). Returns `SYNOD_OK`, or
/// `SYNOD_ERR_NULL_ARGUMENT` (`*out` untouched).
#[no_mangle]
pub unsafe extern "C" fn synod_session_new(out: *mut synod_session) -> synod_status {
    ffi_boundary!(status "synod_session_new", {
        let out = out_arg(out, "out")?;
        let id = ClientId::random().0;
        let session = synod_session {
            client_hi: (id >> 64) as u64,
            client_lo: id as u64,
            seq: 0,
        };
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, session) };
        Ok(())
    })
}

/// The proposal of `entry` in `session` (NULL: none).
unsafe fn proposal_arg(
    entry: *const synod_entry,
    session: *const synod_session,
) -> Result<Proposal, Error> {
    // SAFETY: forwarded caller contract.
    let entry = unsafe { entry_arg(entry)? };
    // SAFETY: NULL or a valid `synod_session` (caller contract).
    let session = match unsafe { session.as_ref() } {
        None => None,
        Some(s) if s.seq == 0 => {
            return Err(Error::new(
                SYNOD_ERR_INVALID_ARGUMENT,
                "session.seq is 0: sequence numbers start at 1",
            ))
        }
        Some(s) => Some(ProposalSession {
            client: ClientId((u128::from(s.client_hi) << 64) | u128::from(s.client_lo)),
            seq: s.seq,
        }),
    };
    Ok(Proposal { session, entry })
}

/// Proposes `entry` (any kind a caller may propose), in `session` when not
/// NULL, and waits up to `timeout_ms` for it to commit.
///
/// On `SYNOD_OK` `*out` receives the commit; on any failure it is untouched.
/// What each status promises about the outcome is in the header's opening
/// comment: `SYNOD_ERR_REFUSED`, `SYNOD_ERR_NOT_LEADER`,
/// `SYNOD_ERR_OVERLOADED` and argument errors took no effect;
/// `SYNOD_ERR_TIMEOUT`, `SYNOD_ERR_NO_QUORUM`, `SYNOD_ERR_INDETERMINATE`,
/// `SYNOD_ERR_SHUTDOWN` during the wait and `SYNOD_ERR_STORAGE` may have:
/// retry in the same session to learn the outcome without applying it
/// twice. A retry whose first attempt is too old to be remembered is
/// answered `SYNOD_ERR_REFUSED` with the retry-too-old outcome (never
/// applied again). Strings are borrowed for the call only. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn synod_node_submit(
    node: *const synod_node,
    entry: *const synod_entry,
    session: *const synod_session,
    timeout_ms: u32,
    out: *mut synod_commit,
) -> synod_status {
    ffi_boundary!(status "synod_node_submit", {
        // SAFETY: forwarded caller contract.
        let node = unsafe { node_arg(node)? };
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded caller contract.
        let proposal = unsafe { proposal_arg(entry, session)? };
        let committed = node
            .engine
            .submit(proposal, Duration::from_millis(u64::from(timeout_ms)))?;
        let commit = synod_commit::from(&committed);
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, commit) };
        Ok(())
    })
}

/// `synod_node_submit` without waiting: `callback` receives the answer
/// exactly once, then `free_user_data` (if not NULL) releases `user_data`,
/// as for `synod_node_propose_transition_async` (the same threads, the same
/// promise that no callback runs after `synod_node_shutdown` returns). On
/// failure the callback is not called and `free_user_data` is called before
/// this function returns. Strings are borrowed for the call only.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn synod_node_submit_async(
    node: *const synod_node,
    entry: *const synod_entry,
    session: *const synod_session,
    timeout_ms: u32,
    callback: synod_propose_callback,
    user_data: *mut c_void,
    free_user_data: synod_free_callback,
) -> synod_status {
    ffi_boundary!(status "synod_node_submit_async", {
        // From here on the registration owns user_data: dropping it on any
        // early return releases it exactly once.
        let registration = Registration::new(node, callback, user_data, free_user_data)?;
        // SAFETY: forwarded caller contract.
        let node = unsafe { node_arg(node)? };
        // SAFETY: forwarded caller contract.
        let proposal = unsafe { proposal_arg(entry, session)? };
        registration.submit(node, proposal, timeout_ms)
    })
}
