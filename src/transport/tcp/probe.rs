//! Asking whether this member was removed: a member that applied its own
//! removal lingers (its peers may still need its vote to leave a joint
//! configuration) and, now and then, dials each peer afresh. A listener
//! whose catalog is done with it answers the Hello with `removed` (see the
//! listener); the first such answer is reported to the member, which stops.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::dialer::dial;
use super::shared::Shared;
use crate::transport::wire::HelloRole;
use crate::transport::TransportError;

/// Starts one round of probes on a thread of its own, unless one runs.
/// `me` is this member's peer id.
pub(super) fn probe_removed(shared: &Arc<Shared>, me: u64) {
    if me == 0 || shared.probing.swap(true, Ordering::SeqCst) {
        return;
    }
    let s = shared.clone();
    let started = shared.spawn("synod-tcp-probe".into(), move || {
        let mine = s.cfg.security.identity().clone();
        let peers = s.membership().effective();
        for p in peers.iter().filter(|p| p.id != mine && p.peer_id != me) {
            if s.stopping() {
                break;
            }
            let dialled = dial(
                &s.cfg.security,
                p.address.as_str(),
                HelloRole::Peer { peer_id: me },
                Some(&p.id),
                s.cfg.connect_timeout,
                s.cfg.io_timeout,
                Some(&s.stopping),
            );
            match dialled {
                Ok((mut stream, _)) => stream.close(),
                Err(TransportError::Removed { detail, .. }) => {
                    tracing::warn!(peer_id = p.peer_id, "{detail}");
                    s.report_removed(p.peer_id, detail);
                    break;
                }
                Err(e) => tracing::debug!(peer_id = p.peer_id, "removal probe: {e}"),
            }
        }
        s.probing.store(false, Ordering::SeqCst);
    });
    if started.is_err() {
        shared.probing.store(false, Ordering::SeqCst);
    }
}
