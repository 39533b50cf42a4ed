/* Three members in one process on the host's transport
 * (synod_node_start_host): each member's send callback copies the frame
 * into a queue, a router thread delivers it to the target with
 * synod_node_deliver. They elect a leader, commit and read; a partitioned
 * member misses commits and catches up once healed; garbage, truncated,
 * oversized and misattributed frames are refused and change nothing; a full
 * inbox answers SYNOD_ERR_OVERLOADED; shutdown with messages in flight
 * calls no send callback after it returns and each free function once. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "synod.h"

#define MEMBERS 3
#define QUEUE_CAP 4096

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char *NAMES[MEMBERS] = {"CN=host-0", "CN=host-1", "CN=host-2"};

typedef struct msg {
    int from;
    int to;
    size_t len;
    uint8_t *bytes;
} msg;

/* What one member's send callback sees. */
typedef struct member_ctx {
    int index;
    atomic_int sends;
    atomic_int frees;
    /* Set once synod_node_shutdown of this member returned. */
    atomic_bool shut;
    atomic_int late_sends;
    /* While set, the callback waits until it is cleared (stalls the
     * member's consensus thread). */
    atomic_bool stall;
    atomic_bool stalled;
    /* When set, the callback tries to shut its own member down and keeps
     * the answer in self_shutdown (-1 until then). */
    _Atomic(synod_node *) self_node;
    atomic_int self_shutdown;
} member_ctx;

static member_ctx ctx[MEMBERS];

/* The router: a queue of frames and the nodes they go to. */
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_ready = PTHREAD_COND_INITIALIZER;
static msg queue[QUEUE_CAP];
static size_t q_head, q_len;
static bool q_stop;
static atomic_int q_dropped;

static pthread_mutex_t nodes_lock = PTHREAD_MUTEX_INITIALIZER;
static synod_node *nodes[MEMBERS];
/* peer ids by member index, learned with synod_node_peer_id. */
static uint64_t peer_ids[MEMBERS];
/* A member cut off: nothing to or from it is delivered. */
static atomic_int isolated = -1;
static atomic_int delivered_ok;

/* One frame each member sent (for the refusal tests), and its target. */
static pthread_mutex_t sample_lock = PTHREAD_MUTEX_INITIALIZER;
/* The first frame seen from each member to each other one (by sender and
 * destination: a leader's heartbeat round always reaches its followers in
 * the same order, so one sample per sender could never be the second's). */
static uint8_t *sample[MEMBERS][MEMBERS];
static size_t sample_len[MEMBERS][MEMBERS];

static int index_of(const char *identity) {
    for (int i = 0; i < MEMBERS; i++) {
        if (identity != NULL && strcmp(identity, NAMES[i]) == 0) return i;
    }
    return -1;
}

static void on_send(void *user_data, uint64_t to_peer_id, const char *to_identity,
                    const uint8_t *bytes, size_t len) {
    member_ctx *c = user_data;
    atomic_fetch_add(&c->sends, 1);
    if (atomic_load(&c->shut)) atomic_fetch_add(&c->late_sends, 1);
    if (atomic_load(&c->stall)) {
        atomic_store(&c->stalled, true);
        while (atomic_load(&c->stall)) sleep_ms(1);
        atomic_store(&c->stalled, false);
    }
    synod_node *self = atomic_load(&c->self_node);
    if (self != NULL && atomic_load(&c->self_shutdown) == -1) {
        atomic_store(&c->self_shutdown, (int)synod_node_shutdown(self));
    }
    int to = index_of(to_identity);
    if (to < 0) {
        fprintf(stderr, "send to peer %llu with unknown identity %s\n",
                (unsigned long long)to_peer_id, to_identity ? to_identity : "(null)");
        return;
    }
    if (to_peer_id == 0) return;
    pthread_mutex_lock(&sample_lock);
    if (sample[c->index][to] == NULL) {
        sample[c->index][to] = malloc(len);
        CHECK(sample[c->index][to] != NULL);
        memcpy(sample[c->index][to], bytes, len);
        sample_len[c->index][to] = len;
    }
    pthread_mutex_unlock(&sample_lock);
    uint8_t *copy = malloc(len);
    CHECK(copy != NULL);
    memcpy(copy, bytes, len);
    pthread_mutex_lock(&q_lock);
    if (q_len == QUEUE_CAP) {
        atomic_fetch_add(&q_dropped, 1);
        free(copy);
    } else {
        queue[(q_head + q_len) % QUEUE_CAP] = (msg){c->index, to, len, copy};
        q_len++;
        pthread_cond_signal(&q_ready);
    }
    pthread_mutex_unlock(&q_lock);
}

