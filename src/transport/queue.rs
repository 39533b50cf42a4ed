//! The per-peer send queue, bounded in bytes.
//!
//! The driver pushes; the peer's writer thread pops whole batches. When
//! admitting an item would take the queue past its byte limit, the item is
//! dropped and counted (raft retries what is lost), so memory stays bounded
//! however long a peer is down: at most `limit` bytes, or one item when a
//! single item is larger than the limit (it is admitted only into an empty
//! queue).

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// What waits to be written to one peer.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A complete raft frame.
    Frame(Vec<u8>),
    /// An encoded `MsgSnapshot`, written as chunk frames by the writer.
    Snapshot(Vec<u8>),
}

impl Outgoing {
    pub fn cost(&self) -> usize {
        match self {
            Outgoing::Frame(b) | Outgoing::Snapshot(b) => b.len(),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    items: VecDeque<Outgoing>,
    bytes: usize,
    closed: bool,
    dropped: u64,
    dropped_bytes: u64,
}

/// A byte-bounded FIFO between the driver and one writer thread.
#[derive(Debug)]
pub(crate) struct SendQueue {
    limit: usize,
    state: Mutex<State>,
    ready: Condvar,
}

impl SendQueue {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            state: Mutex::new(State::default()),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `item`, or hands it back (counted as dropped) when the queue
    /// is full or closed.
    pub fn push(&self, item: Outgoing) -> Result<(), Outgoing> {
        let mut s = self.lock();
        let cost = item.cost();
        let fits = s.bytes + cost <= self.limit || s.items.is_empty();
        if s.closed || !fits {
            s.dropped += 1;
            s.dropped_bytes += cost as u64;
            return Err(item);
        }
        s.bytes += cost;
        s.items.push_back(item);
        drop(s);
        self.ready.notify_one();
        Ok(())
    }

    /// Takes everything queued, waiting up to `wait` for something to
    /// arrive. Empty when nothing came or the queue is closed.
    pub fn pop_all(&self, wait: Duration) -> Vec<Outgoing> {
        let mut s = self.lock();
        if s.items.is_empty() && !s.closed {
            s = self
                .ready
                .wait_timeout_while(s, wait, |s| s.items.is_empty() && !s.closed)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        if s.closed {
            return Vec::new();
        }
        s.bytes = 0;
        s.items.drain(..).collect()
    }

    /// Discards everything queued (the peer is unreachable), counting it as
    /// dropped; returns the discarded items so snapshot losses can be
    /// reported.
    pub fn discard(&self) -> Vec<Outgoing> {
        let mut s = self.lock();
        let items: Vec<Outgoing> = s.items.drain(..).collect();
        s.dropped += items.len() as u64;
        s.dropped_bytes += s.bytes as u64;
        s.bytes = 0;
        items
    }

    /// Counts items taken by [`SendQueue::pop_all`] that could not be
    /// written.
    pub fn count_lost(&self, items: usize, bytes: usize) {
        let mut s = self.lock();
        s.dropped += items as u64;
        s.dropped_bytes += bytes as u64;
    }

    /// Waits up to `wait` unless the queue is closed first; true when closed.
    pub fn wait_closed(&self, wait: Duration) -> bool {
        let s = self.lock();
        let s = self
            .ready
            .wait_timeout_while(s, wait, |s| !s.closed)
            .map(|(g, _)| g)
            .unwrap_or_else(|p| p.into_inner().0);
        s.closed
    }

    /// Closes the queue: pushes are refused and the writer stops.
    pub fn close(&self) {
        let mut s = self.lock();
        s.closed = true;
        s.dropped += s.items.len() as u64;
        s.dropped_bytes += s.bytes as u64;
        s.items.clear();
        s.bytes = 0;
        drop(s);
        self.ready.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Bytes queued.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// (items, bytes) dropped so far.
    pub fn dropped(&self) -> (u64, u64) {
        let s = self.lock();
        (s.dropped, s.dropped_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_and_counts_and_stays_bounded() {
        // A peer that is down: nobody pops.
        let q = SendQueue::new(10_000);
        let mut refused = 0;
        for _ in 0..10_000 {
            if q.push(Outgoing::Frame(vec![0; 100])).is_err() {
                refused += 1;
            }
            assert!(q.bytes() <= 10_000);
        }
        assert_eq!(refused, 10_000 - 100);
        assert_eq!(q.dropped(), (9_900, 990_000));
        // Draining makes room again.
        let items = q.pop_all(Duration::ZERO);
        assert_eq!(items.len(), 100);
        assert_eq!(q.bytes(), 0);
        assert!(q.push(Outgoing::Frame(vec![0; 100])).is_ok());
    }

    #[test]
    fn an_item_larger_than_the_limit_goes_only_alone() {
        let q = SendQueue::new(1000);
        assert!(q.push(Outgoing::Frame(vec![0; 10])).is_ok());
        let big = q.push(Outgoing::Snapshot(vec![0; 5000]));
        assert!(matches!(big, Err(Outgoing::Snapshot(_))));
        q.pop_all(Duration::ZERO);
        assert!(q.push(Outgoing::Snapshot(vec![0; 5000])).is_ok());
        assert!(q.push(Outgoing::Frame(vec![0; 1])).is_err());
        assert_eq!(q.bytes(), 5000);
    }

    #[test]
    fn discard_and_close_count_what_was_queued() {
        let q = SendQueue::new(1000);
        for _ in 0..3 {
            q.push(Outgoing::Frame(vec![0; 10])).unwrap();
        }
        assert_eq!(q.discard().len(), 3);
        assert_eq!(q.dropped(), (3, 30));
        q.push(Outgoing::Frame(vec![0; 10])).unwrap();
        q.close();
        assert_eq!(q.dropped(), (4, 40));
        assert!(q.push(Outgoing::Frame(vec![0; 1])).is_err());
        assert!(q.pop_all(Duration::from_secs(5)).is_empty());
        assert!(q.wait_closed(Duration::from_secs(5)));
    }

    #[test]
    fn pop_waits_for_a_push_from_another_thread() {
        let q = std::sync::Arc::new(SendQueue::new(1000));
        let q2 = q.clone();
        let t = std::thread::spawn(move || q2.pop_all(Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(20));
        q.push(Outgoing::Frame(vec![1; 5])).unwrap();
        assert_eq!(t.join().unwrap().len(), 1);
    }
}
