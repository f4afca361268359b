/* tp_log — logging to stderr, and the rate limiter that keeps bad input
 * from flooding it.
 *
 * Under systemd (JOURNAL_STREAM set) each line starts with a "<N>" priority
 * prefix that journald turns into the entry's priority; elsewhere lines read
 * "touchpointd[pid]: warning: ...". Modules return error codes; the layer
 * that handles an error logs it once, in the same statement:
 *     return log_error_errno(r, "Failed to bind '%s': %m", ep);
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum { TP_LOG_ERR = 3, TP_LOG_WARNING = 4, TP_LOG_NOTICE = 5, TP_LOG_INFO = 6, TP_LOG_DEBUG = 7 };

/* Lines with a priority above max (less severe) are dropped. Default INFO. */
void tp_log_set_max_level(int max);

/* Logs one line; with err != 0, errno is set to |err| first so "%m" prints
 * it. Returns -|err| so callers can `return log_error_errno(r, ...)`. */
int tp_log_internal(int prio, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_debug(...)            tp_log_internal(TP_LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)             tp_log_internal(TP_LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)           tp_log_internal(TP_LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...)          tp_log_internal(TP_LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)            tp_log_internal(TP_LOG_ERR, 0, __VA_ARGS__)
#define log_warning_errno(e, ...) tp_log_internal(TP_LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)   tp_log_internal(TP_LOG_ERR, (e), __VA_ARGS__)

/* At most `burst` events per `interval_ms` window (like systemd's
 * ratelimit). Time is passed in so tests need no real clock. */
typedef struct {
    int64_t  interval_ms;
    unsigned burst;
    int64_t  begin_ms;   /* start of the current window */
    unsigned num;        /* events seen in this window */
    uint64_t suppressed; /* events refused in this window */
} tp_ratelimit_t;

/* True if one more event may pass now. When a new window opens after some
 * were refused, *ret_suppressed receives how many (so the caller can say
 * "N similar messages suppressed"); otherwise it is set to 0. */
bool tp_ratelimit_below(tp_ratelimit_t *rl, int64_t now_ms, uint64_t *ret_suppressed);

/* CLOCK_MONOTONIC in ms, for rate limiting and loop-lag measurement. */
int64_t tp_monotonic_ms(void);

/* The same in microseconds, for timing commits and loop lag. */
int64_t tp_monotonic_us(void);
