//! The fault-injecting TCP proxy of `synod chaos`: one listener per member,
//! inside the harness process (no root, no iptables).
//!
//! Every member's catalog address (what its peers dial) is its proxy's
//! listener; the proxy forwards each connection to the member's real
//! listener. Synod's transport dials one connection per direction (A's raft
//! messages to B travel on the connection A dialled to B), so the directed
//! link A -> B is exactly the set of connections A dialled to B's proxy. The
//! proxy learns who dialled a connection from the kernel: the dialler's
//! socket is found in `/proc/net/tcp` by its address pair, and its inode in
//! the file descriptors of the member processes (`/proc/<pid>/fd`; the
//! members are this harness's children, so no privilege is needed).
//! Connections the harness's own clients make (they follow leader hints,
//! which name catalog addresses) are always forwarded: faults are between
//! members.
//!
//! A directed link is open, or cut in one of two ways:
//! * [`Cut::Drop`]: its connections are closed and new ones are accepted and
//!   closed at once (a refused connection);
//! * [`Cut::Blackhole`]: its connections stall (nothing is read or
//!   forwarded, so the sender's buffers fill and its writes time out) and new
//!   ones are accepted and never answered; healing resumes the stalled
//!   connections and closes the never-answered ones.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How a cut link fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Connections are closed and refused.
    Drop,
    /// Connections stall.
    Blackhole,
}

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Cut::Drop => "drop",
            Cut::Blackhole => "black-hole",
        })
    }
}

/// Who dialled a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Member `i`.
    Member(usize),
    /// The harness itself (a client).
    Harness,
    /// Not found (the dialler is gone, or a race with the kernel tables).
    Unknown,
}

/// A forwarded connection's sockets, kept so a cut can close them.
struct Conn {
    from: Source,
    to: usize,
    sockets: Vec<TcpStream>,
}

/// Counters of what the proxies did.
#[derive(Debug, Default)]
pub struct ProxyStats {
    /// Connections forwarded.
    pub forwarded: AtomicU64,
    /// New connections refused by a cut.
    pub dropped: AtomicU64,
    /// Forwarded connections closed by a cut.
    pub cut: AtomicU64,
    /// Connections accepted into a black hole.
    pub stalled: AtomicU64,
    /// Connections whose dialler could not be identified.
    pub unidentified: AtomicU64,
}

struct Inner {
    /// The members' real listeners.
    upstream: Vec<SocketAddr>,
    /// The proxies' listeners.
    proxies: Vec<SocketAddr>,
    /// Each member's current process id.
    pids: Mutex<Vec<Option<u32>>>,
    /// The cut directed links.
    cuts: Mutex<HashMap<(usize, usize), Cut>>,
    conns: Mutex<HashMap<u64, Conn>>,
    next: AtomicU64,
    stop: AtomicBool,
    stats: ProxyStats,
}

/// The proxies of every member.
pub struct Network {
    inner: Arc<Inner>,
    threads: Vec<JoinHandle<()>>,
}

/// How long a pump waits for bytes before looking at the link again.
const POLL: Duration = Duration::from_millis(20);

