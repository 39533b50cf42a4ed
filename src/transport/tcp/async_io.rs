//! Bytes and frames on the async runtime: [`AsyncStream`] (plain TCP, or
//! either side of TLS through tokio-rustls), the [`Revocation`] check a TLS
//! connection repeats when the lists change, and [`AsyncFrames`], which
//! reads whole frames cancel-safely.

use std::pin::Pin;
use std::task::{Context, Poll};

use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use crate::transport::tls::Watch;
use crate::transport::wire::{FrameDecoder, FrameKind};
use crate::transport::TransportError;

/// An accepted connection's bytes on the runtime: plain TCP or the server
/// side of TLS.
pub(super) enum AsyncStream {
    Plain(tokio::net::TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>),
    TlsClient(Box<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>),
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
            AsyncStream::TlsClient(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
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
            AsyncStream::TlsClient(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            AsyncStream::Plain(s) => Pin::new(s).poll_flush(cx),
            AsyncStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            AsyncStream::TlsClient(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            AsyncStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            AsyncStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            AsyncStream::TlsClient(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
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
    pub(super) fn new(watch: Watch, chain: Vec<CertificateDer<'static>>) -> Self {
        Self { watch, chain }
    }

    /// The peer's certificate, as presented at the handshake.
    pub(super) fn peer_certificate(&self) -> Option<&CertificateDer<'static>> {
        self.chain.first()
    }

    /// The watch, for the connection continued as a blocking stream.
    pub(super) fn into_watch(self) -> Watch {
        self.watch
    }

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
