"""A real cluster: three `RunningMember`s in this process over mutual TLS on
127.0.0.1, driven by `synod.Client`.

Each test gets a fresh cluster (its own data directories and ports) from the
`cluster` fixture; the development CA is made once per module. Every wait is
bounded by a deadline, so a hung cluster fails the test instead of hanging
it.
"""

import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

import synod

NAMES = ("node-a", "node-b", "node-c")
CLIENTS = ("ops", "app", "reader", "stranger")
RANGE = "users:[0,1000)"

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def eventually(what: str, probe: Callable[[], T | None], within: float = 10.0) -> T:
    """Calls `probe` until it returns something other than None."""
    deadline = time.monotonic() + within
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            got = probe()
            if got is not None:
                return got
        except synod.SynodError as e:
            last = e
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {within} s (last error: {last!r})")


@dataclass
class Cluster:
    dir: Path
    certs: Path
    configs: dict[str, Path]
    members: dict[str, synod.RunningMember]

    def client(
        self, name: str = "ops", *, endpoints: list[str] | None = None, timeout: float = 5.0
    ) -> synod.Client:
        return synod.Client(
            endpoints if endpoints is not None else self.endpoints(),
            cert=self.certs / f"{name}.pem",
            key=self.certs / f"{name}-key.pem",
            ca=self.certs / "ca.pem",
            timeout=timeout,
        )

    def endpoints(self) -> list[str]:
        return [m.local_addr for m in self.members.values() if not m.closed]

    def leader(self) -> synod.RunningMember:
        """The one running member every running member agrees leads."""
        with self.client() as c:

            def agreed() -> synod.RunningMember | None:
                statuses = [c.status_of(e, timeout=1.0) for e in self.endpoints()]
                leaders = [s for s in statuses if s.role == "leader"]
                if len(leaders) != 1:
                    return None
                if any(s.leader != leaders[0].id for s in statuses):
                    return None
                return next(m for m in self.members.values() if m.id == leaders[0].id)

            return eventually("one agreed leader", agreed)

    def followers(self) -> list[synod.RunningMember]:
        lead = self.leader()
        return [m for m in self.members.values() if m is not lead and not m.closed]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("certs")
    synod.write_dev_certs(out, NAMES, CLIENTS)
    return out


def write_configs(dir: Path, certs: Path) -> dict[str, Path]:
    addrs = {n: f"127.0.0.1:{free_port()}" for n in NAMES}
    bootstrap = ", ".join(f'{{ id = "CN={n}", address = "{a}" }}' for n, a in addrs.items())
    configs = {}
    for n, a in addrs.items():
        path = dir / f"{n}.toml"
        path.write_text(
            f'id = "CN={n}"\n'
            f'listen = "{a}"\n'
            f'data_dir = "data/{n}"\n'
            "[tls]\n"
            f'cert = "{certs / n}.pem"\n'
            f'key = "{certs / n}-key.pem"\n'
            f'ca = "{certs / "ca.pem"}"\n'
            "[cluster]\n"
            f"bootstrap = [{bootstrap}]\n"
            "[authorization]\n"
            'readers = ["CN=reader"]\n'
            'proposers = ["CN=app"]\n'
            'operators = ["CN=ops"]\n'
            "[engine]\n"
            "tick_ms = 20\n"
            "[admin]\n"
            'metrics_listen = "127.0.0.1:0"\n'
        )
        configs[n] = path
    return configs


@pytest.fixture
def cluster(tmp_path: Path, certs: Path) -> Iterator[Cluster]:
    configs = write_configs(tmp_path, certs)
    members: dict[str, synod.RunningMember] = {}
    try:
        for n, path in configs.items():
            members[n] = synod.RunningMember.start(path)
        cluster = Cluster(tmp_path, certs, configs, members)
        # Settled before the test: a linearizable read issued while no
        # leader is known waits out the member's read timeout.
        cluster.leader()
        yield cluster
    finally:
        for m in members.values():
            m.close()


