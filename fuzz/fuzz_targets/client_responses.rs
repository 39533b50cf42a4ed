//! The client protocol as a client reads it: arbitrary bytes as a member's
//! response payload ([`Response::decode`], errors included), and the
//! client's reading path (the HelloAck under its limit, then a
//! `ClientResponse` frame with a reader of its own) on the bytes as a stream
//! and on a well-formed stream that carries them as the response.
//!
//! Properties: nothing panics; a response that decodes encodes to bytes that
//! decode to the same response, and (but for metrics text that is not
//! UTF-8) to the very bytes decoded; an error that decodes and has
//! a member-side form ([`ClientError`]: all but `Refused` and
//! `Unauthorized`, whose member-side values carry more than the wire) encodes
//! back to the same error; a well-formed stream delivers exactly its payload.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use synod::node::protocol::{ClientError, RemoteError, Response};
use synod::transport::wire::{encode_hello_ack, frame, FrameKind};
use synod::ProposeError;
use synod_fuzz::read_member_stream;

/// The member-side error that encodes as `e`, where there is one.
fn member_side(e: &RemoteError) -> Option<ClientError> {
    Some(match e.clone() {
        RemoteError::NotLeader { leader } => ProposeError::NotLeader { leader }.into(),
        RemoteError::NoQuorum => ProposeError::NoQuorum.into(),
        RemoteError::Timeout(ms) => ProposeError::Timeout(Duration::from_millis(ms)).into(),
        RemoteError::Shutdown => ProposeError::Shutdown.into(),
        RemoteError::Storage(s) => ProposeError::Storage(s).into(),
        RemoteError::BadRequest(s) => ClientError::BadRequest(s),
        RemoteError::Indeterminate(s) => ProposeError::Indeterminate(s).into(),
        RemoteError::NotTransferred(s) => ProposeError::NotTransferred(s).into(),
        RemoteError::Overloaded(s) => ProposeError::Overloaded(s).into(),
        RemoteError::Refused { .. } | RemoteError::Unauthorized(_) => return None,
    })
}

fn decode_and_round_trip(payload: &[u8]) {
    let Ok(decoded) = Response::decode(payload) else {
        return;
    };
    let bytes = match &decoded {
        Ok(response) => response.encode(),
        Err(e) => match member_side(e) {
            Some(e) => Response::Error(e).encode(),
            None => return,
        },
    };
    let again = Response::decode(&bytes);
    assert_eq!(
        again.as_ref(),
        Ok(&decoded),
        "a decoded response does not round-trip"
    );
    // Metrics text that is not UTF-8 is shown with replacement characters:
    // the one place where what was decoded is not what was sent.
    if !matches!(decoded, Ok(Response::Metrics(_))) {
        assert_eq!(bytes, payload, "a response has more than one encoding");
    }
}

fuzz_target!(|data: &[u8]| {
    decode_and_round_trip(data);

    // The bytes as what a member sent on a client's connection.
    read_member_stream(data, decode_and_round_trip);

    // A member that accepts the connection and answers with the bytes.
    let mut stream = frame(FrameKind::HelloAck, &encode_hello_ack());
    stream.extend_from_slice(&frame(FrameKind::ClientResponse, data));
    let read = read_member_stream(&stream, decode_and_round_trip);
    assert_eq!(
        read.as_deref(),
        Some(data),
        "a well-formed response was not read"
    );
});
