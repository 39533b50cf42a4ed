/* The client handle (synod_client) against a three-member cluster started in
 * this process over mutual TLS, driven only through the client: status and
 * leader, transitions and a forced one, a refused proposal with its code, a
 * pipelined batch, reads at each level with their index and term, fence
 * checks, members, ranges, audit, metrics, a leadership transfer; a watch
 * that sees every transition once and in order, also after the leader
 * member is shut down and the client follows the new leader; NULL
 * arguments, bad endpoints, bad TLS files and an unreachable cluster. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "synod.h"

#define T 15000u
#define MEMBERS 3

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    socklen_t len = sizeof a;
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

typedef struct {
    synod_node *node[MEMBERS];
    char id[MEMBERS][32];
    char addr[MEMBERS][32];
    char endpoints[256];
} cluster;

static const char *certs_dir(void) {
    const char *certs = getenv("SYNOD_TEST_CERTS");
    CHECK(certs != NULL); /* set by the test harness (bindings/c/tests/c_tests.rs) */
    return certs;
}

static void start_cluster(cluster *c) {
    const char *certs = certs_dir();
    char dir[] = "/tmp/synod-c-client-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char bootstrap[512] = "";
    c->endpoints[0] = 0;
    for (int i = 0; i < MEMBERS; i++) {
        snprintf(c->id[i], sizeof c->id[i], "CN=node-%d", i);
        snprintf(c->addr[i], sizeof c->addr[i], "127.0.0.1:%d", free_port());
        char one[128];
        snprintf(one, sizeof one, "%s{ id = \"%s\", address = \"%s\" }", i ? ", " : "", c->id[i],
                 c->addr[i]);
        strcat(bootstrap, one);
        if (i) strcat(c->endpoints, ", ");
        strcat(c->endpoints, c->addr[i]);
    }
    for (int i = 0; i < MEMBERS; i++) {
        char config[256];
        char text[4096];
        snprintf(config, sizeof config, "%s/node-%d.toml", dir, i);
        snprintf(text, sizeof text,
                 "id = \"%s\"\nlisten = \"%s\"\ndata_dir = \"%s/data-%d\"\n"
                 "[tls]\ncert = \"%s/node-%d.pem\"\nkey = \"%s/node-%d-key.pem\"\n"
                 "ca = \"%s/ca.pem\"\n"
                 "[cluster]\nbootstrap = [ %s ]\n"
                 "[authorization]\noperators = [\"CN=ops\"]\n"
                 "[engine]\ntick_ms = 20\n",
                 c->id[i], c->addr[i], dir, i, certs, i, certs, i, certs, bootstrap);
        FILE *f = fopen(config, "w");
        CHECK(f != NULL);
        CHECK(fputs(text, f) >= 0);
        CHECK(fclose(f) == 0);
        c->node[i] = NULL;
        CHECK_OK(synod_node_start(config, &c->node[i]));
    }
}

static synod_client *new_client(const char *endpoints, uint32_t timeout_ms) {
    const char *certs = certs_dir();
    char cert[512], key[512], ca[512];
    snprintf(cert, sizeof cert, "%s/ops.pem", certs);
    snprintf(key, sizeof key, "%s/ops-key.pem", certs);
    snprintf(ca, sizeof ca, "%s/ca.pem", certs);
    synod_client_tls tls = {cert, key, ca};
    synod_client *client = NULL;
    CHECK_OK(synod_client_new(endpoints, &tls, "CN=ops", timeout_ms, &client));
    CHECK(client != NULL);
    return client;
}

/* The member index whose identity is `id`, or -1. */
static int member_of(const cluster *c, const char *id) {
    for (int i = 0; i < MEMBERS; i++) {
        if (id && strcmp(id, c->id[i]) == 0) return i;
    }
    return -1;
}

