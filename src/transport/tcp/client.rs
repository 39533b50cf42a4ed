//! The client channel: what the listener's side serves with (the
//! [`ClientHandler`] and its [`ResponseStream`]s; the serving itself is
//! `client_serve`, on the async runtime), and the client's side:
//! [`connect_client`] dials as a client and [`ClientConnection`] sends
//! requests, one at a time or many in flight ([`ClientConnection::call`]).

use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::dialer::FrameConnection;
use crate::entry::NodeId;
use crate::transport::tls::Security;
use crate::transport::wire::{
    self, call_payload, split_call, FrameKind, HelloRole, CALL_ID_LEN, MAX_FRAME_PAYLOAD,
};
use crate::transport::TransportError;

/// Serves client connections: gets each request payload with the client's
/// authenticated identity and returns the response payload. Calls for one
/// connection may run concurrently (a client may have many requests in
/// flight) and in any order, as may calls for different connections.
/// Payloads are opaque here.
pub trait ClientHandler: Send + Sync {
    /// Answers one request. Runs on the runtime's blocking pool when
    /// [`ClientHandler::may_block`] says it may wait, else on a runtime
    /// worker (it must then return at once).
    fn handle(&self, client: &NodeId, request: &[u8]) -> Vec<u8>;

    /// Whether answering `request` may wait (a proposal waiting for its
    /// commit, a read waiting for an index): such calls hold a thread of
    /// the blocking pool while they wait. The default, `true`, is always
    /// safe; `false` answers on the connection's task, without a thread
    /// switch.
    fn may_block(&self, request: &[u8]) -> bool {
        let _ = request;
        true
    }

    /// A request answered by a stream of responses (a watch): `Some` and
    /// every response the stream yields is written (with the request's call
    /// id) until it ends or the connection closes; `None` (the default)
    /// leaves the request to [`ClientHandler::handle`]. Must return at once.
    fn stream(&self, client: &NodeId, request: &[u8]) -> Option<Box<dyn ResponseStream>> {
        let _ = (client, request);
        None
    }
}

/// The responses of a streaming request, one frame each.
pub trait ResponseStream: Send {
    /// The next response: `Ready(Some(bytes))` to write, `Ready(None)` when
    /// the stream ended (its last response was written), or `Pending` after
    /// arranging for `cx`'s waker to be woken when one may be ready. Must
    /// not block.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Vec<u8>>>;

    /// What to write after [`HEARTBEAT`] without a response, so the client
    /// sees the stream is alive (an empty batch); `None` for nothing.
    fn heartbeat(&mut self) -> Option<Vec<u8>>;
}

/// How long a streaming request may go without a response before its
/// [`ResponseStream::heartbeat`] is written.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// A client's connection to a member's listener. When the listener closed
/// it between requests (it closes idle clients, or it restarted), the next
/// request dials again first: nothing was sent on the closed one.
pub struct ClientConnection {
    conn: FrameConnection,
    security: Security,
    broken: bool,
    /// The id of the next call.
    next_call: u64,
    /// The calls in flight: their id and their place in the batch.
    calls: std::collections::HashMap<u64, usize>,
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
        next_call: 1,
        calls: std::collections::HashMap::new(),
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

    /// Sends every request in `payloads` as a call of its own without
    /// waiting for answers (many in flight on this one connection: the
    /// member answers them concurrently, in any order), then collects the
    /// answers, returned in the order of `payloads`; all within `timeout`.
    /// (Dials again first, like [`ClientConnection::request`], if the
    /// listener closed the connection since the last request.) After an
    /// error the connection is unusable and any of the requests may have
    /// been sent: connect again.
    pub fn call_all(
        &mut self,
        payloads: &[Vec<u8>],
        timeout: Duration,
    ) -> Result<Vec<Vec<u8>>, TransportError> {
        if self.broken {
            return Err(TransportError::Closed(self.conn.addr().to_string()));
        }
        if let Some(p) = payloads
            .iter()
            .find(|p| p.len() + CALL_ID_LEN > MAX_FRAME_PAYLOAD)
        {
            return Err(wire::WireError::TooLarge {
                len: p.len() + CALL_ID_LEN,
                max: MAX_FRAME_PAYLOAD,
            }
            .into());
        }
        let deadline = Instant::now() + timeout;
        if self.conn.closed_by_listener() {
            let addr = self.conn.addr().to_string();
            self.conn = FrameConnection::dial(&addr, &self.security, HelloRole::Client, timeout)?;
        }
        self.broken = true;
        let mut answers: Vec<Option<Vec<u8>>> = vec![None; payloads.len()];
        let mut missing = payloads.len();
        let mut sent = 0;
        while missing > 0 {
            // Keep at most the member's bound in flight (it would stop
            // reading past it anyway), sending the next as answers arrive.
            let in_flight = sent - (payloads.len() - missing);
            if sent < payloads.len() && in_flight < super::MAX_CALLS_IN_FLIGHT {
                let id = self.next_call;
                self.next_call += 1;
                self.calls.insert(id, sent);
                self.conn
                    .send_frame(FrameKind::ClientCall, &call_payload(id, &payloads[sent]))?;
                sent += 1;
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(TransportError::Timeout(format!(
                    "{missing} of {} answers from {}",
                    payloads.len(),
                    self.conn.addr()
                )));
            }
            let (id, answer) = match self.conn.read_frame(left)? {
                Some((FrameKind::ClientReply, p)) => {
                    let (id, body) = split_call(&p)?;
                    (id, body.to_vec())
                }
                Some((kind, _)) => {
                    return Err(TransportError::Protocol {
                        peer: self.conn.addr().to_string(),
                        detail: format!("expected a ClientReply, got a {kind:?} frame"),
                    })
                }
                None => return Err(TransportError::Closed(self.conn.addr().to_string())),
            };
            let Some(slot) = self.calls.remove(&id).and_then(|i| answers.get_mut(i)) else {
                return Err(TransportError::Protocol {
                    peer: self.conn.addr().to_string(),
                    detail: format!("a ClientReply to call {id}, which is not in flight"),
                });
            };
            *slot = Some(answer);
            missing -= 1;
        }
        self.broken = false;
        Ok(answers.into_iter().flatten().collect())
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
