//! Member identities across the ABI: parse a certificate subject once, keep
//! the validated identity in an opaque handle.

use std::ffi::{c_char, CString};

use synod::NodeId;

use crate::error::{c_string, out_arg, str_arg, synod_status, Error, SYNOD_ERR_INVALID_IDENTITY};

/// A validated member identity (a certificate subject, trimmed and otherwise
/// verbatim).
///
/// Immutable: one handle may be read from any number of threads at once; it
/// must be freed exactly once, with `synod_identity_free`, after every other
/// use.
pub struct synod_identity {
    pub(crate) text: CString,
}

/// Parses an identity the way the core does (`NodeId::from_certificate_subject`).
pub(crate) fn parse_identity(s: &str, what: &str) -> Result<NodeId, Error> {
    NodeId::from_certificate_subject(s)
        .map_err(|e| Error::new(SYNOD_ERR_INVALID_IDENTITY, format!("{what}: {e}")))
}

/// Reads a NUL-terminated UTF-8 identity argument.
pub(crate) unsafe fn identity_arg(p: *const c_char, what: &str) -> Result<NodeId, Error> {
    // SAFETY: forwarded caller contract.
    parse_identity(unsafe { str_arg(p, what)? }, what)
}

/// Parses a certificate subject (e.g. `"CN=node-a"`) into an identity.
///
/// Surrounding white space is trimmed; the rest must be non-empty, at most
/// 1024 bytes and free of control characters. Returns `SYNOD_OK` and writes
/// `*out`, or `SYNOD_ERR_NULL_ARGUMENT`, `SYNOD_ERR_INVALID_ARGUMENT` (not
/// UTF-8) or `SYNOD_ERR_INVALID_IDENTITY`, leaving `*out` untouched. The
/// caller owns `*out` and frees it with `synod_identity_free`.
#[no_mangle]
pub unsafe extern "C" fn synod_identity_parse(
    subject: *const c_char,
    out: *mut *mut synod_identity,
) -> synod_status {
    ffi_boundary!(status "synod_identity_parse", {
        let out = out_arg(out, "out")?;
        let id = unsafe { identity_arg(subject, "subject")? };
        let text = c_string(id.as_str())?;
        let handle = Box::new(synod_identity { text });
        // SAFETY: `out` is valid and writable (caller contract).
        unsafe { *out = Box::into_raw(handle) };
        Ok(())
    })
}

/// The identity as a NUL-terminated UTF-8 string, or NULL when `identity` is
/// NULL.
///
/// The string is borrowed from the handle: valid until `identity` is freed;
/// the caller must not free it.
#[no_mangle]
pub unsafe extern "C" fn synod_identity_str(identity: *const synod_identity) -> *const c_char {
    ffi_boundary!(value "synod_identity_str", std::ptr::null(), {
        // SAFETY: NULL or a live handle (caller contract).
        match unsafe { identity.as_ref() } {
            Some(identity) => identity.text.as_ptr(),
            None => std::ptr::null(),
        }
    })
}

/// Frees an identity; `synod_identity_free(NULL)` does nothing.
///
/// Takes ownership of `identity`, which must come from `synod_identity_parse`
/// and not be used again.
#[no_mangle]
pub unsafe extern "C" fn synod_identity_free(identity: *mut synod_identity) {
    ffi_boundary!(value "synod_identity_free", (), {
        if !identity.is_null() {
            // SAFETY: created by `Box::into_raw` in `synod_identity_parse`,
            // freed once (caller contract).
            drop(unsafe { Box::from_raw(identity) });
        }
    })
}
