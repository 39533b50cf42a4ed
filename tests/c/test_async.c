/* Non-blocking proposals through the C ABI: the callback runs exactly once
 * with the answer (the last error describes a failure during the call), the
 * free function runs exactly once per registration, failed registrations
 * free at once without a callback, and no callback fires after
 * synod_node_shutdown returns. */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "synod.h"

typedef struct {
    atomic_int called;
    atomic_int freed;
    atomic_int ok;
    atomic_int refused_stale;
    atomic_int shut_down;
    atomic_int last_status;
} counters;

static void on_answer(void *user_data, synod_status status, const synod_commit *commit) {
    counters *c = user_data;
    atomic_store(&c->last_status, (int)status);
    if (status == SYNOD_OK) {
        CHECK(commit != NULL);
        CHECK(commit->index > 0);
        atomic_fetch_add(&c->ok, 1);
    } else {
        CHECK(commit == NULL);
        if (status == SYNOD_ERR_REFUSED && synod_last_refusal_code() == SYNOD_REFUSAL_STALE_EPOCH) {
            atomic_fetch_add(&c->refused_stale, 1);
        }
        if (status == SYNOD_ERR_SHUTDOWN) atomic_fetch_add(&c->shut_down, 1);
    }
    atomic_fetch_add(&c->called, 1);
}

