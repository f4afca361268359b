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

#include <stddef.h>

typedef struct tp_sink tp_sink_t;

struct tp_sink_ops {
    const char *name; /* "stdout", "file", "webhook" */
    /* Delivers `body` (`len` bytes, one JSON document, no trailing newline).
     * 0 delivered; -EAGAIN not now, try again later (connection refused,
     * timeout, 5xx, 408, 429, a failed write); -EBADMSG the receiver refused
     * this message for good (a 4xx): retrying it cannot help; -EINTR
     * interrupted by a stop request. On failure `why` holds a reason. */
    int (*deliver)(tp_sink_t *s, const char *body, size_t len, char *why, size_t whylen);
    /* SIGHUP: reopen what was opened by name (the file after logrotate moved
     * it). 0 or negative errno (the old one is kept then, `why` says why).
     * NULL when there is nothing to reopen. */
    int (*reopen)(tp_sink_t *s, char *why, size_t whylen);
    /* Frees the sink; accepts NULL. */
    void (*destroy)(tp_sink_t *s);
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