def test_status_shows_one_leader(cluster: Cluster) -> None:
    lead = cluster.leader()
    with cluster.client("reader") as c:
        statuses = [c.status_of(m.local_addr) for m in cluster.members.values()]
        first = c.status()
    assert [s.id for s in statuses] == [f"CN={n}" for n in NAMES]
    assert [s.role for s in statuses].count(synod.Role.LEADER) == 1
    leader = next(s for s in statuses if s.is_leader)
    assert leader.id == lead.id
    for s in statuses:
        assert s.leader == lead.id
        assert s.leader_address == lead.local_addr
        assert s.term == leader.term >= 1
        assert sorted(s.voters) == sorted(x.id for x in statuses)
        assert sorted(p.peer_id for p in s.peers) == sorted(x.peer_id for x in statuses)
        for p in s.peers:
            assert p.voter and p.id is not None and p.address is not None
            if s.is_leader and p.peer_id != s.peer_id:
                assert p.matched is not None and p.lag is not None, p
            else:
                assert (p.matched, p.lag) == (None, None), p
        assert s.learners == []
        assert s.applied <= s.commit
    assert len(set(s.peer_id for s in statuses)) == 3
    assert first.id in {s.id for s in statuses}
    # The in-process handles agree with what the network says.
    assert [m.node.is_leader for m in cluster.members.values()].count(True) == 1
    assert lead.node.is_leader and lead.node.leader == lead.id
    assert repr(leader).startswith("Status(id='")


def test_propose_and_read_owners_back(cluster: Cluster) -> None:
    lead = cluster.leader()
    follower = cluster.followers()[0]
    with cluster.client("app") as c:
        commit = c.propose(synod.OwnershipTransition(RANGE, "CN=node-b", 1))
        assert isinstance(commit, synod.Commit) and commit.changed
        c.propose(synod.OwnershipTransition("orders:[0,10)", "CN=node-c", 1))
        c.propose(synod.OwnershipTransition(RANGE, "CN=node-c", 2))

    # Linearizable through a follower: reflects every commit above.
    with cluster.client("reader", endpoints=[follower.local_addr]) as c:
        owner = c.owner(RANGE, linearizable=True)
        assert owner is not None
        assert (owner.range, owner.owner, owner.epoch) == (RANGE, "CN=node-c", 2)
        assert owner.index > commit.index
        assert c.owner("nobody:[0,1)", linearizable=True) is None
        ranges = c.ranges(linearizable=True)
        assert [(o.range, o.owner, o.epoch) for o in ranges] == [
            ("orders:[0,10)", "CN=node-c", 1),
            (RANGE, "CN=node-c", 2),
        ]
        fence = c.fence_check(RANGE, "CN=node-c", 2, linearizable=True)
        assert fence.is_current
        stale = c.fence_check(RANGE, "CN=node-b", 1, linearizable=True)
        assert stale.is_stale and (stale.current_owner, stale.current_epoch) == ("CN=node-c", 2)
        members = c.members(linearizable=True)
        assert [m.id for m in members] == [f"CN={n}" for n in NAMES]
        assert all(m.kind == synod.MemberKind.DATA for m in members)

        # A local read on the follower catches up without a new commit.
        def applied() -> synod.Ownership | None:
            o = c.owner(RANGE)
            return o if o is not None and o.epoch == 2 else None

        assert eventually("the follower applies", applied) == owner

    # A local read at the leader reflects what it acknowledged.
    with cluster.client("reader", endpoints=[lead.local_addr]) as c:
        assert c.owner(RANGE) == owner
    local = lead.node.owner(RANGE)
    assert local is not None and (local.owner, local.epoch) == ("CN=node-c", 2)


def test_a_stale_epoch_is_refused(cluster: Cluster) -> None:
    with cluster.client("app") as c:
        c.propose(synod.OwnershipTransition(RANGE, "CN=node-a", 1))
        with pytest.raises(synod.RefusedError) as info:
            c.propose(synod.OwnershipTransition(RANGE, "CN=node-b", 1))
        e = info.value
        assert (e.code, e.name) == (7, "stale-epoch")
        assert e.reason == f"epoch 1 for {RANGE} is not above the current epoch 1"
        assert (e.index, e.term) == (None, None), "refused before it entered the log"
        # The facts travel over the network too.
        assert e.details == {"range": RANGE, "current": 1, "proposed": 1}
        # An epoch that skips the next one is refused with its own code.
        with pytest.raises(synod.RefusedError) as skip:
            c.propose(synod.OwnershipTransition(RANGE, "CN=node-b", 3))
        e = skip.value
        assert (e.code, e.name) == (12, "epoch-not-next")
        assert e.reason == f"epoch 3 for {RANGE} is not the next epoch 2"
        assert (e.index, e.term) == (None, None), "refused before it entered the log"
        assert e.details == {"range": RANGE, "current": 1, "proposed": 3}
        owner = c.owner(RANGE, linearizable=True)
        assert owner is not None and (owner.owner, owner.epoch) == ("CN=node-a", 1)