static void on_free(void *user_data) {
    counters *c = user_data;
    /* The callback, if any, has already run for this registration. */
    atomic_fetch_add(&c->freed, 1);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void wait_for(atomic_int *v, int want) {
    for (int i = 0; i < 1000 && atomic_load(v) < want; i++) sleep_ms(5);
    CHECK(atomic_load(v) == want);
}

static counters *fresh(void) {
    counters *c = calloc(1, sizeof *c);
    CHECK(c != NULL);
    return c;
}

static void test_single_node(void) {
    synod_node *node = NULL;
    CHECK_OK(synod_node_open_single("CN=solo", "127.0.0.1:7001", &node));
    counters *c = fresh();
    CHECK_OK(synod_node_propose_transition_async(node, "r", "CN=solo", 1, 1000, on_answer, c, on_free));
    /* The single-node engine answers before the call returns. */
    CHECK(atomic_load(&c->called) == 1 && atomic_load(&c->ok) == 1 && atomic_load(&c->freed) == 1);
    CHECK_OK(synod_node_propose_transition_async(node, "r", "CN=solo", 1, 1000, on_answer, c, on_free));
    CHECK(atomic_load(&c->refused_stale) == 1);
    CHECK(atomic_load(&c->freed) == 2);

    /* Failed registrations: no callback, the free function at once. */
    CHECK(synod_node_propose_transition_async(node, "r", "CN=solo", 2, 1000, NULL, c, on_free) ==
          SYNOD_ERR_NULL_ARGUMENT);
    CHECK(synod_node_propose_transition_async(node, "r", "", 2, 1000, on_answer, c, on_free) ==
          SYNOD_ERR_INVALID_IDENTITY);
    CHECK(synod_node_propose_transition_async(NULL, "r", "CN=solo", 2, 1000, on_answer, c, on_free) ==
          SYNOD_ERR_NULL_ARGUMENT);
    CHECK(atomic_load(&c->called) == 2);
    CHECK(atomic_load(&c->freed) == 5);
    /* A NULL free function is allowed. */
    CHECK_OK(synod_node_propose_transition_async(node, "r", "CN=solo", 2, 1000, on_answer, c, NULL));
    CHECK(atomic_load(&c->called) == 3);

    CHECK_OK(synod_node_shutdown(node));
    CHECK(synod_node_propose_transition_async(node, "r", "CN=solo", 3, 1000, on_answer, c, on_free) ==
          SYNOD_ERR_SHUTDOWN);
    CHECK(atomic_load(&c->called) == 3);
    CHECK(atomic_load(&c->freed) == 6);
    synod_node_free(node);
    free(c);
}

static void test_started_member(void) {
    char dir[] = "/tmp/synod-c-async-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char config[512];
    char text[1024];
    snprintf(config, sizeof config, "%s/node.toml", dir);
    snprintf(text, sizeof text,
             "id = \"CN=async\"\nlisten = \"127.0.0.1:0\"\ndata_dir = \"%s/data\"\n"
             "[tls]\ninsecure = true\n"
             "[cluster]\nbootstrap = [ { id = \"CN=async\", address = \"127.0.0.1:0\" } ]\n"
             "[engine]\ntick_ms = 10\n",
             dir);
    FILE *f = fopen(config, "w");
    CHECK(f != NULL);
    CHECK(fputs(text, f) >= 0);
    CHECK(fclose(f) == 0);

    synod_node *node = NULL;
    CHECK_OK(synod_node_start(config, &node));
    bool led = false;
    for (int i = 0; i < 500 && !led; i++) {
        CHECK_OK(synod_node_is_leader(node, &led));
        if (!led) sleep_ms(10);
    }
    CHECK(led);

    counters *c = fresh();
    enum { N = 20 };
    for (int i = 0; i < N; i++) {
        char range[32];
        snprintf(range, sizeof range, "async-%d", i);
        CHECK_OK(synod_node_propose_transition_async(node, range, "CN=async", 1, 5000, on_answer, c, on_free));
    }
    wait_for(&c->called, N);
    wait_for(&c->freed, N);
    CHECK(atomic_load(&c->ok) == N);

    /* Shutdown answers what is still waiting, then nothing fires. */
    for (int i = 0; i < 5; i++) {
        CHECK_OK(synod_node_propose_transition_async(node, "late", "CN=async", (uint64_t)(i + 1), 60000, on_answer,
                                                     c, on_free));
    }
    CHECK_OK(synod_node_shutdown(node));
    int called = atomic_load(&c->called);
    int freed = atomic_load(&c->freed);
    CHECK(called == N + 5);
    CHECK(freed == N + 5);
    CHECK(synod_node_propose_transition_async(node, "late", "CN=async", 9, 1000, on_answer, c, on_free) ==
          SYNOD_ERR_SHUTDOWN);
    sleep_ms(50);
    CHECK(atomic_load(&c->called) == called);
    CHECK(atomic_load(&c->freed) == freed + 1);
    synod_node_free(node);
    free(c);
}

/* Starts a one-member cluster named `id` in a fresh directory and waits
 * until it leads. */
static synod_node *start_member_with(const char *id, const char *engine_extra) {
    char dir[] = "/tmp/synod-c-async-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char config[512];
    char text[1024];
    snprintf(config, sizeof config, "%s/node.toml", dir);
    snprintf(text, sizeof text,
             "id = \"%s\"\nlisten = \"127.0.0.1:0\"\ndata_dir = \"%s/data\"\n"
             "[tls]\ninsecure = true\n"
             "[cluster]\nbootstrap = [ { id = \"%s\", address = \"127.0.0.1:0\" } ]\n"
             "[engine]\ntick_ms = 10\n%s",
             id, dir, id, engine_extra);
    FILE *f = fopen(config, "w");
    CHECK(f != NULL);
    CHECK(fputs(text, f) >= 0);
    CHECK(fclose(f) == 0);
    synod_node *node = NULL;
    CHECK_OK(synod_node_start(config, &node));
    bool led = false;
    for (int i = 0; i < 500 && !led; i++) {
        CHECK_OK(synod_node_is_leader(node, &led));
        if (!led) sleep_ms(10);
    }
    CHECK(led);
    return node;
}

static synod_node *start_member(const char *id) { return start_member_with(id, ""); }

static long elapsed_ms(const struct timespec *since) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000L + (now.tv_nsec - since->tv_nsec) / 1000000L;
}

/* What a callback that calls back into its own node saw. */
typedef struct {
    const synod_node *node;
    atomic_int done;
    atomic_int first;  /* the callback's own status */
    atomic_int nested; /* a blocking proposal made from inside it */
    atomic_int read;   /* a read made from inside it */
    atomic_int owner_epoch;
} reentry;

static void propose_from_callback(void *user_data, synod_status status, const synod_commit *commit) {
    reentry *r = user_data;
    (void)commit;
    atomic_store(&r->first, (int)status);
    synod_commit c;
    atomic_store(&r->nested, (int)synod_node_propose_transition(r->node, "nested", "CN=reentry", 1,
                                                                 5000, &c));
    synod_ownership *own = NULL;
    synod_status read = synod_node_owner(r->node, "outer", &own);
    atomic_store(&r->read, (int)read);
    if (read == SYNOD_OK) {
        atomic_store(&r->owner_epoch, (int)synod_ownership_epoch(own));
        synod_ownership_free(own);
    }
    atomic_store(&r->done, 1);
}

/* A callback may call the blocking functions of its own node: callbacks run
 * on the member's callback thread, not the thread that answers them. */
