//! Engine configuration: timing, snapshots, membership promotion.
//!
//! Defaults are chosen for a control plane on a LAN: a 50 ms tick, a
//! heartbeat every tick and an election timeout of 10 ticks (500 ms, drawn
//! each time from 10 to 19 ticks, so 500 to 950 ms), which keeps failover
//! well under a second without elections on ordinary GC or fsync stalls.

use std::time::Duration;

/// How a replica runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Wall-clock length of one tick.
    pub tick_interval: Duration,
    /// Ticks between leader heartbeats.
    pub heartbeat_ticks: usize,
    /// Base election timeout in ticks. Each follower waits a timeout drawn
    /// from `election_ticks + 1 ..= 2 * election_ticks` (seeded).
    pub election_ticks: usize,
    /// Take a catalog snapshot (and compact the log) every this many applied
    /// entries.
    pub snapshot_every: u64,
    /// A learner is promoted to voter once its log is within this many
    /// entries of the leader's.
    pub max_learner_lag: u64,
    /// Largest append message, in bytes.
    pub max_size_per_msg: u64,
    /// Most append messages in flight to one follower.
    pub max_inflight_msgs: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            tick_interval: Duration::from_millis(50),
            heartbeat_ticks: 1,
            election_ticks: 10,
            snapshot_every: 10_000,
            max_learner_lag: 64,
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 256,
        }
    }
}

/// The longest election timeout (`tick_ms` × `election_ticks`) a
/// configuration may ask for: a day.
pub const MAX_ELECTION_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

impl EngineConfig {
    /// The base election timeout as wall-clock time (at most
    /// [`MAX_ELECTION_TIMEOUT`]: settings past it are refused by
    /// [`EngineConfig::validate`], and never overflow here).
    pub fn election_timeout(&self) -> Duration {
        u32::try_from(self.election_ticks)
            .ok()
            .and_then(|ticks| self.tick_interval.checked_mul(ticks))
            .map_or(MAX_ELECTION_TIMEOUT, |t| t.min(MAX_ELECTION_TIMEOUT))
    }

    /// Checks the settings raft-rs would otherwise reject or that cannot
    /// work.
    pub fn validate(&self) -> Result<(), String> {
        if self.tick_interval.is_zero() {
            return Err("tick_interval must be positive".into());
        }
        if self.heartbeat_ticks == 0 {
            return Err("heartbeat_ticks must be at least 1".into());
        }
        if self.election_ticks <= self.heartbeat_ticks {
            return Err("election_ticks must be greater than heartbeat_ticks".into());
        }
        if self.snapshot_every == 0 {
            return Err("snapshot_every must be at least 1".into());
        }
        if self.max_inflight_msgs == 0 {
            return Err("max_inflight_msgs must be at least 1".into());
        }
        let timeout = u32::try_from(self.election_ticks)
            .ok()
            .and_then(|ticks| self.tick_interval.checked_mul(ticks));
        if timeout.is_none_or(|t| t > MAX_ELECTION_TIMEOUT) {
            return Err(format!(
                "the election timeout, tick_interval × election_ticks ({} ms × {}), is over {} ms \
                 (a day)",
                self.tick_interval.as_millis(),
                self.election_ticks,
                MAX_ELECTION_TIMEOUT.as_millis()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host that builds its configuration in code (the C and Python
    /// bindings, a Rust host) gets an error for an election timeout past a
    /// day, never an overflow at start.
    #[test]
    fn an_election_timeout_past_a_day_is_refused_and_never_overflows() {
        let huge = EngineConfig {
            tick_interval: Duration::from_secs(u64::MAX / 2),
            election_ticks: 5000,
            ..EngineConfig::default()
        };
        assert!(huge.validate().unwrap_err().contains("a day"));
        assert_eq!(huge.election_timeout(), MAX_ELECTION_TIMEOUT);
        let wide = EngineConfig {
            election_ticks: usize::MAX,
            ..EngineConfig::default()
        };
        assert!(wide.validate().is_err());
        assert_eq!(wide.election_timeout(), MAX_ELECTION_TIMEOUT);
        assert!(EngineConfig::default().validate().is_ok());
    }
}
