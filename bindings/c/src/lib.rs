//! libsynod: the stable C ABI of Synod.
//!
//! What this crate owns: every `extern "C"` function, type and constant of
//! `include/synod.h` (generated from this crate by cbindgen and checked in).
//! What it promises: the conventions in `docs/conventions.md`, repeated in the
//! header's opening comment: integer status codes that never change meaning,
//! a thread-local last error, `*out` written only on success, `_free(NULL)`
//! doing nothing, and no panic ever crossing `extern "C"` (every export runs
//! inside `ffi_boundary!`).
//! What it does not carry: any way to propose bytes. Proposals are typed, one
//! function per [`synod::ControlPlaneEntry`] variant a caller may propose, so
//! user data is as unrepresentable in C as it is in Rust.
//!
//! The rooms: [`error`] (status codes, the last error, the panic boundary's
//! helpers), [`version`], [`identity`], [`config`] (the configuration
//! builder), [`node`] (the node handle, its start from a file or a built
//! configuration, its proposals, its reads and the snapshots they hand out,
//! its status and its watches), [`client`] (the client of processes that are
//! not members, answering with the node's result types), [`log`] (the log
//! callback). Dependencies run one way: `error` imports nothing from this
//! crate, `identity` only `error`, `config` only those two, `node`'s rooms
//! `error`, `identity`, `config` and each other without a circle, `client`
//! `error`, `identity` and `node`, and `log` `error` and the free function's
//! type from `node`.
//!
//! cbindgen reads the rooms in the order their `mod` lines appear here (and in
//! `node/mod.rs`), and lists functions and constants in `include/synod.h` in
//! that order.

// The C names are the API: `synod_status`, `synod_node`, ...
#![allow(non_camel_case_types)]
// Every export is `unsafe extern "C"` because it dereferences caller
// pointers; the pointer contract is stated once for all of them in the
// header's opening comment and per function in its doc comment.
#![allow(clippy::missing_safety_doc)]

/// The panic boundary: the body of every exported function runs inside it.
///
/// * `ffi_boundary!(status "name", { ... })`: the body returns
///   `Result<(), error::Error>`; `Ok` becomes `SYNOD_OK`, `Err` is recorded as
///   the thread's last error and its status returned, a panic is recorded and
///   becomes `SYNOD_ERR_PANIC`.
/// * `ffi_boundary!(value "name", on_panic, { ... })`: for functions that
///   return a plain value (a pointer, a number); a panic is recorded and
///   `on_panic` returned.
macro_rules! ffi_boundary {
    (status $function:literal, $body:block) => {{
        let result = ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(
            || -> ::std::result::Result<(), $crate::error::Error> { $body },
        ));
        $crate::error::finish_status($function, result)
    }};
    (value $function:literal, $on_panic:expr, $body:block) => {{
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)) {
            Ok(value) => value,
            Err(payload) => {
                $crate::error::record_panic($function, payload);
                $on_panic
            }
        }
    }};
}

pub mod error;
pub mod identity;
// The configuration builder; `node` starts members from it.
pub mod config;
pub mod node;
// The client of processes that are not members (after the node: it reuses
// the node's result types).
pub mod client;
// The log callback.
pub mod log;
pub mod version;

pub use client::*;
pub use config::*;
pub use error::*;
pub use identity::*;
pub use log::*;
pub use node::*;
pub use version::*;

#[cfg(test)]
mod boundary_tests {
    /// Every exported function runs its body inside `ffi_boundary!`: the
    /// first thing after an `extern "C" fn` signature is the macro.
    #[test]
    fn every_export_is_inside_the_panic_boundary() {
        let files = [
            ("error.rs", include_str!("error.rs")),
            ("config.rs", include_str!("config.rs")),
            ("log.rs", include_str!("log.rs")),
            ("identity.rs", include_str!("identity.rs")),
            ("node/mod.rs", include_str!("node/mod.rs")),
            ("node/handle.rs", include_str!("node/handle.rs")),
            ("node/values.rs", include_str!("node/values.rs")),
            ("node/open.rs", include_str!("node/open.rs")),
            ("node/state.rs", include_str!("node/state.rs")),
            ("node/propose.rs", include_str!("node/propose.rs")),
            ("node/entry.rs", include_str!("node/entry.rs")),
            ("node/submit.rs", include_str!("node/submit.rs")),
            ("node/ownership.rs", include_str!("node/ownership.rs")),
            ("node/members.rs", include_str!("node/members.rs")),
            ("node/leader_hint.rs", include_str!("node/leader_hint.rs")),
            ("node/status.rs", include_str!("node/status.rs")),
            ("node/reads.rs", include_str!("node/reads.rs")),
            ("node/watch.rs", include_str!("node/watch.rs")),
            ("node/host.rs", include_str!("node/host.rs")),
            ("node/shutdown.rs", include_str!("node/shutdown.rs")),
            ("client/mod.rs", include_str!("client/mod.rs")),
            ("client/handle.rs", include_str!("client/handle.rs")),
            ("client/status.rs", include_str!("client/status.rs")),
            ("client/reads.rs", include_str!("client/reads.rs")),
            ("client/propose.rs", include_str!("client/propose.rs")),
            ("client/watch.rs", include_str!("client/watch.rs")),
            ("version.rs", include_str!("version.rs")),
        ];
        let mut exports = 0;
        for (file, text) in files {
            for (i, chunk) in text.split("extern \"C\" fn ").enumerate().skip(1) {
                exports += 1;
                let name = chunk.split('(').next().unwrap_or_default();
                let body = chunk.split_once('{').map_or("", |(_, b)| b);
                assert!(
                    body.trim_start()
                        .starts_with(&format!("ffi_boundary!(status \"{name}\"",))
                        || body
                            .trim_start()
                            .starts_with(&format!("ffi_boundary!(value \"{name}\"")),
                    "{file}: export #{i} `{name}` does not open with ffi_boundary! naming itself"
                );
            }
        }
        assert!(exports >= 40, "found only {exports} exports");
    }
}
