//! Rebuilding the catalog from what the store holds: the latest snapshot's
//! catalog, then the committed entries above it. The engine uses the same
//! functions when it restarts.
//!
//! The entry-data convention (shared with the engine): a raft
//! `EntryNormal` entry's data is either empty (a new leader's no-op) or the
//! bytes of [`Proposal::encode`] (an entry, with the client session that
//! makes its retries exactly-once); `EntryConfChange` and
//! `EntryConfChangeV2` entries are the engine's configuration and are
//! [`Catalog::skip`]ped, as are empty normal entries.

use raft::eraftpb::{Entry, EntryType, Snapshot};

use super::error::{Result, StorageError};
use crate::catalog::{ApplyOutcome, Catalog};
use crate::entry::{Index, Proposal, Term};

/// Applies one committed raft entry to `catalog` following the entry-data
/// convention. Returns the outcome for catalog entries, `None` for skipped
/// ones.
pub fn apply_entry(catalog: &mut Catalog, e: &Entry) -> Result<Option<ApplyOutcome>> {
    let (index, term) = (Index(e.index), Term(e.term));
    if e.entry_type == EntryType::EntryNormal && !e.data.is_empty() {
        let proposal = Proposal::decode(&e.data).map_err(|source| StorageError::EntryDecode {
            index: e.index,
            source,
        })?;
        Ok(Some(catalog.apply_proposal(index, term, &proposal)?))
    } else {
        catalog.skip(index, term)?;
        Ok(None)
    }
}

/// The catalog of `snapshot` with `committed` (the committed entries right
/// after it, in order) applied.
pub fn replay_catalog(snapshot: &Snapshot, committed: &[Entry]) -> Result<Catalog> {
    let index = snapshot.get_metadata().index;
    let mut catalog = Catalog::decode_snapshot(&snapshot.data)
        .map_err(|source| StorageError::CatalogSnapshot { index, source })?;
    let applied = catalog.applied().0.get();
    if applied != index {
        return Err(StorageError::CatalogSnapshot {
            index,
            source: crate::entry::codec::DecodeError::Inconsistent {
                what: "catalog snapshot",
                detail: format!(
                    "the catalog has applied index {applied}, the snapshot is at {index}"
                ),
            },
        });
    }
    for e in committed {
        apply_entry(&mut catalog, e)?;
    }
    Ok(catalog)
}