static void on_free(void *user_data) {
    member_ctx *c = user_data;
    atomic_fetch_add(&c->frees, 1);
}

static void *router(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&q_lock);
        while (q_len == 0 && !q_stop) pthread_cond_wait(&q_ready, &q_lock);
        if (q_len == 0 && q_stop) {
            pthread_mutex_unlock(&q_lock);
            return NULL;
        }
        msg m = queue[q_head];
        q_head = (q_head + 1) % QUEUE_CAP;
        q_len--;
        pthread_mutex_unlock(&q_lock);
        int cut = atomic_load(&isolated);
        if (m.from != cut && m.to != cut) {
            pthread_mutex_lock(&nodes_lock);
            if (nodes[m.to] != NULL &&
                synod_node_deliver(nodes[m.to], peer_ids[m.from], m.bytes, m.len) == SYNOD_OK) {
                atomic_fetch_add(&delivered_ok, 1);
            }
            pthread_mutex_unlock(&nodes_lock);
        }
        free(m.bytes);
    }
}

/* Proposes on every member in turn until told to stop (answers ignored:
 * the members are being shut down under it). */
static atomic_bool proposer_stop;
static atomic_int proposed;

static void *proposer(void *arg) {
    (void)arg;
    for (int k = 0; !atomic_load(&proposer_stop); k++) {
        char range[32];
        snprintf(range, sizeof range, "busy:%d", k);
        synod_commit ignored;
        /* Nodes are freed only after this thread is joined. */
        (void)synod_node_propose_transition(nodes[k % MEMBERS], range, NAMES[0], 1, 200, &ignored);
        atomic_fetch_add(&proposed, 1);
    }
    return NULL;
}

static synod_config *config_for(const char *dir, int i) {
    synod_config *cfg = NULL;
    CHECK_OK(synod_config_new(&cfg));
    CHECK_OK(synod_config_set_id(cfg, NAMES[i]));
    char data[512];
    snprintf(data, sizeof data, "%s/%d", dir, i);
    CHECK_OK(synod_config_set_data_dir(cfg, data));
    for (int j = 0; j < MEMBERS; j++) {
        /* The address is the host's business: recorded, never dialled. */
        char addr[64];
        snprintf(addr, sizeof addr, "host-%d:7000", j);
        CHECK_OK(synod_config_add_bootstrap_member(cfg, NAMES[j], SYNOD_MEMBER_KIND_DATA, addr));
    }
    CHECK_OK(synod_config_set_tick_ms(cfg, 10));
    return cfg;
}

static int leader_index(void) {
    for (int i = 0; i < MEMBERS; i++) {
        bool led = false;
        if (nodes[i] != NULL && synod_node_is_leader(nodes[i], &led) == SYNOD_OK && led) return i;
    }
    return -1;
}

static int wait_leader(int not) {
    for (int tries = 0; tries < 1000; tries++) {
        int l = leader_index();
        if (l >= 0 && l != not) return l;
        sleep_ms(10);
    }
    CHECK(!"a leader was elected");
    return -1;
}

static uint64_t commit_of(int i) {
    uint64_t c = 0;
    CHECK_OK(synod_node_commit_index(nodes[i], &c));
    return c;
}

/* Proposes a transition of `range` to `owner` at `epoch` on the leader,
 * retrying while leadership moves. */
