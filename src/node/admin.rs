//! The admin HTTP listener (`[admin] metrics_listen`): `GET /metrics`
//! answers the member's metrics text, any other path 404 and any other
//! method on `/metrics` 405.
//!
//! One accepting thread and a thread per connection, at most
//! [`Limits::max_connections`] at once: a connection over the limit is
//! answered 503 and closed at once. Each connection has
//! [`Limits::timeout`] to send its request head and the same to take the
//! answer, so a client that connects and sends nothing, or reads slowly,
//! holds one connection thread for a bounded time and never delays other
//! scrapes. One request per connection (`Connection: close`).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The largest request head read; a longer one is answered 400.
const MAX_HEAD: usize = 8 * 1024;
/// How often the accepting thread looks at the stop flag.
const POLL: Duration = Duration::from_millis(50);
/// How long a connection whose head was too large is read on after its
/// answer.
const LINGER: Duration = Duration::from_millis(200);
/// The content type of error answers.
const TEXT: &str = "text/plain; charset=utf-8";

/// Bounds on the listener's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Time a connection has to send its request head, and again to take
    /// the answer.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 16,
            timeout: Duration::from_secs(5),
        }
    }
}

/// What the listener serves at `GET /metrics`: the body and its content
/// type.
pub(crate) type Render = dyn Fn() -> (String, &'static str) + Send + Sync;

/// A running listener; stopped when dropped. Connection threads still
/// answering finish on their own within their timeouts.
#[derive(Debug)]
pub(crate) struct MetricsListener {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    active: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsListener {
    /// Binds `addr` and starts serving `render`'s text.
    pub(crate) fn bind(addr: SocketAddr, limits: Limits, render: Arc<Render>) -> io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let active = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (stop, active) = (stop.clone(), active.clone());
            std::thread::Builder::new()
                .name("synod-metrics".into())
                .spawn(move || {
                    crate::transport::block_sigpipe();
                    accept_loop(&listener, &stop, &active, limits, &render)
                })?
        };
        Ok(Self {
            addr,
            stop,
            active,
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections being served now.
    #[cfg(test)]
    fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// Stops accepting and waits for the accepting thread. Idempotent.
    pub(crate) fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
            tracing::debug!(
                addr = %self.addr,
                answering = self.active.load(Ordering::SeqCst),
                "metrics listener stopped"
            );
        }
    }
}

impl Drop for MetricsListener {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Counts a connection thread for as long as it lives.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn accept_loop(
    listener: &TcpListener,
    stop: &AtomicBool,
    active: &Arc<AtomicUsize>,
    limits: Limits,
    render: &Arc<Render>,
) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((s, peer)) => {
                // Only this thread adds: the check and the increment
                // cannot race with another accept.
                if active.load(Ordering::SeqCst) >= limits.max_connections {
                    tracing::debug!(%peer, "metrics listener: too many connections");
                    refuse(s);
                    continue;
                }
                active.fetch_add(1, Ordering::SeqCst);
                let slot = Slot(active.clone());
                let render = render.clone();
                let spawned = std::thread::Builder::new()
                    .name("synod-metrics-conn".into())
                    .spawn(move || {
                        crate::transport::block_sigpipe();
                        let _slot = slot;
                        serve(s, limits.timeout, &*render);
                    });
                // A thread that could not start dropped its slot (and its
                // connection) with its closure.
                if let Err(e) = spawned {
                    tracing::warn!("metrics listener: cannot start a connection thread: {e}");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(e) => {
                tracing::warn!("metrics listener: {e}");
                std::thread::sleep(POLL * 4);
            }
        }
    }
}

/// Answers 503 without waiting (a full send buffer drops the answer) and
/// closes.
fn refuse(mut s: TcpStream) {
    let _ = s.set_nonblocking(true);
    let _ = s.write_all(&response("503 Service Unavailable", TEXT, &[], "busy\n"));
    let _ = s.shutdown(Shutdown::Both);
}

/// Serves one connection: one request, one answer, then close.
fn serve(mut s: TcpStream, timeout: Duration, render: &Render) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_nodelay(true);
    let head = read_head(&mut s, timeout);
    let answer = match &head {
        Head::Complete(head) => answer(head, render),
        Head::TimedOut => response("408 Request Timeout", TEXT, &[], "request timeout\n"),
        Head::TooLarge => response("400 Bad Request", TEXT, &[], "request head too large\n"),
        Head::Closed => return,
    };
    if s.set_write_timeout(Some(timeout)).is_ok() {
        let _ = s.write_all(&answer).and_then(|()| s.flush());
    }
    let _ = s.shutdown(Shutdown::Write);
    if head == Head::TooLarge {
        // Closing with unread input would reset the connection and could
        // lose the answer: read on briefly until the client closes.
        let _ = s.set_read_timeout(Some(LINGER));
        let _ = io::copy(&mut (&s).take(64 * 1024), &mut io::sink());
    }
}

