//! Feeds arbitrary bytes, split at an arbitrary point, to the frame decoder
//! and every payload decoder a listener runs on what a peer sends: raft
//! messages, Hellos, HelloAcks, WhoIs questions and answers, and snapshot
//! chunk streams (reassembled messages are decoded too). Nothing may panic or allocate beyond bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synod::transport::wire::{
    decode_hello, decode_hello_ack, decode_message, decode_who_is, decode_who_is_answer,
    split_call, FrameDecoder, FrameKind, SnapshotAssembler,
};

fuzz_target!(|data: &[u8]| {
    let _ = decode_message(data);
    let _ = decode_hello(data);
    let _ = decode_who_is(data);
    let _ = decode_who_is_answer(data);
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let mut decoder = FrameDecoder::new();
    let mut assembler = SnapshotAssembler::new(1 << 20);
    for part in [&data[..split], &data[split..]] {
        decoder.feed(part);
        while let Ok(Some((kind, payload))) = decoder.next_frame() {
            match kind {
                FrameKind::Raft => {
                    let _ = decode_message(&payload);
                }
                FrameKind::SnapshotChunk => {
                    if let Ok(Some(message)) = assembler.push(&payload) {
                        let _ = decode_message(&message);
                    }
                }
                FrameKind::Hello => {
                    let _ = decode_hello(&payload);
                }
                FrameKind::HelloAck => {
                    let _ = decode_hello_ack(&payload);
                }
                FrameKind::WhoIs => {
                    let _ = decode_who_is(&payload);
                }
                FrameKind::WhoIsAnswer => {
                    let _ = decode_who_is_answer(&payload);
                }
                FrameKind::ClientRequest | FrameKind::ClientResponse => {}
                // A call's id, then a request or response (their own
                // targets fuzz the bodies).
                FrameKind::ClientCall | FrameKind::ClientReply => {
                    let _ = split_call(&payload);
                }
            }
        }
    }
});
