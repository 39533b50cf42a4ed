//! `synod bench etcd` end to end. Without etcd on PATH it must say how to
//! install it and exit 2; with etcd (ignored by default: `cargo test --test
//! bench_cli -- --ignored`) a short real run writes the table, the JSON and
//! the plot.

use std::process::Command;

fn synod() -> Command {
    Command::new(env!("CARGO_BIN_EXE_synod"))
}

#[test]
fn bench_etcd_without_etcd_says_how_to_install_it_and_exits_2() {
    let empty = tempfile::tempdir().unwrap();
    let out = synod()
        .args(["bench", "etcd", "--seconds", "0.1", "--trials", "0"])
        .env("PATH", empty.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("etcd was not found on PATH"), "{err}");
    assert!(err.contains("apt-get install -y etcd-server"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
#[ignore = "needs etcd on PATH; starts a 3-member cluster for a few seconds"]
fn bench_etcd_short_run_writes_table_json_and_plot() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("etcd.json");
    let out = synod()
        .args([
            "bench",
            "etcd",
            "--seconds",
            "0.3",
            "--warmup",
            "0.1",
            "--levels",
            "1,4",
            "--trials",
            "1",
            "--dir",
        ])
        .arg(dir.path())
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("raw write+fdatasync floor"), "{stdout}");
    assert!(stdout.contains("failover: kill -9"), "{stdout}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let etcd = &v["systems"][0];
    assert_eq!(etcd["name"], "etcd");
    assert_eq!(etcd["writes"].as_array().map(Vec::len), Some(2));
    assert_eq!(etcd["writes"][1]["concurrency"], 4);
    assert!(etcd["writes"][0]["ops_per_sec"].as_f64().unwrap() > 0.0);
    assert_eq!(
        etcd["failover"]["trials_ms"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(v["election_timeout_ms"], 500.0);
    let svg = std::fs::read_to_string(dir.path().join("etcd.svg")).unwrap();
    assert!(svg.contains("<polyline"));
    // The cluster's directory is gone; only the report and the plot remain.
    let mut left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["etcd.json", "etcd.svg"]);
}
