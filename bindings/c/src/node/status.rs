//! What a started member says about its place in the cluster:
//! `synod_node_leader` (the leader it knows of, the `synod_leader` handle),
//! `synod_node_status` (its role, indexes and the peers of its applied
//! configuration with the leader's view of their replication, the
//! `synod_replica_status` handle) and `synod_node_metrics_text` (the
//! Prometheus text, an owned string released with `synod_string_free`).
//!
//! Everything here is what `synod::Node` exposes: `leader_info`, `status`,
//! `metrics` and `metrics_text`; nothing is computed that the core does not
//! report. A single-node engine has none of it
//! (`SYNOD_ERR_INVALID_ARGUMENT`).

use std::ffi::{c_char, CString};

use synod::LeaderHint;

use super::handle::{node_arg, running_member, synod_node, write_out};
use super::values::{raft_role_out, synod_role};
use crate::error::{c_string, out_arg, synod_status, Error, SYNOD_ERR_NOT_FOUND};

/// The leader a member knows of and the term it leads in: a snapshot taken
/// by `synod_node_leader`.
///
/// Immutable: one handle may be read from any number of threads at once;
/// free it exactly once with `synod_leader_free`.
pub struct synod_leader {
    pub(crate) id: CString,
    pub(crate) address: Option<CString>,
    pub(crate) term: u64,
}

pub(crate) fn hint_strings(hint: &LeaderHint) -> Result<(CString, Option<CString>), Error> {
    let address = match &hint.address {
        Some(a) => Some(c_string(a.as_str())?),
        None => None,
    };
    Ok((c_string(hint.id.as_str())?, address))
}

/// Writes the leader this started member knows of, with its address and
/// the term it leads in, to `*out`.
///
/// Returns `SYNOD_OK` and a new `synod_leader` the caller owns and frees
/// with `synod_leader_free`. On failure `*out` is untouched:
/// `SYNOD_ERR_NOT_FOUND` while this running member knows of no leader (an
/// election is under way, or it is cut off); `SYNOD_ERR_SHUTDOWN` /
/// `SYNOD_ERR_STORAGE` once it stopped (never "no leader");
/// `SYNOD_ERR_INVALID_ARGUMENT` for a single-node engine;
/// `SYNOD_ERR_NULL_ARGUMENT`. Thread-safe; never waits.
#[no_mangle]
pub unsafe extern "C" fn synod_node_leader(
    node: *const synod_node,
    out: *mut *mut synod_leader,
) -> synod_status {
    ffi_boundary!(status "synod_node_leader", {
        let node = unsafe { node_arg(node)? };
        let out = out_arg(out, "out")?;
        let member = running_member(node, "synod_node_leader")?;
        let Some(info) = member.leader_info() else {
            // `None` also means it stopped in the meantime: say that.
            node.engine.check_running()?;
            return Err(Error::new(SYNOD_ERR_NOT_FOUND, "no leader is known to this member"));
        };
        let (id, address) = hint_strings(&info.hint)?;
        let leader = Box::new(synod_leader {
            id,
            address,
            term: info.term.get(),
        });
        unsafe { write_out(out, Box::into_raw(leader)) };
        Ok(())
    })
}

/// The leader's identity, or NULL when `leader` is NULL.
///
/// Borrowed from the handle: valid until `leader` is freed; the caller must
/// not free it.
#[no_mangle]
pub unsafe extern "C" fn synod_leader_id(leader: *const synod_leader) -> *const c_char {
    ffi_boundary!(value "synod_leader_id", std::ptr::null(), {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { leader.as_ref() }.map_or(std::ptr::null(), |l| l.id.as_ptr())
    })
}

/// The leader's peer address, or NULL when the member's catalog does not
/// know it (or `leader` is NULL).
///
/// Borrowed from the handle: valid until `leader` is freed; the caller must
/// not free it.
#[no_mangle]
pub unsafe extern "C" fn synod_leader_address(leader: *const synod_leader) -> *const c_char {
    ffi_boundary!(value "synod_leader_address", std::ptr::null(), {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { leader.as_ref() }
            .and_then(|l| l.address.as_ref())
            .map_or(std::ptr::null(), |a| a.as_ptr())
    })
}

