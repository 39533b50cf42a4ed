//! [`ClientWatch`]: the Rust client's change feed over the network
//! ([`Client::watch`]).
//!
//! It holds a connection of its own to one member and reads the member's
//! watch stream (`Request::Watch`, batches of [`WatchWireItem`]s, an empty
//! batch every second as a heartbeat). When the member stops, dies or goes
//! quiet (no heartbeat for three seconds), it connects to the next endpoint
//! and asks again from the index after the last event it delivered, so the
//! caller sees every committed entry once and in order across failovers:
//! repeats from the new member are skipped, and a member that cannot supply
//! the events from there says so ([`WatchWireItem::Compacted`]) and sends
//! the catalog as of an index in [`WatchWireItem::SnapshotPart`]s, then the
//! events after it. A connection that breaks inside a snapshot is followed
//! by a whole new snapshot (a new `Compacted`): the caller discards the
//! unfinished one and starts again from the new one.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::client::{Client, ClientCallError};
use super::protocol::{RemoteError, Request, Response, WatchWireItem};
use crate::consensus::deadline_after;
use crate::entry::Index;
use crate::transport::tcp::{connect_client, ClientConnection};
use crate::transport::Security;

/// How long a watch connection may stay silent (members send a heartbeat
/// every second) before the client gives up on it and moves on.
const SILENCE: Duration = Duration::from_secs(3);

/// A change feed from the cluster; see the module docs.
pub struct ClientWatch {
    endpoints: Vec<String>,
    security: Security,
    connect_timeout: Duration,
    conn: Option<(String, ClientConnection)>,
    /// The endpoint to try next.
    turn: usize,
    /// The index of the next event owed.
    next_index: Index,
    pending: VecDeque<WatchWireItem>,
    last_error: String,
    /// A snapshot being delivered (its `Compacted` was, its last part not
    /// yet): the index it is as of.
    snapshot: Option<Index>,
    /// A snapshot being skipped (its `Compacted` said nothing was missed).
    skipping: Option<Index>,
    /// The connection broke inside a snapshot: the next one is asked for a
    /// whole new snapshot, delivered whatever its index.
    restarting: bool,
}

impl std::fmt::Debug for ClientWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientWatch")
            .field("endpoints", &self.endpoints)
            .field("connected_to", &self.conn.as_ref().map(|(a, _)| a))
            .field("next_index", &self.next_index)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Every committed catalog entry from index `from` on, with its
    /// outcome, in log order and once each, across member failures; and the
    /// role changes of the member it reads from. Connects on the first
    /// [`ClientWatch::next`].
    pub fn watch(&self, from: Index) -> Result<ClientWatch, ClientCallError> {
        if self.endpoints().is_empty() {
            return Err(ClientCallError::NoEndpoints);
        }
        Ok(ClientWatch {
            endpoints: self.endpoints().to_vec(),
            security: self.security().clone(),
            connect_timeout: self.timeout().min(Duration::from_secs(5)),
            conn: None,
            turn: 0,
            next_index: from,
            pending: VecDeque::new(),
            last_error: "not connected yet".into(),
            snapshot: None,
            skipping: None,
            restarting: false,
        })
    }
}

impl ClientWatch {
    /// The index of the next event owed (resume from here with a new
    /// watch).
    pub fn next_index(&self) -> Index {
        self.next_index
    }

    /// The member it reads from now, if connected.
    pub fn connected_to(&self) -> Option<&str> {
        self.conn.as_ref().map(|(a, _)| a.as_str())
    }

