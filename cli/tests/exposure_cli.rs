//! `synod node` and what it exposes, with real processes on 127.0.0.1:
//! SIGHUP puts a new `[tls] deny` in force without a restart (the denied
//! client's open and new connections are refused, other clients and the
//! member carry on); plain TCP off loopback and a private key others may
//! read are refused at load (exit 2); a metrics listener off loopback is
//! logged as a warning.

mod common;
use common::port;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use synod::node::client::{Client, ClientCallError};
use synod::node::config::TlsSettings;
use synod::node::runner::security_for;
use synod::transport::certs::write_dev_certs;
use synod::NodeId;

const BIN: &str = env!("CARGO_BIN_EXE_synod");

/// A `synod node` process, killed when dropped.
struct Member {
    child: Child,
    log: PathBuf,
}

impl Member {
    fn start(config: &Path, log: PathBuf) -> Member {
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(BIN)
            .args(["node", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        Member { child, log }
    }

    /// The log so far, without the terminal colours of tracing's output.
    fn log(&self) -> String {
        let raw = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                // Skip to the end of the escape sequence (`ESC [ ... m`).
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Waits until the log has `n` lines containing `what`.
    fn wait_for(&mut self, what: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.log().matches(what).count() < n {
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "the member exited:\n{}",
                self.log()
            );
            assert!(
                Instant::now() < deadline,
                "no {what:?} in the log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, sig: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A single-member configuration in `dir` (certificates in `dir/certs`),
/// with `tls_extra` in its `[tls]` section and `admin` as its `[admin]`
/// section's body.
fn write_config(dir: &Path, addr: &str, tls_extra: &str, admin: &str) -> PathBuf {
    let path = dir.join("node-a.toml");
    std::fs::write(
        &path,
        format!(
            "id = \"CN=node-a\"\nlisten = \"{addr}\"\ndata_dir = \"data\"\n[tls]\ncert = \"certs/node-a.pem\"\nkey = \"certs/node-a-key.pem\"\nca = \"certs/ca.pem\"\n{tls_extra}\n[cluster]\nbootstrap = [{{ id = \"CN=node-a\", address = \"{addr}\" }}]\n[authorization]\nreaders = [\"CN=ops\", \"CN=app\"]\n[engine]\ntick_ms = 20\n[admin]\n{admin}\n"
        ),
    )
    .unwrap();
    path
}

fn client(dir: &Path, name: &str, addr: &str) -> Client {
    let id = NodeId::from_certificate_subject(&format!("CN={name}")).unwrap();
    let tls = TlsSettings::Mutual {
        cert: dir.join(format!("certs/{name}.pem")),
        key: dir.join(format!("certs/{name}-key.pem")),
        ca: dir.join("certs/ca.pem"),
    };
    Client::new(
        vec![addr.to_string()],
        security_for(&id, &tls).unwrap(),
        Duration::from_secs(3),
    )
}

/// `synod status` as `name`: its exit code and stderr.
fn status_cli(dir: &Path, name: &str, addr: &str) -> (Option<i32>, String) {
    let certs = dir.join("certs");
    let o = Command::new(BIN)
        .args([
            "status",
            "--endpoints",
            addr,
            "--timeout-ms",
            "3000",
            "--cert",
        ])
        .arg(certs.join(format!("{name}.pem")))
        .arg("--key")
        .arg(certs.join(format!("{name}-key.pem")))
        .arg("--ca")
        .arg(certs.join("ca.pem"))
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

fn refused(c: &mut Client, addr: &str) {
    match c.status_of(addr) {
        Err(ClientCallError::Unreachable(_) | ClientCallError::Tls(_)) => {}
        other => panic!("expected a refused connection, got {other:?}"),
    }
}

#[test]
fn sighup_puts_a_new_deny_list_in_force_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    write_dev_certs(
        &dir.path().join("certs"),
        &["node-a".into()],
        &["ops".into(), "app".into()],
    )
    .unwrap();
    let addr = format!("127.0.0.1:{}", port());
    let config = write_config(dir.path(), &addr, "", "");
    let mut member = Member::start(&config, dir.path().join("node-a.log"));
    member.wait_for("listening on", 1);

    let mut ops = client(dir.path(), "ops", &addr);
    let mut app = client(dir.path(), "app", &addr);
    ops.status_of(&addr).unwrap();
    app.status_of(&addr).unwrap();
    let (code, out) = status_cli(dir.path(), "ops", &addr);
    assert_eq!(code, Some(0), "{out}");

    // Deny ops in the file, then SIGHUP.
    write_config(dir.path(), &addr, "deny = [\"CN=ops\"]", "");
    member.signal(libc::SIGHUP);
    member.wait_for("reloaded: 1 denied identities, 0 CRLs", 1);
    // Its open connection and its new ones are refused, in-process and
    // from the command line.
    refused(&mut ops, &addr);
    refused(&mut client(dir.path(), "ops", &addr), &addr);
    let (code, out) = status_cli(dir.path(), "ops", &addr);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("unreachable"), "{out}");
    // The other client, old connection and new, carries on.
    app.status_of(&addr).unwrap();
    client(dir.path(), "app", &addr).status_of(&addr).unwrap();
    let (code, out) = status_cli(dir.path(), "app", &addr);
    assert_eq!(code, Some(0), "{out}");

    // A file that no longer loads keeps the lists in force.
    write_config(dir.path(), &addr, "deny = [\"CN=ops, O=Acme\"]", "");
    member.signal(libc::SIGHUP);
    member.wait_for("reload refused, the lists in force stay", 1);
    assert!(member.log().contains("RFC 4514"), "{}", member.log());
    refused(&mut client(dir.path(), "ops", &addr), &addr);
    app.status_of(&addr).unwrap();

    // Lifted by another SIGHUP.
    write_config(dir.path(), &addr, "", "");
    member.signal(libc::SIGHUP);
    member.wait_for("reloaded: 0 denied identities, 0 CRLs", 1);
    client(dir.path(), "ops", &addr).status_of(&addr).unwrap();

    // The same process all along; SIGTERM still stops it cleanly.
    assert!(member.child.try_wait().unwrap().is_none());
    member.signal(libc::SIGTERM);
    let status = member.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", member.log());
}

#[test]
fn plain_tcp_off_loopback_and_a_key_others_may_read_are_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    write_dev_certs(&dir.path().join("certs"), &["node-a".into()], &[]).unwrap();
    let run = |config: &Path| {
        let o = Command::new(BIN)
            .args(["node", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };

    // 192.0.2.1 (TEST-NET-1) is no address of this machine: were the
    // configuration accepted, binding it would fail with exit 1, not 2.
    let insecure = dir.path().join("insecure.toml");
    std::fs::write(
        &insecure,
        "id = \"CN=n\"\nlisten = \"192.0.2.1:7401\"\ndata_dir = \"data\"\n[tls]\ninsecure = true\n[cluster]\nbootstrap = [{ id = \"CN=n\", address = \"192.0.2.1:7401\" }]\n",
    )
    .unwrap();
    let (code, err) = run(&insecure);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("allow_insecure_non_loopback = true"), "{err}");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = dir.path().join("certs/node-a-key.pem");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let config = write_config(dir.path(), &format!("127.0.0.1:{}", port()), "", "");
        let (code, err) = run(&config);
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains("mode 0644") && err.contains("chmod 600"),
            "{err}"
        );
        assert!(!dir.path().join("data").exists(), "refused before start");
    }
}

#[test]
fn a_metrics_listener_off_loopback_is_logged_as_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    write_dev_certs(&dir.path().join("certs"), &["node-a".into()], &[]).unwrap();
    let addr = format!("127.0.0.1:{}", port());
    // Port 0 everywhere, for a second; scraped only through loopback.
    let config = write_config(dir.path(), &addr, "", "metrics_listen = \"0.0.0.0:0\"");
    let mut member = Member::start(&config, dir.path().join("node-a.log"));
    member.wait_for("listening on", 1);
    let log = member.log();
    assert!(
        log.contains("WARN") && log.contains("0.0.0.0:0, which is not a loopback address"),
        "{log}"
    );

    // A port alone: loopback, no warning.
    member.signal(libc::SIGTERM);
    member.child.wait().unwrap();
    let config = write_config(dir.path(), &addr, "", "metrics_listen = \"0\"");
    let mut member = Member::start(&config, dir.path().join("node-a-2.log"));
    member.wait_for("listening on", 1);
    assert!(
        member.log().contains("metrics=Some(127.0.0.1:"),
        "{}",
        member.log()
    );
    assert!(!member.log().contains("not a loopback"), "{}", member.log());
}