/// The term the leader leads in, or 0 when `leader` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_leader_term(leader: *const synod_leader) -> u64 {
    ffi_boundary!(value "synod_leader_term", 0, {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { leader.as_ref() }.map_or(0, |l| l.term)
    })
}

/// Frees a leader snapshot; `synod_leader_free(NULL)` does nothing.
///
/// Takes ownership of `leader`, which must come from `synod_node_leader` and
/// not be used again.
#[no_mangle]
pub unsafe extern "C" fn synod_leader_free(leader: *mut synod_leader) {
    ffi_boundary!(value "synod_leader_free", (), {
        if !leader.is_null() {
            // SAFETY: created by `Box::into_raw`, freed once (caller contract).
            drop(unsafe { Box::from_raw(leader) });
        }
    })
}

/// One peer of a member's applied raft configuration, as
/// `synod_replica_status_peer` copies it out. The strings are borrowed from
/// the `synod_replica_status` it came from: valid until that is freed.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct synod_peer {
    /// Its raft peer id (assigned by the catalog at admission, never reused).
    pub peer_id: u64,
    /// Its identity, or NULL when the catalog this member applied does not
    /// name that peer id (a configuration change not yet applied here).
    pub id: *const c_char,
    /// True for a voter, false for a learner (a member catching up before
    /// it is promoted).
    pub voter: bool,
    /// True when `matched` and `lag` hold the leader's view of this peer:
    /// only in the status of the leader, and never for the leader itself.
    pub has_progress: bool,
    /// The highest log index the leader knows is replicated to the peer.
    pub matched: u64,
    /// How many entries the peer is behind the leader's last index.
    pub lag: u64,
}

/// A started member's status: role, term, the leader it knows of, its
/// commit, applied and last log index, its proposals waiting to commit, and
/// the peers of its applied configuration with their replication progress
/// as the leader sees it. A snapshot taken by `synod_node_status`.
///
/// Immutable: one handle may be read from any number of threads at once;
/// free it exactly once with `synod_replica_status_free`.
pub struct synod_replica_status {
    role: synod_role,
    term: u64,
    peer_id: u64,
    leader_id: Option<CString>,
    leader_address: Option<CString>,
    commit: u64,
    applied: u64,
    last_index: u64,
    pending: u64,
    peers: Vec<PeerRow>,
}

struct PeerRow {
    peer_id: u64,
    id: Option<CString>,
    voter: bool,
    progress: Option<(u64, u64)>,
}

/// Takes a snapshot of this started member's status, as of its driver's
/// last turn (the driver publishes it after every batch of work: at most a
/// tick old).
///
/// Returns `SYNOD_OK` and writes a new `synod_replica_status` to `*out`,
/// which the caller owns and frees with `synod_replica_status_free`. On
/// failure `*out` is untouched: `SYNOD_ERR_SHUTDOWN` / `SYNOD_ERR_STORAGE`
/// once the member stopped; `SYNOD_ERR_INVALID_ARGUMENT` for a single-node
/// engine; `SYNOD_ERR_NULL_ARGUMENT`. Thread-safe; never waits.
#[no_mangle]
pub unsafe extern "C" fn synod_node_status(
    node: *const synod_node,
    out: *mut *mut synod_replica_status,
) -> synod_status {
    ffi_boundary!(status "synod_node_status", {
        let node = unsafe { node_arg(node)? };
        let out = out_arg(out, "out")?;
        let member = running_member(node, "synod_node_status")?;
        let status = member.status();
        let metrics = member.metrics();
        let progress = metrics.followers();
        // Peer ids are named by the catalog this member applied.
        let view = member.view()?;
        let name = |peer: u64| -> Result<Option<CString>, Error> {
            match view.members().find(|m| m.peer_id == peer) {
                Some(m) => Ok(Some(c_string(m.id.as_str())?)),
                None => Ok(None),
            }
        };
        let mut peers = Vec::with_capacity(status.voters.len() + status.learners.len());
        for (list, voter) in [(&status.voters, true), (&status.learners, false)] {
            for &peer_id in list {
                peers.push(PeerRow {
                    peer_id,
                    id: name(peer_id)?,
                    voter,
                    progress: progress.get(&peer_id).map(|p| (p.matched, p.lag)),
                });
            }
        }
        let (leader_id, leader_address) = match &status.leader {
            Some(hint) => {
                let (id, address) = hint_strings(hint)?;
                (Some(id), address)
            }
            None => (None, None),
        };
        let report = Box::new(synod_replica_status {
            role: raft_role_out(status.role),
            term: status.term.get(),
            peer_id: status.peer_id,
            leader_id,
            leader_address,
            commit: status.commit.get(),
            applied: status.applied.get(),
            last_index: status.last_index.get(),
            pending: metrics
                .proposals_pending
                .load(std::sync::atomic::Ordering::Relaxed),
            peers,
        });
        unsafe { write_out(out, Box::into_raw(report)) };
        Ok(())
    })
}

