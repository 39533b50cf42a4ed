//! The client protocol: what an operator, a script or the `synod` CLI asks a
//! member over the network, and what it answers.
//!
//! Requests and responses travel as the payloads of `ClientRequest` and
//! `ClientResponse` frames ([`crate::transport::wire`]); a connection carries
//! one request at a time. Both are versioned and decoded with the same
//! bounded, never-panicking readers as everything else. Proposals travel as
//! encoded [`ControlPlaneEntry`](crate::entry::ControlPlaneEntry) values, so
//! the closed entry set is the only thing a client can ask to append.
//!
//! Every answer fits in one frame whatever the catalog holds: members are at
//! most [`MAX_MEMBERS`](crate::catalog::MAX_MEMBERS) (0.3 MB at their
//! longest), ranges and audit records come in pages ([`MAX_PAGE`],
//! [`MAX_AUDIT_PAGE`]). The whole audit list in one answer (`Audit`, from
//! before pages) is answered only while it fits in a frame; past that the
//! member answers "bad request" naming `AuditPage`, which the [`Client`]
//! uses.
//!
//! This module holds the version, the limits and the encoding helpers the
//! requests, responses and errors share; [`Request`] lives in `request`,
//! [`Response`] and [`StatusInfo`] in `response`, the errors in `error`.
//!
//! [`Client`]: crate::node::client::Client

mod catalog_codec;
mod error;
mod request;
mod response;
#[cfg(test)]
mod tests;
mod watch;

pub use crate::node::ReadLevel;
pub(crate) use catalog_codec::range_len;
pub use error::{ClientError, RemoteError, RemoteRefusal};
pub use request::{ReadQuery, Request};
pub(crate) use response::{audit_record_len, AUDIT_ANSWER_OVERHEAD};
pub use response::{PeerInfo, Response, StatusInfo};
pub use watch::{WatchWireItem, MAX_WATCH_BATCH, SNAPSHOT_PART_BYTES};

use crate::entry::codec::{Reader, Writer};
use crate::entry::DecodeError;
use crate::node::LeaderHint;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u8 = 1;
/// The most ranges one `Ranges` page returns: at their longest (1,572
/// bytes each) a page is 15.7 MB, within one frame
/// ([`MAX_FRAME_PAYLOAD`](crate::transport::wire::MAX_FRAME_PAYLOAD),
/// 16 MiB).
pub const MAX_PAGE: u32 = 10_000;
/// The most audit records one `AuditPage` answer returns: at their longest
/// (4,139 bytes each) a page is 8.3 MB, half a frame.
pub const MAX_AUDIT_PAGE: u32 = 2_000;

fn put_opt_str(w: &mut Writer, s: Option<&str>) {
    match s {
        None => w.u8(0),
        Some(s) => {
            w.u8(1);
            w.str(s);
        }
    }
}

fn put_hint(w: &mut Writer, h: Option<&LeaderHint>) {
    match h {
        None => w.u8(0),
        Some(h) => {
            w.u8(1);
            w.str(h.id.as_str());
            put_opt_str(w, h.address.as_ref().map(|a| a.as_str()));
        }
    }
}

fn get_hint(r: &mut Reader<'_>) -> Result<Option<LeaderHint>, DecodeError> {
    if !r.bool("leader flag")? {
        return Ok(None);
    }
    let id = r.node_id("leader")?;
    let address = if r.bool("address flag")? {
        Some(r.address("leader address")?)
    } else {
        None
    };
    Ok(Some(LeaderHint { id, address }))
}
