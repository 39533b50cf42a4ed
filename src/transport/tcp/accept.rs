//! The accept loop: at most `max_inbound` connections handshaking or
//! serving peers (unfinished handshakes giving way to new connections; see
//! "Limits" in the `tcp` docs), each accepted one handed to the async
//! runtime (`inbound`) with its claim on the slots ([`Admitted`]).

use std::net::TcpListener;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::inbound::Admitted;
use super::limits::Source;
use super::shared::Shared;
use super::ACCEPT_POLL;

/// Accepts connections until shutdown, each served on the runtime
/// ([`super::inbound::serve`]).
pub(super) fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    while !shared.stopping() {
        match listener.accept() {
            Ok((sock, remote)) => {
                // Connections that have not said Hello give way (a silent
                // flood cannot hold the slots members need; a member's
                // handshake takes milliseconds): see `Shared::make_room`.
                let source = Source::of(remote.ip());
                if !shared.make_room(source) {
                    shared.refused.fetch_add(1, Ordering::Relaxed);
                    if let Some(suppressed) = shared.log_refusal() {
                        tracing::warn!(
                            %remote,
                            suppressed,
                            "refused a connection: too many inbound connections"
                        );
                    }
                    continue;
                }
                shared.inbound.fetch_add(1, Ordering::SeqCst);
                let key = shared.register(&sock);
                shared.pending_opened(key, source, &sock);
                let admitted = Admitted::new(shared.clone(), key);
                match shared.runtime() {
                    Some(rt) => {
                        rt.spawn(super::inbound::serve(admitted, sock, remote));
                    }
                    // Stopping: the runtime is gone.
                    None => drop(admitted),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(ACCEPT_POLL),
            Err(e) => {
                tracing::warn!(addr = %shared.local_addr, "accept failed: {e}");
                std::thread::sleep(ACCEPT_POLL);
            }
        }
    }
}
