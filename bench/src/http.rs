//! A minimal keep-alive HTTP/1.1 client over one `TcpStream`, enough to
//! drive etcd's JSON gateway: `POST` with a JSON body, responses with
//! `Content-Length` or chunked bodies (trailers skipped), and standard
//! base64 for the gateway's `bytes` fields.
//!
//! It is a benchmark client, not a general one: no redirects, no TLS, no
//! proxies, no pipelining. Response heads and bodies are bounded, so a
//! confused peer cannot make it allocate without limit.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Longest accepted status or header line.
const MAX_LINE: usize = 8 * 1024;
/// Most accepted header lines.
const MAX_HEADERS: usize = 100;
/// Largest accepted body.
pub const MAX_BODY: usize = 16 << 20;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The connection failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The peer answered something that is not HTTP/1.1 as expected.
    #[error("malformed response: {0}")]
    Malformed(String),
}

/// A response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body (de-chunked).
    pub body: Vec<u8>,
    /// The peer will close the connection after this response.
    pub close: bool,
}

/// One keep-alive connection. After an I/O error or a `Connection: close`
/// response it reconnects on the next request.
pub struct HttpConn {
    addr: SocketAddr,
    timeout: Duration,
    stream: Option<BufReader<TcpStream>>,
}

impl HttpConn {
    /// Connects to `addr`; `timeout` bounds the connect and every read and
    /// write.
    pub fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<Self> {
        let mut c = Self {
            addr,
            timeout,
            stream: None,
        };
        c.ensure()?;
        Ok(c)
    }

    /// The peer's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn ensure(&mut self) -> io::Result<&mut BufReader<TcpStream>> {
        if self.stream.is_none() {
            let s = TcpStream::connect_timeout(&self.addr, self.timeout)?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(self.timeout))?;
            s.set_write_timeout(Some(self.timeout))?;
            self.stream = Some(BufReader::new(s));
        }
        match self.stream.as_mut() {
            Some(s) => Ok(s),
            None => Err(io::Error::other("no stream")),
        }
    }

    /// Sends `POST path` with a JSON body and reads the response.
    pub fn post_json(&mut self, path: &str, body: &[u8]) -> Result<Response, HttpError> {
        let host = self.addr.to_string();
        let req = encode_post(&host, path, body);
        let r = (|| {
            let s = self.ensure()?;
            s.get_mut().write_all(&req)?;
            read_response(s)
        })();
        match &r {
            Ok(resp) if !resp.close => {}
            _ => self.stream = None,
        }
        r
    }
}

/// The bytes of a `POST` request with a JSON body.
pub fn encode_post(host: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: keep-alive\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

fn read_line<R: BufRead>(r: &mut R) -> Result<String, HttpError> {
    let mut buf = Vec::new();
    let n = r.take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Err(HttpError::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        )));
    }
    if buf.last() != Some(&b'\n') {
        return Err(HttpError::Malformed(if buf.len() > MAX_LINE {
            "line too long".into()
        } else {
            "truncated line".into()
        }));
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    String::from_utf8(buf).map_err(|_| HttpError::Malformed("non-UTF-8 header".into()))
}

/// Reads one response from `r`.
pub fn read_response<R: BufRead>(r: &mut R) -> Result<Response, HttpError> {
    let status_line = read_line(r)?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::Malformed(format!("status line {status_line:?}")));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| HttpError::Malformed(format!("status line {status_line:?}")))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut close = version == "HTTP/1.0";
    let mut headers = 0;
    loop {
        let line = read_line(r)?;
        if line.is_empty() {
            break;
        }
        headers += 1;
        if headers > MAX_HEADERS {
            return Err(HttpError::Malformed("too many headers".into()));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(HttpError::Malformed(format!("header {line:?}")));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n: usize = value
                .parse()
                .map_err(|_| HttpError::Malformed(format!("content-length {value:?}")))?;
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    let body = if chunked {
        read_chunked(r)?
    } else if let Some(n) = length {
        if n > MAX_BODY {
            return Err(HttpError::Malformed(format!("body of {n} bytes")));
        }
        let mut body = vec![0; n];
        r.read_exact(&mut body)?;
        body
    } else if (100..200).contains(&status) || status == 204 || status == 304 {
        Vec::new()
    } else {
        // Delimited by the end of the connection.
        close = true;
        let mut body = Vec::new();
        r.take(MAX_BODY as u64 + 1).read_to_end(&mut body)?;
        if body.len() > MAX_BODY {
            return Err(HttpError::Malformed("body too large".into()));
        }
        body
    };
    Ok(Response {
        status,
        body,
        close,
    })
}

fn read_chunked<R: BufRead>(r: &mut R) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| HttpError::Malformed(format!("chunk size {line:?}")))?;
        if size == 0 {
            break;
        }
        if body.len() + size > MAX_BODY {
            return Err(HttpError::Malformed("body too large".into()));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        if !read_line(r)?.is_empty() {
            return Err(HttpError::Malformed("chunk not followed by CRLF".into()));
        }
    }
    // Trailers, up to the empty line.
    for _ in 0..=MAX_HEADERS {
        if read_line(r)?.is_empty() {
            return Ok(body);
        }
    }
    Err(HttpError::Malformed("too many trailers".into()))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (what the gateway expects for `bytes`).
