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

int main(void) {
    test_single_node();
    test_started_member();
    printf("test_async: ok\n");
    return 0;
}
