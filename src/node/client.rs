//! The Rust client: talks to members over the network with the client
//! protocol, and follows the leader.
//!
//! A [`Client`] knows a few member endpoints and its own TLS identity. Reads
//! go to whichever member answers (a local read says which applied index it
//! reflects; a linearizable one goes through the leader). Proposals and
//! leadership transfers go to the leader: a follower's "not leader, the
//! leader is X at A" makes the client reconnect to A and retry, and with no
//! leader known it retries the other endpoints until its timeout.

use std::time::{Duration, Instant};

use super::protocol::{RemoteError, Request, Response, StatusInfo};
use crate::catalog::{AuditRecord, FenceStatus, Member, RangeOwnership};
use crate::entry::{ControlPlaneEntry, DecodeError, Epoch, Index, NodeId, RangeId};
use crate::node::Committed;
use crate::transport::tcp::{connect_client, ClientConnection};
use crate::transport::{Security, TransportError};

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientCallError {
    /// The member answered with an error.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// No endpoint could be reached.
    #[error("no member reachable ({0})")]
    Unreachable(String),
    /// The member's answer did not decode.
    #[error("bad response: {0}")]
    Protocol(#[from] DecodeError),
    /// The member answered with a response of the wrong kind.
    #[error("unexpected response to {0}")]
    Unexpected(&'static str),
    /// The client has no endpoints.
    #[error("no endpoints given")]
    NoEndpoints,
}

/// A connection to a cluster.
pub struct Client {
    endpoints: Vec<String>,
    security: Security,
    timeout: Duration,
    conn: Option<(String, ClientConnection)>,
    /// Where the leader was last seen.
    leader: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoints", &self.endpoints)
            .field("identity", self.security.identity())
            .field("connected", &self.conn.as_ref().map(|(a, _)| a))
            .finish()
    }
}

impl Client {
    /// A client for the members at `endpoints` (`host:port`), authenticating
    /// with `security`. `timeout` bounds each call, retries included.
    pub fn new(endpoints: Vec<String>, security: Security, timeout: Duration) -> Self {
        Self {
            endpoints,
            security,
            timeout,
            conn: None,
            leader: None,
        }
    }

    /// Changes the bound on each later call, retries included (bindings
    /// that take a timeout per call set it before each one).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The endpoint of the current connection, if any.
    pub fn connected_to(&self) -> Option<&str> {
        self.conn.as_ref().map(|(a, _)| a.as_str())
    }

    fn connect(&mut self, addr: &str, deadline: Instant) -> Result<(), TransportError> {
        if self.conn.as_ref().is_some_and(|(a, _)| a == addr) {
            return Ok(());
        }
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(10));
        let c = connect_client(addr, &self.security, left.min(Duration::from_secs(3)))?;
        self.conn = Some((addr.to_string(), c));
        Ok(())
    }

    /// Sends `req` to `addr` and decodes the answer.
    fn ask(
        &mut self,
        addr: &str,
        req: &Request,
        deadline: Instant,
    ) -> Result<Result<Response, RemoteError>, String> {
        self.connect(addr, deadline)
            .map_err(|e| format!("{addr}: {e}"))?;
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(10));
        let Some((_, conn)) = self.conn.as_mut() else {
            return Err(format!("{addr}: not connected"));
        };
        match conn.request(&req.encode(), left) {
            Ok(bytes) => Response::decode(&bytes).map_err(|e| format!("{addr}: bad response: {e}")),
            Err(e) => {
                self.conn = None;
                Err(format!("{addr}: {e}"))
            }
        }
    }

    /// Calls `req`, following the leader when `to_leader` and retrying other
    /// endpoints on connection failures, until the timeout.
    fn call(&mut self, req: &Request, to_leader: bool) -> Result<Response, ClientCallError> {
        if self.endpoints.is_empty() {
            return Err(ClientCallError::NoEndpoints);
        }
        let deadline = Instant::now() + self.timeout;
        let mut last_error = String::from("timed out");
        let mut round = 0usize;
        loop {
            let mut targets: Vec<String> = Vec::new();
            if let Some((a, _)) = &self.conn {
                targets.push(a.clone());
            }
            if to_leader {
                if let Some(l) = &self.leader {
                    targets.insert(0, l.clone());
                }
            }
            targets.extend(self.endpoints.iter().cloned());
            targets.dedup();
            for addr in targets {
                if Instant::now() >= deadline {
                    return Err(ClientCallError::Unreachable(last_error));
                }
                match self.ask(&addr, req, deadline) {
                    Ok(Ok(resp)) => {
                        if to_leader {
                            self.leader = Some(addr);
                        }
                        return Ok(resp);
                    }
                    Ok(Err(RemoteError::NotLeader { leader })) if to_leader => {
                        match leader.and_then(|l| l.address) {
                            Some(a) if a.as_str() != addr => {
                                self.leader = Some(a.as_str().to_string());
                                // Go straight to the leader it named.
                                match self.ask(a.as_str(), req, deadline) {
                                    Ok(Ok(resp)) => return Ok(resp),
                                    Ok(Err(RemoteError::NotLeader { .. })) => {
                                        last_error = format!("{a} is not the leader yet");
                                    }
                                    Ok(Err(e)) => return Err(e.into()),
                                    Err(e) => last_error = e,
                                }
                            }
                            _ => last_error = format!("{addr} knows no leader"),
                        }
                    }
                    Ok(Err(e @ (RemoteError::NoQuorum | RemoteError::Shutdown))) => {
                        last_error = e.to_string();
                    }
                    // A read through a member that knows no leader yet:
                    // another member, or a later round, may.
                    Ok(Err(e @ RemoteError::NotLeader { .. })) => {
                        last_error = e.to_string();
                    }
                    Ok(Err(e)) => return Err(e.into()),
                    Err(e) => last_error = e,
                }
            }
            round += 1;
            // No member could serve the call: wait a little (an election may
            // be under way) and try again.
            let pause = Duration::from_millis(20 * (1 << round.min(4)));
            if Instant::now() + pause >= deadline {
                return Err(ClientCallError::Unreachable(last_error));
            }
            std::thread::sleep(pause);
        }
    }

    /// The status of the member this client reaches first.
    pub fn status(&mut self) -> Result<StatusInfo, ClientCallError> {
        match self.call(&Request::Status, false)? {
            Response::Status(s) => Ok(s),
            _ => Err(ClientCallError::Unexpected("status")),
        }
    }

    /// The status of the member at `addr`.
    pub fn status_of(&mut self, addr: &str) -> Result<StatusInfo, ClientCallError> {
        let deadline = Instant::now() + self.timeout;
        match self.ask(addr, &Request::Status, deadline) {
            Ok(Ok(Response::Status(s))) => Ok(s),
            Ok(Ok(_)) => Err(ClientCallError::Unexpected("status")),
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(ClientCallError::Unreachable(e)),
        }
    }

    /// Proposes `entry` at the leader and waits for it to commit (the member
    /// waits up to this client's timeout).
    pub fn propose(&mut self, entry: ControlPlaneEntry) -> Result<Committed, ClientCallError> {
        let timeout_ms = self.timeout.as_millis().clamp(1, 60_000) as u32;
        match self.call(&Request::Propose { entry, timeout_ms }, true)? {
            Response::Committed(c) => Ok(c),
            _ => Err(ClientCallError::Unexpected("propose")),
        }
    }

    /// The owner of `range`, with the applied index the answer reflects.
    pub fn owner(
        &mut self,
        range: &RangeId,
        linearizable: bool,
    ) -> Result<(Option<RangeOwnership>, Index), ClientCallError> {
        let req = Request::Owner {
            range: range.clone(),
            linearizable,
        };
        match self.call(&req, false)? {
            Response::Owner(o, at) => Ok((o, at)),
            _ => Err(ClientCallError::Unexpected("owner")),
        }
    }

    /// Whether (`owner`, `epoch`) owns `range`.
    pub fn fence_check(
        &mut self,
        range: &RangeId,
        owner: &NodeId,
        epoch: Epoch,
        linearizable: bool,
    ) -> Result<(FenceStatus, Index), ClientCallError> {
        let req = Request::FenceCheck {
            range: range.clone(),
            owner: owner.clone(),
            epoch,
            linearizable,
        };
        match self.call(&req, false)? {
            Response::Fence(f, at) => Ok((f, at)),
            _ => Err(ClientCallError::Unexpected("fence check")),
        }
    }

    /// The members.
    pub fn members(&mut self, linearizable: bool) -> Result<(Vec<Member>, Index), ClientCallError> {
        match self.call(&Request::Members { linearizable }, false)? {
            Response::Members(m, at) => Ok((m, at)),
            _ => Err(ClientCallError::Unexpected("members")),
        }
    }

    /// Every owned range, fetched page by page.
    pub fn ranges(
        &mut self,
        linearizable: bool,
    ) -> Result<Vec<(RangeId, RangeOwnership)>, ClientCallError> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let req = Request::Ranges {
                after: after.clone(),
                limit: super::protocol::MAX_PAGE,
                linearizable,
            };
            match self.call(&req, false)? {
                Response::Ranges(page, more, _) => {
                    after = page.last().map(|(r, _)| r.clone());
                    out.extend(page);
                    if !more || after.is_none() {
                        return Ok(out);
                    }
                }
                _ => return Err(ClientCallError::Unexpected("ranges")),
            }
        }
    }

    /// The forced transitions.
    pub fn audit(&mut self, linearizable: bool) -> Result<Vec<AuditRecord>, ClientCallError> {
        match self.call(&Request::Audit { linearizable }, false)? {
            Response::Audit(a, _) => Ok(a),
            _ => Err(ClientCallError::Unexpected("audit")),
        }
    }

    /// Asks the leader to hand leadership to `to`.
    pub fn transfer_leader(&mut self, to: &NodeId) -> Result<(), ClientCallError> {
        match self.call(&Request::TransferLeader { to: to.clone() }, true)? {
            Response::Done => Ok(()),
            _ => Err(ClientCallError::Unexpected("transfer")),
        }
    }

    /// The metrics of the member this client reaches first.
    pub fn metrics(&mut self) -> Result<String, ClientCallError> {
        match self.call(&Request::Metrics, false)? {
            Response::Metrics(t) => Ok(t),
            _ => Err(ClientCallError::Unexpected("metrics")),
        }
    }
}