static void test_callback_calls_its_own_node(void) {
    synod_node *node = start_member("CN=reentry");
    reentry *r = calloc(1, sizeof *r);
    CHECK(r != NULL);
    r->node = node;
    atomic_store(&r->first, -1);
    atomic_store(&r->nested, -1);
    atomic_store(&r->read, -1);
    CHECK_OK(synod_node_propose_transition_async(node, "outer", "CN=reentry", 1, 5000,
                                                 propose_from_callback, r, NULL));
    /* Deadlocked, this fails here (and exits) instead of hanging. */
    wait_for(&r->done, 1);
    CHECK(atomic_load(&r->first) == SYNOD_OK);
    CHECK(atomic_load(&r->nested) == SYNOD_OK);
    CHECK(atomic_load(&r->read) == SYNOD_OK);
    CHECK(atomic_load(&r->owner_epoch) == 1);
    synod_node_free(node);
    free(r);
}

typedef struct {
    atomic_int started;
    atomic_int finished;
} slow;

static void sleep_in_callback(void *user_data, synod_status status, const synod_commit *commit) {
    slow *s = user_data;
    (void)status;
    (void)commit;
    atomic_store(&s->started, 1);
    sleep_ms(2000);
    atomic_store(&s->finished, 1);
}

/* A callback that sleeps 2 s holds up later callbacks, not the member: a
 * blocking proposal made meanwhile commits at once. */
static void test_slow_callback_does_not_stall(void) {
    synod_node *node = start_member("CN=slow");
    slow *s = calloc(1, sizeof *s);
    CHECK(s != NULL);
    CHECK_OK(synod_node_propose_transition_async(node, "slow", "CN=slow", 1, 5000,
                                                 sleep_in_callback, s, NULL));
    wait_for(&s->started, 1);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    synod_commit c;
    for (int i = 0; i < 2; i++) {
        char range[32];
        snprintf(range, sizeof range, "meanwhile-%d", i);
        CHECK_OK(synod_node_propose_transition(node, range, "CN=slow", 1, 1000, &c));
    }
    long took = elapsed_ms(&t0);
    if (took >= 1500) fprintf(stderr, "proposals during a slow callback took %ld ms\n", took);
    CHECK(took < 1500);
    CHECK(atomic_load(&s->finished) == 0);
    bool led = false;
    CHECK_OK(synod_node_is_leader(node, &led));
    CHECK(led);
    /* Shutdown waits for the slow callback. */
    CHECK_OK(synod_node_shutdown(node));
    CHECK(atomic_load(&s->finished) == 1);
    synod_node_free(node);
    free(s);
}

typedef struct {
    const synod_node *node;
    atomic_int shutdown_status;
    atomic_int returned;
    counters *others;
    atomic_int late;
} stopper;

static stopper *the_stopper;

static void shut_down_from_callback(void *user_data, synod_status status, const synod_commit *commit) {
    stopper *s = user_data;
    (void)status;
    (void)commit;
    atomic_store(&s->shutdown_status, (int)synod_node_shutdown(s->node));
    atomic_store(&s->returned, 1);
}

static void count_if_late(void *user_data, synod_status status, const synod_commit *commit) {
    if (atomic_load(&the_stopper->returned)) atomic_fetch_add(&the_stopper->late, 1);
    on_answer(user_data, status, commit);
}

/* A callback may shut its own started member down: no deadlock, and every
 * other callback has run (and been freed) before that shutdown returns. */
static void test_shutdown_from_a_callback(void) {
    synod_node *node = start_member("CN=stopper");
    stopper *s = calloc(1, sizeof *s);
    CHECK(s != NULL);
    s->node = node;
    s->others = fresh();
    atomic_store(&s->shutdown_status, -1);
    the_stopper = s;
    CHECK_OK(synod_node_propose_transition_async(node, "stop", "CN=stopper", 1, 5000,
                                                 shut_down_from_callback, s, NULL));
    int registered = 0;
    for (int i = 0; i < 20; i++) {
        char range[32];
        snprintf(range, sizeof range, "after-%d", i);
        if (synod_node_propose_transition_async(node, range, "CN=stopper", 1, 60000, count_if_late,
                                                s->others, on_free) == SYNOD_OK) {
            registered++;
        }
    }
    wait_for(&s->returned, 1);
    CHECK(atomic_load(&s->shutdown_status) == SYNOD_OK);
    CHECK(atomic_load(&s->others->called) == registered);
    CHECK(atomic_load(&s->others->freed) == 20);
    CHECK(atomic_load(&s->late) == 0);
    CHECK_OK(synod_node_shutdown(node));
    synod_node_free(node);
    free(s->others);
    free(s);
}

