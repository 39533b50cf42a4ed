//! What a client learns about the cluster's members: `synod_client_status`
//! (the `synod_member_status` of the member it reached),
//! `synod_client_leader` (the node API's `synod_leader`),
//! `synod_client_transfer_leader` and `synod_client_metrics_text` (an owned
//! string, `synod_string_free`). Nothing here is computed that the member
//! does not report.

use std::ffi::{c_char, CString};

use synod::node::protocol::StatusInfo;

use super::handle::{client_arg, client_error, synod_client, write_out};
use crate::error::{c_string, out_arg, synod_status, Error, SYNOD_ERR_NOT_FOUND};
use crate::identity::identity_arg;
use crate::node::{
    hint_strings, synod_leader, synod_role, SYNOD_ROLE_CANDIDATE, SYNOD_ROLE_FOLLOWER,
    SYNOD_ROLE_LEADER, SYNOD_ROLE_PRE_CANDIDATE,
};

/// What the member a client reached says about itself: its identity, role,
/// term, the leader it knows of, its commit and applied index and catalog
/// version. A snapshot taken by `synod_client_status`.
///
/// Immutable: one handle may be read from any number of threads at once;
/// free it exactly once with `synod_member_status_free`.
pub struct synod_member_status {
    id: CString,
    peer_id: u64,
    role: synod_role,
    term: u64,
    leader_id: Option<CString>,
    leader_address: Option<CString>,
    commit: u64,
    applied: u64,
    version: u64,
}

fn role_of(text: &str) -> synod_role {
    match text {
        "leader" => SYNOD_ROLE_LEADER,
        "follower" => SYNOD_ROLE_FOLLOWER,
        "candidate" => SYNOD_ROLE_CANDIDATE,
        "pre-candidate" => SYNOD_ROLE_PRE_CANDIDATE,
        _ => 0,
    }
}

fn member_status(s: &StatusInfo) -> Result<synod_member_status, Error> {
    let (leader_id, leader_address) = match &s.leader {
        Some(hint) => {
            let (id, address) = hint_strings(hint)?;
            (Some(id), address)
        }
        None => (None, None),
    };
    Ok(synod_member_status {
        id: c_string(s.id.as_str())?,
        peer_id: s.peer_id,
        role: role_of(&s.role),
        term: s.term.get(),
        leader_id,
        leader_address,
        commit: s.commit.get(),
        applied: s.applied.get(),
        version: s.version.get(),
    })
}

/// Asks the first member that answers (the one the client is connected to,
/// else its endpoints in order) for its status, waiting at most
/// `timeout_ms` (0: the client's default).
///
/// Returns `SYNOD_OK` and writes a new `synod_member_status` to `*out`,
/// which the caller owns and frees with `synod_member_status_free`. On
/// failure `*out` is untouched: `SYNOD_ERR_UNREACHABLE` (no member answered
/// in time), `SYNOD_ERR_UNAUTHORIZED`, `SYNOD_ERR_PROTOCOL`,
/// `SYNOD_ERR_NULL_ARGUMENT`. Serialized with the client's other calls.
#[no_mangle]
pub unsafe extern "C" fn synod_client_status(
    client: *const synod_client,
    timeout_ms: u32,
    out: *mut *mut synod_member_status,
) -> synod_status {
    ffi_boundary!(status "synod_client_status", {
        let client = unsafe { client_arg(client)? };
        let out = out_arg(out, "out")?;
        let info = client.lock(timeout_ms).status().map_err(client_error)?;
        let status = member_status(&info)?;
        unsafe { write_out(out, Box::into_raw(Box::new(status))) };
        Ok(())
    })
}

/// Runs `f` on `status`, or returns `none` when it is NULL.
unsafe fn field<R>(
    status: *const synod_member_status,
    none: R,
    f: impl FnOnce(&synod_member_status) -> R,
) -> R {
    // SAFETY: NULL or a live handle (caller contract).
    unsafe { status.as_ref() }.map_or(none, f)
}

/// The member's identity, or NULL when `status` is NULL.
///
/// Borrowed from the handle: valid until `status` is freed.
#[no_mangle]
pub unsafe extern "C" fn synod_member_status_id(
    status: *const synod_member_status,
) -> *const c_char {
    ffi_boundary!(value "synod_member_status_id", std::ptr::null(), {
        unsafe { field(status, std::ptr::null(), |s| s.id.as_ptr()) }
    })
}

/// The member's raft peer id, or 0 when `status` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_member_status_peer_id(status: *const synod_member_status) -> u64 {
    ffi_boundary!(value "synod_member_status_peer_id", 0, {
        unsafe { field(status, 0, |s| s.peer_id) }
    })
}

/// The member's role (`SYNOD_ROLE_*`), or 0 when `status` is NULL or the
/// member named a role this library does not know.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_member_status_role(
    status: *const synod_member_status,
) -> synod_role {
    ffi_boundary!(value "synod_member_status_role", 0, {
        unsafe { field(status, 0, |s| s.role) }
    })
}

/// The member's current term, or 0 when `status` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_member_status_term(status: *const synod_member_status) -> u64 {
    ffi_boundary!(value "synod_member_status_term", 0, {
        unsafe { field(status, 0, |s| s.term) }
    })
}

/// The identity of the leader the member knows of, or NULL when it knows
/// none (or `status` is NULL).
///
/// Borrowed from the handle: valid until `status` is freed.
#[no_mangle]
pub unsafe extern "C" fn synod_member_status_leader_id(
    status: *const synod_member_status,
) -> *const c_char {
    ffi_boundary!(value "synod_member_status_leader_id", std::ptr::null(), {
        unsafe {
            field(status, std::ptr::null(), |s| {
                s.leader_id.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())
            })
        }
    })
}

