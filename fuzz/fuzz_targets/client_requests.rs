//! The client protocol as a member reads it: arbitrary bytes as a request
//! payload ([`Request::decode`]), and the listener's reading path for a
//! client connection (a client's Hello under the Hello limit, then
//! `ClientRequest` frames under the frame limit) on the bytes as a stream
//! and on a well-formed stream that carries them as its request.
//!
//! Properties: nothing panics; a request that decodes encodes to bytes that
//! decode to the same request, and to the very bytes decoded (a request has
//! one encoding); a well-formed stream hands exactly its payload to the
//! service.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synod::node::protocol::Request;
use synod::transport::wire::{encode_hello, frame, FrameKind, Hello, HelloRole};
use synod_fuzz::serve_client_stream;

fn decode_and_round_trip(payload: &[u8]) {
    let Ok(request) = Request::decode(payload) else {
        return;
    };
    let bytes = request.encode();
    let again = Request::decode(&bytes);
    assert_eq!(
        again.as_ref(),
        Ok(&request),
        "a decoded request does not round-trip"
    );
    assert_eq!(bytes, payload, "a request has more than one encoding");
}

fuzz_target!(|data: &[u8]| {
    decode_and_round_trip(data);

    // The bytes as what a client connection sent.
    serve_client_stream(data, decode_and_round_trip);

    // A client that says Hello and sends the bytes as one request.
    let hello = Hello {
        role: HelloRole::Client,
        identity: Some("CN=client".parse().expect("a valid identity")),
    };
    let mut stream = frame(FrameKind::Hello, &encode_hello(&hello));
    stream.extend_from_slice(&frame(FrameKind::ClientRequest, data));
    let served = serve_client_stream(&stream, decode_and_round_trip);
    assert_eq!(
        served,
        vec![data.to_vec()],
        "a well-formed request was not served"
    );
});
