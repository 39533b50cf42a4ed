//! `synod chaos` end to end: a 20-second run on 3 members (real processes,
//! mutual TLS, the fault-injecting proxy, kills, pauses and partitions)
//! must find no violation and end with its summary line.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_synod");

#[test]
fn a_short_chaos_run_finds_no_violation() {
    let out = Command::new(BIN)
        .args(["chaos", "--seconds", "20", "--members", "3", "--seed", "7"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "synod chaos failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let last = stdout.lines().last().unwrap_or_default();
    let words: Vec<&str> = last.split_whitespace().collect();
    // chaos: N faults, W writes acknowledged, R reads, V violations
    assert_eq!(words.len(), 10, "last line: {last:?}");
    assert_eq!(words[0], "chaos:");
    assert_eq!(
        [words[2], words[4], words[5], words[7], words[8], words[9]],
        [
            "faults,",
            "writes",
            "acknowledged,",
            "reads,",
            "0",
            "violations"
        ],
        "last line: {last:?}"
    );
    let number = |w: &str| w.parse::<u64>().unwrap_or_else(|_| panic!("{last:?}"));
    assert!(number(words[1]) >= 1, "no fault was injected: {last:?}");
    assert!(number(words[3]) > 0, "no write was acknowledged: {last:?}");
    assert!(number(words[6]) > 0, "no read was answered: {last:?}");
}