/// How reading a request head ended.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    /// The head, up to its blank line (or the end of the stream).
    Complete(String),
    /// The timeout passed first.
    TimedOut,
    /// Over [`MAX_HEAD`] bytes without a blank line.
    TooLarge,
    /// The client closed without sending a line.
    Closed,
}

fn read_head(s: &mut TcpStream, timeout: Duration) -> Head {
    let deadline = Instant::now() + timeout;
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    let ended =
        |h: &[u8]| h.windows(4).any(|w| w == b"\r\n\r\n") || h.windows(2).any(|w| w == b"\n\n");
    loop {
        if head.len() > MAX_HEAD {
            return Head::TooLarge;
        }
        if ended(&head) {
            return Head::Complete(String::from_utf8_lossy(&head).into_owned());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || s.set_read_timeout(Some(left)).is_err() {
            return Head::TimedOut;
        }
        match s.read(&mut buf) {
            Ok(0) if head.contains(&b'\n') => {
                return Head::Complete(String::from_utf8_lossy(&head).into_owned())
            }
            Ok(0) => return Head::Closed,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Head::TimedOut
            }
            Err(_) => return Head::Closed,
        }
    }
}

/// The answer to a request head.
fn answer(head: &str, render: &Render) -> Vec<u8> {
    let line = head.lines().next().unwrap_or("");
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return response("400 Bad Request", TEXT, &[], "bad request line\n");
    };
    if !version.starts_with("HTTP/") {
        return response("400 Bad Request", TEXT, &[], "bad request line\n");
    }
    let path = target.split(['?', '#']).next().unwrap_or(target);
    if path != "/metrics" {
        return response("404 Not Found", TEXT, &[], "try GET /metrics\n");
    }
    if method != "GET" {
        return response(
            "405 Method Not Allowed",
            TEXT,
            &[("Allow", "GET")],
            "only GET /metrics\n",
        );
    }
    let (body, content_type) = render();
    response("200 OK", content_type, &[], &body)
}