/// That leader's address, or NULL when not known (or `status` is NULL).
///
/// Borrowed from the handle: valid until `status` is freed.
#[no_mangle]
pub unsafe extern "C" fn synod_member_status_leader_address(
    status: *const synod_member_status,
) -> *const c_char {
    ffi_boundary!(value "synod_member_status_leader_address", std::ptr::null(), {
        unsafe {
            field(status, std::ptr::null(), |s| {
                s.leader_address.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())
            })
        }
    })
}

/// The member's commit index, or 0 when `status` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_member_status_commit_index(
    status: *const synod_member_status,
) -> u64 {
    ffi_boundary!(value "synod_member_status_commit_index", 0, {
        unsafe { field(status, 0, |s| s.commit) }
    })
}

/// The member's applied index, or 0 when `status` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_member_status_applied_index(
    status: *const synod_member_status,
) -> u64 {
    ffi_boundary!(value "synod_member_status_applied_index", 0, {
        unsafe { field(status, 0, |s| s.applied) }
    })
}

/// The member's catalog version, or 0 when `status` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_member_status_version(status: *const synod_member_status) -> u64 {
    ffi_boundary!(value "synod_member_status_version", 0, {
        unsafe { field(status, 0, |s| s.version) }
    })
}

/// Frees a member status; `synod_member_status_free(NULL)` does nothing.
///
/// Takes ownership of `status`, which must come from `synod_client_status`
/// and not be used again.
#[no_mangle]
pub unsafe extern "C" fn synod_member_status_free(status: *mut synod_member_status) {
    ffi_boundary!(value "synod_member_status_free", (), {
        if !status.is_null() {
            // SAFETY: created by `Box::into_raw`, freed once (caller contract).
            drop(unsafe { Box::from_raw(status) });
        }
    })
}

/// Writes the leader the first member that answers knows of, with its
/// address and the term it leads in (that member's term), to `*out`;
/// waits at most `timeout_ms` (0: the client's default).
///
/// Returns `SYNOD_OK` and a new `synod_leader` (the node API's snapshot)
/// the caller owns and frees with `synod_leader_free`. On failure `*out` is
/// untouched: `SYNOD_ERR_NOT_FOUND` when the member that answered knows of
/// no leader (an election is under way: ask again), and the statuses of
/// `synod_client_status`. Serialized with the client's other calls.
#[no_mangle]
pub unsafe extern "C" fn synod_client_leader(
    client: *const synod_client,
    timeout_ms: u32,
    out: *mut *mut synod_leader,
) -> synod_status {
    ffi_boundary!(status "synod_client_leader", {
        let client = unsafe { client_arg(client)? };
        let out = out_arg(out, "out")?;
        let info = client.lock(timeout_ms).status().map_err(client_error)?;
        let Some(hint) = &info.leader else {
            return Err(Error::new(
                SYNOD_ERR_NOT_FOUND,
                format!("{} knows of no leader", info.id),
            ));
        };
        let (id, address) = hint_strings(hint)?;
        let leader = synod_leader {
            id,
            address,
            term: info.term.get(),
        };
        unsafe { write_out(out, Box::into_raw(Box::new(leader))) };
        Ok(())
    })
}

/// Asks the leader to hand leadership to the member `to`, and waits at
/// most `timeout_ms` (0: the client's default) for the move.
///
/// Returns `SYNOD_OK` once `to` leads. Otherwise: `SYNOD_ERR_TIMEOUT` (the
/// move did not happen in time; nothing changed), `SYNOD_ERR_UNREACHABLE`
/// (no leader answered in time), `SYNOD_ERR_INVALID_ARGUMENT` (`to` is not
/// a voter the leader can hand to), `SYNOD_ERR_UNAUTHORIZED` (operators
/// only), `SYNOD_ERR_INVALID_IDENTITY`, `SYNOD_ERR_NULL_ARGUMENT`,
/// `SYNOD_ERR_PROTOCOL`. Strings are borrowed for the call only.
#[no_mangle]
pub unsafe extern "C" fn synod_client_transfer_leader(
    client: *const synod_client,
    to: *const c_char,
    timeout_ms: u32,
) -> synod_status {
    ffi_boundary!(status "synod_client_transfer_leader", {
        let client = unsafe { client_arg(client)? };
        let to = unsafe { identity_arg(to, "to")? };
        client
            .lock(timeout_ms)
            .transfer_leader(&to)
            .map_err(client_error)
    })
}

/// Writes the metrics of the first member that answers, in the Prometheus
/// text exposition format, to `*out`; waits at most `timeout_ms` (0: the
/// client's default).
///
/// Returns `SYNOD_OK` and a new NUL-terminated string the caller owns and
/// frees with `synod_string_free`. On failure `*out` is untouched, with the
/// statuses of `synod_client_status`.
#[no_mangle]
pub unsafe extern "C" fn synod_client_metrics_text(
    client: *const synod_client,
    timeout_ms: u32,
    out: *mut *mut c_char,
) -> synod_status {
    ffi_boundary!(status "synod_client_metrics_text", {
        let client = unsafe { client_arg(client)? };
        let out = out_arg(out, "out")?;
        let text = client.lock(timeout_ms).metrics().map_err(client_error)?;
        let text = c_string(&text)?;
        unsafe { write_out(out, text.into_raw()) };
        Ok(())
    })
}
