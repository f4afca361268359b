/* tp_log — see tp_log.h. */
#include "tp_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int s_max_level = TP_LOG_INFO;

void tp_log_set_max_level(int max) {
    s_max_level = max;
}

static const char *s_level_name(int prio) {
    switch (prio) {
    case TP_LOG_ERR: return "error";
    case TP_LOG_WARNING: return "warning";
    case TP_LOG_NOTICE: return "notice";
    case TP_LOG_INFO: return "info";
    default: return "debug";
    }
}

int tp_log_internal(int prio, int err, const char *fmt, ...) {
    int saved = errno;
    if (err < 0)
        err = -err;
    if (prio <= s_max_level) {
        char    msg[2048];
        va_list ap;
        va_start(ap, fmt);
        errno = err ? err : saved; /* "%m" prints the error being reported */
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        /* One fprintf per line: stderr is unbuffered, so a single write keeps
         * lines whole when several processes share the terminal. */
        if (getenv("JOURNAL_STREAM"))
            fprintf(stderr, "<%d>%s\n", prio, msg);
        else
            fprintf(stderr, "touchpointd[%d]: %s: %s\n", (int)getpid(), s_level_name(prio), msg);
    }
    errno = saved;
    return -err;
}

bool tp_ratelimit_below(tp_ratelimit_t *rl, int64_t now_ms, uint64_t *ret_suppressed) {
    uint64_t suppressed = 0;
    if (rl->num == 0 || now_ms - rl->begin_ms >= rl->interval_ms || now_ms < rl->begin_ms) {
        suppressed = rl->suppressed;
        rl->begin_ms = now_ms;
        rl->num = 0;
        rl->suppressed = 0;
    }
    if (ret_suppressed)
        *ret_suppressed = suppressed;
    if (rl->num < rl->burst) {
        rl->num++;
        return true;
    }
    rl->suppressed++;
    return false;
}

int64_t tp_monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tp_monotonic_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
