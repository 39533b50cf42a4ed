//! Serving one client connection on the async runtime, after its HelloAck.
//!
//! Two kinds of request frame:
//! * `ClientRequest` (the first protocol): answered in order, one at a
//!   time, by a `ClientResponse`; a streaming request (a watch) takes the
//!   connection over until the stream ends.
//! * `ClientCall` (call id + request): many in flight at once, at most
//!   [`MAX_CALLS_IN_FLIGHT`] per connection (past that the connection is
//!   not read until one ends: back-pressure, not buffering), each answered
//!   by a `ClientReply` with its call id, in whatever order they finish; a
//!   streaming call gets a reply per response, all with its id, while the
//!   connection's other calls go on.
//!
//! Answers go through one writer per connection with a bounded queue; a
//! write that cannot finish within the I/O timeout (a client that stopped
//! reading) closes the connection. Handler calls that may wait run on the
//! runtime's blocking pool; a panicking handler closes the connection,
//! never the listener. A connection with nothing in flight that sends no
//! whole frame for [`super::TcpConfig::client_idle_timeout`] is closed.
//! The client's certificate is checked again against the revocation lists
//! before every frame read and written.

use std::future::poll_fn;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, Semaphore};

use super::async_io::{AsyncFrames, AsyncStream, Revocation};
use super::client::{ClientHandler, ResponseStream, HEARTBEAT};
use super::shared::Shared;
use crate::entry::NodeId;
use crate::transport::wire::{self, call_payload, frame, split_call, FrameKind, MAX_FRAME_PAYLOAD};
use crate::transport::TransportError;

/// Calls (streams included) one connection may have in flight.
pub const MAX_CALLS_IN_FLIGHT: usize = 64;

/// Frames queued for a connection's writer.
const WRITE_QUEUE: usize = 64;

/// An accepted client connection: whose, and what serves it.
pub(super) struct Conn {
    pub(super) shared: Arc<Shared>,
    pub(super) identity: NodeId,
    pub(super) handler: Arc<dyn ClientHandler>,
    /// The remote address, for messages.
    pub(super) peer: String,
    pub(super) revocation: Option<Revocation>,
}

/// Serves the connection until it closes, fails, idles out or the
/// transport stops.
pub(super) async fn serve(
    mut conn: Conn,
    stream: AsyncStream,
    mut frames: AsyncFrames,
) -> Result<(), TransportError> {
    let (mut rd, wr) = tokio::io::split(stream);
    let (tx, rx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    let mut read_revocation = conn.revocation.take();
    let io_timeout = conn.shared.cfg.io_timeout;
    let writer = write_loop(
        wr,
        rx,
        read_revocation.clone(),
        io_timeout,
        conn.peer.clone(),
    );
    let conn = Arc::new(conn);
    let calls = Arc::new(Semaphore::new(MAX_CALLS_IN_FLIGHT));
    let c = conn.clone();
    // Owns the queue's first sender: when it ends, the writer ends once
    // the calls still in flight are answered.
    let reader = async move {
        let conn = c;
        let idle = conn.shared.cfg.client_idle_timeout;
        loop {
            let frame = match tokio::time::timeout(idle, frames.next(&mut rd, &conn.peer)).await {
                Ok(f) => f?,
                Err(_) if calls.available_permits() < MAX_CALLS_IN_FLIGHT => continue,
                Err(_) => {
                    conn.shared
                        .idle_clients_closed
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(peer = %conn.peer, identity = %conn.identity, ?idle, "closed an idle client connection");
                    return Ok(());
                }
            };
            let Some((kind, payload)) = frame else {
                return Ok(());
            };
            if let Some(r) = read_revocation.as_mut() {
                r.check(&conn.peer)?;
            }
            match kind {
                FrameKind::ClientRequest => {
                    // The first protocol: one at a time, in order.
                    if let Some(s) =
                        guarded(&conn.peer, || conn.handler.stream(&conn.identity, &payload))?
                    {
                        return pump(&conn, s, &tx, None).await;
                    }
                    let answer = answer(&conn, payload).await?;
                    let bytes = response_frame(None, &answer)?;
                    if tx.send(bytes).await.is_err() {
                        return Ok(());
                    }
                    conn.shared.client_requests.fetch_add(1, Ordering::Relaxed);
                }
                FrameKind::ClientCall => {
                    let (id, body) = split_call(&payload)?;
                    let body = body.to_vec();
                    let Ok(permit) = calls.clone().acquire_owned().await else {
                        return Ok(());
                    };
                    let conn = conn.clone();
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let _permit = permit;
                        if let Err(e) = call(&conn, id, body, &tx).await {
                            tracing::warn!(peer = %conn.peer, identity = %conn.identity, reason = %e, "a client call failed");
                        }
                    });
                }
                other => {
                    return Err(TransportError::Protocol {
                        peer: conn.peer.clone(),
                        detail: format!("a {other:?} frame on a client connection"),
                    })
                }
            }
        }
    };
    // A writer that fails ends the connection (its queue then refuses
    // every answer); a reader that fails too. A reader that ends cleanly
    // (the client closed its side, or idled out) leaves the writer the
    // I/O timeout to write the answers still in flight.
    tokio::pin!(writer);
    tokio::select! {
        r = reader => {
            r?;
            match tokio::time::timeout(io_timeout, writer).await {
                Ok(w) => w,
                Err(_) => Ok(()),
            }
        }
        w = &mut writer => w,
    }
}