pub fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn post_request_bytes() {
        let req = encode_post("127.0.0.1:2379", "/v3/kv/put", b"{\"key\":\"Zm9v\"}");
        assert_eq!(
            String::from_utf8(req).expect("ascii"),
            "POST /v3/kv/put HTTP/1.1\r\nHost: 127.0.0.1:2379\r\nContent-Type: application/json\r\n\
             Content-Length: 14\r\nConnection: keep-alive\r\n\r\n{\"key\":\"Zm9v\"}"
        );
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

    #[test]
    fn reads_length_and_chunked_responses_back_to_back() {
        let wire = format!("{PUT_OK}{PUT_ERR_CHUNKED}{PUT_OK}");
        let mut r = BufReader::new(wire.as_bytes());
        let a = read_response(&mut r).expect("first");
        assert_eq!(a.status, 200);
        assert!(!a.close);
        assert_eq!(a.body.len(), 111);
        assert!(a.body.starts_with(b"{\"header\""));
        let b = read_response(&mut r).expect("second");
        assert_eq!(b.status, 400);
        assert_eq!(
            String::from_utf8(b.body).expect("utf8"),
            "{\"error\":\"etcdserver: key is not provided\",\"message\":\"etcdserver: key is not provided\",\"code\":3}"
        );
        let c = read_response(&mut r).expect("third");
        assert_eq!(c, a);
        assert!(matches!(read_response(&mut r), Err(HttpError::Io(_))));
    }

    #[test]
    fn refuses_malformed_and_oversized_responses() {
        let cases = [
            "SSH-2.0-OpenSSH\r\n\r\n".to_string(),
            "HTTP/1.1 abc OK\r\n\r\n".to_string(),
            "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n".to_string(),
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n".to_string(),
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                MAX_BODY + 1
            ),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_string(),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n"
                .to_string(),
            format!(
                "HTTP/1.1 200 OK\r\nX: {}\r\n\r\n",
                "a".repeat(MAX_LINE + 10)
            ),
            format!(
                "HTTP/1.1 200 OK\r\n{}\r\n",
                "X: y\r\n".repeat(MAX_HEADERS + 1)
            ),
        ];
        for c in cases {
            let got = read_response(&mut BufReader::new(c.as_bytes()));
            assert!(
                matches!(got, Err(HttpError::Malformed(_))),
                "{:?}: {got:?}",
                &c[..c.len().min(60)]
            );
        }
        // A body cut short is an I/O error (the connection died).
        let short = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
        assert!(matches!(
            read_response(&mut BufReader::new(short.as_bytes())),
            Err(HttpError::Io(_))
        ));
    }

    #[test]
    fn connection_close_and_eof_delimited_bodies() {
        let wire =
            "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno";
        let r = read_response(&mut BufReader::new(wire.as_bytes())).expect("ok");
        assert!(r.close);
        assert_eq!(r.body, b"no");
        let wire = "HTTP/1.0 200 OK\r\n\r\nuntil the end";
        let r = read_response(&mut BufReader::new(wire.as_bytes())).expect("ok");
        assert!(r.close);
        assert_eq!(r.body, b"until the end");
    }
}