def test_a_refusal_at_apply_carries_its_position(cluster: Cluster) -> None:
    with cluster.client("ops") as c:
        with pytest.raises(synod.RefusedError) as info:
            c.propose(synod.BeginDrain("CN=ghost"))
    assert (info.value.code, info.value.name) == (1, "unknown-member")
    assert info.value.index is not None and info.value.term is not None


def test_identities_without_the_capability_are_unauthorized(cluster: Cluster) -> None:
    with cluster.client("reader") as c:
        assert c.identity == "CN=reader"
        c.status()  # readers may read
        with pytest.raises(synod.UnauthorizedError) as info:
            c.propose(synod.OwnershipTransition(RANGE, "CN=node-a", 1))
        assert isinstance(info.value, PermissionError)
        assert info.value.identity == "CN=reader"
    with cluster.client("app") as c:
        # A proposer may move ranges, not force them or change membership.
        with pytest.raises(synod.UnauthorizedError):
            c.propose(synod.ForcedOwnershipTransition(RANGE, "CN=node-a", "CN=app", "why"))
        with pytest.raises(synod.UnauthorizedError):
            c.transfer_leader("CN=node-a")
    with cluster.client("stranger") as c:
        with pytest.raises(synod.UnauthorizedError) as stranger:
            c.status()
        assert stranger.value.identity == "CN=stranger"
    with cluster.client("ops") as c:
        assert c.owner(RANGE, linearizable=True) is None, "nothing was proposed"


def test_a_certificate_of_another_ca_fails_fast_with_tls_error(
    cluster: Cluster, tmp_path: Path
) -> None:
    other = tmp_path / "other-ca"
    synod.write_dev_certs(other, [], ["ops"])
    client = synod.Client(
        cluster.endpoints(),
        cert=other / "ops.pem",
        key=other / "ops-key.pem",
        ca=other / "ca.pem",
        timeout=30.0,
    )
    with client as c:
        assert c.identity == "CN=ops", "the same name, from another CA"
        t0 = time.monotonic()
        with pytest.raises(synod.TlsError) as info:
            c.status()
        # A precise error after one round, not UnavailableError after the
        # 30 s timeout (still an UnavailableError and a ConnectionError).
        assert isinstance(info.value, synod.UnavailableError)
        assert isinstance(info.value, ConnectionError)
        assert "TLS" in str(info.value)
        assert time.monotonic() - t0 < 10.0, "at once, not after the timeout"
        with pytest.raises(synod.TlsError):
            c.propose(synod.OwnershipTransition(RANGE, "CN=node-a", 1))
    with cluster.client() as c:
        assert c.owner(RANGE, linearizable=True) is None


def test_a_client_of_a_follower_follows_the_leader(cluster: Cluster) -> None:
    lead = cluster.leader()
    follower = cluster.followers()[0]
    # The follower itself answers "not leader, the leader is X at A" ...
    with pytest.raises(synod.NotLeaderError) as info:
        follower.node.propose(synod.OwnershipTransition(RANGE, "CN=node-a", 1))
    assert (info.value.leader, info.value.leader_address) == (lead.id, lead.local_addr)
    # ... which a client sees only as the leader's answer.
    with cluster.client("app", endpoints=[follower.local_addr]) as c:
        status = c.status_of(follower.local_addr)
        assert status.role == "follower"
        assert (status.leader, status.leader_address) == (lead.id, lead.local_addr)
        commit = c.propose(synod.OwnershipTransition(RANGE, "CN=node-a", 1))
        assert commit.changed
    owner = lead.node.owner(RANGE)
    assert owner is not None and owner.owner == "CN=node-a"