/// One `ClientCall`: its answer, or its stream of answers, each with `id`.
async fn call(
    conn: &Arc<Conn>,
    id: u64,
    body: Vec<u8>,
    tx: &mpsc::Sender<Vec<u8>>,
) -> Result<(), TransportError> {
    if let Some(s) = guarded(&conn.peer, || conn.handler.stream(&conn.identity, &body))? {
        return pump(conn, s, tx, Some(id)).await;
    }
    let answer = answer(conn, body).await?;
    let bytes = response_frame(Some(id), &answer)?;
    if tx.send(bytes).await.is_ok() {
        conn.shared.client_requests.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// The handler's answer to `request`, from the blocking pool if it may
/// wait.
async fn answer(conn: &Arc<Conn>, request: Vec<u8>) -> Result<Vec<u8>, TransportError> {
    if !conn.handler.may_block(&request) {
        return guarded(&conn.peer, || conn.handler.handle(&conn.identity, &request));
    }
    let c = conn.clone();
    let joined = tokio::task::spawn_blocking(move || {
        guarded(&c.peer, || c.handler.handle(&c.identity, &request))
    })
    .await;
    match joined {
        Ok(r) => r,
        Err(_) => Err(TransportError::Shutdown),
    }
}

/// Writes what a streaming request yields (a heartbeat after each
/// [`HEARTBEAT`] of silence) until it ends or the connection closes.
async fn pump(
    conn: &Arc<Conn>,
    mut stream: Box<dyn ResponseStream>,
    tx: &mpsc::Sender<Vec<u8>>,
    id: Option<u64>,
) -> Result<(), TransportError> {
    loop {
        let next = tokio::time::timeout(
            HEARTBEAT,
            poll_fn(|cx| {
                guarded(&conn.peer, || stream.poll_next(cx))
                    .map_or_else(|e| std::task::Poll::Ready(Err(e)), |p| p.map(Ok))
            }),
        )
        .await;
        let response = match next {
            Ok(Ok(Some(r))) => r,
            Ok(Ok(None)) => return Ok(()),
            Ok(Err(e)) => return Err(e),
            Err(_) => match stream.heartbeat() {
                Some(h) => h,
                None => continue,
            },
        };
        let bytes = response_frame(id, &response)?;
        if tx.send(bytes).await.is_err() {
            // The connection closed: the stream ends with it.
            return Ok(());
        }
    }
}

/// A response as a frame: a `ClientReply` with `id`, or a
/// `ClientResponse`; one over the frame bound is refused.
fn response_frame(id: Option<u64>, response: &[u8]) -> Result<Vec<u8>, TransportError> {
    let (kind, payload) = match id {
        Some(id) => (FrameKind::ClientReply, call_payload(id, response)),
        None => (FrameKind::ClientResponse, response.to_vec()),
    };
    if payload.len() > MAX_FRAME_PAYLOAD {
        return Err(wire::WireError::TooLarge {
            len: payload.len(),
            max: MAX_FRAME_PAYLOAD,
        }
        .into());
    }
    Ok(frame(kind, &payload))
}

/// Writes queued frames, flushing when the queue runs dry; each write must
/// finish within `io_timeout`.
async fn write_loop<W: AsyncWrite + Unpin>(
    mut wr: W,
    mut rx: mpsc::Receiver<Vec<u8>>,
    mut revocation: Option<Revocation>,
    io_timeout: std::time::Duration,
    peer: String,
) -> Result<(), TransportError> {
    let io = |e| crate::transport::tls::io_error(&peer, "writing to", e);
    while let Some(bytes) = rx.recv().await {
        if let Some(r) = revocation.as_mut() {
            r.check(&peer)?;
        }
        let mut next = Some(bytes);
        let written = tokio::time::timeout(io_timeout, async {
            while let Some(b) = next.take() {
                wr.write_all(&b).await?;
                next = rx.try_recv().ok();
            }
            wr.flush().await
        })
        .await;
        match written {
            Ok(r) => r.map_err(io)?,
            Err(_) => {
                return Err(TransportError::Timeout(format!(
                    "writing to {peer}: it reads nothing"
                )))
            }
        }
    }
    // Every sender is gone (the reader ended): close the TLS session.
    let _ = tokio::time::timeout(io_timeout, wr.shutdown()).await;
    Ok(())
}

/// Runs handler code: a panic in it closes this connection (as a protocol
/// error), never the listener.
fn guarded<T>(peer: &str, f: impl FnOnce() -> T) -> Result<T, TransportError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|_| {
        TransportError::Protocol {
            peer: peer.to_string(),
            detail: "the client handler panicked".into(),
        }
    })
}
