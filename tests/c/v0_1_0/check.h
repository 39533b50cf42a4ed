/* Tiny assertion helpers shared by the C tests: a failed check prints where
 * and why, plus the library's last error, and exits non-zero. */
#ifndef SYNOD_TEST_CHECK_H
#define SYNOD_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synod.h"

static void check_fail(const char *file, int line, const char *what)
{
    char msg[512];
    size_t n = 0;
    synod_last_error_message(msg, sizeof msg, &n);
    fprintf(stderr, "%s:%d: check failed: %s\n  last error: %s (%s)\n", file, line, what,
            msg, synod_status_str(synod_last_error_status()));
    exit(1);
}

#define CHECK(cond)                                   \
    do {                                              \
        if (!(cond)) {                                \
            check_fail(__FILE__, __LINE__, #cond);    \
        }                                             \
    } while (0)

/* The call returns `status` (a synod_status). */
#define CHECK_STATUS(call, status)                                                  \
    do {                                                                            \
        synod_status check_got_ = (call);                                           \
        if (check_got_ != (synod_status)(status)) {                                 \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s\n", __FILE__,       \
                    __LINE__, #call, synod_status_str(check_got_),                  \
                    synod_status_str((synod_status)(status)));                      \
            check_fail(__FILE__, __LINE__, #call);                                  \
        }                                                                           \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, SYNOD_OK)

#define CHECK_STR(got, want)                                                   \
    do {                                                                       \
        const char *check_g_ = (got);                                          \
        const char *check_w_ = (want);                                         \
        if (check_g_ == NULL || strcmp(check_g_, check_w_) != 0) {             \
            fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, \
                    __LINE__, #got, check_g_ ? check_g_ : "(null)", check_w_); \
            check_fail(__FILE__, __LINE__, #got);                              \
        }                                                                      \
    } while (0)

/* Copies the last error message (whole) into a static buffer. */
static inline const char *last_message(void)
{
    static char buf[2048];
    size_t n = 0;
    if (synod_last_error_message(buf, sizeof buf, &n) != SYNOD_OK) {
        return "(message did not fit)";
    }
    return buf;
}

#endif
