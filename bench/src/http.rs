//! The HTTP under the etcd client: JSON `POST`s to one etcd member's JSON
//! gateway through a [`ureq`] agent of its own (so one keep-alive
//! connection, reopened after an error), plain HTTP on loopback, no proxy
//! (whatever the environment says), no redirects, a timeout on every
//! request and a bounded response body; and standard base64 for the
//! gateway's `bytes` fields.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;

/// Largest accepted response body.
pub const MAX_BODY: u64 = 16 << 20;

/// Why a request failed (the connection, the timeout, a malformed or
/// oversized response).
pub type HttpError = ureq::Error;

/// A response, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

/// A client of one peer over one keep-alive connection (made on the first
/// request).
pub struct HttpConn {
    addr: SocketAddr,
    agent: ureq::Agent,
}

impl HttpConn {
    /// A client of `addr`; `timeout` bounds each request as a whole
    /// (connect, send, response).
    pub fn new(addr: SocketAddr, timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .proxy(None)
            .max_redirects(0)
            .max_idle_connections(1)
            .max_idle_connections_per_host(1)
            .build();
        Self {
            addr,
            agent: config.into(),
        }
    }

    /// The peer's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends `POST path` with a JSON body and reads the response.
    pub fn post_json(&self, path: &str, body: &[u8]) -> Result<Response, HttpError> {
        let mut resp = self
            .agent
            .post(format!("http://{}{path}", self.addr))
            .header("Content-Type", "application/json")
            .send(body)?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()?;
        Ok(Response { status, body })
    }
}

/// Standard base64 with padding (what the gateway expects for `bytes`).
pub fn base64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::mpsc;

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), want, "{input:?}");
        }
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
    }

    // Captured from etcd 3.4.23 (`curl -i`), one response after another on
    // the same connection.
    const PUT_OK: &str = "HTTP/1.1 200 OK\r\n\
        Access-Control-Allow-Headers: accept, content-type, authorization\r\n\
        Access-Control-Allow-Methods: POST, GET, OPTIONS, PUT, DELETE\r\n\
        Access-Control-Allow-Origin: *\r\n\
        Content-Type: application/json\r\n\
        Grpc-Metadata-Content-Type: application/grpc\r\n\
        Date: Fri, 27 Nov 2026 02:30:10 GMT\r\n\
        Content-Length: 111\r\n\r\n\
        {\"header\":{\"cluster_id\":\"324952591200643719\",\"member_id\":\"3319814642761637952\",\"revision\":\"2\",\"raft_term\":\"2\"}}";
    const PUT_ERR_CHUNKED: &str = "HTTP/1.1 400 Bad Request\r\n\
        Access-Control-Allow-Origin: *\r\n\
        Content-Type: application/json\r\n\
        Trailer: Grpc-Trailer-Content-Type\r\n\
        Date: Fri, 27 Nov 2026 02:30:10 GMT\r\n\
        Transfer-Encoding: chunked\r\n\r\n\
        60\r\n\
        {\"error\":\"etcdserver: key is not provided\",\"message\":\"etcdserver: key is not provided\",\"code\":3}\r\n\
        0\r\n\
        Grpc-Trailer-Content-Type: application/grpc\r\n\r\n";

    /// What a fake peer saw of one request.
    #[derive(Debug)]
    struct Seen {
        connection: usize,
        head: String,
        body: Vec<u8>,
    }

    /// A peer on 127.0.0.1 that answers the requests it reads with
    /// `answers`, in order, on whatever connection they come, and reports
    /// each request; it stops after the last answer.
    fn fake_peer(answers: Vec<String>) -> (SocketAddr, mpsc::Receiver<Seen>) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut answers = answers.into_iter();
            let mut connection = 0;
            'accept: while let Ok((s, _)) = l.accept() {
                connection += 1;
                let mut r = BufReader::new(s);
                loop {
                    let mut head = String::new();
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            continue 'accept;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        head.push_str(&line);
                    }
                    let len = head
                        .lines()
                        .find_map(|l| {
                            let (n, v) = l.split_once(':')?;
                            n.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).is_err() {
                        continue 'accept;
                    }
                    let _ = tx.send(Seen {
                        connection,
                        head,
                        body,
                    });
                    let Some(a) = answers.next() else {
                        return;
                    };
                    if r.get_mut().write_all(a.as_bytes()).is_err() {
                        continue 'accept;
                    }
                }
            }
        });
        (addr, rx)
    }

    #[test]
    fn posts_json_and_reads_length_and_chunked_answers_on_one_connection() {
        let (addr, seen) = fake_peer(vec![
            PUT_OK.to_string(),
            PUT_ERR_CHUNKED.to_string(),
            PUT_OK.to_string(),
        ]);
        let c = HttpConn::new(addr, Duration::from_secs(5));
        assert_eq!(c.addr(), addr);
        let a = c
            .post_json("/v3/kv/put", b"{\"key\":\"Zm9v\"}")
            .expect("first");
        assert_eq!(a.status, 200);
        assert_eq!(a.body.len(), 111);
        assert!(a.body.starts_with(b"{\"header\""));
        // An error status is an answer, with its (chunked) body.
        let b = c.post_json("/v3/kv/put", b"{}").expect("second");
        assert_eq!(b.status, 400);
        assert_eq!(
            String::from_utf8(b.body).expect("utf8"),
            "{\"error\":\"etcdserver: key is not provided\",\"message\":\"etcdserver: key is not provided\",\"code\":3}"
        );
        let c3 = c.post_json("/v3/kv/put", b"{}").expect("third");
        assert_eq!(c3, a);
        let first = seen.recv().expect("request");
        assert!(
            first.head.starts_with("POST /v3/kv/put HTTP/1.1\r\n"),
            "{}",
            first.head
        );
        let head = first.head.to_ascii_lowercase();
        assert!(
            head.contains("content-type: application/json\r\n"),
            "{head}"
        );
        assert!(head.contains("content-length: 14\r\n"), "{head}");
        assert_eq!(first.body, b"{\"key\":\"Zm9v\"}");
        // Kept alive: every request on the first connection.
        let rest: Vec<usize> = seen.try_iter().map(|s| s.connection).collect();
        assert_eq!((first.connection, rest), (1, vec![1, 1]));
    }

    #[test]
    fn refuses_malformed_and_oversized_answers() {
        let cases = [
            "SSH-2.0-OpenSSH\r\n\r\n".to_string(),
            "HTTP/1.1 abc OK\r\n\r\n".to_string(),
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{}",
                MAX_BODY + 1,
                "x".repeat(MAX_BODY as usize + 1)
            ),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_string(),
        ];
        for case in cases {
            let (addr, _seen) = fake_peer(vec![case.clone()]);
            let got = HttpConn::new(addr, Duration::from_secs(5)).post_json("/", b"{}");
            assert!(got.is_err(), "{:?}: {got:?}", &case[..case.len().min(40)]);
        }
    }

    #[test]
    fn a_silent_peer_times_out() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        // Accepted (by the kernel's backlog) but never answered.
        let t = std::time::Instant::now();
        let got = HttpConn::new(addr, Duration::from_millis(300)).post_json("/", b"{}");
        assert!(got.is_err(), "{got:?}");
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        drop(l);
    }
}
