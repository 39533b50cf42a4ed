//! Dialling a listener: TCP connect (with `TCP_NODELAY` and keepalive), the TLS
//! handshake, the check that the listener is who the dialer meant to reach,
//! the Hello and the wait for its HelloAck, all within the I/O deadline.
//! [`FrameConnection`] is a dialled connection with raw frame access.

use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use super::framing::{write_frame, FrameReader};
use super::{keepalive, sock_err, POLL};
use crate::entry::NodeId;
use crate::transport::tls::{connect_tls, io_error, Security, Stream};
use crate::transport::wire::{
    decode_hello_answer, encode_hello, FrameKind, Hello, HelloAnswer, HelloRole, MAX_FRAME_PAYLOAD,
    MAX_REMOVED_DETAIL,
};
use crate::transport::TransportError;

/// Connects, handshakes, says Hello and waits for the HelloAck.
pub(super) fn dial(
    security: &Security,
    address: &str,
    role: HelloRole,
    expect: Option<&NodeId>,
    connect_timeout: Duration,
    io_timeout: Duration,
    stop: Option<&AtomicBool>,
) -> Result<(Stream, Option<NodeId>), TransportError> {
    let addrs: Vec<SocketAddr> = address
        .to_socket_addrs()
        .map_err(|e| TransportError::Address {
            addr: address.to_string(),
            detail: e.to_string(),
        })?
        .collect();
    let mut last = None;
    let mut sock = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, connect_timeout) {
            Ok(s) => {
                sock = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let sock = match (sock, last) {
        (Some(s), _) => s,
        (None, Some(e)) => return Err(sock_err(address, "connecting to")(e)),
        (None, None) => {
            return Err(TransportError::Address {
                addr: address.to_string(),
                detail: "resolves to no address".into(),
            })
        }
    };
    dial_on(sock, security, address, role, expect, io_timeout, stop)
}

/// [`dial`] on a socket already connected to `address`: the handshake,
/// the Hello and the wait for the HelloAck.
pub(super) fn dial_on(
    sock: TcpStream,
    security: &Security,
    address: &str,
    role: HelloRole,
    expect: Option<&NodeId>,
    io_timeout: Duration,
    stop: Option<&AtomicBool>,
) -> Result<(Stream, Option<NodeId>), TransportError> {
    let setup = sock_err(address, "configuring the connection to");
    sock.set_nodelay(true).map_err(&setup)?;
    keepalive(&sock).map_err(&setup)?;
    sock.set_read_timeout(Some(POLL.min(io_timeout)))
        .map_err(&setup)?;
    sock.set_write_timeout(Some(io_timeout)).map_err(&setup)?;
    let deadline = Instant::now() + io_timeout;
    let (mut stream, claim) = match security {
        Security::Tls(cfg) => (connect_tls(cfg, sock, address, deadline, stop)?, None),
        Security::Insecure { identity } => (Stream::plain(sock), Some(identity.clone())),
    };
    let server = stream.peer_identity()?;
    if let (Some(expect), Some(got)) = (expect, &server) {
        if got != expect {
            stream.close();
            return Err(TransportError::NotAuthorized(format!(
                "{address} presented identity {got}, expected {expect}"
            )));
        }
    }
    let hello = Hello {
        role,
        identity: claim,
    };
    write_frame(
        &mut stream,
        FrameKind::Hello,
        &encode_hello(&hello),
        address,
    )?;
    let mut reader = FrameReader::new(4 + MAX_REMOVED_DETAIL);
    match reader.read(&mut stream, stop, Some(deadline), address)? {
        None => Err(TransportError::Refused {
            addr: address.to_string(),
        }),
        Some((FrameKind::HelloAck, p)) => match decode_hello_answer(&p)? {
            HelloAnswer::Accepted => Ok((stream, server)),
            HelloAnswer::Removed { detail } => {
                stream.close();
                Err(TransportError::Removed {
                    addr: address.to_string(),
                    detail,
                })
            }
        },
        Some((kind, _)) => Err(TransportError::Protocol {
            peer: address.to_string(),
            detail: format!("expected a HelloAck, got a {kind:?} frame"),
        }),
    }
}

/// A connection that has been accepted by a listener: raw frame access, for
/// tools and tests. [`ClientConnection`] is the request/response face.
///
/// [`ClientConnection`]: super::ClientConnection
pub struct FrameConnection {
    stream: Stream,
    reader: FrameReader,
    addr: String,
    server: Option<NodeId>,
}

impl std::fmt::Debug for FrameConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameConnection")
            .field("addr", &self.addr)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl FrameConnection {
    /// Dials `addr` (`host:port`), runs the TLS handshake (or not, when
    /// insecure), sends a Hello with `role` and waits for the HelloAck, all
    /// within `timeout`. A listener that refuses closes the connection:
    /// [`TransportError::Refused`] (or a TLS error when it refused the
    /// certificate).
    pub fn dial(
        addr: &str,
        security: &Security,
        role: HelloRole,
        timeout: Duration,
    ) -> Result<Self, TransportError> {
        let (stream, server) = dial(security, addr, role, None, timeout, timeout, None)?;
        Ok(Self {
            stream,
            reader: FrameReader::new(MAX_FRAME_PAYLOAD),
            addr: addr.to_string(),
            server,
        })
    }

    /// The listener's address, as dialled.
    pub(super) fn addr(&self) -> &str {
        &self.addr
    }

    /// The identity in the listener's certificate (`None` when insecure).
    pub fn server_identity(&self) -> Option<&NodeId> {
        self.server.as_ref()
    }

    /// Whether the listener closed (or is closing) this connection while
    /// nothing was asked of it: for a request/response connection, any
    /// byte waiting unasked (the TLS close_notify, the end of the stream,
    /// a reset) means it is over. Does not block.
    pub(super) fn closed_by_listener(&self) -> bool {
        if self.reader.buffered() > 0 {
            return true;
        }
        let sock = self.stream.socket();
        if sock.set_nonblocking(true).is_err() {
            return false;
        }
        let over = match sock.peek(&mut [0u8; 1]) {
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => false,
            Err(_) => true,
        };
        let _ = sock.set_nonblocking(false);
        over
    }

    /// Sends one frame.
    pub fn send_frame(&mut self, kind: FrameKind, payload: &[u8]) -> Result<(), TransportError> {
        write_frame(&mut self.stream, kind, payload, &self.addr)
    }

    /// Sends bytes as they are (for tests of what a listener does with
    /// garbage).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush())
            .map_err(|e| io_error(&self.addr, "writing to", e))
    }

    /// The next frame within `timeout`; `Ok(None)` when the listener closed
    /// the connection.
    pub fn read_frame(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<(FrameKind, Vec<u8>)>, TransportError> {
        self.reader.read(
            &mut self.stream,
            None,
            Some(Instant::now() + timeout),
            &self.addr,
        )
    }
}

impl Drop for FrameConnection {
    fn drop(&mut self) {
        self.stream.close();
    }
}