impl Network {
    /// Binds one proxy listener on 127.0.0.1 for each member whose real
    /// listener is in `upstream`, and starts accepting.
    pub fn start(upstream: Vec<SocketAddr>) -> std::io::Result<Network> {
        let mut listeners = Vec::new();
        for _ in &upstream {
            let l = TcpListener::bind("127.0.0.1:0")?;
            l.set_nonblocking(true)?;
            listeners.push(l);
        }
        let proxies = listeners
            .iter()
            .map(TcpListener::local_addr)
            .collect::<std::io::Result<Vec<_>>>()?;
        let inner = Arc::new(Inner {
            pids: Mutex::new(vec![None; upstream.len()]),
            upstream,
            proxies,
            cuts: Mutex::new(HashMap::new()),
            conns: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            stats: ProxyStats::default(),
        });
        let mut threads = Vec::new();
        for (to, l) in listeners.into_iter().enumerate() {
            let inner = inner.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("chaos-proxy-{to}"))
                    .spawn(move || accept_loop(&inner, to, l))?,
            );
        }
        Ok(Network { inner, threads })
    }

    /// The address of member `i`'s proxy (its catalog address).
    pub fn proxy_addr(&self, i: usize) -> SocketAddr {
        self.inner.proxies[i]
    }

    /// Records member `i`'s process id (`None` while it is down).
    pub fn set_pid(&self, i: usize, pid: Option<u32>) {
        lock(&self.inner.pids)[i] = pid;
    }

    /// Cuts the directed link `from -> to`.
    pub fn cut(&self, from: usize, to: usize, how: Cut) {
        lock(&self.inner.cuts).insert((from, to), how);
        if how == Cut::Drop {
            let n = self.inner.close_where(|c| {
                c.to == to && (c.from == Source::Member(from) || c.from == Source::Unknown)
            });
            self.inner.stats.cut.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Cuts both directions between every member of `a` and every member
    /// of `b`.
    pub fn cut_between(&self, a: &[usize], b: &[usize], how: Cut) {
        for &x in a {
            for &y in b {
                self.cut(x, y, how);
                self.cut(y, x, how);
            }
        }
    }

    /// Opens every link again.
    pub fn heal(&self) {
        lock(&self.inner.cuts).clear();
    }

    /// What the proxies did so far.
    pub fn stats(&self) -> &ProxyStats {
        &self.inner.stats
    }

    /// Stops accepting, closes every connection and joins the accept
    /// threads.
    pub fn shutdown(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        let _ = self.inner.close_where(|_| true);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    /// The state of the link a connection from `from` to member `to` uses
    /// (`None`: open).
    fn state(&self, from: Source, to: usize) -> Option<Cut> {
        let cuts = lock(&self.cuts);
        match from {
            Source::Member(i) => cuts.get(&(i, to)).copied(),
            Source::Harness => None,
            // A dialler that cannot be named is refused while any link into
            // `to` is cut (it would otherwise slip through a partition); it
            // retries.
            Source::Unknown => cuts.keys().any(|&(_, t)| t == to).then_some(Cut::Drop),
        }
    }

    /// Closes the connections `f` picks; returns how many.
    fn close_where(&self, f: impl Fn(&Conn) -> bool) -> u64 {
        let mut n = 0;
        for c in lock(&self.conns).values().filter(|c| f(c)) {
            n += 1;
            for s in &c.sockets {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
        n
    }

    fn register(&self, from: Source, to: usize, sockets: Vec<TcpStream>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.conns).insert(id, Conn { from, to, sockets });
        id
    }

    fn unregister(&self, id: u64) {
        lock(&self.conns).remove(&id);
    }

    /// Who dialled the connection whose far end is `peer` (on this
    /// machine), reaching proxy `to`.
    fn identify(&self, peer: SocketAddr, to: usize) -> Source {
        for _ in 0..3 {
            if let Some(inode) = socket_inode(peer, self.proxies[to]) {
                let pids: Vec<(usize, u32)> = lock(&self.pids)
                    .iter()
                    .enumerate()
                    .filter_map(|(i, p)| p.map(|p| (i, p)))
                    .collect();
                let target = format!("socket:[{inode}]");
                for (i, pid) in pids {
                    if holds_socket(pid, &target) {
                        return Source::Member(i);
                    }
                }
                if holds_socket(std::process::id(), &target) {
                    return Source::Harness;
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.stats.unidentified.fetch_add(1, Ordering::Relaxed);
        Source::Unknown
    }
}

fn accept_loop(inner: &Arc<Inner>, to: usize, listener: TcpListener) {
    while !inner.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, peer)) => {
                let shared = inner.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("chaos-conn-{to}"))
                    .spawn(move || serve(&shared, to, stream, peer));
                if spawned.is_err() {
                    inner.stats.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(POLL / 2),
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// One accepted connection, from identification to close.
fn serve(inner: &Arc<Inner>, to: usize, down: TcpStream, peer: SocketAddr) {
    let _ = down.set_nonblocking(false);
    let from = inner.identify(peer, to);
    match inner.state(from, to) {
        Some(Cut::Drop) => {
            inner.stats.dropped.fetch_add(1, Ordering::Relaxed);
            let _ = down.shutdown(Shutdown::Both);
        }
        Some(Cut::Blackhole) => {
            // Accepted, never answered: held until the link heals or is
            // dropped, then closed (the dialler has long given up).
            inner.stats.stalled.fetch_add(1, Ordering::Relaxed);
            let id = match down.try_clone() {
                Ok(c) => inner.register(from, to, vec![c]),
                Err(_) => return,
            };
            while !inner.stop.load(Ordering::SeqCst)
                && inner.state(from, to) == Some(Cut::Blackhole)
            {
                std::thread::sleep(POLL);
            }
            inner.unregister(id);
            let _ = down.shutdown(Shutdown::Both);
        }
        None => forward(inner, from, to, down),
    }
}

fn forward(inner: &Arc<Inner>, from: Source, to: usize, down: TcpStream) {
    let up = match TcpStream::connect_timeout(&inner.upstream[to], Duration::from_secs(1)) {
        Ok(s) => s,
        Err(_) => {
            // The member is down: the dialler sees a closed connection.
            let _ = down.shutdown(Shutdown::Both);
            return;
        }
    };
    let _ = up.set_nodelay(true);
    let _ = down.set_nodelay(true);
    let clones = (
        down.try_clone(),
        up.try_clone(),
        down.try_clone(),
        up.try_clone(),
    );
    let (Ok(d2), Ok(u2), Ok(d3), Ok(u3)) = clones else {
        let _ = down.shutdown(Shutdown::Both);
        let _ = up.shutdown(Shutdown::Both);
        return;
    };
    inner.stats.forwarded.fetch_add(1, Ordering::Relaxed);
    let id = inner.register(from, to, vec![d3, u3]);
    let back = {
        let inner = inner.clone();
        std::thread::Builder::new()
            .name(format!("chaos-pump-{to}"))
            .spawn(move || pump(&inner, from, to, u2, d2))
    };
    pump(inner, from, to, down, up);
    if let Ok(t) = back {
        let _ = t.join();
    }
    inner.unregister(id);
}

/// Copies `src` to `dst` while the link is open; pauses while it is black-
/// holed; closes both when it is dropped or either side closes.
fn pump(inner: &Inner, from: Source, to: usize, mut src: TcpStream, mut dst: TcpStream) {
    let _ = src.set_read_timeout(Some(POLL));
    let mut buf = vec![0u8; 64 << 10];
    loop {
        if inner.stop.load(Ordering::SeqCst) {
            break;
        }
        match inner.state(from, to) {
            Some(Cut::Drop) => break,
            Some(Cut::Blackhole) => {
                std::thread::sleep(POLL);
                continue;
            }
            None => {}
        }
        match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if dst.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => break,
        }
    }
    let _ = src.shutdown(Shutdown::Both);
    let _ = dst.shutdown(Shutdown::Both);
}

/// The inode of the IPv4 TCP socket whose local address is `local` and
/// whose remote address is `remote`, from `/proc/net/tcp`.
fn socket_inode(local: SocketAddr, remote: SocketAddr) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/tcp").ok()?;
    text.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 {
            return None;
        }
        if parse_proc_addr(f[1])? != local || parse_proc_addr(f[2])? != remote {
            return None;
        }
        f[9].parse().ok().filter(|&i: &u64| i != 0)
    })
}

/// `0100007F:1F90` (the address as the kernel prints its 32-bit value,
/// the port in hex) to `127.0.0.1:8080`.
fn parse_proc_addr(s: &str) -> Option<SocketAddr> {
    let (ip, port) = s.split_once(':')?;
    let ip = u32::from_str_radix(ip, 16).ok()?;
    let port = u16::from_str_radix(port, 16).ok()?;
    Some(SocketAddr::V4(SocketAddrV4::new(
        Ipv4Addr::from(ip.to_ne_bytes()),
        port,
    )))
}

/// Whether process `pid` holds the file descriptor `target`
/// (`socket:[inode]`).
fn holds_socket(pid: u32, target: &str) -> bool {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    dir.flatten().any(|e| {
        std::fs::read_link(e.path())
            .map(|l| l.as_os_str() == target)
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_addresses_parse() {
        let a = parse_proc_addr("0100007F:1F90").unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(a, "127.0.0.1:8080".parse().unwrap());
        }
        assert!(parse_proc_addr("zz:1").is_none());
    }

    /// An echo server behind a proxy: the harness's own connection is
    /// forwarded even while a member's link to it is cut, and a dialler
    /// that holds the socket of "member 0" is refused by a drop cut.
    #[test]
    fn the_proxy_forwards_and_cuts() {
        let echo = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = echo.local_addr().unwrap();
        std::thread::spawn(move || {
            for s in echo.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut r = s.try_clone().unwrap();
                    let mut w = s;
                    let _ = std::io::copy(&mut r, &mut w);
                });
            }
        });
        let mut net = Network::start(vec![addr, addr]).unwrap();
        let echo_once = |to: usize| -> bool {
            let Ok(mut s) = TcpStream::connect(net.proxy_addr(to)) else {
                return false;
            };
            s.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            if s.write_all(b"ping").is_err() {
                return false;
            }
            let mut b = [0u8; 4];
            s.read_exact(&mut b).is_ok() && &b == b"ping"
        };
        assert!(echo_once(1));
        // This process is "member 0": its connections are now a member's.
        net.set_pid(0, Some(std::process::id()));
        net.cut(0, 1, Cut::Drop);
        assert!(!echo_once(1), "a dropped link forwarded");
        assert!(echo_once(0), "another link was affected");
        net.heal();
        net.cut(0, 1, Cut::Blackhole);
        assert!(!echo_once(1), "a black-holed link answered");
        net.heal();
        assert!(echo_once(1));
        assert!(net.stats().dropped.load(Ordering::Relaxed) >= 1);
        assert!(net.stats().stalled.load(Ordering::Relaxed) >= 1);
        net.set_pid(0, None);
        net.cut(0, 1, Cut::Drop);
        assert!(echo_once(1), "the harness's own client was cut");
        net.shutdown();
    }
}
