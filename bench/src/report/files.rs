//! What a report writes to files: its JSON and the latency plot next to
//! it, whose plain data ([`crate::plot::Plot`]) it builds here.

use std::path::{Path, PathBuf};

use super::{BenchReport, SYNOD};
use crate::plot::{self, Level, Plot, SystemSeries};

impl BenchReport {
    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        // Only finite floats and strings: serialization cannot fail, but a
        // NaN would become `null`, which is still valid JSON.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Writes the JSON to `json_path` and the latency plot next to it (same
    /// name, `.svg`); returns the plot's path.
    pub fn write_files(&self, json_path: &Path) -> std::io::Result<PathBuf> {
        let svg_path = json_path.with_extension("svg");
        std::fs::write(json_path, self.to_json() + "\n")?;
        std::fs::write(&svg_path, plot::latency_svg(&self.plot())?)?;
        Ok(svg_path)
    }

    /// The latency plot's data: every system's write levels, Synod in the
    /// first colour.
    pub fn plot(&self) -> Plot {
        Plot {
            title: format!(
                "Write latency by concurrency ({} members, loopback, fsync on, {}-byte values)",
                self.members, self.value_bytes
            ),
            subtitle: format!(
                "{} cores, {}; election timeout {} ms",
                self.machine.cores, self.machine.cpu, self.election_timeout_ms
            ),
            systems: self
                .systems
                .iter()
                .map(|s| SystemSeries {
                    name: s.name.clone(),
                    primary: s.name == SYNOD,
                    levels: s
                        .writes
                        .iter()
                        .map(|w| Level {
                            concurrency: w.concurrency,
                            p50_ms: w.p50_ms,
                            p99_ms: w.p99_ms,
                            p999_ms: w.p999_ms,
                            ops_per_sec: w.ops_per_sec,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}
