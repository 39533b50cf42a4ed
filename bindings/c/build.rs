//! Link arguments for libsynod's shared library.
//!
//! On ELF targets the cdylib gets the SONAME `libsynod.so.<ABI major>`, so a
//! program linked against it records that name and keeps loading any later
//! library of the same ABI major (docs/packaging.md, "Versions and the
//! SONAME"). The ABI major is the package's major version: 0 for every 0.x
//! release, during which the ABI only grows (no function, type or constant is
//! removed or changes meaning), then 1 for 1.x, and so on.
//!
//! Only the cdylib gets this argument (`cargo:rustc-cdylib-link-arg`); the
//! staticlib and the test binaries are untouched.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the package version");
    match os.as_str() {
        // Mach-O and PE have no SONAME (macOS uses an install name, which
        // cargo-c or a packager sets; Windows DLLs carry none).
        "macos" | "ios" | "windows" => {}
        _ => println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsynod.so.{major}"),
    }
}