fn response(status: &str, content_type: &str, extra: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in extra {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::metrics::{Metrics, CONTENT_TYPE};
    use std::sync::atomic::Ordering::Relaxed;
    use std::sync::Barrier;

    fn start(limits: Limits) -> MetricsListener {
        let metrics = Arc::new(Metrics::new());
        metrics.term.store(3, Relaxed);
        let render: Arc<Render> = Arc::new(move || (metrics.render("CN=a"), CONTENT_TYPE));
        MetricsListener::bind("127.0.0.1:0".parse().unwrap(), limits, render).unwrap()
    }

    /// Sends `request` on a new connection and reads the whole answer:
    /// (status line, head, body).
    fn exchange(addr: SocketAddr, request: &str) -> (String, String, String) {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").expect(&out);
        let status = head.lines().next().unwrap().to_string();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .expect(head)
            .parse()
            .unwrap();
        assert_eq!(length, body.len(), "{out}");
        (status, head.to_string(), body.to_string())
    }

    fn scrape(addr: SocketAddr) -> (String, String, String) {
        exchange(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    }

    fn wait_active(l: &MetricsListener, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while l.active() != n {
            assert!(Instant::now() < deadline, "{} active, not {n}", l.active());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_silent_connection_does_not_delay_a_scrape() {
        let l = start(Limits::default());
        let mut silent = TcpStream::connect(l.local_addr()).unwrap();
        wait_active(&l, 1);
        let began = Instant::now();
        let (status, head, body) = scrape(l.local_addr());
        assert!(
            began.elapsed() < Duration::from_secs(2),
            "{:?}",
            began.elapsed()
        );
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(head.contains(&format!("Content-Type: {CONTENT_TYPE}")));
        assert!(body.contains("synod_term{member=\"CN=a\"} 3\n"), "{body}");
        // The silent one is still open, waiting for its request.
        silent.set_nonblocking(true).unwrap();
        let mut b = [0u8; 1];
        assert_eq!(
            silent.read(&mut b).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        // The scrape's thread ends; the silent one's goes on.
        wait_active(&l, 1);
    }

    #[test]
    fn concurrent_scrapes_are_all_answered() {
        let l = start(Limits::default());
        let addr = l.local_addr();
        let n = 12;
        let barrier = Arc::new(Barrier::new(n));
        let threads: Vec<_> = (0..n)
            .map(|_| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    scrape(addr)
                })
            })
            .collect();
        for t in threads {
            let (status, _, body) = t.join().unwrap();
            assert_eq!(status, "HTTP/1.1 200 OK");
            assert!(body.contains("synod_term{member=\"CN=a\"} 3\n"));
            assert!(body.contains("synod_peer_dropped_messages_total"));
        }
        wait_active(&l, 0);
    }

    #[test]
    fn other_paths_and_methods_are_refused() {
        let l = start(Limits::default());
        let a = l.local_addr();
        let (status, _, _) = exchange(a, "GET / HTTP/1.1\r\n\r\n");
        assert_eq!(status, "HTTP/1.1 404 Not Found");
        let (status, _, _) = exchange(a, "GET /metricsx HTTP/1.0\r\n\r\n");
        assert_eq!(status, "HTTP/1.1 404 Not Found");
        let (status, head, _) = exchange(a, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
        assert!(head.contains("\r\nAllow: GET"), "{head}");
        let (status, _, _) = exchange(a, "HEAD /metrics HTTP/1.1\r\n\r\n");
        assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
        let (status, _, _) = exchange(a, "nonsense\r\n\r\n");
        assert_eq!(status, "HTTP/1.1 400 Bad Request");
        let (status, _, body) = exchange(a, "GET /metrics?x=1 HTTP/1.1\n\n");
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(body.contains("synod_term"));
        let long = format!(
            "GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n",
            "a".repeat(MAX_HEAD)
        );
        let (status, _, _) = exchange(a, &long);
        assert_eq!(status, "HTTP/1.1 400 Bad Request");
    }

    #[test]
    fn a_silent_client_times_out() {
        let l = start(Limits {
            max_connections: 16,
            timeout: Duration::from_millis(200),
        });
        let mut silent = TcpStream::connect(l.local_addr()).unwrap();
        silent
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let began = Instant::now();
        let mut out = String::new();
        silent.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{out}");
        assert!(began.elapsed() < Duration::from_secs(5));
        wait_active(&l, 0);
    }

    #[test]
    fn connections_over_the_limit_are_closed_at_once() {
        let l = start(Limits {
            max_connections: 2,
            timeout: Duration::from_secs(30),
        });
        let silent: Vec<TcpStream> = (0..2)
            .map(|_| TcpStream::connect(l.local_addr()).unwrap())
            .collect();
        wait_active(&l, 2);
        let began = Instant::now();
        let mut over = TcpStream::connect(l.local_addr()).unwrap();
        over.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut out = Vec::new();
        // The answer, or a reset if the close raced the client.
        let _ = over.read_to_end(&mut out);
        assert!(began.elapsed() < Duration::from_secs(5));
        let out = String::from_utf8_lossy(&out);
        assert!(
            out.is_empty() || out.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{out}"
        );
        drop(silent);
        wait_active(&l, 0);
        assert_eq!(scrape(l.local_addr()).0, "HTTP/1.1 200 OK");
    }

    #[test]
    fn stop_closes_the_listener() {
        let mut l = start(Limits::default());
        let addr = l.local_addr();
        assert_eq!(scrape(addr).0, "HTTP/1.1 200 OK");
        l.stop();
        l.stop();
        assert!(TcpStream::connect(addr).is_err());
    }
}