def test_closing_the_leader_elects_another(cluster: Cluster) -> None:
    old = cluster.leader()
    with cluster.client("app", timeout=10.0) as c:
        c.propose(synod.OwnershipTransition(RANGE, "CN=node-a", 1))
        old.close()
        old.close()  # idempotent
        assert old.closed and old.node.closed
        with pytest.raises(synod.ShutdownError):
            old.node.propose(synod.OwnershipTransition(RANGE, "CN=node-a", 9))
        t0 = time.monotonic()
        commit = c.propose(synod.OwnershipTransition(RANGE, "CN=node-b", 2))
        took = time.monotonic() - t0
        assert took < 8.0, f"failover took {took:.1f} s"
        assert commit.term > 0
        new = cluster.leader()
        assert new is not old and new.id != old.id
        owner = c.owner(RANGE, linearizable=True)
        assert owner is not None and (owner.owner, owner.epoch) == ("CN=node-b", 2)
        # The closed member is gone from the network.
        with pytest.raises(synod.UnavailableError):
            c.status_of(old.local_addr, timeout=0.5)


def test_a_closed_member_raises_from_every_read(cluster: Cluster) -> None:
    member = cluster.followers()[0]
    node = member.node
    assert node.owner(RANGE) is None and len(node.members()) == 3
    member.close()
    # A stopped member never answers "no owner", no members or "unknown".
    with pytest.raises(synod.ShutdownError):
        node.owner(RANGE)
    with pytest.raises(synod.ShutdownError):
        node.members()
    with pytest.raises(synod.ShutdownError):
        node.fence_check(RANGE, "CN=node-a", 1)
    with pytest.raises(synod.ShutdownError):
        node.audit_log()
    with pytest.raises(synod.ShutdownError):
        node.is_leader
    with pytest.raises(synod.ShutdownError):
        node.current_term
    assert node.id == member.id and node.closed
    assert "stopped=True" in repr(node)


def test_transfer_leadership_and_the_audit_log(cluster: Cluster) -> None:
    target = cluster.followers()[0]
    with cluster.client("ops") as c:
        c.transfer_leader(target.id)
        eventually(
            "the transfer",
            lambda: True if c.status_of(target.local_addr).is_leader else None,
        )
        assert cluster.leader() is target
        c.propose(synod.OwnershipTransition(RANGE, "CN=node-a", 1))
        c.propose(synod.ForcedOwnershipTransition(RANGE, "CN=node-c", "CN=ops", "node-a lost"))
        (record,) = c.audit_log(linearizable=True)
        assert (record.range, record.previous_owner, record.new_owner) == (
            RANGE,
            "CN=node-a",
            "CN=node-c",
        )
        assert (record.previous_epoch, record.epoch, record.reason) == (1, 2, "node-a lost")
        with pytest.raises(synod.InvalidIdentityError):
            c.transfer_leader(" ")
    assert cluster.leader() is target


def test_metrics(cluster: Cluster) -> None:
    lead = cluster.leader()
    text = lead.metrics()
    assert "synod_term" in text and lead.id in text
    with cluster.client("reader") as c:
        assert "synod_term" in c.metrics()
    assert lead.metrics_addr is not None
    with urllib.request.urlopen(f"http://{lead.metrics_addr}/metrics", timeout=5) as r:
        assert "synod_term" in r.read().decode()


def test_with_closes(cluster: Cluster) -> None:
    with cluster.client("reader") as c:
        c.status()
        assert not c.closed
    assert c.closed
    with pytest.raises(synod.ShutdownError):
        c.status()
    c.close()  # idempotent

    member = cluster.members["node-c"]
    addr = member.local_addr
    with member as m:
        assert m is member and not m.closed
    assert member.closed and member.node.closed
    with cluster.client("reader", endpoints=[addr], timeout=0.5) as c:
        with pytest.raises(synod.UnavailableError):
            c.status()


