//! Frames on a stream: [`FrameReader`] reads whole frames from a socket
//! under a payload limit, polling the shutdown flag and a deadline while it
//! waits; [`write_frame`] writes one frame and flushes it. A connection that
//! closes inside a frame is a protocol error, not a clean end.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::IO_BUF;
use crate::transport::tls::{io_error, is_timeout, Stream};
use crate::transport::wire::{frame, FrameDecoder, FrameKind};
use crate::transport::TransportError;

/// Reads whole frames from one stream, buffering partial ones.
pub(super) struct FrameReader {
    dec: FrameDecoder,
    buf: Vec<u8>,
}

impl FrameReader {
    pub(super) fn new(limit: usize) -> Self {
        Self {
            dec: FrameDecoder::with_limit(limit),
            buf: vec![0; IO_BUF],
        }
    }

    /// A reader that goes on from `dec` (bytes already read past the last
    /// frame taken, on the async runtime, are kept).
    pub(super) fn with_decoder(dec: FrameDecoder) -> Self {
        Self {
            dec,
            buf: vec![0; IO_BUF],
        }
    }

    /// Bytes read but not yet returned as a whole frame.
    pub(super) fn buffered(&self) -> usize {
        self.dec.buffered()
    }

    /// Changes the payload limit (at most
    /// [`MAX_FRAME_PAYLOAD`](crate::transport::wire::MAX_FRAME_PAYLOAD)),
    /// for example once a connection's Hello is accepted.
    pub(super) fn set_limit(&mut self, limit: usize) {
        self.dec.set_limit(limit);
    }

    /// The next frame; `Ok(None)` when the other side closed cleanly
    /// between frames. Socket timeouts are polls: they end the wait only
    /// when `stop` is set or `deadline` passed.
    pub(super) fn read(
        &mut self,
        stream: &mut Stream,
        stop: Option<&AtomicBool>,
        deadline: Option<Instant>,
        peer: &str,
    ) -> Result<Option<(FrameKind, Vec<u8>)>, TransportError> {
        loop {
            if let Some(f) = self.dec.next_frame()? {
                return Ok(Some(f));
            }
            match stream.read(&mut self.buf) {
                Ok(0) => return self.eof(peer),
                Ok(n) => self.dec.feed(&self.buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return self.eof(peer),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => {
                    if stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
                        return Err(TransportError::Shutdown);
                    }
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(TransportError::Timeout(format!("waiting for {peer}")));
                    }
                }
                Err(e) => return Err(io_error(peer, "reading from", e)),
            }
        }
    }

    fn eof(&self, peer: &str) -> Result<Option<(FrameKind, Vec<u8>)>, TransportError> {
        if self.dec.buffered() == 0 {
            Ok(None)
        } else {
            Err(TransportError::Protocol {
                peer: peer.to_string(),
                detail: format!(
                    "connection closed inside a frame ({} bytes pending)",
                    self.dec.buffered()
                ),
            })
        }
    }
}

/// Writes one frame and flushes it.
pub(super) fn write_frame(
    stream: &mut Stream,
    kind: FrameKind,
    payload: &[u8],
    peer: &str,
) -> Result<(), TransportError> {
    stream
        .write_all(&frame(kind, payload))
        .and_then(|()| stream.flush())
        .map_err(|e| io_error(peer, "writing to", e))
}
