//! Every accepted connection's first steps, on the async runtime: the TLS
//! handshake (tokio-rustls, with the member's server configuration, so the
//! same CA, revocation lists and TLS 1.3 only) and the Hello, within
//! [`super::TcpConfig::io_timeout`]. Then a peer is handed, with its TLS
//! session and any bytes read past its Hello, to a thread of its own (the
//! listener's peer path: vouching may dial other members, raft frames go
//! to the inbox); a client takes a client slot, gets its HelloAck and is
//! served here (`client_serve`). A refused connection gets no answer and is
//! logged as before ([`super::listener::report`]).

use std::net::{SocketAddr, TcpStream};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::client_serve;
use super::framing::FrameReader;
use super::listener::{blocking_socket, report, serve_peer_hello, Admitted, Ending, PeerHello};
use super::{keepalive, sock_err};
use crate::entry::NodeId;
use crate::transport::tls::{identity_from_certificate, Security, Stream, Watch};
use crate::transport::wire::{
    decode_hello, encode_hello_ack, frame, FrameDecoder, FrameKind, HelloRole, MAX_HELLO_PAYLOAD,
};
use crate::transport::TransportError;

/// An accepted connection's bytes on the runtime: plain TCP or the server
/// side of TLS.
pub(super) enum AsyncStream {
    Plain(tokio::net::TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>),
}

impl AsyncRead for AsyncStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            AsyncStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            AsyncStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for AsyncStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            AsyncStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            AsyncStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            AsyncStream::Plain(s) => Pin::new(s).poll_flush(cx),
            AsyncStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            AsyncStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            AsyncStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A TLS connection's revocation check: the peer's chain as presented at
/// the handshake and the [`Watch`] that checks it again when the lists
/// change (before every frame read and written, as on blocking streams).
#[derive(Clone)]
pub(super) struct Revocation {
    watch: Watch,
    chain: Vec<CertificateDer<'static>>,
}

impl Revocation {
    /// Fails once the lists in force refuse the peer's certificate.
    pub(super) fn check(&mut self, peer: &str) -> Result<(), TransportError> {
        self.watch
            .check(Some(&self.chain))
            .map_err(|e| crate::transport::tls::io_error(peer, "checking the certificate of", e))
    }
}

/// Reads frames from an async stream, buffering partial ones. Cancel-safe:
/// bytes read are fed to the decoder before the next wait, so a read
/// dropped mid-wait (a timeout) loses nothing.
pub(super) struct AsyncFrames {
    pub(super) dec: FrameDecoder,
    buf: Vec<u8>,
}

/// Bytes asked of the socket per read (a connection's read buffer; kept
/// small so idle connections cost little).
const READ_CHUNK: usize = 8 << 10;

impl AsyncFrames {
    pub(super) fn new(limit: usize) -> Self {
        Self {
            dec: FrameDecoder::with_limit(limit),
            buf: Vec::new(),
        }
    }

    /// The next frame; `Ok(None)` when the other side closed cleanly
    /// between frames.
    pub(super) async fn next<R: AsyncRead + Unpin>(
        &mut self,
        rd: &mut R,
        peer: &str,
    ) -> Result<Option<(FrameKind, Vec<u8>)>, TransportError> {
        loop {
            if let Some(f) = self.dec.next_frame()? {
                return Ok(Some(f));
            }
            self.buf.clear();
            self.buf.reserve(READ_CHUNK);
            let n = match rd.read_buf(&mut self.buf).await {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
                Err(e) => return Err(crate::transport::tls::io_error(peer, "reading from", e)),
            };
            if n == 0 {
                if self.dec.buffered() == 0 {
                    return Ok(None);
                }
                return Err(TransportError::Protocol {
                    peer: peer.to_string(),
                    detail: format!(
                        "connection closed inside a frame ({} bytes pending)",
                        self.dec.buffered()
                    ),
                });
            }
            self.dec.feed(&self.buf);
            if self.buf.capacity() > 4 * READ_CHUNK {
                // A large frame passed: give its memory back.
                self.buf = Vec::new();
            }
        }
    }
}

