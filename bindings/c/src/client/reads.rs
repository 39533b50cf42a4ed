//! A client's reads: owner, fence check and members at a chosen level
//! (`SYNOD_READ_LOCAL`, `_AT_LEAST`, `_LINEARIZABLE`, as `synod_node_read`),
//! each saying the applied index and term it reflects in a
//! `synod_read_position`; every owned range (`synod_range_list`) and the
//! audit list (the node API's `synod_audit_list`), locally or
//! linearizably.
//!
//! The answers are the node API's types (`synod_ownership`,
//! `synod_fence_status`, `synod_member_list`, `synod_range`,
//! `synod_audit_list`); what each level promises is
//! `docs/adr/0008-read-levels.md`, served by whichever member answers.

use std::ffi::{c_char, CString};

use synod::node::protocol::ReadLevel;
use synod::{Epoch, Index, NodeId, RangeId};

use super::handle::{client_arg, client_error, parsed, synod_client, write_out};
use crate::error::{
    c_string, out_arg, synod_status, Error, SYNOD_ERR_INVALID_ARGUMENT, SYNOD_ERR_NOT_FOUND,
};
use crate::identity::identity_arg;
use crate::node::{
    audit_row, fence_out, member_list, ownership_snapshot, synod_audit_list, synod_fence_status,
    synod_member_list, synod_ownership, synod_range, synod_read_level, SYNOD_READ_AT_LEAST,
    SYNOD_READ_LINEARIZABLE, SYNOD_READ_LOCAL,
};

/// Where in the log a client read's answer stands: the applied index of
/// the member that answered, and the term of the entry at that index.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct synod_read_position {
    /// The applied index the answer reflects.
    pub index: u64,
    /// The term of the entry at `index` (0 before the first entry).
    pub term: u64,
}

fn level_arg(level: synod_read_level, at_least_index: u64) -> Result<ReadLevel, Error> {
    match level {
        SYNOD_READ_AT_LEAST => Ok(ReadLevel::AtLeast(Index(at_least_index))),
        SYNOD_READ_LOCAL | SYNOD_READ_LINEARIZABLE if at_least_index != 0 => Err(Error::new(
            SYNOD_ERR_INVALID_ARGUMENT,
            format!(
                "at_least_index {at_least_index} given with a level other than SYNOD_READ_AT_LEAST"
            ),
        )),
        SYNOD_READ_LOCAL => Ok(ReadLevel::Local),
        SYNOD_READ_LINEARIZABLE => Ok(ReadLevel::Linearizable),
        other => Err(Error::new(
            SYNOD_ERR_INVALID_ARGUMENT,
            format!("level {other} is not a synod_read_level"),
        )),
    }
}

/// `SYNOD_READ_LOCAL` (false) or `SYNOD_READ_LINEARIZABLE` (true) for the
/// reads that have no other level.
fn linearizable_arg(level: synod_read_level) -> Result<bool, Error> {
    match level {
        SYNOD_READ_LOCAL => Ok(false),
        SYNOD_READ_LINEARIZABLE => Ok(true),
        other => Err(Error::new(
            SYNOD_ERR_INVALID_ARGUMENT,
            format!("level {other}: only SYNOD_READ_LOCAL or SYNOD_READ_LINEARIZABLE here"),
        )),
    }
}

unsafe fn write_position(at: *mut synod_read_position, index: Index, term: synod::Term) {
    if !at.is_null() {
        // SAFETY: `at` is valid and writable (caller contract).
        unsafe {
            write_out(
                at,
                synod_read_position {
                    index: index.get(),
                    term: term.get(),
                },
            )
        };
    }
}

/// Looks up the owner of `range` at `level` (`at_least_index`: the index
/// `SYNOD_READ_AT_LEAST` waits for, 0 for the other levels), waiting at
/// most `timeout_ms` (0: the client's default).
///
/// Returns `SYNOD_OK`, writes a new `synod_ownership` to `*out` (the caller
/// owns it and frees it with `synod_ownership_free`) and, when `at` is not
/// NULL, the position the answer reflects to `*at`. On failure neither is
/// written: `SYNOD_ERR_NOT_FOUND` when the range has no owner at that
/// position; `SYNOD_ERR_TIMEOUT` (the member did not reach the index, or no
/// leader confirmed a linearizable read, in time), `SYNOD_ERR_UNREACHABLE`,
/// `SYNOD_ERR_UNAUTHORIZED`, `SYNOD_ERR_PROTOCOL`,
/// `SYNOD_ERR_INVALID_ARGUMENT`, `SYNOD_ERR_NULL_ARGUMENT`. Serialized with
/// the client's other calls; strings are borrowed for the call only.
#[no_mangle]
pub unsafe extern "C" fn synod_client_owner(
    client: *const synod_client,
    range: *const c_char,
    level: synod_read_level,
    at_least_index: u64,
    timeout_ms: u32,
    out: *mut *mut synod_ownership,
    at: *mut synod_read_position,
) -> synod_status {
    ffi_boundary!(status "synod_client_owner", {
        let client = unsafe { client_arg(client)? };
        let out = out_arg(out, "out")?;
        let range: RangeId = unsafe { parsed(range, "range")? };
        let level = level_arg(level, at_least_index)?;
        let read = client.lock(timeout_ms).owner_at(&range, level).map_err(client_error)?;
        let snapshot = ownership_snapshot(&range, read.value.as_ref())?;
        unsafe {
            write_out(out, Box::into_raw(snapshot));
            write_position(at, read.index, read.term);
        }
        Ok(())
    })
}

