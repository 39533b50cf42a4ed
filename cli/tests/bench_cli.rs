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

/// The full `synod bench --quick` end to end: a 3-member cluster of real
/// `synod node` processes over mutual TLS, every section printed, the JSON
/// and the plot written. Bounded: a few seconds of measurement, clusters of
/// thousands (not millions) of entries and ranges.
#[test]
fn bench_quick_runs_every_synod_section() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out/bench.json");
    let started = std::time::Instant::now();
    let out = synod()
        .args(["bench", "--quick", "--seconds", "0.3", "--warmup", "0.1"])
        .args(["--levels", "1,4", "--dir"])
        .arg(dir.path())
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for section in [
        "raw write+fdatasync floor",
        "raw write+fdatasync latency: p50",
        "writes (closed loop",
        "synod         1",
        "synod         4",
        "per fsync",
        "failover: kill -9",
        "restart with 20000 log entries and a snapshot: serving (linearizable read) after",
        "catalog with 20000 ranges: snapshot",
        "\ntargets\n",
        "1 proposer: commit p50",
    ] {
        assert!(stdout.contains(section), "missing {section:?} in\n{stdout}");
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let s = &v["systems"][0];
    assert_eq!(s["name"], "synod");
    assert_eq!(s["writes"][1]["concurrency"], 4);
    assert!(s["writes"][0]["ops_per_sec"].as_f64().unwrap() > 0.0);
    assert!(s["writes"][1]["entries_per_fsync"].as_f64().unwrap() > 0.0);
    assert_eq!(s["failover"]["trials_ms"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["restart"]["log_entries"], 20_000);
    assert_eq!(v["catalog_scale"]["ranges"], 20_000);
    assert!(v["catalog_scale"]["rss_bytes"].as_u64().unwrap() > 0);
    assert!(dir.path().join("out/bench.svg").exists());
    // Every cluster directory is removed; only the report remains.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, ["out"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(50));
}

#[test]
fn bench_refuses_unusable_arguments() {
    let out = synod().args(["bench", "--levels", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--levels"));
    let out = synod()
        .args(["bench", "--tls", "--insecure"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
