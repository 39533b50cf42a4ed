//! The version: compile-time macros and the runtime functions that must agree
//! with them.
//!
//! `SYNOD_VERSION_*` are what a program was compiled against;
//! `synod_version_number()` and `synod_version_string()` are what it is
//! linked against at run time. A test keeps the macros equal to the core
//! crate's `CARGO_PKG_VERSION`.

use std::ffi::{c_char, CStr};

/// The major version this header belongs to.
pub const SYNOD_VERSION_MAJOR: u32 = 0;
/// The minor version this header belongs to.
pub const SYNOD_VERSION_MINOR: u32 = 1;
/// The patch version this header belongs to.
pub const SYNOD_VERSION_PATCH: u32 = 0;
/// `MAJOR * 1000000 + MINOR * 1000 + PATCH`: compare with
/// `synod_version_number()` to detect a header/library mismatch.
pub const SYNOD_VERSION_NUMBER: u32 =
    SYNOD_VERSION_MAJOR * 1000000 + SYNOD_VERSION_MINOR * 1000 + SYNOD_VERSION_PATCH;

/// The library's `MAJOR.MINOR.PATCH` with its terminating NUL.
const VERSION_STRING: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(s) => s,
        Err(_) => panic!("the package version holds a NUL"),
    };

/// The version of the linked library, encoded as `SYNOD_VERSION_NUMBER` is.
///
/// Owns nothing; never fails.
#[no_mangle]
pub extern "C" fn synod_version_number() -> u32 {
    ffi_boundary!(value "synod_version_number", 0, { SYNOD_VERSION_NUMBER })
}

/// The version of the linked library as `"MAJOR.MINOR.PATCH"`.
///
/// The string is static; the caller must not free it.
#[no_mangle]
pub extern "C" fn synod_version_string() -> *const c_char {
    ffi_boundary!(value "synod_version_string", c"".as_ptr(), {
        VERSION_STRING.as_ptr()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macros_match_the_core_version() {
        let parts: Vec<u32> = synod::VERSION
            .split('.')
            .map(|p| p.parse().unwrap())
            .collect();
        assert_eq!(
            parts,
            [
                SYNOD_VERSION_MAJOR,
                SYNOD_VERSION_MINOR,
                SYNOD_VERSION_PATCH
            ],
            "bump SYNOD_VERSION_* in bindings/c/src/version.rs to the core's {}",
            synod::VERSION
        );
        assert_eq!(
            VERSION_STRING.to_str().unwrap(),
            synod::VERSION,
            "synod-c and the core must share one version"
        );
        assert_eq!(
            synod_version_number(),
            parts[0] * 1000000 + parts[1] * 1000 + parts[2]
        );
    }
}