/// Runs `f` on `status`, or returns `none` when it is NULL.
unsafe fn with<R>(
    status: *const synod_replica_status,
    none: R,
    f: impl FnOnce(&synod_replica_status) -> R,
) -> R {
    // SAFETY: NULL or a live handle (caller contract).
    unsafe { status.as_ref() }.map_or(none, f)
}

/// The member's role (`SYNOD_ROLE_*`), or 0 when `status` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_replica_status_role(
    status: *const synod_replica_status,
) -> synod_role {
    ffi_boundary!(value "synod_replica_status_role", 0, {
        unsafe { with(status, 0, |s| s.role) }
    })
}

/// The member's current term, or 0 when `status` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_replica_status_term(status: *const synod_replica_status) -> u64 {
    ffi_boundary!(value "synod_replica_status_term", 0, {
        unsafe { with(status, 0, |s| s.term) }
    })
}

/// The member's own raft peer id, or 0 when `status` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_replica_status_peer_id(status: *const synod_replica_status) -> u64 {
    ffi_boundary!(value "synod_replica_status_peer_id", 0, {
        unsafe { with(status, 0, |s| s.peer_id) }
    })
}

/// The identity of the leader the member knows of, or NULL when it knows of
/// none (or `status` is NULL).
///
/// Borrowed from the handle: valid until `status` is freed; the caller must
/// not free it.
#[no_mangle]
pub unsafe extern "C" fn synod_replica_status_leader_id(
    status: *const synod_replica_status,
) -> *const c_char {
    ffi_boundary!(value "synod_replica_status_leader_id", std::ptr::null(), {
        unsafe {
            with(status, std::ptr::null(), |s| {
                s.leader_id.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())
            })
        }
    })
}

/// The peer address of that leader, or NULL when no leader is known, its
/// address is not, or `status` is NULL.
///
/// Borrowed from the handle: valid until `status` is freed; the caller must
/// not free it.
#[no_mangle]
pub unsafe extern "C" fn synod_replica_status_leader_address(
    status: *const synod_replica_status,
) -> *const c_char {
    ffi_boundary!(value "synod_replica_status_leader_address", std::ptr::null(), {
        unsafe {
            with(status, std::ptr::null(), |s| {
                s.leader_address.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())
            })
        }
    })
}

/// The member's commit index (0 before anything committed), or 0 when
/// `status` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_replica_status_commit_index(
    status: *const synod_replica_status,
) -> u64 {
    ffi_boundary!(value "synod_replica_status_commit_index", 0, {
        unsafe { with(status, 0, |s| s.commit) }
    })
}

/// The index of the last entry the member applied to its catalog, or 0 when
/// `status` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_replica_status_applied_index(
    status: *const synod_replica_status,
) -> u64 {
    ffi_boundary!(value "synod_replica_status_applied_index", 0, {
        unsafe { with(status, 0, |s| s.applied) }
    })
}

/// The index of the last entry in the member's log (committed or not), or
/// 0 when `status` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_replica_status_last_index(
    status: *const synod_replica_status,
) -> u64 {
    ffi_boundary!(value "synod_replica_status_last_index", 0, {
        unsafe { with(status, 0, |s| s.last_index) }
    })
}

