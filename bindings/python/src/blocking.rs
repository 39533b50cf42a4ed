//! Blocking calls that answer Ctrl-C: [`run`] runs a call on a helper
//! thread while the calling thread waits for it with the GIL released, in
//! slices of at most [`SLICE`], checking for signals
//! between them. On Ctrl-C (or any exception a signal handler raises) the
//! caller gets the exception at once; the call goes on alone on its thread
//! until it ends by its own timeout, and its answer is dropped.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// The longest the GIL-released wait lasts before signals are checked.
pub(crate) const SLICE: Duration = Duration::from_millis(100);

/// Runs `f` on a helper thread and waits for it as described above.
pub(crate) fn run<T: Send + 'static>(
    py: Python<'_>,
    f: impl FnOnce() -> T + Send + 'static,
) -> PyResult<T> {
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("synod-py-call".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start a thread: {e}")))?;
    let mut rx = rx;
    loop {
        // The receiver moves into the GIL-released closure and back (it is
        // `Send`, not `Sync`).
        let (got, back) = py.detach(move || (rx.recv_timeout(SLICE), rx));
        rx = back;
        match got {
            Ok(v) => return Ok(v),
            Err(RecvTimeoutError::Timeout) => py.check_signals()?,
            Err(RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err(
                    "the call failed (its thread panicked)",
                ))
            }
        }
    }
}
