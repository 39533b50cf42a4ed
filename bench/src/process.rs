//! Child processes the CLI starts (`synod node` members for the demo and
//! the bench).

use std::process::Child;
use std::time::{Duration, Instant};

/// Stops a member process: SIGTERM first (a clean shutdown), then SIGKILL
/// if it is still running after `grace`; always reaps it.
pub fn stop(mut child: Child, grace: Duration) {
    // SAFETY: kill(2) on the pid of a child this process has not reaped yet.
    let _ = unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}