/// Checks whether (`owner`, `epoch`) is the current owner of `range` at
/// `level` (as `synod_client_owner`): a data plane's fence.
///
/// Returns `SYNOD_OK`, writes `SYNOD_FENCE_CURRENT`, `SYNOD_FENCE_STALE` or
/// `SYNOD_FENCE_UNKNOWN` to `*out` and, when `at` is not NULL, the position
/// the answer reflects to `*at`; on failure neither is written, with the
/// statuses of `synod_client_owner` (never `SYNOD_ERR_NOT_FOUND`: a range
/// without an owner is `SYNOD_FENCE_UNKNOWN`) and
/// `SYNOD_ERR_INVALID_IDENTITY`.
#[no_mangle]
pub unsafe extern "C" fn synod_client_fence_check(
    client: *const synod_client,
    range: *const c_char,
    owner: *const c_char,
    epoch: u64,
    level: synod_read_level,
    at_least_index: u64,
    timeout_ms: u32,
    out: *mut synod_fence_status,
    at: *mut synod_read_position,
) -> synod_status {
    ffi_boundary!(status "synod_client_fence_check", {
        let client = unsafe { client_arg(client)? };
        let out = out_arg(out, "out")?;
        let range: RangeId = unsafe { parsed(range, "range")? };
        let owner = unsafe { identity_arg(owner, "owner")? };
        let level = level_arg(level, at_least_index)?;
        let read = client
            .lock(timeout_ms)
            .fence_check_at(&range, &owner, Epoch(epoch), level)
            .map_err(client_error)?;
        unsafe {
            write_out(out, fence_out(&read.value));
            write_position(at, read.index, read.term);
        }
        Ok(())
    })
}

/// Takes the members, in identity order, at `level` (as
/// `synod_client_owner`).
///
/// Returns `SYNOD_OK`, writes a new `synod_member_list` to `*out` (the
/// caller owns it and frees it with `synod_member_list_free`) and, when
/// `at` is not NULL, the position to `*at`; on failure neither is written,
/// with the statuses of `synod_client_owner` but `SYNOD_ERR_NOT_FOUND`.
#[no_mangle]
pub unsafe extern "C" fn synod_client_members(
    client: *const synod_client,
    level: synod_read_level,
    at_least_index: u64,
    timeout_ms: u32,
    out: *mut *mut synod_member_list,
    at: *mut synod_read_position,
) -> synod_status {
    ffi_boundary!(status "synod_client_members", {
        let client = unsafe { client_arg(client)? };
        let out = out_arg(out, "out")?;
        let level = level_arg(level, at_least_index)?;
        let read = client.lock(timeout_ms).members_at(level).map_err(client_error)?;
        let list = member_list(read.value.iter())?;
        unsafe {
            write_out(out, Box::into_raw(list));
            write_position(at, read.index, read.term);
        }
        Ok(())
    })
}

/// Owned ranges fetched by a client, in range id order: made by
/// `synod_client_ranges`.
///
/// Immutable: one handle may be read from any number of threads at once;
/// free it exactly once with `synod_range_list_free`.
pub struct synod_range_list {
    rows: Vec<RangeRow>,
}

struct RangeRow {
    range: CString,
    owner: CString,
    epoch: u64,
    version: u64,
    term: u64,
    index: u64,
}

