/* tp_sink_queue — see tp_sink_queue.h. */
#include "tp_sink_queue.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tp_backoff.h"

#define TP_SINK_BACKOFF_MAX_MS 30000
#define TP_SINK_LOG_EVERY_MS   10000 /* failures are reported at most this often */
#define TP_SINK_PUMP_BATCH     64

struct item {
    char    *body;
    size_t   len;
    uint64_t min_seq;   /* lowest alert sequence inside, 0 = none */
    char     label[96]; /* "alert <id>" / "digest rep=REP-7" */
};

struct tp_sink_queue {
    tp_sink_t              *sink;    /* owned */
    size_t                  max;     /* full() threshold */
    uint64_t                retries; /* 0 = forever */
    struct item            *items;   /* ring buffer */
    size_t                  head, n, cap;
    uint64_t                attempts;        /* failed attempts of the first message */
    uint64_t                retry_at;        /* first message in back-off until then */
    uint64_t                outage_failures; /* failed attempts since the last success */
    uint64_t                logged_ms;       /* last failure report */
    uint64_t                unlogged;        /* failures since that report */
    uint32_t                rng;             /* jitter; not security relevant */
    struct tp_sink_counters c;
};

int tp_sink_queue_new(tp_sink_t *sink, size_t max, uint64_t retries, tp_sink_queue_t **ret) {
    tp_sink_queue_t *q = calloc(1, sizeof *q);
    if (!q) {
        tp_sink_destroy(&sink);
        return -ENOMEM;
    }
    q->sink = sink;
    q->max = max ? max : 1;
    q->retries = retries;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    q->rng = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid() ^ 0x9e3779b9u;
    *ret = q;
    return 0;
}

void tp_sink_queue_destroy(tp_sink_queue_t **p) {
    tp_sink_queue_t *q = p ? *p : NULL;
    if (!q)
        return;
    for (size_t i = 0; i < q->n; i++)
        free(q->items[(q->head + i) % q->cap].body);
    free(q->items);
    tp_sink_destroy(&q->sink);
    free(q);
    *p = NULL;
}

int tp_sink_queue_push(tp_sink_queue_t *q, char *body, size_t len, uint64_t min_seq,
                       const char *label) {
    if (q->n == q->cap) {
        size_t       cap = q->cap ? q->cap * 2 : 64;
        struct item *it = malloc(cap * sizeof *it);
        if (!it) {
            free(body);
            return -ENOMEM;
        }
        for (size_t i = 0; i < q->n; i++) /* unwrap the ring */
            it[i] = q->items[(q->head + i) % q->cap];
        free(q->items);
        q->items = it;
        q->cap = cap;
        q->head = 0;
    }
    struct item *it = &q->items[(q->head + q->n) % q->cap];
    *it = (struct item){ .body = body, .len = len, .min_seq = min_seq };
    snprintf(it->label, sizeof it->label, "%s", label);
    q->n++;
    return 0;
}

size_t tp_sink_queue_length(const tp_sink_queue_t *q) {
    return q->n;
}

bool tp_sink_queue_full(const tp_sink_queue_t *q) {
    return q->n >= q->max;
}

uint64_t tp_sink_queue_floor(const tp_sink_queue_t *q) {
    uint64_t floor = q->sink->ops->floor ? q->sink->ops->floor(q->sink) : UINT64_MAX;
    for (size_t i = 0; i < q->n; i++) {
        uint64_t s = q->items[(q->head + i) % q->cap].min_seq;
        if (s && s < floor)
            floor = s;
    }
    return floor;
}

static void s_pop(tp_sink_queue_t *q) {
    free(q->items[q->head].body);
    q->head = (q->head + 1) % q->cap;
    q->n--;
    q->attempts = 0;
    q->retry_at = 0;
}

static uint64_t s_backoff_ms(tp_sink_queue_t *q) {
    return tp_backoff_ms(&q->rng, q->attempts, TP_SINK_BACKOFF_MAX_MS);
}

/* One failed attempt that will be retried: reported for the first failure
 * of an outage, then at most every 10 s with how many were not. */
