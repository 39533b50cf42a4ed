//! Every accepted connection's first steps, on the async runtime: the TLS
//! handshake (tokio-rustls, with the member's server configuration, so the
//! same CA, revocation lists and TLS 1.3 only) and the Hello, within
//! [`super::TcpConfig::io_timeout`]. Then a peer is handed, with its TLS
//! session and any bytes read past its Hello, to a thread of its own (the
//! listener's peer path: vouching may dial other members, raft frames go
//! to the inbox); a client takes a client slot, gets its HelloAck and is
//! served here (`client_serve`). A refused connection gets no answer and is
//! logged as before ([`super::peer_inbound::report`]).

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::AsyncWriteExt;

use super::async_io::{AsyncFrames, AsyncStream, Revocation};
use super::client_serve;
use super::framing::FrameReader;
use super::peer_inbound::{blocking_socket, report, serve_peer_hello, Ending, PeerHello};
use super::shared::Shared;
use super::{keepalive, sock_err};
use crate::entry::NodeId;
use crate::transport::tls::{identity_from_certificate, Security, Stream, Watch};
use crate::transport::wire::{
    decode_hello, encode_hello_ack, frame, FrameKind, HelloRole, MAX_HELLO_PAYLOAD,
};
use crate::transport::TransportError;

/// An accepted connection's claim on the transport: its socket stays
/// registered (shutdown cuts it) and, while `counted`, it holds one of the
/// inbound slots; both are given back on drop (when the connection ends,
/// on whichever task or thread serves it).
pub(super) struct Admitted {
    pub(super) shared: Arc<Shared>,
    pub(super) key: Option<u64>,
    counted: bool,
}

impl Admitted {
    /// The claim of a connection accepted with socket `key`, holding an
    /// inbound slot (already counted in `Shared::inbound`).
    pub(super) fn new(shared: Arc<Shared>, key: Option<u64>) -> Self {
        Self {
            shared,
            key,
            counted: true,
        }
    }

    /// The connection became an established client: it leaves the inbound
    /// slots (clients have their own bound) and the registered sockets (a
    /// descriptor less per client; the runtime's shutdown closes it).
    pub(super) fn leave_slots(&mut self) {
        self.shared.unregister(self.key.take());
        if std::mem::take(&mut self.counted) {
            self.shared.inbound.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.shared.unregister(self.key);
        self.leave_slots();
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
                    Some(Revocation::new(watch, chain)),
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
    let cert = match revocation.as_ref().and_then(Revocation::peer_certificate) {
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
            Ok(Stream::server_from_parts(conn, sock, r.into_watch()))
        }
        (AsyncStream::Tls(_), None) | (AsyncStream::TlsClient(_), _) => {
            Err(TransportError::Protocol {
                peer: peer.to_string(),
                detail: "not the server side of a TLS connection with its revocation watch".into(),
            })
        }
    }
}
