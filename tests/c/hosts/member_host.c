/* A C host process that embeds one cluster member, as a database server
 * would: it starts the member from its configuration file, writes a ready
 * file, and then only waits. It installs no signal handler and does not
 * ignore SIGPIPE: when a peer dies, the library must not raise a signal in
 * its host (a SIGPIPE would kill this process). Killed with SIGKILL by the
 * test, or it shuts the member down after `seconds`.
 *
 * usage: member_host CONFIG READY_FILE SECONDS */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "synod.h"

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s CONFIG READY_FILE SECONDS\n", argv[0]);
        return 2;
    }
    synod_node *node = NULL;
    synod_status s = synod_node_start(argv[1], &node);
    if (s != SYNOD_OK) {
        char why[1024] = "";
        size_t n = 0;
        (void)synod_last_error_message(why, sizeof why, &n);
        fprintf(stderr, "start: %s: %s\n", synod_status_str(s), why);
        return 1;
    }
    FILE *ready = fopen(argv[2], "w");
    if (ready == NULL || fputs("ready\n", ready) < 0 || fclose(ready) != 0) {
        fprintf(stderr, "cannot write %s\n", argv[2]);
        return 1;
    }
    long seconds = atol(argv[3]);
    struct timespec tick = {0, 100 * 1000 * 1000};
    for (long i = 0; i < seconds * 10; i++) {
        nanosleep(&tick, NULL);
    }
    s = synod_node_shutdown(node);
    synod_node_free(node);
    return s == SYNOD_OK ? 0 : 1;
}
