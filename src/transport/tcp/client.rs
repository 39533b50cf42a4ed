//! The client channel. On the listener's side, an accepted client
//! connection hands every `ClientRequest` payload, with the client's
//! authenticated identity, to the [`ClientHandler`] and writes its answer
//! back as a `ClientResponse` (a panicking handler closes the connection,
//! never the listener). On the client's side, [`connect_client`] dials as a
//! client and [`ClientConnection`] sends one request at a time.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::dialer::FrameConnection;
use super::framing::{write_frame, FrameReader};
use super::shared::Shared;
use crate::entry::NodeId;
use crate::transport::tls::{Security, Stream};
use crate::transport::wire::{self, FrameKind, HelloRole, MAX_FRAME_PAYLOAD};
use crate::transport::TransportError;

/// Serves client connections: gets each request payload with the client's
/// authenticated identity and returns the response payload. Called on the
/// connection's own thread; one call at a time per connection, calls for
/// different connections run concurrently. Payloads are opaque here.
pub trait ClientHandler: Send + Sync {
    /// Answers one request.
    fn handle(&self, client: &NodeId, request: &[u8]) -> Vec<u8>;

    /// A request answered by a stream of responses (a watch): `Some` takes
    /// the connection over, writing what the stream yields until it ends or
    /// the connection fails; `None` (the default) leaves the request to
    /// [`ClientHandler::handle`].
    fn stream(&self, client: &NodeId, request: &[u8]) -> Option<Box<dyn ResponseStream>> {
        let _ = (client, request);
        None
    }
}

/// The responses of a streaming request, one frame each.
pub trait ResponseStream: Send {
    /// The next response, waiting at most `wait`: `Some(bytes)` to write
    /// (an empty batch is a heartbeat that shows the connection is alive),
    /// `None` when the stream ended (its last response was written).
    fn next(&mut self, wait: Duration) -> Option<Vec<u8>>;
}

/// A client's connection to a member's listener. When the listener closed
/// it between requests (it closes idle clients, or it restarted), the next
/// request dials again first: nothing was sent on the closed one.
pub struct ClientConnection {
    conn: FrameConnection,
    security: Security,
    broken: bool,
}

impl std::fmt::Debug for ClientConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConnection")
            .field("conn", &self.conn)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

/// Connects to the listener at `addr` as a client, within `timeout`. With
/// TLS the client's identity is its certificate's; when insecure it is the
/// identity in `security`.
pub fn connect_client(
    addr: &str,
    security: &Security,
    timeout: Duration,
) -> Result<ClientConnection, TransportError> {
    Ok(ClientConnection {
        conn: FrameConnection::dial(addr, security, HelloRole::Client, timeout)?,
        security: security.clone(),
        broken: false,
    })
}

impl ClientConnection {
    /// The next response of a streaming request (one [`request`] sent
    /// earlier answered by several responses), waiting at most `timeout`.
    /// A `Timeout` leaves the connection usable (a frame read in part is
    /// kept for the next call); after any other error it is unusable:
    /// connect again.
    ///
    /// [`request`]: ClientConnection::request
    pub fn next_response(&mut self, timeout: Duration) -> Result<Vec<u8>, TransportError> {
        if self.broken {
            return Err(TransportError::Closed(self.conn.addr().to_string()));
        }
        self.broken = true;
        let frame = match self.conn.read_frame(timeout) {
            Err(e @ TransportError::Timeout(_)) => {
                self.broken = false;
                return Err(e);
            }
            other => other?,
        };
        self.take_response(frame)
    }

    /// A frame read where a response was due: its payload (and the
    /// connection usable again) if it is one.
    fn take_response(
        &mut self,
        frame: Option<(FrameKind, Vec<u8>)>,
    ) -> Result<Vec<u8>, TransportError> {
        match frame {
            Some((FrameKind::ClientResponse, response)) => {
                self.broken = false;
                Ok(response)
            }
            Some((kind, _)) => Err(TransportError::Protocol {
                peer: self.conn.addr().to_string(),
                detail: format!("expected a ClientResponse, got a {kind:?} frame"),
            }),
            None => Err(TransportError::Closed(self.conn.addr().to_string())),
        }
    }

    /// The identity in the listener's certificate (`None` when insecure).
    pub fn server_identity(&self) -> Option<&NodeId> {
        self.conn.server_identity()
    }

