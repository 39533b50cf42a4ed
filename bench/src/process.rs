//! Child processes the CLI starts (`synod node` members for the demo and
//! the bench).

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `binary node --config CONFIG` with its output appended to `log`,
/// as a child that dies with this process (PR_SET_PDEATHSIG): a harness
/// that is killed never leaves members behind.
pub fn spawn_member(binary: &Path, config: &Path, log: &Path) -> std::io::Result<Child> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let err = out.try_clone()?;
    let mut cmd = Command::new(binary);
    cmd.arg("node")
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    // SAFETY: the closure runs in the forked child before exec and only
    // makes one async-signal-safe system call.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()
}

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