static synod_commit propose(const char *range, int owner, uint64_t epoch, int not) {
    synod_commit commit;
    memset(&commit, 0, sizeof commit);
    for (int tries = 0; tries < 50; tries++) {
        int l = wait_leader(not);
        synod_status s =
            synod_node_propose_transition(nodes[l], range, NAMES[owner], epoch, 5000, &commit);
        if (s == SYNOD_OK) return commit;
        CHECK(s == SYNOD_ERR_NOT_LEADER || s == SYNOD_ERR_TIMEOUT || s == SYNOD_ERR_NO_QUORUM);
        sleep_ms(20);
    }
    CHECK(!"the proposal committed");
    return commit;
}

static void check_owner(int i, const char *range, int owner, uint64_t epoch) {
    synod_ownership *own = NULL;
    CHECK_OK(synod_node_owner(nodes[i], range, &own));
    CHECK_STR(synod_ownership_owner(own), NAMES[owner]);
    CHECK(synod_ownership_epoch(own) == epoch);
    synod_ownership_free(own);
}

static void test_refusals(int target) {
    int from = -1;
    uint8_t *frame = NULL;
    size_t len = 0;
    /* A real frame some member sent to `target`. */
    for (int tries = 0; tries < 500 && frame == NULL; tries++) {
        pthread_mutex_lock(&sample_lock);
        for (int i = 0; i < MEMBERS; i++) {
            if (frame == NULL && sample[i][target] != NULL) {
                from = i;
                len = sample_len[i][target];
                frame = malloc(len + 1);
                CHECK(frame != NULL);
                memcpy(frame, sample[i][target], len);
            }
        }
        pthread_mutex_unlock(&sample_lock);
        if (frame == NULL) {
            /* Forget the samples so new ones are taken. */
            pthread_mutex_lock(&sample_lock);
            for (int i = 0; i < MEMBERS; i++) {
                for (int j = 0; j < MEMBERS; j++) {
                    free(sample[i][j]);
                    sample[i][j] = NULL;
                }
            }
            pthread_mutex_unlock(&sample_lock);
            sleep_ms(10);
        }
    }
    CHECK(frame != NULL);
    CHECK(len > 14);
    synod_node *n = nodes[target];
    uint64_t term_before = 0;
    CHECK_OK(synod_node_current_term(n, &term_before));
    uint64_t commit_before = commit_of(target);

    /* The genuine frame is taken (a repeat of an old message is harmless). */
    CHECK_OK(synod_node_deliver(n, peer_ids[from], frame, len));

    /* Arguments. */
    CHECK_STATUS(synod_node_deliver(NULL, peer_ids[from], frame, len), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_deliver(n, peer_ids[from], NULL, len), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_deliver(n, peer_ids[from], NULL, 0), SYNOD_ERR_INVALID_ARGUMENT);

    /* Garbage. */
    const uint8_t junk[] = "hello, raft";
    CHECK_STATUS(synod_node_deliver(n, peer_ids[from], junk, sizeof junk), SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(last_message(), "bytes:") != NULL);
    /* Truncated: the header only, and one byte short. */
    CHECK_STATUS(synod_node_deliver(n, peer_ids[from], frame, 14), SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(last_message(), "truncated") != NULL);
    CHECK_STATUS(synod_node_deliver(n, peer_ids[from], frame, len - 1), SYNOD_ERR_INVALID_ARGUMENT);
    /* A byte after the frame. */
    frame[len] = 0;
    CHECK_STATUS(synod_node_deliver(n, peer_ids[from], frame, len + 1), SYNOD_ERR_INVALID_ARGUMENT);
    /* A flipped payload byte: the checksum. */
    frame[len - 1] ^= 0x5a;
    CHECK_STATUS(synod_node_deliver(n, peer_ids[from], frame, len), SYNOD_ERR_INVALID_ARGUMENT);
    frame[len - 1] ^= 0x5a;
    /* A header claiming a payload larger than any frame. */
    uint8_t saved[4];
    memcpy(saved, frame + 6, 4);
    memset(frame + 6, 0xff, 4);
    CHECK_STATUS(synod_node_deliver(n, peer_ids[from], frame, len), SYNOD_ERR_INVALID_ARGUMENT);
    memcpy(frame + 6, saved, 4);
    /* More bytes than a frame can hold: refused before they are read. */
    uint8_t *huge = calloc(1, SYNOD_HOST_MAX_FRAME + 1);
    CHECK(huge != NULL);
    memcpy(huge, frame, len);
    CHECK_STATUS(synod_node_deliver(n, peer_ids[from], huge, SYNOD_HOST_MAX_FRAME + 1),
                 SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(last_message(), "more than a frame") != NULL);
    free(huge);

    /* Misattributed: the frame of `from` delivered as from the third member. */
    int other = 3 - target - from;
    CHECK_STATUS(synod_node_deliver(n, peer_ids[other], frame, len), SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(last_message(), "not authorized") != NULL);
    /* From a peer id that is no member. */
    CHECK_STATUS(synod_node_deliver(n, 999, frame, len), SYNOD_ERR_UNAUTHORIZED);
    /* As from itself (a member, but not the sender). */
    CHECK_STATUS(synod_node_deliver(n, peer_ids[target], frame, len), SYNOD_ERR_INVALID_ARGUMENT);

    /* Nothing changed: the same term, and the cluster still commits. */
    uint64_t term_after = 0;
    CHECK_OK(synod_node_current_term(n, &term_after));
    CHECK(term_after == term_before);
    CHECK(commit_of(target) >= commit_before);

    /* A full inbox: stall the target's consensus thread in its send
     * callback, fill its one-message inbox, and the next frame is dropped
     * with SYNOD_ERR_OVERLOADED after at most a tick. */
    atomic_store(&ctx[target].stall, true);
    for (int tries = 0; tries < 1000 && !atomic_load(&ctx[target].stalled); tries++) sleep_ms(2);
    CHECK(atomic_load(&ctx[target].stalled));
    synod_status s = SYNOD_OK;
    for (int k = 0; k < 8 && s == SYNOD_OK; k++) {
        s = synod_node_deliver(n, peer_ids[from], frame, len);
    }
    CHECK_STATUS(s, SYNOD_ERR_OVERLOADED);
    atomic_store(&ctx[target].stall, false);
    free(frame);

    /* A single-node engine has no host transport. */
    synod_node *single = NULL;
    CHECK_OK(synod_node_open_single("CN=single", "127.0.0.1:1", &single));
    CHECK_STATUS(synod_node_deliver(single, 1, junk, sizeof junk), SYNOD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(synod_node_peer_id(single, "CN=single", &peer_ids[0]), SYNOD_ERR_INVALID_ARGUMENT);
    synod_node_free(single);
}

static void test_start_refusals(const char *dir) {
    synod_node *untouched = (synod_node *)0x1;
    member_ctx c;
    memset(&c, 0, sizeof c);
    /* No send callback: the free function still runs, once. */
    synod_config *cfg = config_for(dir, 0);
    CHECK_STATUS(synod_node_start_host(cfg, NULL, &c, on_free, &untouched), SYNOD_ERR_NULL_ARGUMENT);
    CHECK(atomic_load(&c.frees) == 1);
    CHECK(untouched == (synod_node *)0x1);
    /* Settings that would do nothing on a host's transport are refused. */
    CHECK_OK(synod_config_set_metrics_listen(cfg, "127.0.0.1:0"));
    CHECK_STATUS(synod_node_start_host(cfg, on_send, &c, on_free, &untouched),
                 SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(last_message(), "admin.metrics_listen") != NULL);
    CHECK(atomic_load(&c.frees) == 2);
    synod_config_free(cfg);
    cfg = config_for(dir, 0);
    CHECK_OK(synod_config_add_deny(cfg, "CN=someone"));
    CHECK_STATUS(synod_node_start_host(cfg, on_send, &c, on_free, &untouched),
                 SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(last_message(), "tls.deny") != NULL);
    CHECK(atomic_load(&c.frees) == 3);
    synod_config_free(cfg);
    /* Joining needs the admission over TCP. */
    cfg = NULL;
    CHECK_OK(synod_config_new(&cfg));
    CHECK_OK(synod_config_set_id(cfg, "CN=host-joiner"));
    char data[512];
    snprintf(data, sizeof data, "%s/joiner", dir);
    CHECK_OK(synod_config_set_data_dir(cfg, data));
    CHECK_OK(synod_config_set_join(cfg, "127.0.0.1:1"));
    CHECK_STATUS(synod_node_start_host(cfg, on_send, &c, on_free, &untouched),
                 SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(last_message(), "cluster.join") != NULL);
    CHECK(atomic_load(&c.frees) == 4);
    CHECK(atomic_load(&c.sends) == 0);
    CHECK(untouched == (synod_node *)0x1);
    synod_config_free(cfg);
}

int main(void) {
    char dir[] = "/tmp/synod-c-host-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    test_start_refusals(dir);

    pthread_t router_thread;
    CHECK(pthread_create(&router_thread, NULL, router, NULL) == 0);
    for (int i = 0; i < MEMBERS; i++) {
        ctx[i].index = i;
        synod_config *cfg = config_for(dir, i);
        /* One message waiting at most (the back-pressure test). */
        CHECK_OK(synod_config_set_max_inbound_messages(cfg, 1));
        synod_node *n = NULL;
        CHECK_OK(synod_node_start_host(cfg, on_send, &ctx[i], on_free, &n));
        synod_config_free(cfg);
        pthread_mutex_lock(&nodes_lock);
        nodes[i] = n;
        pthread_mutex_unlock(&nodes_lock);
    }
    /* Peer ids as the catalog names them (the same in every member). */
    for (int i = 0; i < MEMBERS; i++) {
        uint64_t id = 0;
        CHECK_OK(synod_node_peer_id(nodes[0], NAMES[i], &id));
        CHECK(id != 0);
        uint64_t again = 0;
        CHECK_OK(synod_node_peer_id(nodes[2], NAMES[i], &again));
        CHECK(again == id);
        pthread_mutex_lock(&nodes_lock);
        peer_ids[i] = id;
        pthread_mutex_unlock(&nodes_lock);
    }
    uint64_t untouched = 7;
    CHECK_STATUS(synod_node_peer_id(nodes[0], "CN=nobody", &untouched), SYNOD_ERR_NOT_FOUND);
    CHECK_STATUS(synod_node_peer_id(nodes[0], "", &untouched),
                 SYNOD_ERR_INVALID_IDENTITY);
    CHECK(untouched == 7);

    /* A leader, a commit, a read everywhere. */
    int leader = wait_leader(-1);
    synod_commit c1 = propose("orders:[0,100)", leader, 1, -1);
    CHECK(c1.changed);
    for (int i = 0; i < MEMBERS; i++) {
        CHECK_OK(synod_node_wait_applied(nodes[i], c1.index, 5000));
        check_owner(i, "orders:[0,100)", leader, 1);
    }
    synod_view *view = NULL;
    CHECK_OK(synod_node_read(nodes[leader], SYNOD_READ_LINEARIZABLE, 0, 5000, &view));
    CHECK(synod_view_applied_index(view) >= c1.index);
    synod_view_free(view);

    /* A partition: one follower hears nothing and says nothing. The other
     * two still commit; the cut-off one does not see it; healed, it
     * catches up. */
    int cut = (leader + 1) % MEMBERS;
    atomic_store(&isolated, cut);
    synod_commit c2 = propose("orders:[0,100)", leader, 2, cut);
    synod_commit c3 = propose("users:[0,10)", leader, 1, cut);
    CHECK(c3.index > c2.index);
    sleep_ms(100);
    CHECK(commit_of(cut) < c2.index);
    CHECK_STATUS(synod_node_wait_applied(nodes[cut], c3.index, 100), SYNOD_ERR_TIMEOUT);
    atomic_store(&isolated, -1);
    CHECK_OK(synod_node_wait_applied(nodes[cut], c3.index, 10000));
    check_owner(cut, "orders:[0,100)", leader, 2);
    check_owner(cut, "users:[0,10)", leader, 1);

    /* What is refused changes nothing. */
    leader = wait_leader(-1);
    test_refusals((leader + 1) % MEMBERS);
    leader = wait_leader(-1);
    synod_commit c4 = propose("users:[0,10)", leader, 2, -1);
    for (int i = 0; i < MEMBERS; i++) {
        CHECK_OK(synod_node_wait_applied(nodes[i], c4.index, 10000));
    }

    /* Shutdown with messages in flight: a thread keeps proposing while
     * each member is shut down in turn. After synod_node_shutdown returns,
     * its send callback never runs again, and its free function ran
     * exactly once. */
    pthread_t proposer_thread;
    CHECK(pthread_create(&proposer_thread, NULL, proposer, NULL) == 0);
    sleep_ms(100);
    for (int i = 0; i < MEMBERS; i++) {
        CHECK_OK(synod_node_shutdown(nodes[i]));
        atomic_store(&ctx[i].shut, true);
        CHECK(atomic_load(&ctx[i].frees) == 1);
        int sends = atomic_load(&ctx[i].sends);
        /* The others keep sending to it: its deliveries are refused. */
        sleep_ms(50);
        CHECK(atomic_load(&ctx[i].sends) == sends);
        CHECK_STATUS(synod_node_deliver(nodes[i], peer_ids[(i + 1) % MEMBERS], (const uint8_t *)"x", 1),
                     SYNOD_ERR_SHUTDOWN);
        CHECK_OK(synod_node_shutdown(nodes[i]));
        CHECK(atomic_load(&ctx[i].frees) == 1);
    }
    atomic_store(&proposer_stop, true);
    CHECK(pthread_join(proposer_thread, NULL) == 0);
    CHECK(atomic_load(&proposed) > 0);
    for (int i = 0; i < MEMBERS; i++) {
        pthread_mutex_lock(&nodes_lock);
        synod_node *n = nodes[i];
        nodes[i] = NULL;
        pthread_mutex_unlock(&nodes_lock);
        synod_node_free(n);
        CHECK(atomic_load(&ctx[i].frees) == 1);
        CHECK(atomic_load(&ctx[i].late_sends) == 0);
    }
    pthread_mutex_lock(&q_lock);
    q_stop = true;
    pthread_cond_signal(&q_ready);
    pthread_mutex_unlock(&q_lock);
    CHECK(pthread_join(router_thread, NULL) == 0);
    CHECK(atomic_load(&delivered_ok) > 0);
    for (int i = 0; i < MEMBERS; i++) {
        for (int j = 0; j < MEMBERS; j++) free(sample[i][j]);
    }

    /* Restarted alone, a member campaigns: its send callback may not shut
     * it down (it runs on the thread shutdown waits for). Freed without a
     * shutdown first, it releases its user data once too. */
    member_ctx solo;
    memset(&solo, 0, sizeof solo);
    atomic_store(&solo.self_shutdown, -1);
    synod_config *cfg = config_for(dir, 0);
    synod_node *n = NULL;
    CHECK_OK(synod_node_start_host(cfg, on_send, &solo, on_free, &n));
    synod_config_free(cfg);
    atomic_store(&solo.self_node, n);
    for (int tries = 0; tries < 1000 && atomic_load(&solo.self_shutdown) == -1; tries++) sleep_ms(5);
    CHECK(atomic_load(&solo.self_shutdown) == SYNOD_ERR_INVALID_ARGUMENT);
    bool led = true;
    CHECK_OK(synod_node_is_leader(n, &led));
    CHECK(!led);
    synod_node_free(n);
    CHECK(atomic_load(&solo.frees) == 1);
    synod_node_free(NULL);
    /* What the last member may have queued with no router left. */
    while (q_len > 0) {
        free(queue[q_head].bytes);
        q_head = (q_head + 1) % QUEUE_CAP;
        q_len--;
    }

    printf("host transport: ok (%d frames delivered, %d dropped by the test queue)\n",
           atomic_load(&delivered_ok), atomic_load(&q_dropped));
    return 0;
}
