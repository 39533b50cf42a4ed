//! Traffic counters a transport keeps per peer (bytes in and out, messages
//! dropped on a full send queue). The transport counts; the member's metrics
//! read them for exposition.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

/// Traffic with one peer.
#[derive(Debug, Default)]
pub struct PeerTraffic {
    /// Bytes received from it.
    pub bytes_in: AtomicU64,
    /// Bytes sent to it.
    pub bytes_out: AtomicU64,
    /// Messages dropped because its send queue was full.
    pub dropped: AtomicU64,
}

/// The traffic counters of every peer of one member.
#[derive(Debug, Default)]
pub struct Traffic {
    peers: Mutex<BTreeMap<u64, Arc<PeerTraffic>>>,
}

impl Traffic {
    /// The counters of `peer` (created on first use).
    pub fn peer(&self, peer: u64) -> Arc<PeerTraffic> {
        self.peers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(peer)
            .or_default()
            .clone()
    }

    /// Every peer's counters, in peer-id order.
    pub fn peers(&self) -> Vec<(u64, Arc<PeerTraffic>)> {
        self.peers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(p, t)| (*p, t.clone()))
            .collect()
    }
}