def test_a_network_call_releases_the_gil(cluster: Cluster, tmp_path: Path) -> None:
    # A listener that takes connections and never answers: the client's
    # handshakes wait, and it retries until its timeout, the window in
    # which other threads must keep running.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    host, port = silent.getsockname()
    client = synod.Client(
        f"{host}:{port}",
        cert=cluster.certs / "ops.pem",
        key=cluster.certs / "ops-key.pem",
        ca=cluster.certs / "ca.pem",
        timeout=1.5,
    )
    window: list[float] = []

    def call() -> None:
        window.append(time.monotonic())
        try:
            client.status()
        except synod.UnavailableError:
            pass
        window.append(time.monotonic())

    ticks: list[float] = []
    worker = threading.Thread(target=call)
    worker.start()
    while worker.is_alive():
        ticks.append(time.monotonic())
        time.sleep(0.005)
    worker.join()
    start, end = window
    # It backs off between rounds and gives up when the next pause would
    # pass the deadline: well over half a second, under 1.5.
    assert end - start >= 0.5, "the call really waited"
    inside = [t for t in ticks if start + 0.1 < t < end - 0.1]
    assert len(inside) >= 5, f"only {len(inside)} ticks while the call waited: GIL held?"


def test_client_arguments_are_checked(certs: Path, tmp_path: Path) -> None:
    ca = certs / "ca.pem"
    good = {"cert": certs / "ops.pem", "key": certs / "ops-key.pem", "ca": ca}
    missing = tmp_path / "missing.pem"
    with pytest.raises(synod.InvalidArgumentError) as info:
        synod.Client("127.0.0.1:1", cert=missing, key=good["key"], ca=ca)
    assert info.value.field == "cert" and str(missing) in str(info.value)

    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key\n")
    with pytest.raises(synod.InvalidArgumentError) as info:
        synod.Client("127.0.0.1:1", cert=good["cert"], key=garbage, ca=ca)
    assert info.value.field == "key" and str(garbage) in str(info.value)
    with pytest.raises(synod.InvalidArgumentError) as info:
        synod.Client("127.0.0.1:1", cert=good["cert"], key=good["key"], ca=good["key"])
    assert info.value.field == "ca" and str(good["key"]) in str(info.value)
    # A key that is not the certificate's.
    with pytest.raises(synod.InvalidArgumentError) as info:
        synod.Client("127.0.0.1:1", cert=good["cert"], key=certs / "app-key.pem", ca=ca)
    assert str(good["cert"]) in str(info.value)

    with pytest.raises(synod.InvalidArgumentError) as info:
        synod.Client("127.0.0.1:1", cert=good["cert"], key=good["key"])
    assert info.value.field == "ca"
    with pytest.raises(synod.InvalidArgumentError):
        synod.Client("127.0.0.1:1")
    with pytest.raises(synod.InvalidArgumentError) as info:
        synod.Client("127.0.0.1:1", insecure=True, cert=good["cert"])
    assert info.value.field == "insecure"
    with pytest.raises(synod.InvalidArgumentError) as info:
        synod.Client([], insecure=True)
    assert info.value.field == "endpoints"
    with pytest.raises(synod.InvalidArgumentError):
        synod.Client(["127.0.0.1:1", ""], insecure=True)
    with pytest.raises(synod.InvalidArgumentError) as info:
        synod.Client("127.0.0.1:1", insecure=True, timeout=-1)
    assert info.value.field == "timeout"
    with pytest.raises(synod.InvalidIdentityError):
        synod.Client("127.0.0.1:1", insecure=True, identity="")
    with pytest.raises(TypeError):
        synod.Client(7, insecure=True)  # type: ignore[arg-type]

    c = synod.Client(["127.0.0.1:1", "127.0.0.1:2"], insecure=True, identity="CN=me", timeout=0.2)
    assert (c.identity, c.endpoints, c.timeout) == ("CN=me", ["127.0.0.1:1", "127.0.0.1:2"], 0.2)
    with pytest.raises(synod.InvalidArgumentError):
        c.owner("")
    with pytest.raises(synod.InvalidArgumentError):
        c.status(timeout=float("nan"))
    with pytest.raises(TypeError):
        c.propose(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(synod.UnavailableError):
        c.status()


def test_start_refuses_bad_configuration(tmp_path: Path, certs: Path) -> None:
    with pytest.raises(synod.InvalidArgumentError) as info:
        synod.RunningMember.start(tmp_path / "absent.toml")
    assert info.value.field == "config_path" and "absent.toml" in str(info.value)

    config = write_configs(tmp_path, certs)["node-a"]
    text = config.read_text()
    bad_key = tmp_path / "bad-key.pem"
    bad_key.write_text("not a key\n")
    config.write_text(text.replace(f"{certs / 'node-a'}-key.pem", str(bad_key)))
    with pytest.raises(synod.InvalidArgumentError) as info:
        synod.RunningMember.start(config)
    assert str(bad_key) in str(info.value)

    # A key that is not the certificate's: every TLS file is named.
    config.write_text(text.replace(f"{certs / 'node-a'}.pem", f"{certs / 'node-b'}.pem"))
    with pytest.raises(synod.InvalidArgumentError) as info:
        synod.RunningMember.start(config)
    assert str(certs / "node-b.pem") in str(info.value)

    # node-b's certificate and key are not node-a's identity.
    config.write_text(text.replace(str(certs / "node-a"), str(certs / "node-b")))
    with pytest.raises(synod.InvalidArgumentError, match="CN=node-b"):
        synod.RunningMember.start(config)

    config.write_text(text.replace("tick_ms = 20", "tick_ms = 20\nbogus = 1"))
    with pytest.raises(synod.InvalidArgumentError, match="bogus"):
        synod.RunningMember.start(config)


def test_write_dev_certs(tmp_path: Path) -> None:
    paths = synod.write_dev_certs(tmp_path / "c", ["n1"], clients=["cli"])
    assert [p.name for p in paths] == [
        "ca.pem",
        "ca-key.pem",
        "n1.pem",
        "n1-key.pem",
        "cli.pem",
        "cli-key.pem",
    ]
    assert all(isinstance(p, Path) and p.is_file() for p in paths)
    client = synod.Client("127.0.0.1:1", cert=paths[4], key=paths[5], ca=paths[0])
    assert client.identity == "CN=cli"

    bad_lists = [(["ca"], [], "nodes"), (["n"], ["a/b"], "clients"), (["x"], ["x"], "clients")]
    for nodes, clients, field in bad_lists:
        with pytest.raises(synod.InvalidArgumentError) as info:
            synod.write_dev_certs(tmp_path / "bad", nodes, clients)
        assert info.value.field == field
    assert not (tmp_path / "bad").exists(), "a bad list writes nothing"
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(synod.InvalidArgumentError) as info:
        synod.write_dev_certs(blocker / "sub", ["n"])
    assert info.value.field == "out_dir"


def test_reload_revocation_puts_a_deny_list_in_force_without_a_restart(cluster: Cluster) -> None:
    with cluster.client("reader", timeout=2.0) as c:
        c.status()
    originals = {n: p.read_text() for n, p in cluster.configs.items()}
    for n, path in cluster.configs.items():
        path.write_text(originals[n].replace("[cluster]", 'deny = ["CN=reader"]\n[cluster]'))
        summary = cluster.members[n].reload_revocation()
        assert (summary.denied, summary.crls) == (1, 0)
        assert repr(summary) == "RevocationSummary(denied=1, crls=0)"
    with cluster.client("reader", timeout=2.0) as c:
        with pytest.raises(synod.UnavailableError):
            c.status()
    with cluster.client("ops") as c:
        c.status()
    # A reload that cannot apply changes nothing and says why.
    member = cluster.members["node-a"]
    with pytest.raises(synod.InvalidArgumentError) as bad:
        member.reload_revocation(cluster.dir / "missing.toml")
    assert bad.value.field == "config_path"
    path = cluster.configs["node-a"]
    path.write_text(originals["node-a"].replace("[cluster]", 'deny = ["CN=node-a"]\n[cluster]'))
    with pytest.raises(synod.InvalidArgumentError, match="CN=node-a"):
        member.reload_revocation()
    # Lifted again, explicitly by path.
    for n, p in cluster.configs.items():
        p.write_text(originals[n])
        assert cluster.members[n].reload_revocation(p).denied == 0
    with cluster.client("reader", timeout=5.0) as c:
        c.status()
    member.close()
    with pytest.raises(synod.ShutdownError):
        member.reload_revocation()
