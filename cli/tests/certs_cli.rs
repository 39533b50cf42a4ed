//! `synod certs` end to end: the files it writes are what the TLS
//! transport loads, with identities `CN=<name>`; bad input exits 2.

use std::process::Command;

use synod::transport::tls::TlsConfig;

fn synod(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_synod"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn certs_writes_a_ca_and_member_and_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("certs");
    let o = synod(&[
        "certs",
        "--out",
        out.to_str().unwrap(),
        "--nodes",
        "node-a,node-b,node-c",
        "--clients",
        "ops,reader",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let listed = String::from_utf8_lossy(&o.stdout).lines().count();
    assert_eq!(listed, 2 + 5 * 2);
    for name in ["node-a", "node-b", "node-c", "ops", "reader"] {
        let cfg = TlsConfig::from_pem_files(
            &out.join(format!("{name}.pem")),
            &out.join(format!("{name}-key.pem")),
            &out.join("ca.pem"),
        )
        .unwrap();
        assert_eq!(cfg.identity().as_str(), format!("CN={name}"));
    }
    assert!(out.join("ca-key.pem").exists());
}

#[test]
fn certs_refuses_bad_names_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("certs");
    for nodes in ["a,a", "ca", "../x", "a b"] {
        let o = synod(&["certs", "--out", out.to_str().unwrap(), "--nodes", nodes]);
        assert_eq!(o.status.code(), Some(2), "{nodes}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("synod certs:"));
    }
    assert!(!out.join("ca.pem").exists());
    // --nodes is required.
    let o = synod(&["certs", "--out", out.to_str().unwrap()]);
    assert!(!o.status.success());
}
