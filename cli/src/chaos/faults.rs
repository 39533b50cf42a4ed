//! The faults of `synod chaos`, drawn from the seed, and how each is
//! injected and healed on a [`Cluster`].

use std::time::Duration;

use super::cluster::Cluster;
use super::proxy::Cut;
use super::rng::Rng;

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// kill -9 of the leader.
    KillLeader,
    /// kill -9 of a minority (it may hold the leader).
    KillMinority,
    /// kill -9 of every member.
    KillAll,
    /// SIGSTOP of the leader past the election timeout, then SIGCONT.
    PauseLeader,
    /// The leader cut off from every other member, both ways.
    IsolateLeader,
    /// The leader's messages to the others lost (theirs still arrive).
    LeaderCannotSend,
    /// The others' messages to the leader lost (the leader's still arrive).
    LeaderCannotHear,
    /// A minority and a majority cut apart, both ways.
    SplitTwoWay,
    /// A minority's messages to the majority lost, or the other way round.
    SplitOneWay,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 9] = [
        Kind::KillLeader,
        Kind::KillMinority,
        Kind::KillAll,
        Kind::PauseLeader,
        Kind::IsolateLeader,
        Kind::LeaderCannotSend,
        Kind::LeaderCannotHear,
        Kind::SplitTwoWay,
        Kind::SplitOneWay,
    ];

    /// Its name in the summary.
    pub fn name(self) -> &'static str {
        match self {
            Kind::KillLeader => "kill-leader",
            Kind::KillMinority => "kill-minority",
            Kind::KillAll => "kill-all",
            Kind::PauseLeader => "pause-leader",
            Kind::IsolateLeader => "isolate-leader",
            Kind::LeaderCannotSend => "leader-cannot-send",
            Kind::LeaderCannotHear => "leader-cannot-hear",
            Kind::SplitTwoWay => "split-two-way",
            Kind::SplitOneWay => "split-one-way",
        }
    }
}

/// A fault in progress: what to undo at the heal.
pub struct Injected {
    /// What was done, in words.
    pub what: String,
    /// How long to hold it.
    pub hold: Duration,
    killed: Vec<usize>,
    paused: Vec<usize>,
}

fn names(c: &Cluster, v: &[usize]) -> String {
    let n: Vec<&str> = v.iter().map(|&i| c.members[i].name.as_str()).collect();
    format!("{{{}}}", n.join(", "))
}

/// Draws a fault kind.
pub fn draw(rng: &mut Rng) -> Kind {
    Kind::ALL[rng.below(Kind::ALL.len())]
}

/// Injects a fault of `kind` (choosing its victims with `rng`).
pub fn inject(c: &mut Cluster, kind: Kind, rng: &mut Rng) -> Result<Injected, String> {
    let n = c.members.len();
    let minority = (n - 1) / 2;
    let (leader, note) = match c.leader() {
        Some(l) => (l, ""),
        None => {
            let up: Vec<usize> = (0..n).filter(|&i| c.up(i)).collect();
            let pick = if up.is_empty() {
                rng.below(n)
            } else {
                up[rng.below(up.len())]
            };
            (pick, " (no leader known)")
        }
    };
    let others: Vec<usize> = (0..n).filter(|&i| i != leader).collect();
    let lname = c.members[leader].name.clone();
    let cut = if rng.chance(0.5) {
        Cut::Drop
    } else {
        Cut::Blackhole
    };
    let mut killed = Vec::new();
    let mut paused = Vec::new();
    let (what, hold) = match kind {
        Kind::KillLeader => {
            c.kill(leader)?;
            killed.push(leader);
            (
                format!("kill -9 leader {lname}{note}"),
                rng.millis(300, 3000),
            )
        }
        Kind::KillMinority => {
            let victims = rng.subset(n, minority);
            for &v in &victims {
                c.kill(v)?;
            }
            killed = victims;
            (
                format!(
                    "kill -9 minority {} (leader was {lname}{note})",
                    names(c, &killed)
                ),
                rng.millis(300, 3000),
            )
        }
        Kind::KillAll => {
            for i in 0..n {
                c.kill(i)?;
            }
            killed = (0..n).collect();
            ("kill -9 all members".to_string(), rng.millis(100, 2000))
        }
        Kind::PauseLeader => {
            c.pause(leader)?;
            paused.push(leader);
            (
                format!("SIGSTOP leader {lname}{note}"),
                rng.millis(1500, 3500),
            )
        }
        Kind::IsolateLeader => {
            c.net.cut_between(&[leader], &others, cut);
            (
                format!("isolate leader {lname}{note} both ways ({cut})"),
                rng.millis(1500, 4000),
            )
        }
        Kind::LeaderCannotSend => {
            for &o in &others {
                c.net.cut(leader, o, cut);
            }
            (
                format!("one-way: leader {lname}{note} -> others cut ({cut})"),
                rng.millis(1500, 4000),
            )
        }
        Kind::LeaderCannotHear => {
            for &o in &others {
                c.net.cut(o, leader, cut);
            }
            (
                format!("one-way: others -> leader {lname}{note} cut ({cut})"),
                rng.millis(1500, 4000),
            )
        }
        Kind::SplitTwoWay | Kind::SplitOneWay => {
            // The minority holds the leader half of the time.
            let small = if rng.chance(0.5) {
                let mut s = vec![leader];
                let pool: Vec<usize> = others.clone();
                for k in rng.subset(pool.len(), minority.saturating_sub(1)) {
                    s.push(pool[k]);
                }
                s.sort_unstable();
                s
            } else {
                rng.subset(others.len(), minority)
                    .into_iter()
                    .map(|k| others[k])
                    .collect()
            };
            let large: Vec<usize> = (0..n).filter(|i| !small.contains(i)).collect();
            let (a, b) = (names(c, &small), names(c, &large));
            let what = if kind == Kind::SplitTwoWay {
                c.net.cut_between(&small, &large, cut);
                format!("split {a} | {b} both ways ({cut}; leader was {lname}{note})")
            } else if rng.chance(0.5) {
                for &x in &small {
                    for &y in &large {
                        c.net.cut(x, y, cut);
                    }
                }
                format!("one-way: {a} -> {b} cut ({cut}; leader was {lname}{note})")
            } else {
                for &x in &large {
                    for &y in &small {
                        c.net.cut(x, y, cut);
                    }
                }
                format!("one-way: {b} -> {a} cut ({cut}; leader was {lname}{note})")
            };
            (what, rng.millis(1500, 4000))
        }
    };
    Ok(Injected {
        what,
        hold,
        killed,
        paused,
    })
}

/// Undoes a fault: every link opened, paused members continued, killed
/// members restarted from their data directories.
pub fn heal(c: &mut Cluster, f: &Injected) -> Result<(), String> {
    c.net.heal();
    for &i in &f.paused {
        c.resume(i)?;
    }
    for &i in &f.killed {
        c.spawn(i)?;
    }
    Ok(())
}
