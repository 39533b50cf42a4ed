//! Compiles every C test (`tests/c/*.c`, `-std=c11`) and C++ test
//! (`tests/c/*.cpp`, `-std=c++17`) with every warning as an error against the
//! freshly built `libsynod.a` and `include/synod.h`, runs each, and fails on
//! a non-zero exit. Each test then runs again under valgrind
//! (`--error-exitcode=1 --leak-check=full`) when valgrind is on PATH, and is
//! rebuilt and run with AddressSanitizer + UBSan when the compiler supports
//! them. Anything skipped is said so on stderr.
//!
//! `SYNOD_CC` / `SYNOD_CXX` override the compilers (default `gcc` / `g++`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `target/<profile>`: this test binary lives in `target/<profile>/deps`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// Builds `libsynod.a` from the current sources and returns its path.
///
/// cargo does not build a package's staticlib for its own integration tests
/// (only an rlib would be linked, and an rlib named `synod` would collide
/// with the core crate's). So the test builds it with a nested cargo into a
/// target directory of its own (`target/c-abi`), which avoids the outer
/// cargo's build lock; after the first run the build is incremental.
fn static_lib() -> PathBuf {
    static LIB: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    LIB.get_or_init(build_static_lib).clone()
}

fn build_static_lib() -> PathBuf {
    let target_dir = profile_dir()
        .parent()
        .expect("target/<profile> has a parent")
        .join("c-abi");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", "synod-c", "--target-dir"])
        .arg(&target_dir)
        .current_dir(repo_root())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building libsynod.a failed");
    let lib = target_dir.join("debug").join("libsynod.a");
    assert!(lib.exists(), "{} is missing after the build", lib.display());
    lib
}

fn sources() -> Vec<PathBuf> {
    let dir = repo_root().join("tests/c");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("c" | "cpp")))
        .collect();
    files.sort();
    files
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Plain,
    Sanitized,
}