typedef struct {
    const synod_node *node;
    atomic_int status;
} single_stopper;

static void shut_down_single_from_callback(void *user_data, synod_status status,
                                           const synod_commit *commit) {
    single_stopper *s = user_data;
    (void)status;
    (void)commit;
    atomic_store(&s->status, (int)synod_node_shutdown(s->node));
}

/* The single-node engine calls back before the registration returns: a
 * shutdown from there is refused with an error instead of deadlocking. */
static void test_single_node_shutdown_from_a_callback_is_refused(void) {
    synod_node *node = NULL;
    CHECK_OK(synod_node_open_single("CN=solo", "127.0.0.1:7001", &node));
    single_stopper s = {node, -1};
    CHECK_OK(synod_node_propose_transition_async(node, "r", "CN=solo", 1, 1000,
                                                 shut_down_single_from_callback, &s, NULL));
    CHECK(atomic_load(&s.status) == SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(last_message(), "callback") != NULL);
    /* Nothing was shut down; outside the callback it works. */
    synod_commit c;
    CHECK_OK(synod_node_propose_transition(node, "r", "CN=solo", 2, 1000, &c));
    CHECK_OK(synod_node_shutdown(node));
    synod_node_free(node);
}

/* A callback that holds its call slot until released. */
typedef struct {
    atomic_int release;
    atomic_int status;
    atomic_int done;
} holder;

static void hold_until_released(void *user_data, synod_status status, const synod_commit *commit) {
    holder *h = user_data;
    (void)commit;
    atomic_store(&h->status, (int)status);
    for (int i = 0; i < 2000 && !atomic_load(&h->release); i++) sleep_ms(5);
    atomic_store(&h->done, 1);
}

/* Calls in flight are bounded (engine.max_pending_calls): past the bound an
 * asynchronous proposal is refused at once with SYNOD_ERR_OVERLOADED (its
 * free function runs, its callback never), a blocking one waits for room
 * until its deadline, and neither takes effect. */
static void test_overloaded(void) {
    synod_node *node = start_member_with("CN=busy", "max_pending_calls = 1\n");
    holder *h = calloc(1, sizeof *h);
    CHECK(h != NULL);
    atomic_store(&h->status, -1);
    CHECK_OK(synod_node_propose_transition_async(node, "first", "CN=busy", 1, 5000, hold_until_released, h,
                                                 NULL));
    /* The first answer arrives, and its callback keeps the only slot. */
    for (int i = 0; i < 1000 && atomic_load(&h->status) == -1; i++) sleep_ms(5);
    CHECK(atomic_load(&h->status) == SYNOD_OK);

    counters *c = fresh();
    CHECK(synod_node_propose_transition_async(node, "second", "CN=busy", 1, 5000, on_answer, c, on_free) ==
          SYNOD_ERR_OVERLOADED);
    char message[512];
    size_t n = 0;
    CHECK_OK(synod_last_error_message(message, sizeof message, &n));
    CHECK(strstr(message, "overloaded") != NULL);
    CHECK(atomic_load(&c->called) == 0 && atomic_load(&c->freed) == 1);

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    synod_commit commit;
    CHECK(synod_node_propose_transition(node, "third", "CN=busy", 1, 200, &commit) == SYNOD_ERR_OVERLOADED);
    CHECK(elapsed_ms(&t0) >= 190);

    atomic_store(&h->release, 1);
    wait_for(&h->done, 1);
    /* Room came back; neither refused proposal took effect. */
    synod_ownership *own = NULL;
    CHECK(synod_node_owner(node, "second", &own) == SYNOD_ERR_NOT_FOUND);
    CHECK(synod_node_owner(node, "third", &own) == SYNOD_ERR_NOT_FOUND);
    CHECK_OK(synod_node_propose_transition(node, "fourth", "CN=busy", 1, 5000, &commit));
    CHECK_OK(synod_node_shutdown(node));
    synod_node_free(node);
    free(c);
    free(h);
}

int main(void) {
    test_single_node();
    test_started_member();
    test_overloaded();
    test_callback_calls_its_own_node();
    test_slow_callback_does_not_stall();
    test_shutdown_from_a_callback();
    test_single_node_shutdown_from_a_callback_is_refused();
    printf("test_async: ok\n");
    return 0;
}
