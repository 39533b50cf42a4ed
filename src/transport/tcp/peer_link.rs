//! Peer links: one per peer, each a byte-bounded send queue drained by its
//! own writer thread over one outbound connection. The writer dials when it
//! has something to send, checks it reached the member it meant to, writes
//! whole batches (snapshots as chunk frames) through one buffered flush, and
//! reports snapshots delivered or lost. When the peer cannot be reached it
//! discards the queue, reports the peer unreachable and waits with jittered
//! exponential backoff.

use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::dialer::dial;
use super::shared::{PeerLink, Shared};
use super::{lock, Outgoing, SendQueue, IO_BUF, POLL};
use crate::transport::tls::Stream;
use crate::transport::wire::{self, HelloRole};
use crate::transport::TransportError;

/// Jittered exponential backoff: each delay is drawn from [d/2, d], with d
/// doubling from `min` up to `max`.
struct Backoff {
    min: Duration,
    max: Duration,
    cur: Duration,
    rng: u64,
}

impl Backoff {
    fn new(min: Duration, max: Duration, seed: u64) -> Self {
        Self {
            min,
            max: max.max(min),
            cur: min,
            rng: seed,
        }
    }

    fn reset(&mut self) {
        self.cur = self.min;
    }

    fn next(&mut self) -> Duration {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let d = self.cur;
        self.cur = (self.cur * 2).min(self.max);
        let half = d / 2;
        let span = (d - half).as_nanos().max(1) as u64;
        half + Duration::from_nanos(z % (span + 1))
    }
}

struct Outbound {
    stream: Stream,
    generation: u64,
    socket_key: Option<u64>,
}

/// Makes the writer threads match the membership (the catalog's members
/// and the vouched peers, minus this member).
pub(super) fn relink(shared: &Arc<Shared>) {
    // Links first, then the membership (never the other way round), so
    // two relinks cannot apply views out of order.
    let mut links = lock(&shared.links);
    let peers = shared.membership().effective();
    let me = shared.cfg.security.identity().clone();
    if let Some(p) = peers.iter().find(|p| p.id == me) {
        shared.my_peer_id.store(p.peer_id, Ordering::Relaxed);
    }
    links.retain(|id, link| {
        let keep = peers.iter().any(|p| p.peer_id == *id && p.id != me);
        if !keep {
            link.queue.close();
            let (n, b) = link.queue.dropped();
            shared.dropped_other.fetch_add(n, Ordering::Relaxed);
            shared.dropped_other_bytes.fetch_add(b, Ordering::Relaxed);
        }
        keep
    });
    if shared.stopping() {
        return;
    }
    for p in peers.iter().filter(|p| p.id != me) {
        if let Some(link) = links.get(&p.peer_id) {
            let mut target = lock(&link.target);
            if *target != *p {
                *target = p.clone();
                link.generation.fetch_add(1, Ordering::SeqCst);
            }
            continue;
        }
        let link = Arc::new(PeerLink {
            queue: SendQueue::new(shared.cfg.queue_bytes),
            target: Mutex::new(p.clone()),
            generation: AtomicU64::new(0),
        });
        let (s, l, peer_id) = (shared.clone(), link.clone(), p.peer_id);
        match shared.spawn(format!("synod-tcp-out-{peer_id}"), move || {
            writer_loop(s, l, peer_id)
        }) {
            Ok(()) => {
                links.insert(p.peer_id, link);
            }
            Err(e) => tracing::error!(peer_id, "no writer for peer: {e}"),
        }
    }
}

