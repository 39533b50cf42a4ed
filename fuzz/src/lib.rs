//! What the fuzz targets share: the reading paths of the listener and of a
//! client, replayed on bytes instead of a socket, and data directories on
//! the simulated disk built from fuzzed files.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use synod::storage::store::{segment_name, snapshot_name, CURRENT_FILE};
use synod::storage::{record, Disk, DurableStore, SimDisk, StoreOptions};
use synod::transport::wire::{
    decode_hello, decode_hello_answer, FrameDecoder, FrameKind, HelloAnswer, HelloRole,
    FRAME_HEADER_LEN, MAX_FRAME_PAYLOAD, MAX_HELLO_PAYLOAD, MAX_REMOVED_DETAIL,
};
use synod::{InitialMember, MemberKind};

/// Splits `data` at a point its first byte chooses, so a stream arrives in
/// two reads cut anywhere in the first 256 bytes.
pub fn two_reads(data: &[u8]) -> [&[u8]; 2] {
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    [&data[..split], &data[split..]]
}

/// What a listener's client connection does with `stream` (see
/// `transport/tcp/listener.rs` and `client.rs`): the first frame, under the
/// Hello limit, must be a client's Hello; then, under the frame limit, every
/// frame must be a `ClientRequest`, whose payload goes to `handle`. Returns
/// the request payloads handed over, in order, until the stream ends or is
/// refused.
pub fn serve_client_stream(stream: &[u8], mut handle: impl FnMut(&[u8])) -> Vec<Vec<u8>> {
    let mut decoder = FrameDecoder::with_limit(MAX_HELLO_PAYLOAD);
    let mut hello_done = false;
    let mut requests = Vec::new();
    for part in two_reads(stream) {
        decoder.feed(part);
        while let Ok(Some((kind, payload))) = decoder.next_frame() {
            if !hello_done {
                match (kind, decode_hello(&payload)) {
                    (FrameKind::Hello, Ok(h)) if h.role == HelloRole::Client => {}
                    _ => return requests,
                }
                hello_done = true;
                decoder.set_limit(MAX_FRAME_PAYLOAD);
                continue;
            }
            if kind != FrameKind::ClientRequest {
                return requests;
            }
            handle(&payload);
            requests.push(payload);
        }
    }
    requests
}

/// What a client does with `stream` from a member (see
/// `transport/tcp/dialer.rs` and `client.rs`): while it waits for the
/// HelloAck it reads under the HelloAck limit, and the first frame must
/// accept the connection; the bytes after that frame arrive once it sent
/// its request, read by a reader of its own under the frame limit (in two
/// reads), and must start with a `ClientResponse`, whose payload goes to
/// `handle`. Returns that payload, if one arrived.
pub fn read_member_stream(stream: &[u8], mut handle: impl FnMut(&[u8])) -> Option<Vec<u8>> {
    let mut hello = FrameDecoder::with_limit(4 + MAX_REMOVED_DETAIL);
    hello.feed(stream);
    let after = match hello.next_frame() {
        Ok(Some((FrameKind::HelloAck, p)))
            if decode_hello_answer(&p) == Ok(HelloAnswer::Accepted) =>
        {
            &stream[FRAME_HEADER_LEN + p.len()..]
        }
        _ => return None,
    };
    let mut decoder = FrameDecoder::with_limit(MAX_FRAME_PAYLOAD);
    for part in two_reads(after) {
        decoder.feed(part);
        match decoder.next_frame() {
            Ok(Some((FrameKind::ClientResponse, payload))) => {
                handle(&payload);
                return Some(payload);
            }
            Ok(None) => {}
            _ => return None,
        }
    }
    None
}

/// The directory every fuzzed store lives in (on a fresh [`SimDisk`]).
pub fn data_dir() -> &'static Path {
    Path::new("/fuzz/data")
}

/// The files of a freshly bootstrapped three-member store (a data member, a
/// second data member and a witness): `CURRENT`, the genesis snapshot and
/// segment 1, by name.
pub fn genesis_files() -> &'static [(String, Vec<u8>)] {
    static FILES: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    FILES.get_or_init(|| {
        let disk = SimDisk::new();
        let member = |id: &str, kind, port: u16| InitialMember {
            id: id.parse().expect("a valid identity"),
            kind,
            address: format!("127.0.0.1:{port}")
                .parse()
                .expect("a valid address"),
        };
        let initial = [
            member("CN=node-a", MemberKind::Data, 7401),
            member("CN=node-b", MemberKind::Data, 7402),
            member("CN=node-w", MemberKind::Witness, 7403),
        ];
        let (store, _) = DurableStore::bootstrap(
            Arc::new(disk.clone()),
            data_dir(),
            StoreOptions::default(),
            &initial,
        )
        .expect("bootstrap on an empty simulated disk");
        drop(store);
        let mut files: Vec<(String, Vec<u8>)> = disk
            .list_dir(data_dir())
            .expect("the directory exists")
            .into_iter()
            .filter(|name| name != synod::storage::LOCK_FILE)
            .map(|name| {
                let bytes = disk
                    .read_file(&data_dir().join(&name))
                    .expect("a listed file");
                (name, bytes)
            })
            .collect();
        files.sort();
        files
    })
}