static void s_failed_attempt(tp_sink_queue_t *q, const struct item *it, const char *why,
                             uint64_t now) {
    uint64_t wait = s_backoff_ms(q);
    q->retry_at = now + wait;
    q->c.retried++;
    q->outage_failures++;
    if (q->outage_failures > 1 && now - q->logged_ms < TP_SINK_LOG_EVERY_MS) {
        q->unlogged++;
        return;
    }
    fprintf(stderr,
            "tp-tail: %s: cannot deliver %s: %s; retry %" PRIu64 "%s in %" PRIu64 " ms (%" PRIu64
            " failed attempts in this outage, %" PRIu64 " not reported)\n",
            q->sink->ops->name, it->label, why, q->attempts,
            q->retries ? "" : " (retrying forever)", wait, q->outage_failures, q->unlogged);
    q->logged_ms = now;
    q->unlogged = 0;
}

int tp_sink_queue_pump(tp_sink_queue_t *q, uint64_t now, uint64_t *ret_next) {
    int  r = 0;
    bool waiting = false;
    for (unsigned done = 0; q->n > 0 && done < TP_SINK_PUMP_BATCH; done++) {
        struct item *it = &q->items[q->head];
        if (q->retry_at > now)
            break;
        char why[512] = "";
        r = q->sink->ops->deliver(q->sink, it->body, it->len, why, sizeof why);
        if (r == 0) {
            if (q->outage_failures)
                fprintf(stderr, "tp-tail: %s: delivering again after %" PRIu64 " failed attempts\n",
                        q->sink->ops->name, q->outage_failures);
            q->outage_failures = q->unlogged = 0;
            q->c.delivered++;
            s_pop(q);
            continue;
        }
        if (r == -EINPROGRESS) { /* the sink's fds and pollfds' time wake us */
            waiting = true;
            r = 0;
            break;
        }
        if (r == -EBADMSG) {
            fprintf(stderr,
                    "tp-tail: %s: %s refused for good, skipped (counted as failed): "
                    "%s; it was: %.*s\n",
                    q->sink->ops->name, it->label, why,
                    it->len > INT32_MAX ? INT32_MAX : (int)it->len, it->body);
            q->c.failed++;
            s_pop(q);
            r = 0;
            continue;
        }
        q->attempts++;
        if (q->retries && q->attempts > q->retries) {
            fprintf(stderr, "tp-tail: %s: giving up on %s after %" PRIu64 " retries: %s\n",
                    q->sink->ops->name, it->label, q->retries, why);
            q->c.failed++;
            q->attempts--;
            r = -ETIME;
            break;
        }
        s_failed_attempt(q, it, why, now);
        r = 0;
        break;
    }
    if (q->n == 0 || waiting)
        *ret_next = UINT64_MAX; /* empty, or in flight: tp_sink_queue_pollfds says */
    else
        *ret_next = q->retry_at > now ? q->retry_at : now;
    if (q->sink->ops->pump) {
        uint64_t next = UINT64_MAX;
        q->sink->ops->pump(q->sink, now, &next);
        if (next < *ret_next)
            *ret_next = next;
    }
    return r;
}

size_t tp_sink_queue_pollfds(tp_sink_queue_t *q, struct pollfd *fds, size_t max, uint64_t now,
                             uint64_t *ret_next) {
    *ret_next = UINT64_MAX;
    if (!q->sink->ops->pollfds)
        return 0;
    return q->sink->ops->pollfds(q->sink, fds, max, now, ret_next);
}

bool tp_sink_queue_busy(const tp_sink_queue_t *q) {
    return q->n > 0 || tp_sink_queue_floor(q) != UINT64_MAX;
}

int tp_sink_queue_reopen(tp_sink_queue_t *q) {
    char why[512] = "";
    if (!q->sink->ops->reopen)
        return 0;
    int r = q->sink->ops->reopen(q->sink, why, sizeof why);
    if (r < 0)
        fprintf(stderr, "tp-tail: %s: reopen failed, still writing to the old file: %s\n",
                q->sink->ops->name, why);
    return r;
}

struct tp_sink_counters tp_sink_queue_counters(const tp_sink_queue_t *q) {
    return q->c;
}