/// Serves one accepted connection up to its end (a peer's end is on its
/// thread).
pub(super) async fn serve(admitted: Admitted, sock: TcpStream, remote: SocketAddr) {
    let shared = admitted.shared.clone();
    let mut identity = None;
    let result = serve_inner(admitted, sock, remote, &mut identity).await;
    if let Some(result) = result {
        report(&shared, remote, identity.as_ref(), result);
    }
}

/// `None` when a peer was handed to its thread (which reports its end).
async fn serve_inner(
    mut admitted: Admitted,
    sock: TcpStream,
    remote: SocketAddr,
    identity_out: &mut Option<NodeId>,
) -> Option<Result<(), Ending>> {
    let shared = admitted.shared.clone();
    let peer = remote.to_string();
    let refuse = Ending::Refused;
    let deadline = Instant::now() + shared.cfg.io_timeout;
    let setup = sock_err(&peer, "configuring the connection from");
    let configured = sock
        .set_nodelay(true)
        .and_then(|()| keepalive(&sock))
        .and_then(|()| sock.set_nonblocking(true))
        .map_err(&setup)
        .and_then(|()| tokio::net::TcpStream::from_std(sock).map_err(&setup));
    let tcp = match configured {
        Ok(t) => t,
        Err(e) => return Some(Err(refuse(e))),
    };
    let handshake = async {
        let (stream, revocation) = match &shared.cfg.security {
            Security::Tls(tls) => {
                let watch = Watch::server(tls);
                let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config());
                let s = acceptor
                    .accept(tcp)
                    .await
                    .map_err(|e| crate::transport::tls::io_error(&peer, "TLS handshake with", e))?;
                let chain = s.get_ref().1.peer_certificates().unwrap_or(&[]).to_vec();
                (
                    AsyncStream::Tls(Box::new(s)),
                    Some(Revocation { watch, chain }),
                )
            }
            Security::Insecure { .. } => (AsyncStream::Plain(tcp), None),
        };
        let mut frames = AsyncFrames::new(MAX_HELLO_PAYLOAD);
        let mut stream = stream;
        let hello = frames.next(&mut stream, &peer).await?;
        Ok::<_, TransportError>((stream, revocation, frames, hello))
    };
    let until = tokio::time::Instant::from_std(deadline);
    let (mut stream, revocation, mut frames, hello) =
        match tokio::time::timeout_at(until, handshake).await {
            Ok(Ok(parts)) => parts,
            Ok(Err(e)) => return Some(Err(refuse(e))),
            Err(_) => {
                return Some(Err(refuse(TransportError::Timeout(format!(
                    "TLS handshake and Hello with {peer}"
                )))))
            }
        };
    let cert = match revocation.as_ref().and_then(|r| r.chain.first()) {
        Some(der) => match identity_from_certificate(der) {
            Ok(id) => Some(id),
            Err(e) => return Some(Err(refuse(e))),
        },
        None if revocation.is_some() => {
            return Some(Err(refuse(TransportError::Certificate(
                "the peer presented no certificate".into(),
            ))))
        }
        None => None,
    };
    *identity_out = cert.clone();
    let hello = match hello {
        None => return Some(Ok(())),
        Some((FrameKind::Hello, p)) => match decode_hello(&p) {
            Ok(h) => h,
            Err(e) => return Some(Err(refuse(e.into()))),
        },
        Some((kind, _)) => {
            return Some(Err(refuse(TransportError::Protocol {
                peer,
                detail: format!("expected a Hello, got a {kind:?} frame"),
            })))
        }
    };
    let identity = match (cert, hello.identity) {
        (Some(cert), Some(claimed)) if cert != claimed => {
            return Some(Err(refuse(TransportError::NotAuthorized(format!(
                "the Hello claims {claimed} but the certificate says {cert}"
            )))))
        }
        (Some(cert), _) => cert,
        (None, Some(claimed)) => claimed,
        (None, None) => {
            return Some(Err(refuse(TransportError::NotAuthorized(
                "no identity: an insecure Hello must name one".into(),
            ))))
        }
    };
    *identity_out = Some(identity.clone());
    match hello.role {
        HelloRole::Peer { peer_id } => {
            // Peers keep a thread each: hand the connection over, TLS
            // session and bytes read past the Hello included.
            let blocking = match into_blocking(&shared, stream, revocation, &peer) {
                Ok(s) => s,
                Err(e) => return Some(Err(refuse(e))),
            };
            let reader = FrameReader::with_decoder(frames.dec);
            let s = shared.clone();
            let started = shared.spawn("synod-tcp-in".into(), move || {
                let mut stream = blocking;
                let hello = PeerHello {
                    identity: &identity,
                    peer_id,
                    deadline,
                    key: admitted.key,
                    peer: &peer,
                };
                let result = serve_peer_hello(&s, &mut stream, reader, &hello);
                stream.close();
                report(&s, remote, Some(&identity), result);
                drop(admitted);
            });
            match started {
                Ok(()) => None,
                Err(e) => Some(Err(refuse(e))),
            }
        }
        HelloRole::Client => {
            let Some(handler) = shared.cfg.client_handler.clone() else {
                return Some(Err(refuse(TransportError::NotAuthorized(
                    "this listener serves no clients".into(),
                ))));
            };
            let slot = match shared.take_client_slot(&identity) {
                Ok(slot) => slot,
                Err(why) => {
                    return Some(Err(refuse(TransportError::NotAuthorized(why.to_string()))))
                }
            };
            shared.pending_done(admitted.key);
            admitted.leave_slots();
            let ack = frame(FrameKind::HelloAck, &encode_hello_ack());
            let written = tokio::time::timeout(shared.cfg.io_timeout, async {
                stream.write_all(&ack).await?;
                stream.flush().await
            })
            .await;
            match written {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    return Some(Err(refuse(crate::transport::tls::io_error(
                        &peer,
                        "writing to",
                        e,
                    ))))
                }
                Err(_) => {
                    return Some(Err(refuse(TransportError::Timeout(format!(
                        "writing the HelloAck to {peer}"
                    )))))
                }
            }
            frames
                .dec
                .set_limit(crate::transport::wire::MAX_FRAME_PAYLOAD);
            let conn = client_serve::Conn {
                shared: shared.clone(),
                identity,
                handler,
                peer,
                revocation,
            };
            let served = client_serve::serve(conn, stream, frames).await;
            drop(slot);
            drop(admitted);
            Some(served.map_err(Ending::Bad))
        }
    }
}

/// The connection as a blocking [`Stream`] (for a peer's thread).
fn into_blocking(
    shared: &super::shared::Shared,
    stream: AsyncStream,
    revocation: Option<Revocation>,
    peer: &str,
) -> Result<Stream, TransportError> {
    let setup = sock_err(peer, "configuring the connection from");
    match (stream, revocation) {
        (AsyncStream::Plain(tcp), _) => {
            let sock = tcp.into_std().map_err(&setup)?;
            blocking_socket(shared, &sock, peer)?;
            Ok(Stream::plain(sock))
        }
        (AsyncStream::Tls(tls), Some(r)) => {
            let (tcp, conn) = tls.into_inner();
            let sock = tcp.into_std().map_err(&setup)?;
            blocking_socket(shared, &sock, peer)?;
            Ok(Stream::server_from_parts(conn, sock, r.watch))
        }
        (AsyncStream::Tls(_), None) => Err(TransportError::Protocol {
            peer: peer.to_string(),
            detail: "a TLS connection without its revocation watch".into(),
        }),
    }
}
