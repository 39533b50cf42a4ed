//! Helpers shared by the process-level tests.

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