/// Compiles `src` into `out`; returns the compiler's complaint on failure.
fn compile(src: &Path, out: &Path, variant: Variant) -> Result<(), String> {
    let root = repo_root();
    let cpp = src.extension().is_some_and(|e| e == "cpp");
    let compiler = if cpp {
        std::env::var("SYNOD_CXX").unwrap_or_else(|_| "g++".into())
    } else {
        std::env::var("SYNOD_CC").unwrap_or_else(|_| "gcc".into())
    };
    let mut cmd = Command::new(&compiler);
    cmd.arg(if cpp { "-std=c++17" } else { "-std=c11" })
        .args(["-Wall", "-Wextra", "-pedantic", "-Werror", "-g", "-pthread"])
        .arg("-I")
        .arg(root.join("include"))
        .arg("-I")
        .arg(root.join("bindings/cpp"))
        .arg("-I")
        .arg(root.join("tests/c"));
    if variant == Variant::Sanitized {
        cmd.args([
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer",
        ]);
    }
    cmd.arg(src)
        .arg(static_lib())
        .args(["-lpthread", "-ldl", "-lm"])
        .arg("-o")
        .arg(out);
    let output = cmd
        .output()
        .map_err(|e| format!("cannot run {compiler}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Runs `cmd`; returns its output on failure.
fn run(mut cmd: Command) -> Result<(), String> {
    let output = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprint!("{text}");
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} exited with {}:\n{text}", output.status))
    }
}

#[test]
fn c_and_cpp_tests_pass() {
    let out_dir = profile_dir().join("c-tests");
    std::fs::create_dir_all(&out_dir).expect("can create target/<profile>/c-tests");
    let sources = sources();
    assert!(
        sources.len() >= 3,
        "expected the C and C++ tests in tests/c, found {sources:?}"
    );

    let valgrind = have("valgrind");
    if !valgrind {
        eprintln!("SKIPPED: valgrind is not on PATH; the C tests ran without it");
    }
    // Probe once whether the compiler can build and link a sanitized program.
    let probe_src = out_dir.join("sanitizer_probe.c");
    std::fs::write(&probe_src, "int main(void) { return 0; }\n").expect("can write the probe");
    let sanitizers = compile(
        &probe_src,
        &out_dir.join("sanitizer_probe"),
        Variant::Sanitized,
    )
    .is_ok();
    if !sanitizers {
        eprintln!("SKIPPED: the compiler cannot link -fsanitize=address,undefined here");
    }

    // Mutual-TLS material for the tests that run members with TLS
    // (SYNOD_TEST_CERTS: a CA, node-0, node-1, node-2 and the client `ops`).
    let certs = out_dir.join("certs");
    let _ = std::fs::remove_dir_all(&certs);
    synod::transport::certs::write_dev_certs(
        &certs,
        &["node-0".into(), "node-1".into(), "node-2".into()],
        &["ops".into()],
    )
    .expect("can write the development certificates");
    std::env::set_var("SYNOD_TEST_CERTS", &certs);

    let mut failures = Vec::new();
    for src in &sources {
        let stem = src
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("test file names are UTF-8");
        let exe = out_dir.join(stem);
        if let Err(e) = compile(src, &exe, Variant::Plain) {
            failures.push(e);
            continue;
        }
        eprintln!("== {stem}");
        if let Err(e) = run(Command::new(&exe)) {
            failures.push(e);
            continue;
        }
        if valgrind {
            eprintln!("== {stem} under valgrind");
            let mut cmd = Command::new("valgrind");
            // Definite leaks fail the test. "Possibly lost" blocks are the
            // Rust runtime's thread-local channel context of the C test's
            // main thread (it waited on a channel), still reachable through
            // thread-local storage when the process exits.
            // ring's AES-GCM assembly writes what memcheck cannot see, so
            // the TLS records of tests that run members over mutual TLS
            // look uninitialised: tests/c/valgrind.supp suppresses exactly
            // those (deep stacks, so the suppressions see rustls and ring).
            let suppressions = repo_root().join("tests/c/valgrind.supp");
            cmd.args([
                "-q",
                "--error-exitcode=1",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite",
                "--num-callers=60",
            ])
            .arg(format!("--suppressions={}", suppressions.display()))
            .arg(&exe);
            if let Err(e) = run(cmd) {
                failures.push(e);
            }
        }
        if sanitizers {
            let asan = out_dir.join(format!("{stem}-asan"));
            match compile(src, &asan, Variant::Sanitized) {
                Ok(()) => {
                    eprintln!("== {stem} with AddressSanitizer + UBSan");
                    let mut cmd = Command::new(&asan);
                    cmd.env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0");
                    if let Err(e) = run(cmd) {
                        failures.push(e);
                    }
                }
                Err(e) => failures.push(e),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} C/C++ test failure(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// A program written against 0.1.0 compiles and links unchanged: the C and
/// C++ tests as they were at 0.1.0 (tests/c/v0_1_0, kept as they were) are
/// compiled with `-Werror` against this header and this C++ wrapper and
/// linked against this library. (Not run: the trust issue changed two
/// meanings they test, the compare-and-set epoch rule and new outcome
/// codes.) A renamed or removed function, a changed signature, a removed
/// constant or a changed wrapper method fails to compile here.
#[test]
fn the_0_1_0_tests_compile_and_link_against_this_header() {
    let out_dir = profile_dir().join("c-tests-0.1.0");
    std::fs::create_dir_all(&out_dir).expect("can create target/<profile>/c-tests-0.1.0");
    let dir = repo_root().join("tests/c/v0_1_0");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/c/v0_1_0 exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "c" || e == "cpp"))
        .collect();
    sources.sort();
    assert!(sources.len() >= 5, "the 0.1.0 tests: {sources:?}");
    let failures: Vec<String> = sources
        .iter()
        .filter_map(|src| {
            let stem = src.file_stem()?.to_str()?;
            compile(src, &out_dir.join(stem), Variant::Plain).err()
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of the 0.1.0 tests no longer compile:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// A free loopback port (nothing listens on it once this returns).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One C host process embedding a member (tests/c/hosts/member_host.c).
struct Host {
    exe: PathBuf,
    config: PathBuf,
    ready: PathBuf,
    log: PathBuf,
    addr: String,
    child: Option<std::process::Child>,
}

impl Host {
    fn start(&mut self) {
        let _ = std::fs::remove_file(&self.ready);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("the host's log");
        let child = Command::new(&self.exe)
            .arg(&self.config)
            .arg(&self.ready)
            .arg("600")
            .current_dir(self.config.parent().expect("a directory"))
            .stderr(log)
            .spawn()
            .expect("the host starts");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !self.ready.exists() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "host {} exited at start ({status}): {}",
                    self.addr,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "host {} not ready",
                self.addr
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// SIGKILL, as a crash.
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Still running (no signal killed it, it did not exit).
    fn running(&mut self) -> Result<(), String> {
        match self.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(None)) => Ok(()),
            Some(Ok(Some(status))) => Err(format!(
                "host {} ended on its own ({status}): {}",
                self.addr,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            )),
            other => Err(format!("host {}: {other:?}", self.addr)),
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Three C host processes embed the members of one cluster over mutual
/// TLS (the hosts install no signal handler and do not ignore SIGPIPE).
/// A client writes fenced transitions while the leader is killed with
/// SIGKILL and restarted, then a follower: every acknowledged transition
/// is still there, and no surviving host died (a SIGPIPE raised in a host
/// when its peer vanished would kill it).
#[test]
fn three_c_hosts_survive_kill_9_of_the_leader_and_a_follower() {
    use std::collections::BTreeMap;
    use synod::node::client::{Client, ClientCallError};
    use synod::node::config::TlsSettings;
    use synod::node::runner::security_for;
    use synod::node::ReadLevel;
    use synod::{ControlPlaneEntry, Epoch, NodeId, OwnershipTransition, RangeId};

    let dir = profile_dir().join("c-hosts");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("can create target/<profile>/c-hosts");
    let exe = dir.join("member_host");
    compile(
        &repo_root().join("tests/c/hosts/member_host.c"),
        &exe,
        Variant::Plain,
    )
    .expect("member_host compiles");
    let names = ["node-0", "node-1", "node-2"].map(String::from);
    synod::transport::certs::write_dev_certs(&dir.join("certs"), &names, &["ops".into()])
        .expect("certificates");
    let addrs: Vec<String> = names
        .iter()
        .map(|_| format!("127.0.0.1:{}", free_port()))
        .collect();
    let bootstrap: Vec<String> = names
        .iter()
        .zip(&addrs)
        .map(|(n, a)| format!("{{ id = \"CN={n}\", address = \"{a}\" }}"))
        .collect();
    let mut hosts: Vec<Host> = names
        .iter()
        .zip(&addrs)
        .map(|(n, a)| {
            let config = dir.join(format!("{n}.toml"));
            std::fs::write(
                &config,
                format!(
                    "id = \"CN={n}\"\nlisten = \"{a}\"\ndata_dir = \"data/{n}\"\n[tls]\ncert = \"certs/{n}.pem\"\nkey = \"certs/{n}-key.pem\"\nca = \"certs/ca.pem\"\n[cluster]\nbootstrap = [{}]\n[authorization]\nproposers = [\"CN=ops\"]\n[engine]\ntick_ms = 20\n",
                    bootstrap.join(", ")
                ),
            )
            .expect("a configuration");
            Host {
                exe: exe.clone(),
                config,
                ready: dir.join(format!("{n}.ready")),
                log: dir.join(format!("{n}.log")),
                addr: a.clone(),
                child: None,
            }
        })
        .collect();
    for h in &mut hosts {
        h.start();
    }
    let ops = NodeId::from_certificate_subject("CN=ops").expect("an identity");
    let security = security_for(
        &ops,
        &TlsSettings::Mutual {
            cert: dir.join("certs/ops.pem"),
            key: dir.join("certs/ops-key.pem"),
            ca: dir.join("certs/ca.pem"),
        },
    )
    .expect("the client's TLS");
    let mut c = Client::new(addrs.clone(), security, std::time::Duration::from_secs(15));
    let owner = NodeId::from_certificate_subject("CN=node-1").expect("an identity");
    let ranges: Vec<RangeId> = (0..3)
        .map(|i| format!("host-{i}").parse().expect("a range"))
        .collect();
    // The epoch each range is at, and the last one acknowledged.
    let mut epoch: BTreeMap<RangeId, u64> = BTreeMap::new();
    let mut acked: BTreeMap<RangeId, u64> = BTreeMap::new();
    let mut write = |c: &mut Client, n: usize| {
        for i in 0..n {
            let r = ranges[i % ranges.len()].clone();
            let next = epoch.get(&r).copied().unwrap_or(0) + 1;
            let entry = ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
                range: r.clone(),
                new_owner: owner.clone(),
                epoch: Epoch(next),
            });
            match c.propose(entry) {
                Ok(_) => {
                    epoch.insert(r.clone(), next);
                    acked.insert(r, next);
                }
                // Not acknowledged (it may or may not have taken effect):
                // learn the epoch as it is now.
                Err(e) => {
                    eprintln!("a transition of {r} was not acknowledged: {e}");
                    let now = c
                        .owner_at(&r, ReadLevel::Linearizable)
                        .expect("a read after a failed proposal");
                    epoch.insert(r, now.value.map_or(0, |o| o.epoch.0));
                }
            }
        }
    };
    let leader = |c: &mut Client| -> usize {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            for (i, a) in addrs.iter().enumerate() {
                if c.status_of(a).is_ok_and(|s| s.role == "leader") {
                    return i;
                }
            }
            assert!(std::time::Instant::now() < deadline, "no leader");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };

    write(&mut c, 12);
    let l = leader(&mut c);
    hosts[l].kill9();
    write(&mut c, 12);
    hosts[l].start();
    let f = (leader(&mut c) + 1) % 3;
    hosts[f].kill9();
    write(&mut c, 12);
    hosts[f].start();
    write(&mut c, 6);

    // Nothing acknowledged was lost: every range is at least at its last
    // acknowledged epoch (epochs only grow, and only these proposals move
    // them), read through the leader.
    for (r, a) in &acked {
        let now = match c.owner_at(r, ReadLevel::Linearizable) {
            Ok(read) => read.value.map_or(0, |o| o.epoch.0),
            Err(ClientCallError::Unreachable(e)) => panic!("the cluster is gone: {e}"),
            Err(e) => panic!("{e}"),
        };
        assert!(now >= *a, "{r}: epoch {now} below the acknowledged {a}");
    }
    assert!(
        acked.len() == ranges.len(),
        "every range was written: {acked:?}"
    );
    // Every host is running: none was killed by a signal of the library's.
    let dead: Vec<String> = hosts.iter_mut().filter_map(|h| h.running().err()).collect();
    assert!(dead.is_empty(), "{}", dead.join("\n"));
}