/// The proposals this member holds waiting for their entry to commit, or 0
/// when `status` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_replica_status_pending_proposals(
    status: *const synod_replica_status,
) -> u64 {
    ffi_boundary!(value "synod_replica_status_pending_proposals", 0, {
        unsafe { with(status, 0, |s| s.pending) }
    })
}

/// The number of peers in the member's applied configuration (voters, then
/// learners; the member itself among them), or 0 when `status` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_replica_status_peer_count(
    status: *const synod_replica_status,
) -> usize {
    ffi_boundary!(value "synod_replica_status_peer_count", 0, {
        unsafe { with(status, 0, |s| s.peers.len()) }
    })
}

/// Copies peer `i` (voters first, in peer id order, then learners) to
/// `*out`.
///
/// Returns `SYNOD_OK`, or `SYNOD_ERR_NOT_FOUND` when `i` is not below
/// `synod_replica_status_peer_count`, `SYNOD_ERR_NULL_ARGUMENT`; `*out` is
/// written only on `SYNOD_OK`. Its strings are borrowed from `status`:
/// valid until `status` is freed.
#[no_mangle]
pub unsafe extern "C" fn synod_replica_status_peer(
    status: *const synod_replica_status,
    i: usize,
    out: *mut synod_peer,
) -> synod_status {
    ffi_boundary!(status "synod_replica_status_peer", {
        // SAFETY: NULL or a live handle (caller contract).
        let status = unsafe { status.as_ref() }.ok_or_else(|| Error::null("status"))?;
        let out = out_arg(out, "out")?;
        let row = status.peers.get(i).ok_or_else(|| {
            Error::new(
                SYNOD_ERR_NOT_FOUND,
                format!("peer {i} of {}", status.peers.len()),
            )
        })?;
        let (matched, lag) = row.progress.unwrap_or((0, 0));
        let peer = synod_peer {
            peer_id: row.peer_id,
            id: row.id.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            voter: row.voter,
            has_progress: row.progress.is_some(),
            matched,
            lag,
        };
        unsafe { write_out(out, peer) };
        Ok(())
    })
}

/// Frees a status snapshot; `synod_replica_status_free(NULL)` does nothing.
///
/// Takes ownership of `status`, which must come from `synod_node_status` and
/// not be used again.
#[no_mangle]
pub unsafe extern "C" fn synod_replica_status_free(status: *mut synod_replica_status) {
    ffi_boundary!(value "synod_replica_status_free", (), {
        if !status.is_null() {
            // SAFETY: created by `Box::into_raw`, freed once (caller contract).
            drop(unsafe { Box::from_raw(status) });
        }
    })
}

/// Writes this started member's metrics in the Prometheus text exposition
/// format (every series labelled with the member) to `*out`.
///
/// Returns `SYNOD_OK` and a new NUL-terminated string the caller owns and
/// frees with `synod_string_free` (the one kind of string out the caller
/// frees). On failure `*out` is untouched: `SYNOD_ERR_SHUTDOWN` /
/// `SYNOD_ERR_STORAGE` once the member stopped; `SYNOD_ERR_INVALID_ARGUMENT`
/// for a single-node engine; `SYNOD_ERR_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn synod_node_metrics_text(
    node: *const synod_node,
    out: *mut *mut c_char,
) -> synod_status {
    ffi_boundary!(status "synod_node_metrics_text", {
        let node = unsafe { node_arg(node)? };
        let out = out_arg(out, "out")?;
        let member = running_member(node, "synod_node_metrics_text")?;
        let text = c_string(&member.metrics_text())?;
        unsafe { write_out(out, text.into_raw()) };
        Ok(())
    })
}

/// Frees a string the library handed to the caller to own (today only
/// `synod_node_metrics_text`'s); `synod_string_free(NULL)` does nothing.
///
/// Takes ownership of `s`, which must come from such a function and not be
/// used again. Never pass it a `const char *` borrowed from a handle or a
/// static string.
#[no_mangle]
pub unsafe extern "C" fn synod_string_free(s: *mut c_char) {
    ffi_boundary!(value "synod_string_free", (), {
        if !s.is_null() {
            // SAFETY: created by `CString::into_raw`, freed once (caller contract).
            drop(unsafe { CString::from_raw(s) });
        }
    })
}