/// Fetches every owned range (page by page, as the member serves them), or
/// only those of `owner` when it is not NULL, at `level`:
/// `SYNOD_READ_LOCAL` or `SYNOD_READ_LINEARIZABLE` (each page at that
/// level; a cluster that changes in between may show pages of different
/// positions). Waits at most `timeout_ms` (0: the client's default) per
/// page.
///
/// Returns `SYNOD_OK` and writes a new `synod_range_list` to `*out`, which
/// the caller owns and frees with `synod_range_list_free`; on failure
/// `*out` is untouched: `SYNOD_ERR_INVALID_ARGUMENT` (another level),
/// `SYNOD_ERR_INVALID_IDENTITY`, and the statuses of `synod_client_owner`
/// but `SYNOD_ERR_NOT_FOUND`.
#[no_mangle]
pub unsafe extern "C" fn synod_client_ranges(
    client: *const synod_client,
    owner: *const c_char,
    level: synod_read_level,
    timeout_ms: u32,
    out: *mut *mut synod_range_list,
) -> synod_status {
    ffi_boundary!(status "synod_client_ranges", {
        let client = unsafe { client_arg(client)? };
        let out = out_arg(out, "out")?;
        let owner: Option<NodeId> = if owner.is_null() {
            None
        } else {
            Some(unsafe { identity_arg(owner, "owner")? })
        };
        let linearizable = linearizable_arg(level)?;
        let all = client.lock(timeout_ms).ranges(linearizable).map_err(client_error)?;
        let rows = all
            .iter()
            .filter(|(_, o)| owner.as_ref().is_none_or(|want| *want == o.owner))
            .map(|(r, o)| {
                Ok(RangeRow {
                    range: c_string(r.as_str())?,
                    owner: c_string(o.owner.as_str())?,
                    epoch: o.epoch.get(),
                    version: o.version.get(),
                    term: o.term.get(),
                    index: o.index.get(),
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        unsafe { write_out(out, Box::into_raw(Box::new(synod_range_list { rows }))) };
        Ok(())
    })
}

/// The number of ranges in the list, 0 when `list` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_range_list_len(list: *const synod_range_list) -> usize {
    ffi_boundary!(value "synod_range_list_len", 0, {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { list.as_ref() }.map_or(0, |l| l.rows.len())
    })
}

/// Copies range `i` (in range id order) to `*out`.
///
/// Returns `SYNOD_OK`, or `SYNOD_ERR_NOT_FOUND` when `i` is not below
/// `synod_range_list_len`, `SYNOD_ERR_NULL_ARGUMENT`; `*out` is written
/// only on `SYNOD_OK`. Its strings are borrowed from `list`: valid until
/// `list` is freed.
#[no_mangle]
pub unsafe extern "C" fn synod_range_list_get(
    list: *const synod_range_list,
    i: usize,
    out: *mut synod_range,
) -> synod_status {
    ffi_boundary!(status "synod_range_list_get", {
        // SAFETY: NULL or a live handle (caller contract).
        let list = unsafe { list.as_ref() }.ok_or_else(|| Error::null("list"))?;
        let out = out_arg(out, "out")?;
        let r = list.rows.get(i).ok_or_else(|| {
            Error::new(SYNOD_ERR_NOT_FOUND, format!("range {i} of {}", list.rows.len()))
        })?;
        let row = synod_range {
            range: r.range.as_ptr(),
            owner: r.owner.as_ptr(),
            epoch: r.epoch,
            version: r.version,
            term: r.term,
            index: r.index,
        };
        unsafe { write_out(out, row) };
        Ok(())
    })
}

/// Frees a range list; `synod_range_list_free(NULL)` does nothing.
///
/// Takes ownership of `list`, which must come from `synod_client_ranges`
/// and not be used again.
#[no_mangle]
pub unsafe extern "C" fn synod_range_list_free(list: *mut synod_range_list) {
    ffi_boundary!(value "synod_range_list_free", (), {
        if !list.is_null() {
            // SAFETY: created by `Box::into_raw`, freed once (caller contract).
            drop(unsafe { Box::from_raw(list) });
        }
    })
}

/// Fetches the audit list (every forced ownership transition, oldest
/// first, page by page) at `level`: `SYNOD_READ_LOCAL` or
/// `SYNOD_READ_LINEARIZABLE`. Waits at most `timeout_ms` (0: the client's
/// default).
///
/// Returns `SYNOD_OK` and writes a new `synod_audit_list` (the node API's)
/// to `*out`, which the caller owns and frees with `synod_audit_list_free`;
/// on failure `*out` is untouched, with the statuses of
/// `synod_client_ranges`.
#[no_mangle]
pub unsafe extern "C" fn synod_client_audit(
    client: *const synod_client,
    level: synod_read_level,
    timeout_ms: u32,
    out: *mut *mut synod_audit_list,
) -> synod_status {
    ffi_boundary!(status "synod_client_audit", {
        let client = unsafe { client_arg(client)? };
        let out = out_arg(out, "out")?;
        let linearizable = linearizable_arg(level)?;
        let records = client.lock(timeout_ms).audit(linearizable).map_err(client_error)?;
        let records = records
            .iter()
            .map(audit_row)
            .collect::<Result<Vec<_>, Error>>()?;
        unsafe { write_out(out, Box::into_raw(Box::new(synod_audit_list { records }))) };
        Ok(())
    })
}
