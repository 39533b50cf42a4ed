/* The single-node engine through the C ABI: open, admit, propose a
 * transition and read the owner back, refusals with their codes, fencing,
 * out-params untouched on failure, NULL arguments, shutdown. */
#include <pthread.h>
#include <stdint.h>

#include "check.h"

#define T 1000 /* timeout_ms */
#define RANGE "users:[0,1000)"

static const synod_commit UNTOUCHED = {111, 222, 333, true};

static int commit_untouched(const synod_commit *c)
{
    return c->index == UNTOUCHED.index && c->term == UNTOUCHED.term &&
           c->version == UNTOUCHED.version && c->changed == UNTOUCHED.changed;
}

static uint64_t commit_index(const synod_node *node)
{
    uint64_t index = 0;
    CHECK_OK(synod_node_commit_index(node, &index));
    return index;
}

static synod_node *open_node(void)
{
    synod_node *node = NULL;
    synod_node *sentinel = (synod_node *)&node;
    bool leader = false;
    uint64_t term = 0;

    /* Failures leave *out untouched. */
    node = sentinel;
    CHECK_STATUS(synod_node_open_single(NULL, "127.0.0.1:7000", &node), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_open_single("CN=node-a", NULL, &node), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_open_single("CN=node-a", "127.0.0.1:7000", NULL),
                 SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_open_single("  ", "127.0.0.1:7000", &node),
                 SYNOD_ERR_INVALID_IDENTITY);
    CHECK_STATUS(synod_node_open_single("CN=node-a", "", &node), SYNOD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(synod_node_open_single("CN=\xc3", "127.0.0.1:7000", &node),
                 SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(node == sentinel);

    node = NULL;
    CHECK_OK(synod_node_open_single(" CN=node-a ", "127.0.0.1:7000", &node));
    CHECK(node != NULL);
    CHECK_STR(synod_node_id(node), "CN=node-a");
    CHECK_OK(synod_node_is_leader(node, &leader));
    CHECK(leader);
    CHECK_OK(synod_node_current_term(node, &term));
    CHECK(term == 1);
    /* The election itself is the first committed entry. */
    CHECK(commit_index(node) == 1);
    return node;
}

static void test_members(const synod_node *node)
{
    synod_member_list *list = NULL;
    CHECK_OK(synod_node_members(node, &list));
    CHECK(synod_member_list_len(list) == 3);
    CHECK_STR(synod_member_list_id(list, 0), "CN=node-a");
    CHECK_STR(synod_member_list_address(list, 0), "127.0.0.1:7000");
    CHECK(synod_member_list_kind(list, 0) == SYNOD_MEMBER_KIND_DATA);
    CHECK(synod_member_list_state(list, 0) == SYNOD_MEMBER_STATE_ACTIVE);
    CHECK_STR(synod_member_list_id(list, 1), "CN=node-b");
    CHECK_STR(synod_member_list_address(list, 1), "127.0.0.1:7001");
    CHECK_STR(synod_member_list_id(list, 2), "CN=witness");
    CHECK(synod_member_list_kind(list, 2) == SYNOD_MEMBER_KIND_WITNESS);
    /* Out of range and NULL give NULL / 0. */
    CHECK(synod_member_list_id(list, 3) == NULL);
    CHECK(synod_member_list_address(list, 3) == NULL);
    CHECK(synod_member_list_kind(list, 3) == 0);
    CHECK(synod_member_list_state(list, (size_t)-1) == 0);
    CHECK(synod_member_list_len(NULL) == 0);
    CHECK(synod_member_list_id(NULL, 0) == NULL);
    synod_member_list_free(list);
}

static void test_admit(const synod_node *node)
{
    synod_commit c = UNTOUCHED;
    uint64_t index = 0, term = 0;

    CHECK_OK(synod_node_propose_admit(node, "CN=node-b", SYNOD_MEMBER_KIND_DATA,
                                      "127.0.0.1:7001", T, &c));
    CHECK(c.index == 2 && c.term == 1 && c.version == 2 && c.changed);

    /* The same admission again commits, and changes nothing. */
    CHECK_OK(synod_node_propose_admit(node, "CN=node-b", SYNOD_MEMBER_KIND_DATA,
                                      "127.0.0.1:7001", T, &c));
    CHECK(c.index == 3 && c.version == 2 && !c.changed);

    /* Bad enum values are refused before anything is proposed. */
    c = UNTOUCHED;
    CHECK_STATUS(synod_node_propose_admit(node, "CN=x", 0, "h:1", T, &c),
                 SYNOD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(synod_node_propose_admit(node, "CN=x", 7, "h:1", T, &c),
                 SYNOD_ERR_INVALID_ARGUMENT);
    CHECK_STR(last_message(), "kind 7 is not a synod_member_kind");
    CHECK(commit_untouched(&c));
    CHECK(commit_index(node) == 3);

    /* Another address for an admitted member: refused at apply time, so the
     * refused entry has a log position. */
    CHECK_STATUS(synod_node_propose_admit(node, "CN=node-b", SYNOD_MEMBER_KIND_DATA,
                                          "127.0.0.1:9999", T, &c),
                 SYNOD_ERR_REFUSED);
    CHECK(commit_untouched(&c));
    CHECK(synod_last_refusal_code() == SYNOD_REFUSAL_MEMBER_CONFLICT);
    CHECK_STR(last_message(), "refused: CN=node-b is already admitted as data at 127.0.0.1:7001");
    CHECK_OK(synod_last_refusal_position(&index, &term));
    CHECK(index == 4 && term == 1);
    CHECK(commit_index(node) == 4);

    CHECK_OK(synod_node_propose_admit(node, "CN=witness", SYNOD_MEMBER_KIND_WITNESS,
                                      "127.0.0.1:7002", T, &c));
    CHECK(c.changed);
}

static void test_transition_and_owner(const synod_node *node)
{
    synod_commit c = UNTOUCHED;
    synod_commit stale = UNTOUCHED;
    synod_ownership *own = NULL;
    synod_ownership *sentinel = (synod_ownership *)&own;
    uint64_t index = 5, term = 6;
    uint64_t before;

    /* No owner yet. */
    own = sentinel;
    CHECK_STATUS(synod_node_owner(node, RANGE, &own), SYNOD_ERR_NOT_FOUND);
    CHECK(own == sentinel);
    CHECK_STR(last_message(), "range users:[0,1000) has no owner");

    CHECK_OK(synod_node_propose_transition(node, RANGE, "CN=node-b", 7, T, &c));
    CHECK(c.changed && c.term == 1);

    own = NULL;
    CHECK_OK(synod_node_owner(node, RANGE, &own));
    CHECK_STR(synod_ownership_owner(own), "CN=node-b");
    CHECK(synod_ownership_epoch(own) == 7);
    CHECK(synod_ownership_index(own) == c.index);
    CHECK(synod_ownership_term(own) == c.term);
    CHECK(synod_ownership_version(own) == c.version);
    synod_ownership_free(own);

    /* A stale epoch is refused before the log, with its refusal code. */
    before = commit_index(node);
    CHECK_STATUS(synod_node_propose_transition(node, RANGE, "CN=node-a", 7, T, &stale),
                 SYNOD_ERR_REFUSED);
    CHECK(commit_untouched(&stale));
    CHECK(synod_last_refusal_code() == SYNOD_REFUSAL_STALE_EPOCH);
    CHECK_STR(synod_refusal_str(synod_last_refusal_code()), "stale-epoch");
    CHECK_STR(last_message(), "refused: epoch 7 for users:[0,1000) is not above the current epoch 7");
    CHECK_STATUS(synod_last_refusal_position(&index, &term), SYNOD_ERR_NOT_FOUND);
    CHECK(index == 5 && term == 6);
    CHECK(commit_index(node) == before);
    CHECK_STATUS(synod_node_propose_transition(node, RANGE, "CN=node-a", 3, T, &stale),
                 SYNOD_ERR_REFUSED);
    CHECK(synod_last_refusal_code() == SYNOD_REFUSAL_STALE_EPOCH);

    /* A witness never owns a range. */
    CHECK_STATUS(synod_node_propose_transition(node, "r2", "CN=witness", 1, T, &stale),
                 SYNOD_ERR_REFUSED);
    CHECK(synod_last_refusal_code() == SYNOD_REFUSAL_WITNESS_CANNOT_OWN);
    /* Nor does a stranger. */
    CHECK_STATUS(synod_node_propose_transition(node, "r2", "CN=ghost", 1, T, &stale),
                 SYNOD_ERR_REFUSED);
    CHECK(synod_last_refusal_code() == SYNOD_REFUSAL_UNKNOWN_MEMBER);
    CHECK(commit_untouched(&stale));

    /* Invalid arguments. */
    CHECK_STATUS(synod_node_propose_transition(node, "", "CN=node-b", 9, T, &stale),
                 SYNOD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(synod_node_propose_transition(node, RANGE, "", 9, T, &stale),
                 SYNOD_ERR_INVALID_IDENTITY);
    CHECK_STATUS(synod_node_propose_transition(node, "r\x1b", "CN=node-b", 9, T, &stale),
                 SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(commit_untouched(&stale));
    CHECK_STATUS(synod_node_owner(node, "", &own), SYNOD_ERR_INVALID_ARGUMENT);
}

static void test_fence(const synod_node *node)
{
    synod_fence_status f = 0;
    CHECK_OK(synod_node_fence_check(node, RANGE, "CN=node-b", 7, &f));
    CHECK(f == SYNOD_FENCE_CURRENT);
    CHECK_OK(synod_node_fence_check(node, RANGE, "CN=node-b", 6, &f));
    CHECK(f == SYNOD_FENCE_STALE);
    CHECK_OK(synod_node_fence_check(node, RANGE, "CN=node-a", 7, &f));
    CHECK(f == SYNOD_FENCE_STALE);
    CHECK_OK(synod_node_fence_check(node, RANGE, "CN=node-b", 8, &f));
    CHECK(f == SYNOD_FENCE_UNKNOWN);
    CHECK_OK(synod_node_fence_check(node, "never-assigned", "CN=node-b", 1, &f));
    CHECK(f == SYNOD_FENCE_UNKNOWN);

    /* Failures leave *out untouched. */
    f = 0xdead;
    CHECK_STATUS(synod_node_fence_check(node, RANGE, "", 7, &f), SYNOD_ERR_INVALID_IDENTITY);
    CHECK_STATUS(synod_node_fence_check(node, "", "CN=node-b", 7, &f),
                 SYNOD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(synod_node_fence_check(NULL, RANGE, "CN=node-b", 7, &f),
                 SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_fence_check(node, NULL, "CN=node-b", 7, &f),
                 SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_fence_check(node, RANGE, NULL, 7, &f), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_fence_check(node, RANGE, "CN=node-b", 7, NULL),
                 SYNOD_ERR_NULL_ARGUMENT);
    CHECK(f == 0xdead);
}

static void test_forced_drain_remove(const synod_node *node)
{
    synod_commit c = UNTOUCHED;
    synod_ownership *own = NULL;
    synod_member_list *list = NULL;

    CHECK_STATUS(synod_node_propose_forced_transition(node, RANGE, "CN=node-a", "CN=ops", "   ",
                                                      T, &c),
                 SYNOD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(synod_node_propose_forced_transition(node, RANGE, "CN=node-a", "", "why", T, &c),
                 SYNOD_ERR_INVALID_IDENTITY);
    CHECK(commit_untouched(&c));
    CHECK_OK(synod_node_propose_forced_transition(node, RANGE, "CN=node-a", "CN=ops",
                                                  "node-b lost its disk", T, &c));
    CHECK(c.changed);
    CHECK_OK(synod_node_owner(node, RANGE, &own));
    CHECK_STR(synod_ownership_owner(own), "CN=node-a");
    CHECK(synod_ownership_epoch(own) == 8);
    synod_ownership_free(own);

    CHECK_OK(synod_node_propose_begin_drain(node, "CN=node-b", T, &c));
    CHECK(c.changed);
    CHECK_OK(synod_node_members(node, &list));
    CHECK_STR(synod_member_list_id(list, 1), "CN=node-b");
    CHECK(synod_member_list_state(list, 1) == SYNOD_MEMBER_STATE_DRAINING);
    synod_member_list_free(list);

    c = UNTOUCHED;
    CHECK_STATUS(synod_node_propose_transition(node, RANGE, "CN=node-b", 100, T, &c),
                 SYNOD_ERR_REFUSED);
    CHECK(synod_last_refusal_code() == SYNOD_REFUSAL_MEMBER_DRAINING);
    CHECK_STATUS(synod_node_propose_remove(node, "CN=node-a", T, &c), SYNOD_ERR_REFUSED);
    CHECK(synod_last_refusal_code() == SYNOD_REFUSAL_MEMBER_OWNS_RANGES);
    CHECK(commit_untouched(&c));
    CHECK_OK(synod_node_propose_remove(node, "CN=node-b", T, &c));
    CHECK(c.changed);

    /* A refusal naming a non-ASCII identity: truncation stops on a UTF-8
     * character boundary. "refused: CN=" is 12 bytes, then U+00E9 takes 2. */
    CHECK_STATUS(synod_node_propose_begin_drain(node, "CN=\xc3\xa9", T, &c), SYNOD_ERR_REFUSED);
    CHECK(synod_last_refusal_code() == SYNOD_REFUSAL_UNKNOWN_MEMBER);
    {
        char buf[32];
        size_t n = 0;
        CHECK_STATUS(synod_last_error_message(buf, 14, &n), SYNOD_ERR_BUFFER_TOO_SMALL);
        CHECK_STR(buf, "refused: CN=");
        CHECK_STATUS(synod_last_error_message(buf, 15, &n), SYNOD_ERR_BUFFER_TOO_SMALL);
        CHECK_STR(buf, "refused: CN=\xc3\xa9");
        CHECK(n == strlen("refused: CN=\xc3\xa9 is not an admitted member"));
    }
}

static void test_null_node_arguments(const synod_node *node)
{
    synod_commit c = UNTOUCHED;
    synod_ownership *own = NULL;
    synod_member_list *list = NULL;
    uint64_t u = 42;
    bool b = true;
    const char *r = RANGE;

    CHECK(synod_node_id(NULL) == NULL);
    CHECK_STATUS(synod_node_is_leader(NULL, &b), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_is_leader(node, NULL), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_current_term(NULL, &u), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_current_term(node, NULL), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_commit_index(NULL, &u), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_commit_index(node, NULL), SYNOD_ERR_NULL_ARGUMENT);
    CHECK(u == 42 && b);

    CHECK_STATUS(synod_node_propose_admit(NULL, "CN=x", SYNOD_MEMBER_KIND_DATA, "h:1", T, &c),
                 SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STR(last_message(), "node is NULL");
    CHECK_STATUS(synod_node_propose_admit(node, NULL, SYNOD_MEMBER_KIND_DATA, "h:1", T, &c),
                 SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STR(last_message(), "member is NULL");
    CHECK_STATUS(synod_node_propose_admit(node, "CN=x", SYNOD_MEMBER_KIND_DATA, NULL, T, &c),
                 SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_propose_admit(node, "CN=x", SYNOD_MEMBER_KIND_DATA, "h:1", T, NULL),
                 SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_propose_begin_drain(NULL, "CN=x", T, &c), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_propose_begin_drain(node, NULL, T, &c), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_propose_begin_drain(node, "CN=x", T, NULL), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_propose_remove(NULL, "CN=x", T, &c), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_propose_remove(node, NULL, T, &c), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_propose_remove(node, "CN=x", T, NULL), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_propose_transition(NULL, r, "CN=node-a", 99, T, &c),
                 SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_propose_transition(node, NULL, "CN=node-a", 99, T, &c),
                 SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_propose_transition(node, r, NULL, 99, T, &c),
                 SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_propose_transition(node, r, "CN=node-a", 99, T, NULL),
                 SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_propose_forced_transition(NULL, r, "CN=node-a", "CN=o", "x", T, &c),
                 SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_propose_forced_transition(node, NULL, "CN=node-a", "CN=o", "x", T, &c),
                 SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_propose_forced_transition(node, r, NULL, "CN=o", "x", T, &c),
                 SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_propose_forced_transition(node, r, "CN=node-a", NULL, "x", T, &c),
                 SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_propose_forced_transition(node, r, "CN=node-a", "CN=o", NULL, T, &c),
                 SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_propose_forced_transition(node, r, "CN=node-a", "CN=o", "x", T, NULL),
                 SYNOD_ERR_NULL_ARGUMENT);
    CHECK(commit_untouched(&c));

    CHECK_STATUS(synod_node_owner(NULL, r, &own), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_owner(node, NULL, &own), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_owner(node, r, NULL), SYNOD_ERR_NULL_ARGUMENT);
    CHECK(own == NULL);
    CHECK(synod_ownership_owner(NULL) == NULL);
    CHECK(synod_ownership_epoch(NULL) == 0);
    CHECK(synod_ownership_version(NULL) == 0);
    CHECK(synod_ownership_term(NULL) == 0);
    CHECK(synod_ownership_index(NULL) == 0);
    CHECK_STATUS(synod_node_members(NULL, &list), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_members(node, NULL), SYNOD_ERR_NULL_ARGUMENT);
    CHECK(list == NULL);
    CHECK_STATUS(synod_node_shutdown(NULL), SYNOD_ERR_NULL_ARGUMENT);
}

/* The header promises a synod_node may be used from many threads at once. */
#define THREADS 4
#define ROUNDS 50

struct worker {
    const synod_node *node;
    char range[16];
    int failures;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    uint64_t epoch;
    for (epoch = 1; epoch <= ROUNDS; epoch++) {
        synod_commit c;
        synod_fence_status f = 0;
        if (synod_node_propose_transition(w->node, w->range, "CN=node-a", epoch, T, &c) !=
            SYNOD_OK) {
            w->failures++;
        }
        if (synod_node_fence_check(w->node, w->range, "CN=node-a", epoch, &f) != SYNOD_OK ||
            f != SYNOD_FENCE_CURRENT) {
            w->failures++;
        }
    }
    /* A failure on this thread does not disturb the others' last errors. */
    if (synod_node_propose_transition(w->node, w->range, "CN=node-a", 1, T, NULL) !=
            SYNOD_ERR_NULL_ARGUMENT ||
        synod_last_error_status() != SYNOD_ERR_NULL_ARGUMENT) {
        w->failures++;
    }
    return NULL;
}

static void test_concurrent_use(const synod_node *node)
{
    pthread_t threads[THREADS];
    struct worker workers[THREADS];
    uint64_t before = commit_index(node);
    int i;
    for (i = 0; i < THREADS; i++) {
        workers[i].node = node;
        snprintf(workers[i].range, sizeof workers[i].range, "par-%d", i);
        workers[i].failures = 0;
        CHECK(pthread_create(&threads[i], NULL, work, &workers[i]) == 0);
    }
    for (i = 0; i < THREADS; i++) {
        synod_ownership *own = NULL;
        CHECK(pthread_join(threads[i], NULL) == 0);
        CHECK(workers[i].failures == 0);
        CHECK_OK(synod_node_owner(node, workers[i].range, &own));
        CHECK(synod_ownership_epoch(own) == ROUNDS);
        synod_ownership_free(own);
    }
    CHECK(commit_index(node) == before + THREADS * ROUNDS);
}

static void test_shutdown(synod_node *node)
{
    synod_commit c = UNTOUCHED;
    synod_ownership *own = NULL;
    synod_leader_hint *hint = NULL;

    CHECK_OK(synod_node_shutdown(node));
    CHECK_STATUS(synod_node_propose_transition(node, RANGE, "CN=node-a", 50, T, &c),
                 SYNOD_ERR_SHUTDOWN);
    CHECK_STR(last_message(), "the member is shut down");
    CHECK(synod_last_refusal_code() == SYNOD_REFUSAL_NONE);
    CHECK_STATUS(synod_last_leader_hint(&hint), SYNOD_ERR_NOT_FOUND);
    CHECK_STATUS(synod_node_propose_admit(node, "CN=z", SYNOD_MEMBER_KIND_DATA, "h:1", T, &c),
                 SYNOD_ERR_SHUTDOWN);
    CHECK(commit_untouched(&c));
    /* Shutting down twice is fine; reads keep working. */
    CHECK_OK(synod_node_shutdown(node));
    CHECK_OK(synod_node_owner(node, RANGE, &own));
    CHECK_STR(synod_ownership_owner(own), "CN=node-a");
    synod_node_free(node);
    /* The snapshot outlives the node it came from. */
    CHECK(synod_ownership_epoch(own) == 8);
    synod_ownership_free(own);
}

int main(void)
{
    synod_node *node = open_node();
    test_admit(node);
    test_members(node);
    test_transition_and_owner(node);
    test_fence(node);
    test_forced_drain_remove(node);
    test_null_node_arguments(node);
    test_concurrent_use(node);
    test_shutdown(node);
    printf("test_node: ok\n");
    return 0;
}
