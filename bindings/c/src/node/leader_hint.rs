//! Reading and freeing a leader hint (`synod_leader_hint_id`, `_address`,
//! `_free`). The handle and its making belong to the last error
//! (`crate::error`: `synod_last_leader_hint` hands it out); its readers sit
//! here, among the node's result handles, where the header lists them.

use std::ffi::c_char;

use crate::error::synod_leader_hint;

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

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use synod::{LeaderHint, NodeId, ProposeError};

    use super::*;
    use crate::error::{
        record, synod_last_leader_hint, Error, SYNOD_ERR_NOT_FOUND, SYNOD_ERR_NOT_LEADER, SYNOD_OK,
    };

    #[test]
    fn not_leader_carries_the_leader_hint() {
        let leader = LeaderHint {
            id: NodeId::from_certificate_subject("CN=leader").unwrap(),
            address: Some("10.0.0.1:7000".parse().unwrap()),
        };
        let e = ProposeError::NotLeader {
            leader: Some(leader),
        };
        assert_eq!(record(e.into()), SYNOD_ERR_NOT_LEADER);
        let mut hint = std::ptr::null_mut();
        assert_eq!(unsafe { synod_last_leader_hint(&mut hint) }, SYNOD_OK);
        unsafe {
            let id = CStr::from_ptr(synod_leader_hint_id(hint));
            assert_eq!(id.to_str().unwrap(), "CN=leader");
            let addr = CStr::from_ptr(synod_leader_hint_address(hint));
            assert_eq!(addr.to_str().unwrap(), "10.0.0.1:7000");
            synod_leader_hint_free(hint);
        }
        // A leader without a known address.
        let e = ProposeError::NotLeader {
            leader: Some(LeaderHint {
                id: NodeId::from_certificate_subject("CN=l2").unwrap(),
                address: None,
            }),
        };
        record(e.into());
        let mut hint = std::ptr::null_mut();
        assert_eq!(unsafe { synod_last_leader_hint(&mut hint) }, SYNOD_OK);
        unsafe {
            assert!(synod_leader_hint_address(hint).is_null());
            synod_leader_hint_free(hint);
        }
        // A later failure replaces the hint.
        record(Error::null("x"));
        let mut hint = std::ptr::null_mut();
        assert_eq!(
            unsafe { synod_last_leader_hint(&mut hint) },
            SYNOD_ERR_NOT_FOUND
        );
    }
}
