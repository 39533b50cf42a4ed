//! `_scripted_node`: a test hook, not API. It opens a `Node` over a
//! single-node engine wrapped so that proposals can be made slow (to show
//! the GIL is released and `timeout` is honoured) or fail the way a
//! replicated engine can (not leader, no quorum, storage, shutdown), so the
//! mapping of every `ProposeError` onto the exception tree is tested through
//! the real `Node.propose` path. Reads are the wrapped engine's, unless the
//! engine plays a member that stopped (`stopped`): then every fallible read
//! answers the stop's error, as a stopped replicated member does.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyString;

use synod::catalog::{AuditRecord, FenceStatus, Member, RangeOwnership};
use synod::entry::Proposal;
use synod::{
    Committed, ControlPlaneConsensus, DurableVoteState, Epoch, Index, InitialMember, LeaderHint,
    MemberKind, NodeId, ProposeError, RangeId, SingleNodeControlPlane, Term,
};

use crate::entries::{address, identity};
use crate::errors::{invalid_argument, new_err, Kind};
use crate::node::{timeout, Node};

struct Scripted {
    inner: SingleNodeControlPlane,
    delay: Duration,
    fail: Option<ProposeError>,
    /// Plays a member that stopped with this error.
    stopped: Option<ProposeError>,
}

impl Scripted {
    fn running(&self) -> Result<(), ProposeError> {
        self.stopped.clone().map_or(Ok(()), Err)
    }
}

impl ControlPlaneConsensus for Scripted {
    fn id(&self) -> &NodeId {
        self.inner.id()
    }
    fn current_term(&self) -> Term {
        self.inner.current_term()
    }
    fn leader(&self) -> Option<NodeId> {
        self.inner.leader()
    }
    fn is_leader(&self) -> bool {
        self.running().is_ok() && self.inner.is_leader()
    }
    fn durable_vote(&self) -> DurableVoteState {
        self.inner.durable_vote()
    }
    fn commit_index(&self) -> Option<Index> {
        self.inner.commit_index()
    }
    fn submit(&self, proposal: Proposal, timeout: Duration) -> Result<Committed, ProposeError> {
        if self.delay > timeout {
            std::thread::sleep(timeout);
            return Err(ProposeError::Timeout(timeout));
        }
        std::thread::sleep(self.delay);
        match &self.fail {
            Some(e) => Err(e.clone()),
            None => self.inner.submit(proposal, timeout),
        }
    }
    fn owner(&self, range: &RangeId) -> Option<RangeOwnership> {
        self.inner.owner(range)
    }
    fn fence_check(&self, range: &RangeId, owner: &NodeId, epoch: Epoch) -> FenceStatus {
        self.inner.fence_check(range, owner, epoch)
    }
    fn members(&self) -> Vec<Member> {
        self.inner.members()
    }
    fn audit_log(&self) -> Vec<AuditRecord> {
        self.inner.audit_log()
    }
    fn applied_index(&self) -> Index {
        self.inner.applied_index()
    }
    fn check_running(&self) -> Result<(), ProposeError> {
        self.running()
    }
}

/// Test hook (not API): a single-member node whose proposals first wait
/// `delay` seconds (or time out, if `delay` exceeds their `timeout`) and
/// then fail with `fail` (`"not-leader"`, `"no-quorum"`, `"storage"`,
/// `"shutdown"`) or go to the real single-node engine. With `stopped`
/// (`"storage"`, `"shutdown"`) it plays a member that stopped: every read
/// answers that error.
#[pyfunction]
#[pyo3(signature = (identity, address, *, delay = 0.0, fail = None, leader = None, leader_address = None, stopped = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn _scripted_node(
    py: Python<'_>,
    identity: &Bound<'_, PyString>,
    address: &Bound<'_, PyString>,
    delay: f64,
    fail: Option<&str>,
    leader: Option<&Bound<'_, PyString>>,
    leader_address: Option<&Bound<'_, PyString>>,
    stopped: Option<&str>,
) -> PyResult<Node> {
    let me = InitialMember {
        id: crate::entries::identity(py, "identity", &identity.to_cow()?)?,
        kind: MemberKind::Data,
        address: crate::entries::address(py, "address", &address.to_cow()?)?,
    };
    let delay = timeout(py, delay)?;
    let hint = match leader {
        Some(l) => Some(LeaderHint {
            id: self::identity(py, "leader", &l.to_cow()?)?,
            address: match leader_address {
                Some(a) => Some(self::address(py, "leader_address", &a.to_cow()?)?),
                None => None,
            },
        }),
        None => None,
    };
    let fail = match fail {
        None => None,
        Some("not-leader") => Some(ProposeError::NotLeader { leader: hint }),
        Some("no-quorum") => Some(ProposeError::NoQuorum),
        Some("storage") => Some(ProposeError::Storage("injected disk failure".into())),
        Some("shutdown") => Some(ProposeError::Shutdown),
        Some(other) => {
            return Err(invalid_argument(
                py,
                "fail",
                format!("unknown failure {other:?}"),
            ))
        }
    };
    let stopped = match stopped {
        None => None,
        Some("storage") => Some(ProposeError::Storage("injected disk failure".into())),
        Some("shutdown") => Some(ProposeError::Shutdown),
        Some(other) => {
            return Err(invalid_argument(
                py,
                "stopped",
                format!("unknown stop {other:?}"),
            ))
        }
    };
    let inner = SingleNodeControlPlane::bootstrap_leader(me)
        .map_err(|e| new_err(py, Kind::Synod, e.to_string(), None))?;
    let engine = Arc::new(Scripted {
        inner,
        delay,
        fail,
        stopped,
    });
    let stopper = Arc::clone(&engine);
    Ok(Node::new(
        engine,
        Box::new(move || stopper.inner.shutdown()),
    ))
}
