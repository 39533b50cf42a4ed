// The C++ RAII wrapper (bindings/cpp/synod.hpp): values in, values out,
// failures thrown as synod::error with status, message and refusal code.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

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

int main() {
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

    // Propose a transition and read the owner back.
    CHECK(!node.owner("r1").has_value());
    c = node.propose_transition("r1", "CN=node-b", 3);
    auto owner = node.owner("r1");
    CHECK(owner.has_value());
    CHECK(owner->owner == "CN=node-b");
    CHECK(owner->epoch == 3 && owner->index == c.index && owner->version == c.version);

    auto stale = expect_error([&] { node.propose_transition("r1", "CN=node-a", 2); },
                              SYNOD_ERR_REFUSED);
    CHECK(stale.refusal_code() == SYNOD_REFUSAL_STALE_EPOCH);
    CHECK(std::string(stale.refusal_name()) == "stale-epoch");
    CHECK(!stale.leader().has_value());
    CHECK(std::string(stale.what()) ==
          "refused: epoch 2 for r1 is not above the current epoch 3");

    CHECK(node.fence_check("r1", "CN=node-b", 3) == synod::fence::current);
    CHECK(node.fence_check("r1", "CN=node-b", 2) == synod::fence::stale);
    CHECK(node.fence_check("r1", "CN=node-b", 4) == synod::fence::unknown);
    expect_error([&] { node.fence_check("r1", "", 3); }, SYNOD_ERR_INVALID_IDENTITY);

    c = node.propose_forced_transition("r1", "CN=node-a", "CN=ops", "drill");
    CHECK(node.owner("r1")->epoch == 4);
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

    moved.shutdown();
    auto down = expect_error(
        [&] { moved.propose_admit("CN=z", synod::member_kind::witness, "h:1"); },
        SYNOD_ERR_SHUTDOWN);
    CHECK(down.refusal_code() == SYNOD_REFUSAL_NONE);
    CHECK(moved.owner("r1")->owner == "CN=node-a");

    std::printf("test_cpp_wrapper: ok\n");
    return 0;
}
