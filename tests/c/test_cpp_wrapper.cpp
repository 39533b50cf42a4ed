// The C++ RAII wrapper (bindings/cpp/synod.hpp): values in, values out,
// failures thrown as synod::error with status, message and refusal code.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdlib.h> // mkdtemp
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "synod.hpp"

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond)) {                                                             \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                         #cond);                                                   \
            std::exit(1);                                                          \
        }                                                                          \
    } while (0)

// Runs `body`, which must throw synod::error with `status`; returns it.
template <typename F> static synod::error expect_error(F body, synod_status status) {
    try {
        body();
    } catch (const synod::error &e) {
        if (e.status() != status) {
            std::fprintf(stderr, "expected %s, got %s: %s\n", synod_status_str(status),
                         e.status_name(), e.what());
            std::exit(1);
        }
        return e;
    }
    std::fprintf(stderr, "expected %s, nothing was thrown\n", synod_status_str(status));
    std::exit(1);
}

// Counts its destructions: the watch's callable is destroyed exactly once.
struct released {
    std::atomic<int> *count;
    explicit released(std::atomic<int> *c) : count(c) {}
    ~released() { count->fetch_add(1); }
};

// A started one-member cluster: leader, status, reads, views, metrics and a
// watch through the wrapper.
static void test_started_member() {
    char dir[] = "/tmp/synod-cpp-XXXXXX";
    CHECK(mkdtemp(dir) != nullptr);
    std::string config = std::string(dir) + "/node.toml";
    std::string text = "id = \"CN=cpp\"\nlisten = \"127.0.0.1:0\"\ndata_dir = \"" + std::string(dir) +
                       "/data\"\n[tls]\ninsecure = true\n[cluster]\nbootstrap = [ { id = \"CN=cpp\", "
                       "address = \"127.0.0.1:0\" } ]\n[engine]\ntick_ms = 10\n";
    std::FILE *f = std::fopen(config.c_str(), "w");
    CHECK(f != nullptr);
    CHECK(std::fputs(text.c_str(), f) >= 0);
    CHECK(std::fclose(f) == 0);
    expect_error([] { synod::node::start("/nonexistent/node.toml"); }, SYNOD_ERR_INVALID_ARGUMENT);

    auto node = synod::node::start(config);
    for (int i = 0; i < 500 && !node.is_leader(); i++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(node.is_leader());
    std::optional<synod::leader_info> leader;
    for (int i = 0; i < 500 && !leader; i++) {
        leader = node.leader();
        if (!leader) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(leader && leader->id == "CN=cpp" && leader->term >= 1);
    CHECK(leader->address && *leader->address == "127.0.0.1:0");

    // A watch with a callable, from the present on.
    std::atomic<int> destroyed{0};
    std::mutex lock;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> transitions; // (index, epoch)
    std::atomic<int> ends{0};
    auto guard = std::make_shared<released>(&destroyed);
    auto w = node.watch_from(node.commit_index() + 1, [&, guard](const synod_watch_event &e) {
        if (e.kind == SYNOD_WATCH_TRANSITION) {
            std::lock_guard<std::mutex> g(lock);
            transitions.emplace_back(e.index, e.epoch);
        }
        if (e.kind == SYNOD_WATCH_END) ends.fetch_add(1);
    });
    guard.reset();

    auto c1 = node.propose_transition("cpp-a", "CN=cpp", 1);
    auto c2 = node.propose_transition("cpp-b", "CN=cpp", 1);
    auto c3 = node.propose_forced_transition("cpp-a", "CN=cpp", "CN=ops", "drill");

    // The status is as of the driver's last turn: it catches up within one.
    auto st = node.status();
    for (int i = 0; i < 500 && st.applied_index < c3.index; i++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        st = node.status();
    }
    CHECK(st.role == synod::role::leader);
    CHECK(st.leader_id && *st.leader_id == "CN=cpp");
    CHECK(st.commit_index >= c3.index && st.applied_index >= c3.index);
    CHECK(st.peers.size() == 1 && st.peers[0].voter && st.peers[0].id == std::optional<std::string>("CN=cpp"));
    CHECK(!st.peers[0].progress);

    auto v = node.read(synod::read_level::at_least, c3.index);
    CHECK(v.applied_index() >= c3.index);
    CHECK(v.owner("cpp-a")->epoch == 2);
    CHECK(!v.owner("nothing").has_value());
    CHECK(v.fence_check("cpp-b", "CN=cpp", 1) == synod::fence::current);
    CHECK(v.members().size() == 1);
    auto all = v.ranges();
    CHECK(all.size() == 2 && all[0].id == "cpp-a" && all[1].id == "cpp-b");
    auto page = v.ranges(std::string("CN=cpp"), std::string("cpp-a"), 1);
    CHECK(page.size() == 1 && page[0].id == "cpp-b" && page[0].index == c2.index);
    auto audit = v.audit();
    CHECK(audit.size() == 1 && audit[0].index == c3.index && audit[0].previous_owner &&
          audit[0].epoch == 2 && audit[0].reason == "drill");
    CHECK(node.read(synod::read_level::local).applied_index() >= c3.index);
    CHECK(node.read(synod::read_level::linearizable).applied_index() >= c3.index);
    CHECK(node.read_index() >= c3.index);
    node.wait_applied(c3.index);
    auto late = expect_error([&] { node.read(synod::read_level::at_least, c3.index + 1000000, std::chrono::milliseconds(50)); },
                             SYNOD_ERR_TIMEOUT);
    CHECK(std::string(late.status_name()) == "SYNOD_ERR_TIMEOUT");
    expect_error([&] { node.wait_applied(c3.index + 1000000, std::chrono::milliseconds(50)); }, SYNOD_ERR_TIMEOUT);
    expect_error([&] { node.read(synod::read_level::local, 7); }, SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(node.metrics_text().find("synod_") != std::string::npos);

    for (int i = 0; i < 500; i++) {
        std::lock_guard<std::mutex> g(lock);
        if (transitions.size() >= 3) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    {
        std::lock_guard<std::mutex> g(lock);
        CHECK(transitions.size() == 3);
        CHECK(transitions[0] == std::make_pair(c1.index, std::uint64_t(1)));
        CHECK(transitions[1] == std::make_pair(c2.index, std::uint64_t(1)));
        CHECK(transitions[2] == std::make_pair(c3.index, std::uint64_t(2)));
    }
    CHECK(destroyed.load() == 0);

    // A second watch stays pending over shutdown: it ends, its callable is
    // destroyed, before shutdown returns; the first is cancelled by hand.
    std::atomic<int> destroyed2{0};
    auto guard2 = std::make_shared<released>(&destroyed2);
    std::atomic<int> ends2{0};
    auto pending = node.watch_from(1, [&ends2, guard2](const synod_watch_event &e) {
        if (e.kind == SYNOD_WATCH_END) ends2.fetch_add(1);
        throw std::runtime_error("dropped at the C boundary");
    });
    guard2.reset();
    w.cancel();
    CHECK(destroyed.load() == 1);
    w.cancel();
    node.shutdown();
    CHECK(ends2.load() == 1 && destroyed2.load() == 1);
    CHECK(ends.load() == 0);
    expect_error([&] { node.status(); }, SYNOD_ERR_SHUTDOWN);
    expect_error([&] { node.leader(); }, SYNOD_ERR_SHUTDOWN);
    expect_error([&] { node.watch_from(1, [](const synod_watch_event &) {}); }, SYNOD_ERR_SHUTDOWN);
    // The view outlives the member.
    CHECK(v.owner("cpp-b")->index == c2.index);
}

// The configuration class: fluent setters, refusals thrown with the field
// named and the configuration unchanged, a member started from it within a
// deadline, and a log handler that sees the start.
static void test_config_class() {
    std::string dir = "/tmp/synod-cpp-cfg-XXXXXX";
    CHECK(mkdtemp(&dir[0]) != nullptr);
    std::atomic<int> synod_records{0};
    synod::set_log_handler(SYNOD_LOG_INFO, [&](const synod::log_record &r) {
        if (r.target.rfind("synod", 0) == 0) synod_records++;
    });
    synod::config cfg;
    cfg.id("CN=cpp-cfg")
        .listen("127.0.0.1:0")
        .data_dir(dir + "/data")
        .insecure()
        .bootstrap_member("CN=cpp-cfg", synod::member_kind::data, "127.0.0.1:0")
        .tick(std::chrono::milliseconds(10))
        .election_ticks(20)
        .max_client_connections_per_identity(4)
        .reader("CN=reader");
    std::string before = cfg.to_toml();
    auto e = expect_error([&] { cfg.max_inbound(0); }, SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(std::string(e.what()).find("transport.max_inbound") != std::string::npos);
    e = expect_error([&] { cfg.operator_("CN=a, O=b"); }, SYNOD_ERR_INVALID_IDENTITY);
    CHECK(std::string(e.what()).find("authorization.operators") != std::string::npos);
    expect_error([&] { cfg.join("127.0.0.1:1"); }, SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(cfg.to_toml() == before);

    auto node = synod::node::start(cfg, std::chrono::seconds(20));
    bool led = false;
    for (int i = 0; i < 1000 && !led; i++) {
        led = node.is_leader();
        if (!led) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(led);
    node.shutdown();
    CHECK(synod_records.load() > 0);
    synod::set_log_handler(SYNOD_LOG_INFO, nullptr);
    int seen = synod_records.load();
    synod::config none; // incomplete: refused at the start, by field
    e = expect_error([&] { synod::node::start(none, std::chrono::seconds(1)); },
                     SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(std::string(e.what()).find("id") != std::string::npos);
    CHECK(synod_records.load() == seen);
    expect_error([&] { synod::config::from_file(dir + "/missing.toml"); },
                 SYNOD_ERR_INVALID_ARGUMENT);
}

// A one-member cluster on the host's transport: it leads on its own (no
// frame to send), names its own peer id, refuses what is not a frame from
// a member, and destroys the send callable once.
static void test_host_transport() {
    std::string dir = "/tmp/synod-cpp-host-XXXXXX";
    CHECK(mkdtemp(&dir[0]) != nullptr);
    synod::config cfg;
    cfg.id("CN=cpp-host")
        .data_dir(dir + "/data")
        .bootstrap_member("CN=cpp-host", synod::member_kind::data, "cpp-host:1")
        .tick(std::chrono::milliseconds(10));
    auto alive = std::make_shared<int>(0);
    std::weak_ptr<int> watch_alive = alive;
    {
        auto node = synod::node::start_host(
            cfg, [alive](std::uint64_t, const std::string &, const std::uint8_t *, std::size_t) {});
        alive.reset();
        CHECK(!watch_alive.expired()); // the node holds the callable
        bool led = false;
        for (int i = 0; i < 1000 && !led; i++) {
            led = node.is_leader();
            if (!led) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        CHECK(led);
        auto me = node.peer_id("CN=cpp-host");
        CHECK(me.has_value() && *me != 0);
        CHECK(!node.peer_id("CN=nobody").has_value());
        const std::uint8_t junk[] = {1, 2, 3};
        expect_error([&] { node.deliver(*me, junk, sizeof junk); }, SYNOD_ERR_INVALID_ARGUMENT);
        expect_error([&] { node.deliver(*me + 100, junk, sizeof junk); }, SYNOD_ERR_UNAUTHORIZED);
        node.propose_transition("r", "CN=cpp-host", 1);
        node.shutdown();
        CHECK(watch_alive.expired()); // released by the shutdown
    }
    // A refused start releases the callable before it throws.
    synod::config incomplete;
    auto held = std::make_shared<int>(0);
    std::weak_ptr<int> watch_held = held;
    expect_error(
        [&] {
            synod::node::start_host(incomplete, [held](std::uint64_t, const std::string &,
                                                       const std::uint8_t *, std::size_t) {});
        },
        SYNOD_ERR_INVALID_ARGUMENT);
    held.reset();
    CHECK(watch_held.expired());
}

// A free loopback port (nothing listens on it once this returns).
static int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    CHECK(getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

// synod::client against a one-member cluster (plain TCP on loopback): the
// same operations as the C client, failures thrown with their status.
static void test_client() {
    using namespace std::chrono_literals;
    char dir[] = "/tmp/synod-cpp-client-XXXXXX";
    CHECK(mkdtemp(dir) != nullptr);
    std::string addr = "127.0.0.1:" + std::to_string(free_port());
    std::string config = std::string(dir) + "/node.toml";
    std::string text = "id = \"CN=solo\"\nlisten = \"" + addr + "\"\ndata_dir = \"" +
                       std::string(dir) +
                       "/data\"\n[tls]\ninsecure = true\n[cluster]\nbootstrap = [ { id = "
                       "\"CN=solo\", address = \"" + addr +
                       "\" } ]\n[authorization]\noperators = [\"CN=ops\"]\n[engine]\ntick_ms = 10\n";
    std::FILE *f = std::fopen(config.c_str(), "w");
    CHECK(f != nullptr);
    CHECK(std::fputs(text.c_str(), f) >= 0);
    CHECK(std::fclose(f) == 0);
    auto member = synod::node::start(config);

    expect_error([] { synod::client::connect_insecure("nohost", "CN=ops", 1000ms); },
                 SYNOD_ERR_INVALID_ARGUMENT);
    expect_error([] { synod::client::connect_tls("127.0.0.1:1", "/nonexistent.pem", "k", "c",
                                                 1000ms); },
                 SYNOD_ERR_INVALID_ARGUMENT);
    {
        auto nowhere = synod::client::connect_insecure(
            "127.0.0.1:" + std::to_string(free_port()), "CN=ops", 1000ms);
        expect_error([&] { nowhere.status(); }, SYNOD_ERR_UNREACHABLE);
    }

    auto c = synod::client::connect_insecure(addr, "CN=ops", 10000ms);
    std::optional<synod::leader_info> leader;
    for (int i = 0; i < 500 && !leader; ++i) {
        leader = c.leader();
        if (!leader) std::this_thread::sleep_for(10ms);
    }
    CHECK(leader && leader->id == "CN=solo" && leader->address == addr);
    auto st = c.status();
    CHECK(st.id == "CN=solo" && st.role == synod::role::leader && st.term >= 1);

    // The watch starts in the past: each range arrives as a snapshot row (a
    // member that no longer has those events) or as a transition, once.
    std::mutex lock;
    std::vector<std::string> seen;
    std::uint64_t snapshot_at = 0, last_index = 0;
    bool ordered = true;
    std::atomic<int> released_count{0};
    auto guard = std::make_shared<released>(&released_count);
    auto w = c.watch_from(1, [&, guard](const synod_watch_event &e) {
        std::lock_guard<std::mutex> g(lock);
        if (e.kind == SYNOD_WATCH_SNAPSHOT_BEGIN) {
            seen.clear();
            snapshot_at = e.index;
        } else if (e.kind == SYNOD_WATCH_SNAPSHOT_RANGE) {
            seen.push_back(e.range);
        } else if (e.kind == SYNOD_WATCH_TRANSITION && e.outcome == SYNOD_OUTCOME_APPLIED) {
            ordered = ordered && e.index > snapshot_at && e.index > last_index;
            last_index = e.index;
            seen.push_back(e.range);
        }
    });
    guard.reset();

    auto c1 = c.propose_transition("r1", "CN=solo", 1);
    CHECK(c1.changed);
    auto refused = expect_error([&] { c.propose_transition("r1", "CN=solo", 1); },
                                SYNOD_ERR_REFUSED);
    CHECK(refused.refusal_code() == SYNOD_REFUSAL_STALE_EPOCH);
    auto c2 = c.propose_forced_transition("r2", "CN=solo", "CN=ops", "drill");
    c.propose_admit("CN=spare", synod::member_kind::witness, "127.0.0.1:1");
    c.propose_begin_drain("CN=spare");
    c.propose_remove("CN=spare");
    auto batch = c.propose_transitions({{"b1", "CN=solo", 1}, {"r1", "CN=solo", 1}});
    CHECK(batch.size() == 2 && batch[0].status == SYNOD_OK);
    CHECK(batch[1].status == SYNOD_ERR_REFUSED && batch[1].refusal == SYNOD_REFUSAL_STALE_EPOCH);

    auto owner = c.owner("r1", synod::read_level::at_least, c2.index);
    CHECK(owner && owner->value.owner == "CN=solo" && owner->value.epoch == 1);
    CHECK(owner->index >= c2.index && owner->term >= 1);
    CHECK(!c.owner("nobody", synod::read_level::linearizable));
    auto fence = c.fence_check("r1", "CN=solo", 1, synod::read_level::linearizable);
    CHECK(fence.value == synod::fence::current && fence.index >= c2.index);
    CHECK(c.fence_check("r1", "CN=solo", 0, synod::read_level::local).value ==
          synod::fence::stale);
    auto members = c.members(synod::read_level::linearizable);
    CHECK(members.value.size() == 1 && members.value[0].id == "CN=solo");
    auto ranges = c.ranges(synod::read_level::linearizable);
    CHECK(ranges.size() == 3 && ranges[0].id == "b1");
    CHECK(c.ranges(synod::read_level::local, std::string("CN=other")).empty());
    expect_error([&] { c.ranges(synod::read_level::at_least); }, SYNOD_ERR_INVALID_ARGUMENT);
    auto audit = c.audit(synod::read_level::linearizable);
    CHECK(audit.size() == 1 && audit[0].range == "r2" && audit[0].reason == "drill");
    CHECK(c.metrics_text().find("synod_") != std::string::npos);
    expect_error([&] { c.transfer_leader(""); }, SYNOD_ERR_INVALID_IDENTITY);

    for (int i = 0; i < 500; ++i) {
        {
            std::lock_guard<std::mutex> g(lock);
            if (seen.size() >= 3) break;
        }
        std::this_thread::sleep_for(10ms);
    }
    w.cancel();
    CHECK(released_count.load() == 1);
    {
        std::lock_guard<std::mutex> g(lock);
        std::sort(seen.begin(), seen.end());
        CHECK((seen == std::vector<std::string>{"b1", "r1", "r2"}));
        CHECK(ordered);
    }
    member.shutdown();
}


int main() {
    test_config_class();
    test_host_transport();
    test_client();
    test_started_member();
    CHECK(synod::version() == synod_version_string());

    auto id = synod::identity::parse("  CN=node-a ");
    CHECK(id.str() == "CN=node-a");
    auto bad = expect_error([] { synod::identity::parse(" "); }, SYNOD_ERR_INVALID_IDENTITY);
    CHECK(std::string(bad.what()) == "subject: identity is empty");
    expect_error([] { synod::identity::parse(std::string("CN=a\0b", 6)); },
                 SYNOD_ERR_INVALID_ARGUMENT);

    auto node = synod::node::open_single("CN=node-a", "127.0.0.1:7000");
    CHECK(node.id() == "CN=node-a");
    CHECK(node.is_leader());
    CHECK(node.current_term() == 1);
    CHECK(node.commit_index() == 1);

    auto c = node.propose_admit("CN=node-b", synod::member_kind::data, "127.0.0.1:7001");
    CHECK(c.index == 2 && c.changed);

    // Propose a transition and read the owner back. A fresh range is at
    // epoch 0, so its first transition is epoch 1.
    CHECK(!node.owner("r1").has_value());
    c = node.propose_transition("r1", "CN=node-b", 1);
    auto owner = node.owner("r1");
    CHECK(owner.has_value());
    CHECK(owner->owner == "CN=node-b");
    CHECK(owner->epoch == 1 && owner->index == c.index && owner->version == c.version);

    // Skipping an epoch is refused with its own code.
    auto skip = expect_error([&] { node.propose_transition("r1", "CN=node-b", 3); },
                             SYNOD_ERR_REFUSED);
    CHECK(skip.refusal_code() == SYNOD_REFUSAL_EPOCH_NOT_NEXT);
    CHECK(std::string(skip.refusal_name()) == "epoch-not-next");
    CHECK(!skip.leader().has_value());
    CHECK(std::string(skip.what()) == "refused: epoch 3 for r1 is not the next epoch 2");

    // The next epoch moves the range on.
    c = node.propose_transition("r1", "CN=node-b", 2);
    owner = node.owner("r1");
    CHECK(owner.has_value());
    CHECK(owner->epoch == 2 && owner->index == c.index && owner->version == c.version);

    auto stale = expect_error([&] { node.propose_transition("r1", "CN=node-a", 1); },
                              SYNOD_ERR_REFUSED);
    CHECK(stale.refusal_code() == SYNOD_REFUSAL_STALE_EPOCH);
    CHECK(std::string(stale.refusal_name()) == "stale-epoch");
    CHECK(!stale.leader().has_value());
    CHECK(std::string(stale.what()) ==
          "refused: epoch 1 for r1 is not above the current epoch 2");

    CHECK(node.fence_check("r1", "CN=node-b", 2) == synod::fence::current);
    CHECK(node.fence_check("r1", "CN=node-b", 1) == synod::fence::stale);
    CHECK(node.fence_check("r1", "CN=node-b", 3) == synod::fence::unknown);
    expect_error([&] { node.fence_check("r1", "", 2); }, SYNOD_ERR_INVALID_IDENTITY);

    c = node.propose_forced_transition("r1", "CN=node-a", "CN=ops", "drill");
    CHECK(node.owner("r1")->epoch == 3);
    node.propose_begin_drain("CN=node-b");
    auto members = node.members();
    CHECK(members.size() == 2);
    CHECK(members[1].id == "CN=node-b" && members[1].draining);
    CHECK(members[0].kind == synod::member_kind::data && !members[0].draining);
    node.propose_remove("CN=node-b");
    CHECK(node.members().size() == 1);

    // Moving transfers the handle; the moved-from node holds nothing.
    synod::node moved = std::move(node);
    CHECK(moved.get() != nullptr);
    CHECK(node.get() == nullptr); // NOLINT(bugprone-use-after-move)
    expect_error([&] { node.commit_index(); }, SYNOD_ERR_NULL_ARGUMENT);

    // A single-node engine has no revocation lists to reload, and no read
    // levels, status or watches.
    expect_error([&] { moved.reload_revocation("/nonexistent/node.toml"); }, SYNOD_ERR_INVALID_ARGUMENT);
    expect_error([&] { moved.read(synod::read_level::local); }, SYNOD_ERR_INVALID_ARGUMENT);
    expect_error([&] { moved.status(); }, SYNOD_ERR_INVALID_ARGUMENT);
    expect_error([&] { moved.watch_from(1, [](const synod_watch_event &) {}); }, SYNOD_ERR_INVALID_ARGUMENT);

    moved.shutdown();
    auto down = expect_error(
        [&] { moved.propose_admit("CN=z", synod::member_kind::witness, "h:1"); },
        SYNOD_ERR_SHUTDOWN);
    CHECK(down.refusal_code() == SYNOD_REFUSAL_NONE);
    CHECK(moved.owner("r1")->owner == "CN=node-a");

    std::printf("test_cpp_wrapper: ok\n");
    return 0;
}