/// The bytes of the genesis file named `name`.
pub fn genesis_file(name: &str) -> &'static [u8] {
    genesis_files()
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, b)| b.as_slice())
        .unwrap_or_else(|| panic!("no genesis file {name}"))
}

/// The name of the genesis store's newest segment (the one `CURRENT`
/// names).
pub fn genesis_segment() -> String {
    let newest = genesis_files()
        .iter()
        .filter_map(|(name, bytes)| (name == CURRENT_FILE).then_some(bytes))
        .find_map(|bytes| record::decode_current(bytes).ok())
        .expect("the genesis store has a CURRENT");
    segment_name(newest)
}

/// The genesis snapshot's name (index 1).
pub fn genesis_snapshot() -> String {
    snapshot_name(synod::storage::GENESIS_INDEX)
}

/// A fresh simulated disk holding the genesis files, with the files in
/// `replace` written instead of (or besides) them, all durable.
pub fn disk_with(replace: &[(String, Vec<u8>)]) -> SimDisk {
    let disk = SimDisk::new();
    let dir = data_dir();
    disk.create_dir_all(dir).expect("simulated disk");
    let mut names: Vec<&String> = genesis_files().iter().map(|(n, _)| n).collect();
    names.extend(replace.iter().map(|(n, _)| n));
    names.sort();
    names.dedup();
    for name in names {
        let bytes = replace
            .iter()
            .find(|(n, _)| n == name)
            .or_else(|| genesis_files().iter().find(|(n, _)| n == name))
            .map(|(_, b)| b.as_slice())
            .unwrap_or_default();
        let mut f = disk.create_file(&dir.join(name)).expect("simulated disk");
        f.write_all(bytes).expect("simulated disk");
        f.sync_all().expect("simulated disk");
    }
    disk.sync_dir(dir).expect("simulated disk");
    disk
}

/// What an open found, to compare opens: first and last index, hard state,
/// conf state, and the segments.
#[derive(Debug, PartialEq)]
pub struct Opened {
    /// First index held.
    pub first: u64,
    /// Last index held.
    pub last: u64,
    /// The hard state.
    pub hard_state: raft::eraftpb::HardState,
    /// The conf state.
    pub conf_state: raft::eraftpb::ConfState,
    /// The snapshot's (index, term).
    pub snapshot: (u64, u64),
}

impl Opened {
    /// What `store` holds.
    pub fn of(store: &DurableStore) -> Self {
        let snap = store.snapshot();
        let m = snap.get_metadata();
        Opened {
            first: store.first_index(),
            last: store.last_index(),
            hard_state: store.hard_state(),
            conf_state: store.conf_state(),
            snapshot: (m.index, m.term),
        }
    }
}

/// Opens the data directory on `disk` the way `synod inspect` (read-only)
/// or a member (writable) does.
pub fn open(
    disk: &SimDisk,
    read_only: bool,
) -> synod::storage::Result<(DurableStore, synod::storage::RecoveryReport)> {
    DurableStore::open(
        Arc::new(disk.clone()),
        data_dir(),
        StoreOptions {
            read_only,
            ..StoreOptions::default()
        },
    )
}

/// Recovery's promises on one directory: the read-only open (what
/// `synod inspect` reports) and the writable one accept or refuse alike and
/// find the same state; a writable open leaves a directory that opens again
/// cleanly (no torn tail left, nothing more to remove) to the same state; a
/// store that opens rebuilds its catalog or says why not, without panicking.
pub fn check_recovery(disk: &SimDisk) {
    let inspected = open(disk, true);
    let _ = synod::storage::inspect::inspect_on(Arc::new(disk.clone()), data_dir());
    let opened = open(disk, false);
    match (&inspected, &opened) {
        (Ok((ro, _)), Ok((rw, _))) => {
            assert_eq!(
                Opened::of(ro),
                Opened::of(rw),
                "read-only and writable opens differ"
            );
            let _ = rw.recover_catalog();
        }
        (Err(_), Err(_)) => {}
        (ro, rw) => panic!(
            "the read-only open and the writable open disagree: {:?} / {:?}",
            ro.as_ref().map(|_| "opened"),
            rw.as_ref().map(|_| "opened")
        ),
    }
    drop(inspected);
    let Ok((store, _)) = opened else {
        return;
    };
    let first = Opened::of(&store);
    drop(store);
    let (again, report) = open(disk, false).expect("a repaired directory opens again");
    assert!(
        report.torn_tail.is_none(),
        "a second open cut a torn tail again: {report:?}"
    );
    assert_eq!(first, Opened::of(&again), "reopening changed the state");
}

/// Frames each chunk of `data` as a segment record with valid checksums:
/// a chunk is a length byte and that many bytes.
pub fn framed_records(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        if n > 0 {
            record::frame(&mut out, &tail[..n]);
        }
        rest = &tail[n..];
    }
    out
}

/// A path for files in error messages.
pub fn config_path() -> PathBuf {
    PathBuf::from("/etc/synod/node.toml")
}
