//! The client's side of the client channel on a tokio runtime: dial (TCP,
//! then TLS through tokio-rustls, checking the listener's certificate
//! names the address dialled), the Hello as a client, then calls with ids
//! ([`AsyncClientConnection::send_call`]) whose replies come back in any
//! order ([`AsyncClientConnection::next_reply`]); a streaming call (a
//! watch) gets many replies with its id. Many such connections run on a
//! few threads (the watch benchmark holds a thousand on two).

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::async_io::{AsyncFrames, AsyncStream, Revocation};
use crate::entry::NodeId;
use crate::transport::tls::{
    identity_from_certificate, io_error, server_name_for, Security, Watch,
};
use crate::transport::wire::{
    self, call_payload, decode_hello_answer, encode_hello, frame, split_call, FrameKind, Hello,
    HelloAnswer, HelloRole, CALL_ID_LEN, MAX_FRAME_PAYLOAD, MAX_REMOVED_DETAIL,
};
use crate::transport::TransportError;

/// A client's connection to a member's listener, for async code.
pub struct AsyncClientConnection {
    stream: AsyncStream,
    frames: AsyncFrames,
    revocation: Option<Revocation>,
    addr: String,
    server: Option<NodeId>,
    next_call: u64,
}

impl std::fmt::Debug for AsyncClientConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncClientConnection")
            .field("addr", &self.addr)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl AsyncClientConnection {
    /// Connects to the listener at `addr` (`host:port`) as a client, all
    /// within `timeout`; must run on a tokio runtime with I/O and time
    /// enabled. Refusals are as [`super::connect_client`]'s.
    pub async fn connect(
        addr: &str,
        security: &Security,
        timeout: Duration,
    ) -> Result<Self, TransportError> {
        match tokio::time::timeout(timeout, Self::dial(addr, security)).await {
            Ok(r) => r,
            Err(_) => Err(TransportError::Timeout(format!("connecting to {addr}"))),
        }
    }

    async fn dial(addr: &str, security: &Security) -> Result<Self, TransportError> {
        let setup = super::sock_err(addr, "connecting to");
        let tcp = tokio::net::TcpStream::connect(addr).await.map_err(&setup)?;
        tcp.set_nodelay(true).map_err(&setup)?;
        let (mut stream, revocation, claim) = match security {
            Security::Tls(cfg) => {
                let name = server_name_for(addr)?;
                let watch = Watch::client(cfg, name.clone());
                let connector = tokio_rustls::TlsConnector::from(cfg.client_config());
                let s = connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| io_error(addr, "TLS handshake with", e))?;
                let chain = s.get_ref().1.peer_certificates().unwrap_or(&[]).to_vec();
                (
                    AsyncStream::TlsClient(Box::new(s)),
                    Some(Revocation::new(watch, chain)),
                    None,
                )
            }
            Security::Insecure { identity } => {
                (AsyncStream::Plain(tcp), None, Some(identity.clone()))
            }
        };
        let server = match revocation.as_ref() {
            None => None,
            Some(r) => match r.peer_certificate() {
                Some(der) => Some(identity_from_certificate(der)?),
                None => {
                    return Err(TransportError::Certificate(
                        "the listener presented no certificate".into(),
                    ))
                }
            },
        };
        let hello = Hello {
            role: HelloRole::Client,
            identity: claim,
        };
        stream
            .write_all(&frame(FrameKind::Hello, &encode_hello(&hello)))
            .await
            .map_err(|e| io_error(addr, "writing to", e))?;
        stream
            .flush()
            .await
            .map_err(|e| io_error(addr, "writing to", e))?;
        let mut frames = AsyncFrames::new(4 + MAX_REMOVED_DETAIL);
        match frames.next(&mut stream, addr).await? {
            None => {
                return Err(TransportError::Refused {
                    addr: addr.to_string(),
                })
            }
            Some((FrameKind::HelloAck, p)) => match decode_hello_answer(&p)? {
                HelloAnswer::Accepted => {}
                HelloAnswer::Removed { detail } => {
                    return Err(TransportError::Removed {
                        addr: addr.to_string(),
                        detail,
                    })
                }
            },
            Some((kind, _)) => {
                return Err(TransportError::Protocol {
                    peer: addr.to_string(),
                    detail: format!("expected a HelloAck, got a {kind:?} frame"),
                })
            }
        }
        frames.dec.set_limit(MAX_FRAME_PAYLOAD);
        Ok(Self {
            stream,
            frames,
            revocation,
            addr: addr.to_string(),
            server,
            next_call: 1,
        })
    }

    /// The identity in the listener's certificate (`None` when insecure).
    pub fn server_identity(&self) -> Option<&NodeId> {
        self.server.as_ref()
    }

    /// Sends `payload` as a call and returns its id (its replies carry it).
    pub async fn send_call(&mut self, payload: &[u8]) -> Result<u64, TransportError> {
        if payload.len() + CALL_ID_LEN > MAX_FRAME_PAYLOAD {
            return Err(wire::WireError::TooLarge {
                len: payload.len() + CALL_ID_LEN,
                max: MAX_FRAME_PAYLOAD,
            }
            .into());
        }
        if let Some(r) = self.revocation.as_mut() {
            r.check(&self.addr)?;
        }
        let id = self.next_call;
        self.next_call += 1;
        let bytes = frame(FrameKind::ClientCall, &call_payload(id, payload));
        self.stream
            .write_all(&bytes)
            .await
            .map_err(|e| io_error(&self.addr, "writing to", e))?;
        self.stream
            .flush()
            .await
            .map_err(|e| io_error(&self.addr, "writing to", e))?;
        Ok(id)
    }

    /// The next reply: its call id and payload. Cancel-safe (a reply read
    /// in part is kept for the next call). `Closed` when the listener
    /// closed the connection.
    pub async fn next_reply(&mut self) -> Result<(u64, Vec<u8>), TransportError> {
        let frame = self.frames.next(&mut self.stream, &self.addr).await?;
        if let Some(r) = self.revocation.as_mut() {
            r.check(&self.addr)?;
        }
        match frame {
            Some((FrameKind::ClientReply, p)) => {
                let (id, body) = split_call(&p)?;
                Ok((id, body.to_vec()))
            }
            Some((kind, _)) => Err(TransportError::Protocol {
                peer: self.addr.clone(),
                detail: format!("expected a ClientReply, got a {kind:?} frame"),
            }),
            None => Err(TransportError::Closed(self.addr.clone())),
        }
    }
}