/* The leader as the client sees it, waiting for an election to end. */
static int client_leader(const cluster *c, synod_client *client) {
    for (int attempt = 0; attempt < 1000; attempt++) {
        synod_leader *l = NULL;
        synod_status s = synod_client_leader(client, T, &l);
        if (s == SYNOD_OK) {
            int which = member_of(c, synod_leader_id(l));
            CHECK(which >= 0);
            CHECK_STR(synod_leader_address(l), c->addr[which]);
            CHECK(synod_leader_term(l) >= 1);
            synod_leader_free(l);
            return which;
        }
        CHECK(s == SYNOD_ERR_NOT_FOUND);
        sleep_ms(20);
    }
    CHECK(!"the client found a leader");
    return -1;
}

/* --- the watch ----------------------------------------------------------- */

#define MAX_SEEN 256

typedef struct {
    pthread_mutex_t lock;
    uint64_t index[MAX_SEEN];
    uint64_t epoch[MAX_SEEN];
    char range[MAX_SEEN][32];
    bool forced[MAX_SEEN];
    int n;
    int snapshot_begins, snapshot_ends, snapshot_members;
    int ends;
    int refused;
    int frees;
} seen_t;

static void on_event(void *user_data, const synod_watch_event *e) {
    seen_t *seen = user_data;
    pthread_mutex_lock(&seen->lock);
    switch (e->kind) {
    case SYNOD_WATCH_TRANSITION:
        if (e->outcome == SYNOD_OUTCOME_REFUSED) {
            /* A refusal computed at apply time is an event too. */
            CHECK(e->refusal != SYNOD_REFUSAL_NONE && e->version == 0);
            seen->refused++;
        } else if (seen->n < MAX_SEEN) {
            CHECK(e->outcome == SYNOD_OUTCOME_APPLIED && e->version >= 1);
            seen->index[seen->n] = e->index;
            seen->epoch[seen->n] = e->epoch;
            seen->forced[seen->n] = e->forced;
            snprintf(seen->range[seen->n], sizeof seen->range[0], "%s", e->range);
            seen->n++;
        }
        break;
    case SYNOD_WATCH_SNAPSHOT_BEGIN:
        seen->snapshot_begins++;
        break;
    case SYNOD_WATCH_SNAPSHOT_MEMBER:
        CHECK(e->member != NULL && e->address != NULL);
        CHECK(e->member_change == SYNOD_MEMBERSHIP_ADMIT);
        seen->snapshot_members++;
        break;
    case SYNOD_WATCH_SNAPSHOT_END:
        seen->snapshot_ends++;
        break;
    case SYNOD_WATCH_END:
        seen->ends++;
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&seen->lock);
}

static void on_free(void *user_data) {
    seen_t *seen = user_data;
    pthread_mutex_lock(&seen->lock);
    seen->frees++;
    pthread_mutex_unlock(&seen->lock);
}

/* Waits until the watch saw a transition at `index`. */
static void wait_seen(seen_t *seen, uint64_t index) {
    for (int attempt = 0; attempt < 3000; attempt++) {
        pthread_mutex_lock(&seen->lock);
        bool found = false;
        for (int i = 0; i < seen->n; i++) found |= seen->index[i] == index;
        pthread_mutex_unlock(&seen->lock);
        if (found) return;
        sleep_ms(10);
    }
    CHECK(!"the watch saw the transition");
}

/* --- error paths without a cluster --------------------------------------- */