    /// Sends one request and waits up to `timeout` for its response (first
    /// dialling again, within `timeout`, if the listener closed the
    /// connection since the last one). After an error the connection is
    /// unusable (a late response would be mistaken for the next one's):
    /// connect again.
    pub fn request(
        &mut self,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, TransportError> {
        if self.broken {
            return Err(TransportError::Closed(self.conn.addr().to_string()));
        }
        if payload.len() > MAX_FRAME_PAYLOAD {
            return Err(wire::WireError::TooLarge {
                len: payload.len(),
                max: MAX_FRAME_PAYLOAD,
            }
            .into());
        }
        if self.conn.closed_by_listener() {
            let addr = self.conn.addr().to_string();
            self.conn = FrameConnection::dial(&addr, &self.security, HelloRole::Client, timeout)?;
        }
        self.broken = true;
        self.conn.send_frame(FrameKind::ClientRequest, payload)?;
        let frame = self.conn.read_frame(timeout)?;
        self.take_response(frame)
    }
}

/// Serves an accepted client connection until it closes, or asks nothing
/// for `client_idle_timeout`: each request to `handler`, each answer back.
pub(super) fn serve_client(
    shared: &Shared,
    stream: &mut Stream,
    mut reader: FrameReader,
    identity: &NodeId,
    handler: &dyn ClientHandler,
    peer: &str,
) -> Result<(), TransportError> {
    let idle = shared.cfg.client_idle_timeout;
    loop {
        // The whole next request must arrive within the idle timeout: a
        // client that asks nothing (or trickles a request) gives its slot
        // back.
        let until = deadline_after(Instant::now(), idle);
        let frame = match reader.read(stream, Some(&shared.stopping), Some(until), peer) {
            Err(TransportError::Timeout(_)) => {
                shared.idle_clients_closed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(peer, %identity, ?idle, "closed an idle client connection");
                return Ok(());
            }
            other => other?,
        };
        let Some((kind, payload)) = frame else {
            return Ok(());
        };
        if kind != FrameKind::ClientRequest {
            return Err(TransportError::Protocol {
                peer: peer.to_string(),
                detail: format!("a {kind:?} frame on a client connection"),
            });
        }
        let streamed = guarded(peer, "the client handler", || {
            handler.stream(identity, &payload)
        })?;
        if let Some(stream_of) = streamed {
            // The connection belongs to the stream from here on; it ends
            // with the stream, the member's stop, or a failed write (a
            // client that stopped reading fails within the I/O timeout).
            return serve_stream(shared, stream, stream_of, peer);
        }
        let response = guarded(peer, "the client handler", || {
            handler.handle(identity, &payload)
        })?;
        write_response(stream, &response, peer)?;
        shared.client_requests.fetch_add(1, Ordering::Relaxed);
    }
}

fn serve_stream(
    shared: &Shared,
    stream: &mut Stream,
    mut responses: Box<dyn ResponseStream>,
    peer: &str,
) -> Result<(), TransportError> {
    while !shared.stopping.load(Ordering::Relaxed) {
        let next = guarded(peer, "the client handler's stream", || {
            responses.next(Duration::from_secs(1))
        })?;
        let Some(response) = next else {
            return Ok(());
        };
        write_response(stream, &response, peer)?;
    }
    Ok(())
}

/// Runs handler code: a panic in it closes this connection (as a protocol
/// error naming `what`), never the listener.
fn guarded<T>(peer: &str, what: &str, f: impl FnOnce() -> T) -> Result<T, TransportError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|_| {
        TransportError::Protocol {
            peer: peer.to_string(),
            detail: format!("{what} panicked"),
        }
    })
}

/// Writes one response frame; one over the frame bound is refused.
fn write_response(stream: &mut Stream, response: &[u8], peer: &str) -> Result<(), TransportError> {
    if response.len() > MAX_FRAME_PAYLOAD {
        return Err(wire::WireError::TooLarge {
            len: response.len(),
            max: MAX_FRAME_PAYLOAD,
        }
        .into());
    }
    write_frame(stream, FrameKind::ClientResponse, response, peer)
}

/// `now + d`, or far in the future when that overflows (a huge timeout
/// means none).
fn deadline_after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}