    /// The next item, waiting at most `timeout`: `Unreachable` when no
    /// member could be read from before it (the watch stays usable: call
    /// again), `Remote(Unauthorized)` when the identity may not read.
    pub fn next(&mut self, timeout: Duration) -> Result<WatchWireItem, ClientCallError> {
        let deadline = deadline_after(Instant::now(), timeout);
        loop {
            while let Some(item) = self.pending.pop_front() {
                match &item {
                    WatchWireItem::Event { index, .. } => {
                        if *index < self.next_index {
                            continue; // already delivered (a resumed stream)
                        }
                        self.next_index = Index(index.0 + 1);
                    }
                    WatchWireItem::Compacted { at } => {
                        if at.0 < self.next_index.0 && !self.restarting {
                            // Nothing missed after all: skip it and its
                            // parts.
                            self.skipping = Some(*at);
                            continue;
                        }
                        self.restarting = false;
                        self.skipping = None;
                        // The index moves past it with its last part.
                        self.snapshot = Some(*at);
                    }
                    WatchWireItem::SnapshotPart { at, last, .. } => {
                        if self.skipping == Some(*at) {
                            if *last {
                                self.skipping = None;
                            }
                            continue;
                        }
                        if self.snapshot != Some(*at) {
                            continue; // no snapshot of ours
                        }
                        if *last {
                            self.snapshot = None;
                            self.next_index = Index(at.0 + 1);
                        }
                    }
                    WatchWireItem::Role { .. } => {}
                }
                return Ok(item);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ClientCallError::Unreachable(format!(
                    "no change within {timeout:?} ({})",
                    self.last_error
                )));
            }
            self.fill(left)?;
        }
    }

    /// Reads the next batch into `pending`, (re)connecting as needed;
    /// returns after at most about `left`.
    fn fill(&mut self, left: Duration) -> Result<(), ClientCallError> {
        let Some((addr, conn)) = self.conn.as_mut() else {
            return self.connect(left);
        };
        let wait = left.min(SILENCE);
        match conn.next_response(wait) {
            Ok(bytes) => {
                let addr = addr.clone();
                self.take(&addr, &bytes)
            }
            Err(e) => {
                if wait < SILENCE && matches!(e, crate::transport::TransportError::Timeout(_)) {
                    // The caller's time ran out, not the connection's: it
                    // stays (a frame read in part is kept).
                    self.last_error = format!("{addr}: no change yet");
                    return Ok(());
                }
                self.last_error = format!("{addr}: {e}");
                self.drop_connection();
                Ok(())
            }
        }
    }

    fn drop_connection(&mut self) {
        self.conn = None;
        // What the old connection sent and was not delivered yet goes with
        // it (the next one sends it again from the next index).
        self.pending.clear();
        self.skipping = None;
        if self.snapshot.take().is_some() {
            self.restarting = true;
        }
        self.turn = (self.turn + 1) % self.endpoints.len();
    }

    fn connect(&mut self, left: Duration) -> Result<(), ClientCallError> {
        let addr = self.endpoints[self.turn % self.endpoints.len()].clone();
        let timeout = left
            .min(self.connect_timeout)
            .max(Duration::from_millis(10));
        let started = Instant::now();
        // Inside a broken snapshot: a whole new one (from 0: the member's
        // catalog as it is, then what follows).
        let from = if self.restarting {
            Index(0)
        } else {
            self.next_index
        };
        let request = Request::Watch { from }.encode();
        let first = connect_client(&addr, &self.security, timeout).and_then(|mut c| {
            let bytes = c.request(&request, timeout)?;
            Ok((c, bytes))
        });
        match first {
            Ok((c, bytes)) => {
                self.conn = Some((addr.clone(), c));
                self.take(&addr, &bytes)
            }
            Err(e) => {
                self.last_error = format!("{addr}: {e}");
                self.drop_connection();
                // Do not spin through dead endpoints.
                let spent = started.elapsed();
                let pause = Duration::from_millis(50).saturating_sub(spent).min(left);
                std::thread::sleep(pause);
                Ok(())
            }
        }
    }

    /// Takes one response of the stream from `addr`.
    fn take(&mut self, addr: &str, bytes: &[u8]) -> Result<(), ClientCallError> {
        match Response::decode(bytes) {
            Ok(Ok(Response::Watch(items))) => {
                self.pending.extend(items);
                Ok(())
            }
            Ok(Err(remote)) => {
                match remote {
                    // This member stopped or cannot serve: the next one may.
                    RemoteError::Shutdown
                    | RemoteError::Storage(_)
                    | RemoteError::Overloaded(_)
                    | RemoteError::NoQuorum
                    | RemoteError::Timeout(_) => {
                        self.last_error = format!("{addr}: {remote}");
                        self.drop_connection();
                        Ok(())
                    }
                    other => {
                        self.drop_connection();
                        Err(ClientCallError::Remote(other))
                    }
                }
            }
            Ok(Ok(_)) => {
                self.drop_connection();
                Err(ClientCallError::Unexpected("watch"))
            }
            Err(e) => {
                self.drop_connection();
                Err(ClientCallError::Protocol(e))
            }
        }
    }
}