static void test_arguments(void) {
    const char *certs = certs_dir();
    char cert[512], key[512], ca[512];
    snprintf(cert, sizeof cert, "%s/ops.pem", certs);
    snprintf(key, sizeof key, "%s/ops-key.pem", certs);
    snprintf(ca, sizeof ca, "%s/ca.pem", certs);
    synod_client_tls tls = {cert, key, ca};
    synod_client *untouched = (synod_client *)0x1;

    CHECK_STATUS(synod_client_new(NULL, &tls, NULL, T, &untouched), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_client_new("127.0.0.1:1", &tls, NULL, T, NULL), SYNOD_ERR_NULL_ARGUMENT);
    /* Insecure needs an identity to claim. */
    CHECK_STATUS(synod_client_new("127.0.0.1:1", NULL, NULL, T, &untouched),
                 SYNOD_ERR_NULL_ARGUMENT);
    const char *bad_endpoints[] = {"", "nohost", "127.0.0.1:notaport", "127.0.0.1:1,",
                                   "127.0.0.1:0", ":7401"};
    for (size_t i = 0; i < sizeof bad_endpoints / sizeof bad_endpoints[0]; i++) {
        CHECK_STATUS(synod_client_new(bad_endpoints[i], &tls, NULL, T, &untouched),
                     SYNOD_ERR_INVALID_ARGUMENT);
        CHECK(strstr(last_message(), "endpoints") != NULL);
    }
    CHECK_STATUS(synod_client_new("127.0.0.1:1", &tls, NULL, 0, &untouched),
                 SYNOD_ERR_INVALID_ARGUMENT);
    /* TLS files that do not load; an identity that is not the certificate's. */
    synod_client_tls missing = {"/nonexistent/ops.pem", key, ca};
    CHECK_STATUS(synod_client_new("127.0.0.1:1", &missing, NULL, T, &untouched),
                 SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(last_message(), "/nonexistent/ops.pem") != NULL);
    synod_client_tls no_key = {cert, NULL, ca};
    CHECK_STATUS(synod_client_new("127.0.0.1:1", &no_key, NULL, T, &untouched),
                 SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_client_new("127.0.0.1:1", &tls, "CN=node-0", T, &untouched),
                 SYNOD_ERR_INVALID_IDENTITY);
    CHECK_STATUS(synod_client_new("127.0.0.1:1", NULL, "", T, &untouched),
                 SYNOD_ERR_INVALID_IDENTITY);
    CHECK(untouched == (synod_client *)0x1);

    /* NULL handles and out-params. */
    synod_commit commit = {.index = 99};
    CHECK_STATUS(synod_client_propose_transition(NULL, "r", "CN=node-0", 1, T, &commit),
                 SYNOD_ERR_NULL_ARGUMENT);
    synod_member_status *status = (synod_member_status *)0x1;
    CHECK_STATUS(synod_client_status(NULL, T, &status), SYNOD_ERR_NULL_ARGUMENT);
    CHECK(status == (synod_member_status *)0x1);
    CHECK(synod_member_status_id(NULL) == NULL && synod_member_status_term(NULL) == 0);
    CHECK(synod_range_list_len(NULL) == 0);
    synod_client_free(NULL);
    synod_remote_watch_free(NULL);
    synod_member_status_free(NULL);
    synod_range_list_free(NULL);
    CHECK_STATUS(synod_remote_watch_cancel(NULL), SYNOD_ERR_NULL_ARGUMENT);

    /* No callback: the free function still runs once. */
    seen_t seen;
    memset(&seen, 0, sizeof seen);
    pthread_mutex_init(&seen.lock, NULL);
    synod_client *insecure = NULL;
    CHECK_OK(synod_client_new("127.0.0.1:1", NULL, "CN=ops", 2000, &insecure));
    synod_remote_watch *w = (synod_remote_watch *)0x1;
    CHECK_STATUS(synod_client_watch(insecure, 0, NULL, NULL, &seen, on_free, &w),
                 SYNOD_ERR_NULL_ARGUMENT);
    CHECK(seen.frees == 1);
    CHECK_STATUS(synod_client_watch(insecure, 0, "", on_event, &seen, on_free, &w),
                 SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(seen.frees == 2);
    CHECK(w == (synod_remote_watch *)0x1);
    CHECK_STATUS(synod_client_owner(insecure, "r", 99, 0, T, (synod_ownership **)&w, NULL),
                 SYNOD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(synod_client_owner(insecure, "r", SYNOD_READ_LOCAL, 5, T,
                                    (synod_ownership **)&w, NULL),
                 SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(w == (synod_remote_watch *)0x1);
    synod_client_free(insecure);
    pthread_mutex_destroy(&seen.lock);
}

/* Nothing listens: every call returns SYNOD_ERR_UNREACHABLE within its
 * timeout (plus one connection attempt), and a proposal did not take
 * effect. */
static void test_unreachable(void) {
    char endpoints[64];
    snprintf(endpoints, sizeof endpoints, "127.0.0.1:%d", free_port());
    synod_client *client = new_client(endpoints, 1000);
    synod_commit commit = {.index = 99};
    long started = now_ms();
    CHECK_STATUS(synod_client_propose_transition(client, "r", "CN=node-0", 1, 0, &commit),
                 SYNOD_ERR_UNREACHABLE);
    CHECK(now_ms() - started < 1000 + 3000);
    CHECK(commit.index == 99);
    synod_member_status *status = NULL;
    started = now_ms();
    CHECK_STATUS(synod_client_status(client, 800, &status), SYNOD_ERR_UNREACHABLE);
    CHECK(now_ms() - started < 800 + 3000);
    CHECK(status == NULL);
    /* A watch of an unreachable cluster keeps trying until cancelled. */
    seen_t seen;
    memset(&seen, 0, sizeof seen);
    pthread_mutex_init(&seen.lock, NULL);
    synod_remote_watch *w = NULL;
    CHECK_OK(synod_client_watch(client, 0, NULL, on_event, &seen, on_free, &w));
    sleep_ms(200);
    CHECK_OK(synod_remote_watch_cancel(w));
    CHECK(seen.frees == 1 && seen.ends == 0);
    CHECK_OK(synod_remote_watch_cancel(w));
    synod_remote_watch_free(w);
    CHECK(seen.frees == 1);
    synod_client_free(client);
    pthread_mutex_destroy(&seen.lock);
}

/* --- against the cluster ------------------------------------------------- */

static void test_cluster(void) {
    cluster c;
    start_cluster(&c);
    synod_client *client = new_client(c.endpoints, T);

    seen_t seen;
    memset(&seen, 0, sizeof seen);
    pthread_mutex_init(&seen.lock, NULL);
    synod_remote_watch *watch = NULL;
    CHECK_OK(synod_client_watch(client, 0, NULL, on_event, &seen, on_free, &watch));

    /* Status and leader. */
    int leader = client_leader(&c, client);
    synod_member_status *status = NULL;
    CHECK_OK(synod_client_status(client, T, &status));
    CHECK(member_of(&c, synod_member_status_id(status)) >= 0);
    CHECK(synod_member_status_role(status) >= SYNOD_ROLE_FOLLOWER &&
          synod_member_status_role(status) <= SYNOD_ROLE_LEADER);
    CHECK(synod_member_status_term(status) >= 1);
    CHECK(synod_member_status_peer_id(status) != 0);
    CHECK(synod_member_status_applied_index(status) <= synod_member_status_commit_index(status) ||
          synod_member_status_applied_index(status) >= 1);
    synod_member_status_free(status);

    /* Transitions, a forced one, a refused one. */
    uint64_t indexes[32];
    int made = 0;
    synod_commit commit;
    CHECK_OK(synod_client_propose_transition(client, "r1", c.id[0], 1, T, &commit));
    CHECK(commit.changed && commit.index >= 1);
    indexes[made++] = commit.index;
    CHECK_OK(synod_client_propose_transition(client, "r1", c.id[1], 2, 0, &commit));
    indexes[made++] = commit.index;
    CHECK_OK(synod_client_propose_forced_transition(client, "r2", c.id[2], "CN=ops", "drill",
                                                    T, &commit));
    indexes[made++] = commit.index;
    synod_commit untouched = {.index = 77};
    CHECK_STATUS(synod_client_propose_transition(client, "r1", c.id[0], 2, T, &untouched),
                 SYNOD_ERR_REFUSED);
    CHECK(synod_last_refusal_code() == SYNOD_REFUSAL_STALE_EPOCH);
    CHECK_STATUS(synod_client_propose_transition(client, "r1", c.id[0], 9, T, &untouched),
                 SYNOD_ERR_REFUSED);
    CHECK(synod_last_refusal_code() == SYNOD_REFUSAL_EPOCH_NOT_NEXT);
    CHECK_STATUS(synod_client_propose_transition(client, "r1", "", 3, T, &untouched),
                 SYNOD_ERR_INVALID_IDENTITY);
    CHECK_STATUS(synod_client_propose_remove(client, "CN=stranger", T, &untouched),
                 SYNOD_ERR_REFUSED);
    CHECK(synod_last_refusal_code() == SYNOD_REFUSAL_UNKNOWN_MEMBER);
    CHECK(untouched.index == 77);

    /* Membership: admit, drain, remove a member that never runs. */
    CHECK_OK(synod_client_propose_admit(client, "CN=spare", SYNOD_MEMBER_KIND_WITNESS,
                                        "127.0.0.1:1", T, &commit));
    CHECK_OK(synod_client_propose_begin_drain(client, "CN=spare", T, &commit));
    CHECK_OK(synod_client_propose_remove(client, "CN=spare", T, &commit));

    /* A pipelined batch: three new ranges and one stale epoch. */
    synod_transition_request batch[4] = {
        {"b1", c.id[0], 1}, {"b2", c.id[1], 1}, {"b3", c.id[2], 1}, {"r1", c.id[0], 1}};
    synod_batch_result results[4];
    CHECK_OK(synod_client_propose_transitions(client, batch, 4, T, results));
    for (int i = 0; i < 3; i++) {
        CHECK(results[i].status == SYNOD_OK && results[i].commit.index >= 1);
        indexes[made++] = results[i].commit.index;
    }
    CHECK(results[3].status == SYNOD_ERR_REFUSED);
    CHECK(results[3].refusal == SYNOD_REFUSAL_STALE_EPOCH);
    CHECK(results[3].commit.index == 0);
    CHECK_OK(synod_client_propose_transitions(client, NULL, 0, T, NULL));
    synod_transition_request bad_batch[2] = {{"b4", c.id[0], 1}, {"b5", NULL, 1}};
    CHECK_STATUS(synod_client_propose_transitions(client, bad_batch, 2, T, results),
                 SYNOD_ERR_NULL_ARGUMENT);
    CHECK(strstr(last_message(), "requests[1].new_owner") != NULL);

    /* Reads at each level, with index and term. */
    uint64_t last = 0;
    for (int i = 0; i < made; i++) last = indexes[i] > last ? indexes[i] : last;
    int follower = (leader + 1) % MEMBERS;
    uint64_t other_commit = 0;
    CHECK_OK(synod_node_commit_index(c.node[follower], &other_commit));
    synod_ownership *owner = NULL;
    synod_read_position at = {0, 0};
    CHECK_OK(synod_client_owner(client, "r1", SYNOD_READ_AT_LEAST, last, T, &owner, &at));
    CHECK(at.index >= last && at.term >= 1);
    CHECK_STR(synod_ownership_owner(owner), c.id[1]);
    CHECK(synod_ownership_epoch(owner) == 2);
    synod_ownership_free(owner);
    CHECK_OK(synod_client_owner(client, "r1", SYNOD_READ_AT_LEAST, other_commit, T, &owner,
                                &at));
    CHECK(at.index >= other_commit);
    synod_ownership_free(owner);
    CHECK_OK(synod_client_owner(client, "r2", SYNOD_READ_LINEARIZABLE, 0, T, &owner, &at));
    CHECK(at.index >= last);
    CHECK_STR(synod_ownership_owner(owner), c.id[2]);
    CHECK(synod_ownership_epoch(owner) == 1);
    synod_ownership_free(owner);
    CHECK_OK(synod_client_owner(client, "r1", SYNOD_READ_LOCAL, 0, T, &owner, NULL));
    synod_ownership_free(owner);
    owner = (synod_ownership *)0x1;
    at.index = 5;
    CHECK_STATUS(synod_client_owner(client, "nobody", SYNOD_READ_LINEARIZABLE, 0, T, &owner, &at),
                 SYNOD_ERR_NOT_FOUND);
    CHECK(owner == (synod_ownership *)0x1 && at.index == 5);

    synod_fence_status fence = 0;
    CHECK_OK(synod_client_fence_check(client, "r1", c.id[1], 2, SYNOD_READ_LINEARIZABLE, 0, T,
                                      &fence, &at));
    CHECK(fence == SYNOD_FENCE_CURRENT && at.index >= last);
    CHECK_OK(synod_client_fence_check(client, "r1", c.id[0], 1, SYNOD_READ_AT_LEAST, last, T,
                                      &fence, NULL));
    CHECK(fence == SYNOD_FENCE_STALE);
    CHECK_OK(synod_client_fence_check(client, "nobody", c.id[0], 1, SYNOD_READ_LOCAL, 0, T,
                                      &fence, NULL));
    CHECK(fence == SYNOD_FENCE_UNKNOWN);

    synod_member_list *members = NULL;
    CHECK_OK(synod_client_members(client, SYNOD_READ_LINEARIZABLE, 0, T, &members, &at));
    CHECK(synod_member_list_len(members) == MEMBERS);
    for (size_t i = 0; i < MEMBERS; i++) {
        CHECK(member_of(&c, synod_member_list_id(members, i)) >= 0);
        CHECK(synod_member_list_state(members, i) == SYNOD_MEMBER_STATE_ACTIVE);
    }
    synod_member_list_free(members);

    synod_range_list *ranges = NULL;
    CHECK_OK(synod_client_ranges(client, NULL, SYNOD_READ_LINEARIZABLE, T, &ranges));
    CHECK(synod_range_list_len(ranges) == 5);
    synod_range row;
    CHECK_OK(synod_range_list_get(ranges, 0, &row));
    CHECK_STR(row.range, "b1");
    CHECK_OK(synod_range_list_get(ranges, 3, &row));
    CHECK_STR(row.range, "r1");
    CHECK_STR(row.owner, c.id[1]);
    CHECK(row.epoch == 2 && row.index >= 1 && row.term >= 1);
    synod_range untouched_row = {.epoch = 42};
    CHECK_STATUS(synod_range_list_get(ranges, 5, &untouched_row), SYNOD_ERR_NOT_FOUND);
    CHECK(untouched_row.epoch == 42);
    synod_range_list_free(ranges);
    CHECK_OK(synod_client_ranges(client, c.id[2], SYNOD_READ_LOCAL, T, &ranges));
    CHECK(synod_range_list_len(ranges) == 2); /* b3, r2 */
    synod_range_list_free(ranges);
    ranges = (synod_range_list *)0x1;
    CHECK_STATUS(synod_client_ranges(client, NULL, SYNOD_READ_AT_LEAST, T, &ranges),
                 SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(ranges == (synod_range_list *)0x1);

    synod_audit_list *audit = NULL;
    CHECK_OK(synod_client_audit(client, SYNOD_READ_LINEARIZABLE, T, &audit));
    CHECK(synod_audit_list_len(audit) == 1);
    synod_audit_record record;
    CHECK_OK(synod_audit_list_get(audit, 0, &record));
    CHECK_STR(record.range, "r2");
    CHECK_STR(record.new_owner, c.id[2]);
    CHECK_STR(record.operator_id, "CN=ops");
    CHECK_STR(record.reason, "drill");
    CHECK(record.previous_owner == NULL && record.epoch == 1);
    synod_audit_list_free(audit);

    char *metrics = NULL;
    CHECK_OK(synod_client_metrics_text(client, T, &metrics));
    CHECK(metrics != NULL && strstr(metrics, "synod_") != NULL);
    synod_string_free(metrics);

    /* The watch saw everything so far, once and in order. */
    wait_seen(&seen, last);

    /* Leadership moves to a follower. */
    leader = client_leader(&c, client);
    int target = (leader + 1) % MEMBERS;
    CHECK_OK(synod_client_transfer_leader(client, c.id[target], T));
    for (int attempt = 0; attempt < 500 && client_leader(&c, client) != target; attempt++) {
        sleep_ms(20);
    }
    CHECK(client_leader(&c, client) == target);
    CHECK_STATUS(synod_client_transfer_leader(client, "", T),
                 SYNOD_ERR_INVALID_IDENTITY);
    CHECK_OK(synod_client_propose_transition(client, "r1", c.id[2], 3, T, &commit));
    indexes[made++] = commit.index;

    /* The leader member stops: the client follows the new leader and the
     * watch carries on. */
    leader = target;
    CHECK_OK(synod_node_shutdown(c.node[leader]));
    CHECK_OK(synod_client_propose_transition(client, "r1", c.id[(leader + 1) % MEMBERS], 4, T,
                                             &commit));
    indexes[made++] = commit.index;
    CHECK_OK(synod_client_propose_forced_transition(client, "r2", c.id[(leader + 2) % MEMBERS],
                                                    "CN=ops", "failover", T, &commit));
    indexes[made++] = commit.index;
    wait_seen(&seen, commit.index);
    int new_leader = client_leader(&c, client);
    CHECK(new_leader != leader);

    CHECK_OK(synod_remote_watch_cancel(watch));
    pthread_mutex_lock(&seen.lock);
    CHECK(seen.frees == 1 && seen.ends == 0);
    CHECK(seen.snapshot_begins >= 1 && seen.snapshot_ends >= 1);
    CHECK(seen.snapshot_members >= MEMBERS);
    /* Every transition made, once and in log order, none other. */
    CHECK(seen.n == made);
    for (int i = 1; i < seen.n; i++) CHECK(seen.index[i] > seen.index[i - 1]);
    for (int i = 0; i < made; i++) {
        int found = 0;
        for (int j = 0; j < seen.n; j++) found += seen.index[j] == indexes[i];
        CHECK(found == 1);
    }
    /* The forced transitions say their epoch (the watch saw the range's). */
    int forced = 0;
    for (int i = 0; i < seen.n; i++) {
        if (seen.forced[i]) {
            CHECK_STR(seen.range[i], "r2");
            CHECK(seen.epoch[i] == (uint64_t)(forced + 1));
            forced++;
        }
    }
    CHECK(forced == 2);
    pthread_mutex_unlock(&seen.lock);
    synod_remote_watch_free(watch);
    CHECK(seen.frees == 1);

    /* A watch from a later index, filtered to one range, outlives its
     * client and is freed from another handle's perspective. */
    seen_t filtered;
    memset(&filtered, 0, sizeof filtered);
    pthread_mutex_init(&filtered.lock, NULL);
    synod_remote_watch *w2 = NULL;
    CHECK_OK(synod_client_watch(client, indexes[0], "r1", on_event, &filtered, on_free, &w2));
    synod_client_free(client);
    wait_seen(&filtered, indexes[made - 2]);
    synod_remote_watch_free(w2);
    CHECK(filtered.frees == 1);
    for (int i = 0; i < filtered.n; i++) CHECK_STR(filtered.range[i], "r1");
    CHECK(filtered.n == 4); /* epochs 1, 2, 3, 4 */
    pthread_mutex_destroy(&filtered.lock);
    pthread_mutex_destroy(&seen.lock);

    for (int i = 0; i < MEMBERS; i++) {
        if (i != leader) CHECK_OK(synod_node_shutdown(c.node[i]));
        synod_node_free(c.node[i]);
    }
}

int main(void) {
    test_arguments();
    test_unreachable();
    test_cluster();
    printf("test_client: ok\n");
    return 0;
}
