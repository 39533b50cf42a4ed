/* Every entry kind through synod_entry, blocking and with a callback, and
 * exactly-once sessions: a retry with the same client id and sequence
 * number answers the first outcome and takes effect once; argument errors
 * leave *out untouched and free the user data at once. */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "synod.h"

#define T 1000 /* timeout_ms */

static const synod_commit UNTOUCHED = {111, 222, 333, true};

static bool untouched(const synod_commit *c) {
    return c->index == UNTOUCHED.index && c->term == UNTOUCHED.term && c->version == UNTOUCHED.version;
}

static synod_entry admit(const char *member, const char *address) {
    synod_entry e;
    memset(&e, 0, sizeof e);
    e.kind = SYNOD_ENTRY_ADMIT;
    e.member = member;
    e.member_kind = SYNOD_MEMBER_KIND_DATA;
    e.address = address;
    return e;
}

static synod_entry transition(const char *range, const char *owner, uint64_t epoch) {
    synod_entry e;
    memset(&e, 0, sizeof e);
    e.kind = SYNOD_ENTRY_TRANSITION;
    e.range = range;
    e.new_owner = owner;
    e.epoch = epoch;
    return e;
}

static uint64_t epoch_of(const synod_node *n, const char *range) {
    synod_ownership *o = NULL;
    CHECK_OK(synod_node_owner(n, range, &o));
    uint64_t epoch = synod_ownership_epoch(o);
    synod_ownership_free(o);
    return epoch;
}

/* Each kind, blocking. */
static void test_every_kind(synod_node *n) {
    synod_commit c = UNTOUCHED;
    synod_entry e = admit("CN=node-b", "127.0.0.1:7001");
    CHECK_OK(synod_node_submit(n, &e, NULL, T, &c));
    CHECK(c.changed && c.index >= 2);

    e = transition("r1", "CN=node-b", 1);
    CHECK_OK(synod_node_submit(n, &e, NULL, T, &c));
    CHECK(epoch_of(n, "r1") == 1);

    memset(&e, 0, sizeof e);
    e.kind = SYNOD_ENTRY_FORCED_TRANSITION;
    e.range = "r1";
    e.new_owner = "CN=node-a";
    e.operator_id = "CN=ops";
    e.reason = "drill";
    CHECK_OK(synod_node_submit(n, &e, NULL, T, &c));
    CHECK(epoch_of(n, "r1") == 2);

    memset(&e, 0, sizeof e);
    e.kind = SYNOD_ENTRY_BEGIN_DRAIN;
    e.member = "CN=node-b";
    CHECK_OK(synod_node_submit(n, &e, NULL, T, &c));
    e.kind = SYNOD_ENTRY_REMOVE;
    CHECK_OK(synod_node_submit(n, &e, NULL, T, &c));

    /* A refusal: the stale epoch, *out untouched. */
    c = UNTOUCHED;
    e = transition("r1", "CN=node-a", 1);
    CHECK_STATUS(synod_node_submit(n, &e, NULL, T, &c), SYNOD_ERR_REFUSED);
    CHECK(synod_last_refusal_code() == SYNOD_REFUSAL_STALE_EPOCH);
    CHECK(untouched(&c));
}

/* A retry in the same session answers the first outcome, once. */
static void test_sessions(synod_node *n) {
    synod_session s;
    memset(&s, 0, sizeof s);
    CHECK_OK(synod_session_new(&s));
    CHECK(s.seq == 0 && (s.client_hi != 0 || s.client_lo != 0));
    synod_session other;
    CHECK_OK(synod_session_new(&other));
    CHECK(other.client_hi != s.client_hi || other.client_lo != s.client_lo);

    synod_commit first = UNTOUCHED, again = UNTOUCHED;
    synod_entry e = transition("r2", "CN=node-a", 1);
    /* Sequence numbers start at 1. */
    CHECK_STATUS(synod_node_submit(n, &e, &s, T, &first), SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(untouched(&first));
    s.seq = 1;
    CHECK_OK(synod_node_submit(n, &e, &s, T, &first));
    CHECK(epoch_of(n, "r2") == 1);
    /* The same proposal again (a retry after an unknown outcome): the first
     * commit, not a stale-epoch refusal, and the epoch stays. */
    CHECK_OK(synod_node_submit(n, &e, &s, T, &again));
    CHECK(again.index == first.index && again.term == first.term);
    CHECK(epoch_of(n, "r2") == 1);
    /* The next sequence number is a new proposal. */
    s.seq = 2;
    e = transition("r2", "CN=node-a", 2);
    CHECK_OK(synod_node_submit(n, &e, &s, T, &again));
    CHECK(again.index > first.index && epoch_of(n, "r2") == 2);
    /* Without a session the same entry is a new proposal: refused stale. */
    CHECK_STATUS(synod_node_submit(n, &e, NULL, T, &again), SYNOD_ERR_REFUSED);
}

typedef struct {
    atomic_int called;
    atomic_int freed;
    atomic_int status;
    synod_commit commit;
} answer;

static void on_answer(void *user_data, synod_status status, const synod_commit *commit) {
    answer *a = user_data;
    if (status == SYNOD_OK) {
        CHECK(commit != NULL);
        a->commit = *commit;
    } else {
        CHECK(commit == NULL);
    }
    atomic_store(&a->status, (int)status);
    atomic_fetch_add(&a->called, 1);
}

static void on_free(void *user_data) {
    answer *a = user_data;
    CHECK(atomic_load(&a->called) <= 1);
    atomic_fetch_add(&a->freed, 1);
}

static void wait_freed(answer *a) {
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 5000 && atomic_load(&a->freed) == 0; i++) nanosleep(&ms, NULL);
    CHECK(atomic_load(&a->freed) == 1);
}

