//! The local demo. Until the networked cluster lands it drives the
//! single-node engine through the same boundary a cluster will use.

use std::time::Duration;

use synod::catalog::FenceStatus;
use synod::{
    ControlPlaneConsensus, ControlPlaneEntry, Epoch, InitialMember, MemberKind, MembershipChange,
    NodeId, OwnershipTransition, ProposeError, SingleNodeControlPlane,
};

type DemoResult = Result<(), Box<dyn std::error::Error>>;

const TIMEOUT: Duration = Duration::from_secs(5);

fn id(s: &str) -> Result<NodeId, synod::IdentityError> {
    NodeId::from_certificate_subject(s)
}

pub fn run() -> DemoResult {
    let node = SingleNodeControlPlane::bootstrap_leader(InitialMember {
        id: id("CN=node-a")?,
        kind: MemberKind::Data,
        address: "127.0.0.1:7401".parse()?,
    })?;
    println!(
        "bootstrapped {} as leader of term {}",
        node.id(),
        node.current_term()
    );
    for (name, kind, port) in [
        ("CN=node-b", MemberKind::Data, 7402),
        ("CN=node-c", MemberKind::Witness, 7403),
    ] {
        let c = node.propose(
            ControlPlaneEntry::Membership(MembershipChange::Admit {
                member: id(name)?,
                kind,
                address: format!("127.0.0.1:{port}").parse()?,
            }),
            TIMEOUT,
        )?;
        println!("admitted {name} as {kind} at index {}", c.index);
    }
    let mut acknowledged = Vec::new();
    for i in 0..8u64 {
        let range = format!("users:[{},{})", i * 1000, (i + 1) * 1000).parse()?;
        let owner = if i % 2 == 0 { "CN=node-a" } else { "CN=node-b" };
        let t = OwnershipTransition {
            range,
            new_owner: id(owner)?,
            epoch: Epoch(1),
        };
        let c = node.propose(ControlPlaneEntry::OwnershipTransition(t.clone()), TIMEOUT)?;
        acknowledged.push((t, c.index));
    }
    println!("{} ownership transitions committed", acknowledged.len());
    // A stale writer is fenced before its entry reaches the log.
    let stale = acknowledged[0].0.clone();
    match node.propose(
        ControlPlaneEntry::OwnershipTransition(stale.clone()),
        TIMEOUT,
    ) {
        Err(ProposeError::Refused { refusal, .. }) => {
            println!("stale transition refused: {refusal}")
        }
        other => return Err(format!("a stale transition was not refused: {other:?}").into()),
    }
    let fence = node.fence_check(&stale.range, &id("CN=node-b")?, Epoch(1));
    println!("fence check for a non-owner: {fence:?}");
    if !matches!(fence, FenceStatus::Stale { .. }) {
        return Err("the fence check did not fence a non-owner".into());
    }
    println!(
        "{:<20} {:<12} {:>6} {:>6}",
        "range", "owner", "epoch", "index"
    );
    for (t, index) in &acknowledged {
        let o = node
            .owner(&t.range)
            .ok_or_else(|| format!("acknowledged transition of {} is missing", t.range))?;
        if o.owner != t.new_owner || o.epoch != t.epoch || o.index != *index {
            return Err(format!("{} does not match its acknowledged transition", t.range).into());
        }
        println!(
            "{:<20} {:<12} {:>6} {:>6}",
            t.range, o.owner, o.epoch, o.index
        );
    }
    println!(
        "demo ok: {} acknowledged transitions present, commit index {}",
        acknowledged.len(),
        node.commit_index().map(|i| i.get()).unwrap_or(0)
    );
    Ok(())
}
