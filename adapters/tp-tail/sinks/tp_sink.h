/* tp_sink — the one interface behind tp-tail's outputs (stdout, --output
 * FILE, --webhook URL), in the style of Fluent Bit's output plugins: the
 * tail loop hands a sink one message (one alert JSON line, or one digest)
 * and learns whether it was delivered, so every output is the same to it.
 *
 * Called only by tp_sink_queue.c, which keeps the order, the retries and
 * the counters. A sink never retries by itself and never logs: it returns
 * what happened and, for a failure, a one-line reason.
 */
#pragma once

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tp_sink tp_sink_t;

struct tp_sink_ops {
    const char *name; /* "stdout", "file", "webhook", "alertmanager" */
    /* Delivers `body` (`len` bytes, one JSON document, no trailing newline).
     * 0 delivered (or, for a sink that posts in batches, taken); -EAGAIN not
     * now, try again later (connection refused, timeout, 5xx, 408, 429, a
     * failed write); -EBADMSG the receiver refused this message for good (a
     * 4xx): retrying it cannot help; -EINPROGRESS started but not finished:
     * wait on `pollfds` and call again with the same message. On failure
     * `why` holds a reason. */
    int (*deliver)(tp_sink_t *s, const char *body, size_t len, char *why, size_t whylen);
    /* SIGHUP: reopen what was opened by name (the file after logrotate moved
     * it). 0 or negative errno (the old one is kept then, `why` says why).
     * NULL when there is nothing to reopen. */
    int (*reopen)(tp_sink_t *s, char *why, size_t whylen);
    /* Frees the sink; accepts NULL. */
    void (*destroy)(tp_sink_t *s);

    /* The rest is optional (NULL) and only for sinks that work in the
     * background (HTTP transfers, batches, resends); all without blocking.
     * `pollfds`: up to `max` fds to wait on before calling again, and in
     * *ret_next the latest time (ms, CLOCK_MONOTONIC) to call anyway. */
    size_t (*pollfds)(tp_sink_t *s, struct pollfd *fds, size_t max, uint64_t now,
                      uint64_t *ret_next);
    /* Moves the background work on at `now`; *ret_next: when it is next due
     * (UINT64_MAX: nothing). Reports its own failures (rate limited). */
    void (*pump)(tp_sink_t *s, uint64_t now, uint64_t *ret_next);
    /* The lowest alert sequence taken but not yet at its destination,
     * UINT64_MAX when none: --durable's FILE stays below it. */
    uint64_t (*floor)(tp_sink_t *s);
};

/* Every sink starts with this header; its own state follows. */
struct tp_sink {
    const struct tp_sink_ops *ops;
};

/* Frees `*p` through its ops and sets it to NULL; accepts NULL and *p NULL. */
static inline void tp_sink_destroy(tp_sink_t **p) {
    if (p && *p) {
        (*p)->ops->destroy(*p);
        *p = NULL;
    }
}