/* With a callback: once, then the free function once; a session retry
 * answers the first commit; a bad entry frees at once, uncalled. */
static void test_async(synod_node *n) {
    synod_session s;
    CHECK_OK(synod_session_new(&s));
    s.seq = 1;
    synod_entry e = transition("r3", "CN=node-a", 1);
    answer a1 = {0}, a2 = {0};
    CHECK_OK(synod_node_submit_async(n, &e, &s, T, on_answer, &a1, on_free));
    wait_freed(&a1);
    CHECK(atomic_load(&a1.called) == 1 && atomic_load(&a1.status) == SYNOD_OK);
    CHECK_OK(synod_node_submit_async(n, &e, &s, T, on_answer, &a2, on_free));
    wait_freed(&a2);
    CHECK(atomic_load(&a2.status) == SYNOD_OK && a2.commit.index == a1.commit.index);

    answer bad = {0};
    synod_entry junk;
    memset(&junk, 0, sizeof junk);
    junk.kind = 99;
    CHECK_STATUS(synod_node_submit_async(n, &junk, NULL, T, on_answer, &bad, on_free),
                 SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(atomic_load(&bad.called) == 0 && atomic_load(&bad.freed) == 1);
    answer no_entry = {0};
    CHECK_STATUS(synod_node_submit_async(n, NULL, NULL, T, on_answer, &no_entry, on_free),
                 SYNOD_ERR_NULL_ARGUMENT);
    CHECK(atomic_load(&no_entry.called) == 0 && atomic_load(&no_entry.freed) == 1);
    answer no_callback = {0};
    CHECK_STATUS(synod_node_submit_async(n, &e, NULL, T, NULL, &no_callback, on_free),
                 SYNOD_ERR_NULL_ARGUMENT);
    CHECK(atomic_load(&no_callback.freed) == 1);
}

/* Bad arguments: NULLs, an unknown kind, bad strings; *out untouched. */
static void test_bad_arguments(synod_node *n) {
    synod_commit c = UNTOUCHED;
    synod_entry e = transition("r4", "CN=node-a", 1);
    CHECK_STATUS(synod_node_submit(NULL, &e, NULL, T, &c), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_submit(n, NULL, NULL, T, &c), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_submit(n, &e, NULL, T, NULL), SYNOD_ERR_NULL_ARGUMENT);
    e.kind = 0;
    CHECK_STATUS(synod_node_submit(n, &e, NULL, T, &c), SYNOD_ERR_INVALID_ARGUMENT);
    e = transition("r4", NULL, 1);
    CHECK_STATUS(synod_node_submit(n, &e, NULL, T, &c), SYNOD_ERR_NULL_ARGUMENT);
    e = transition("r4", "  ", 1);
    CHECK_STATUS(synod_node_submit(n, &e, NULL, T, &c), SYNOD_ERR_INVALID_IDENTITY);
    e = admit("CN=node-c", "");
    CHECK_STATUS(synod_node_submit(n, &e, NULL, T, &c), SYNOD_ERR_INVALID_ARGUMENT);
    e.address = "127.0.0.1:7002";
    e.member_kind = 77;
    CHECK_STATUS(synod_node_submit(n, &e, NULL, T, &c), SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(untouched(&c));
    CHECK_STATUS(synod_session_new(NULL), SYNOD_ERR_NULL_ARGUMENT);
}

int main(void) {
    synod_node *n = NULL;
    CHECK_OK(synod_node_open_single("CN=node-a", "127.0.0.1:7000", &n));
    test_every_kind(n);
    test_sessions(n);
    test_async(n);
    test_bad_arguments(n);
    synod_node_free(n);
    return 0;
}
