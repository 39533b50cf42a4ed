//! Snapshots as a member reads them: arbitrary bytes as a catalog snapshot
//! ([`Catalog::decode_snapshot`], which also decodes what a leader sends in
//! a raft snapshot) and as a snapshot file ([`record::decode_snapshot_file`]);
//! then recovery of a data directory whose genesis snapshot file is the
//! bytes, or a valid file around them as the catalog, opened read-only and
//! writable on the simulated disk, and its catalog rebuilt.
//!
//! The first byte chooses the file: 0 the bytes as they are, 1 a valid
//! snapshot file (index 1, term 1, the genesis configuration) whose catalog
//! is the bytes.
//!
//! Properties: nothing panics; a catalog that decodes encodes to bytes that
//! decode to the same catalog, and in the current format to the very bytes
//! decoded (the encoding is canonical); a snapshot file that decodes
//! re-encodes to the same bytes; recovery's promises in
//! `synod_fuzz::check_recovery`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synod::catalog::snapshot::SNAPSHOT_FORMAT_VERSION;
use synod::storage::record;
use synod::Catalog;
use synod_fuzz::{check_recovery, disk_with, genesis_file, genesis_snapshot};

fn decode_catalog(bytes: &[u8]) {
    let Ok(catalog) = Catalog::decode_snapshot(bytes) else {
        return;
    };
    let encoded = catalog.encode_snapshot();
    assert_eq!(
        Catalog::decode_snapshot(&encoded).as_ref(),
        Ok(&catalog),
        "a decoded catalog does not round-trip"
    );
    if bytes.get(8) == Some(&SNAPSHOT_FORMAT_VERSION) {
        assert_eq!(encoded, bytes, "catalog snapshot encoding is not canonical");
    }
}

fuzz_target!(|data: &[u8]| {
    decode_catalog(data);

    if let Ok(file) = record::decode_snapshot_file(data.to_vec()) {
        let again =
            record::encode_snapshot_file(file.index, file.term, &file.conf_state, &file.data);
        assert_eq!(again, data, "a decoded snapshot file does not round-trip");
        decode_catalog(&file.data);
    }

    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let file = match mode {
        0 => rest.to_vec(),
        1 => {
            let genesis = record::decode_snapshot_file(genesis_file(&genesis_snapshot()).to_vec())
                .expect("the genesis snapshot decodes");
            record::encode_snapshot_file(genesis.index, genesis.term, &genesis.conf_state, rest)
        }
        _ => return,
    };
    check_recovery(&disk_with(&[(genesis_snapshot(), file)]));
});