/// The writer thread of one peer link: drains its queue until it closes.
pub(super) fn writer_loop(shared: Arc<Shared>, link: Arc<PeerLink>, peer_id: u64) {
    let seed = peer_id
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
    let cfg = &shared.cfg;
    let mut backoff = Backoff::new(cfg.backoff_min, cfg.backoff_max, seed);
    let mut failures = 0u32;
    let mut conn: Option<Outbound> = None;
    let close = |c: Outbound| {
        let mut c = c;
        c.stream.close();
        shared.unregister(c.socket_key);
    };
    loop {
        if shared.stopping() || link.queue.is_closed() {
            break;
        }
        let batch = link.queue.pop_all(POLL);
        if batch.is_empty() {
            continue;
        }
        let generation = link.generation.load(Ordering::SeqCst);
        if let Some(c) = conn.take() {
            if c.generation == generation {
                conn = Some(c);
            } else {
                close(c);
            }
        }
        if conn.is_none() {
            let target = link.target();
            let me = shared.my_peer_id.load(Ordering::Relaxed);
            let dialled = if me == 0 {
                Err(TransportError::NotAuthorized(
                    "this member's own peer id is not known yet".into(),
                ))
            } else {
                dial(
                    &cfg.security,
                    target.address.as_str(),
                    HelloRole::Peer { peer_id: me },
                    Some(&target.id),
                    cfg.connect_timeout,
                    cfg.io_timeout,
                    Some(&shared.stopping),
                )
            };
            match dialled {
                Ok((stream, _)) => {
                    if failures > 0 {
                        tracing::info!(peer_id, address = %target.address, "reconnected to peer");
                    }
                    failures = 0;
                    backoff.reset();
                    let socket_key = shared.register(stream.socket());
                    conn = Some(Outbound {
                        stream,
                        generation,
                        socket_key,
                    });
                }
                Err(e) => {
                    if shared.stopping() {
                        break;
                    }
                    if let TransportError::Removed { detail, .. } = &e {
                        tracing::error!(peer_id, address = %target.address, "{e}");
                        shared.report_removed(peer_id, detail.clone());
                    }
                    failures += 1;
                    if failures == 1 {
                        tracing::warn!(peer_id, address = %target.address, "cannot reach peer: {e}");
                    } else {
                        tracing::debug!(peer_id, address = %target.address, failures, "cannot reach peer: {e}");
                    }
                    let bytes = batch.iter().map(Outgoing::cost).sum();
                    link.queue.count_lost(batch.len(), bytes);
                    shared.lost(peer_id, &batch);
                    let discarded = link.queue.discard();
                    shared.lost(peer_id, &discarded);
                    shared.report_unreachable(peer_id);
                    if link.queue.wait_closed(backoff.next()) {
                        break;
                    }
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        if let Err(e) = write_batch(&shared, &mut c.stream, &batch) {
            if !shared.stopping() {
                tracing::warn!(peer_id, "connection to peer lost: {e}");
            }
            let bytes = batch.iter().map(Outgoing::cost).sum();
            link.queue.count_lost(batch.len(), bytes);
            shared.lost(peer_id, &batch);
            shared.report_unreachable(peer_id);
            if let Some(c) = conn.take() {
                close(c);
            }
            continue;
        }
        if let Some(inbox) = shared.inbox.get() {
            let bytes: usize = batch.iter().map(Outgoing::cost).sum();
            inbox
                .traffic()
                .peer(peer_id)
                .bytes_out
                .fetch_add(bytes as u64, Ordering::Relaxed);
        }
        for item in &batch {
            if matches!(item, Outgoing::Snapshot(_)) {
                shared.snapshots_sent.fetch_add(1, Ordering::Relaxed);
                shared.report_snapshot(peer_id, true);
            }
        }
    }
    if let Some(c) = conn.take() {
        close(c);
    }
}

fn write_batch(
    shared: &Shared,
    stream: &mut Stream,
    batch: &[Outgoing],
) -> Result<(), std::io::Error> {
    let mut w = BufWriter::with_capacity(IO_BUF, stream);
    for item in batch {
        match item {
            Outgoing::Frame(f) => w.write_all(f)?,
            Outgoing::Snapshot(m) => {
                let stream_id = shared.next_stream.fetch_add(1, Ordering::Relaxed);
                for f in wire::snapshot_frames(stream_id, m, shared.cfg.snapshot_chunk_len) {
                    w.write_all(&f)?;
                }
            }
        }
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_millis(10), Duration::from_millis(80), 42);
        let mut caps = Vec::new();
        for _ in 0..6 {
            let d = b.next();
            caps.push(d);
        }
        let bounds = [10u64, 20, 40, 80, 80, 80];
        for (d, cap) in caps.iter().zip(bounds) {
            let cap = Duration::from_millis(cap);
            assert!(
                *d >= cap / 2 && *d <= cap,
                "{d:?} not in [{:?}, {cap:?}]",
                cap / 2
            );
        }
        b.reset();
        assert!(b.next() <= Duration::from_millis(10));
    }
}
