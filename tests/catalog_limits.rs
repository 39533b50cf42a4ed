//! The catalog's limits against the transport's bounds: the largest catalog
//! snapshot the limits allow (the ranges' byte budget full, every other
//! limit reached, every name at its longest) travels as one snapshot
//! message with room to spare, so a member can always join by snapshot,
//! and every member (and departed member) fits in one raft configuration on
//! the wire. Raising a limit (the ranges' budget most of all) past what the
//! transport carries fails here.

use raft::eraftpb::{ConfState, Message, MessageType, Snapshot};
use synod::catalog::limits::{MAX_MEMBERS, MAX_RANGE_BYTES, MAX_SNAPSHOT_LEN};
use synod::catalog::MAX_DEPARTED;
use synod::transport::wire::{encode_message, MAX_CONF_PEERS, MAX_SNAPSHOT_MESSAGE};

#[test]
fn the_largest_catalog_snapshot_travels_in_one_snapshot_message_with_an_eighth_to_spare() {
    // The message around the catalog bytes, at its largest: a joint
    // configuration naming every member and departed member twice.
    let peers: Vec<u64> = (1..=(MAX_MEMBERS + MAX_DEPARTED) as u64).collect();
    const { assert!(MAX_MEMBERS + MAX_DEPARTED <= MAX_CONF_PEERS) };
    let cs = ConfState {
        voters: peers.clone(),
        voters_outgoing: peers,
        ..ConfState::default()
    };
    let mut snapshot = Snapshot::default();
    snapshot.mut_metadata().index = u64::MAX;
    snapshot.mut_metadata().term = u64::MAX;
    snapshot.mut_metadata().set_conf_state(cs);
    let mut m = Message::default();
    m.set_msg_type(MessageType::MsgSnapshot);
    m.set_snapshot(snapshot);
    let around = encode_message(&m).expect("encodes").len();
    let largest = MAX_SNAPSHOT_LEN + around;
    let spare = MAX_SNAPSHOT_MESSAGE - MAX_SNAPSHOT_MESSAGE / 8;
    assert!(
        largest <= spare,
        "the largest catalog snapshot message is {largest} bytes (of which the ranges' \
         budget {MAX_RANGE_BYTES}); the transport takes {MAX_SNAPSHOT_MESSAGE}, and an \
         eighth of it stays spare"
    );
    // The ranges' budget is counted whole in the largest snapshot.
    const { assert!(MAX_SNAPSHOT_LEN > MAX_RANGE_BYTES) };
}
