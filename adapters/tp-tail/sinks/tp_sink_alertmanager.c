/* tp_sink_alertmanager — see tp_sink_alertmanager.h.
 *
 * Every change (an alert added, updated or resolved) gets the next
 * generation number and moves to the tail of one list, so the list is in
 * generation order. Per Alertmanager, `cursor` is how far the current pass
 * got: the next POST carries the first `batch` alerts after it. A resend
 * sets the cursor back to 0, which makes the whole set one more pass.
 * `acked` only grows: every change up to it reached that Alertmanager. A
 * resolved alert is freed once every Alertmanager acked it.
 */
#include "tp_sink_alertmanager.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <uthash.h>
#include <utlist.h>

#include "tp_am_alert.h"
#include "tp_backoff.h"

#define TP_AM_BACKOFF_MAX_MS 30000
#define TP_AM_LOG_EVERY_MS   10000 /* failures are reported at most this often */
#define TP_AM_PATH           "/api/v2/alerts"

struct am_alert {
    char            *id;          /* alert_id, the hash key */
    json_t          *am;          /* what is posted: labels, annotations, startsAt[, endsAt] */
    int64_t          start_ms;    /* startsAt */
    uint64_t         gen, seq;    /* last change: generation, alert sequence (0 unknown) */
    bool             resolved;    /* endsAt set; freed once every Alertmanager has it */
    struct am_alert *prev, *next; /* the list, generation order */
    UT_hash_handle   hh;
};

struct target {
    char          *url; /* .../api/v2/alerts */
    tp_http_req_t *req;
    uint64_t       cursor, acked; /* see the comment at the top */
    uint64_t       sent_gen;      /* in flight: the last generation in the batch */
    size_t         sent_n;        /* in flight: alerts in the batch */
    bool           in_flight;
    uint64_t       retry_at, resend_at, attempts;
    uint64_t       outage, logged_ms, unlogged; /* failure reports, as tp_sink_queue.c */
};

struct sink_am {
    tp_sink_t        base;
    tp_http_t       *http;
    struct target   *t;
    size_t           n_t;
    struct am_alert *by_id; /* uthash on id */
    struct am_alert *list;  /* utlist, generation order */
    uint64_t         gen;   /* last generation handed out */
    uint64_t         resend_ms, posted_upto, gc_acked;
    size_t           batch;
    bool             hold;
    uint32_t         rng; /* jitter; not security relevant */
};

static void s_free_alert(struct sink_am *s, struct am_alert *e) {
    HASH_DEL(s->by_id, e);
    DL_DELETE(s->list, e);
    json_decref(e->am);
    free(e->id);
    free(e);
}

static void s_touch(struct sink_am *s, struct am_alert *e, bool is_new) {
    if (!is_new)
        DL_DELETE(s->list, e);
    DL_APPEND(s->list, e);
    e->gen = ++s->gen;
}

static int s_deliver(tp_sink_t *base, const char *body, size_t len, char *why, size_t whylen) {
    struct sink_am    *s = (struct sink_am *)base;
    struct tp_am_alert a = { 0 };
    int                r = tp_am_alert_parse(body, len, why, whylen, &a);
    if (r < 0)
        return r == -ENOMEM ? -EAGAIN : r;
    struct am_alert *e = NULL;
    HASH_FIND_STR(s->by_id, a.alert_id, e);
    if (a.resolved && a.sequence && a.sequence <= s->posted_upto) {
        /* posted by an earlier run (--durable's catch-up): nothing to say */
        if (e)
            s_free_alert(s, e);
        tp_am_alert_clear(&a);
        return 0;
    }
    bool is_new = !e;
    if (is_new) {
        if (!(e = calloc(1, sizeof *e))) {
            tp_am_alert_clear(&a);
            snprintf(why, whylen, "out of memory");
            return -EAGAIN;
        }
        e->id = a.alert_id;
        a.alert_id = NULL;
        HASH_ADD_KEYPTR(hh, s->by_id, e->id, strlen(e->id), e);
    }
    if (!a.resolved || is_new) { /* a RESOLVED keeps its FIRING's labels and start */
        json_decref(e->am);
        e->am = a.am;
        a.am = NULL;
        e->start_ms = a.detected_ms;
        json_object_del(e->am, "endsAt");
    }
    e->resolved = a.resolved;
    if (a.resolved) { /* Alertmanager refuses an end before the start */
        char when[40];
        tp_am_time(a.detected_ms > e->start_ms ? a.detected_ms : e->start_ms, when, sizeof when);
        if (json_object_set_new(e->am, "endsAt", json_string(when)) < 0) {
            snprintf(why, whylen, "out of memory");
            tp_am_alert_clear(&a);
            return -EAGAIN; /* the queue retries this line */
        }
    }
    e->seq = a.sequence;
    s_touch(s, e, is_new);
    tp_am_alert_clear(&a);
    return 0;
}

static uint64_t s_min_acked(const struct sink_am *s) {
    uint64_t m = UINT64_MAX;
    for (size_t i = 0; i < s->n_t; i++)
        if (s->t[i].acked < m)
            m = s->t[i].acked;
    return m;
}

/* The first alert changed after `gen`, NULL if none: walks back from the
 * tail, so an incremental POST costs what changed, not the whole set. */
static struct am_alert *s_after(const struct sink_am *s, uint64_t gen) {
    struct am_alert *e = s->list ? s->list->prev : NULL, *first = NULL;
    for (; e && e->gen > gen; e = e == s->list ? NULL : e->prev)
        first = e;
    return first;
}

/* Retries wait at most the resend period: an Alertmanager back from a
 * restart has the open alerts again within one period. */
static uint64_t s_backoff_ms(struct sink_am *s, struct target *t) {
    uint64_t cap = s->resend_ms < TP_AM_BACKOFF_MAX_MS ? s->resend_ms : TP_AM_BACKOFF_MAX_MS;
    return tp_backoff_ms(&s->rng, t->attempts, cap < TP_BACKOFF_MIN_MS ? TP_BACKOFF_MIN_MS : cap);
}

/* Takes the answer to the POST in flight, if there is one yet. */
static void s_take_result(struct sink_am *s, struct target *t, uint64_t now) {
    char why[512] = "";
    int  r = tp_http_result(t->req, why, sizeof why);
    if (r == -EINPROGRESS)
        return;
    t->in_flight = false;
    if (r == 0 || r == -EBADMSG) {
        if (r == -EBADMSG) /* one bad alert must not stop the others for ever */
            fprintf(stderr, "tp-tail: alertmanager: %zu alerts refused for good, skipped: %s\n",
                    t->sent_n, why);
        else if (t->outage)
            fprintf(stderr,
                    "tp-tail: alertmanager: posting to %s again after %" PRIu64
                    " failed attempts\n",
                    t->url, t->outage);
        if (r == 0)
            t->outage = t->unlogged = 0;
        t->cursor = t->sent_gen;
        if (t->cursor > t->acked)
            t->acked = t->cursor;
        t->attempts = 0;
        return;
    }
    t->attempts++;
    t->outage++;
    uint64_t wait = s_backoff_ms(s, t);
    t->retry_at = now + wait;
    if (t->outage > 1 && now - t->logged_ms < TP_AM_LOG_EVERY_MS) {
        t->unlogged++;
        return;
    }
    fprintf(stderr,
            "tp-tail: alertmanager: cannot post %zu alerts: %s; retry in %" PRIu64 " ms (%" PRIu64
            " failed attempts in this outage, %" PRIu64 " not reported)\n",
            t->sent_n, why, wait, t->outage, t->unlogged);
    t->logged_ms = now;
    t->unlogged = 0;
}

/* Posts the next batch after the cursor, if any. */
static void s_post_next(struct sink_am *s, struct target *t, uint64_t now) {
    struct am_alert *e = s_after(s, t->cursor);
    /* The whole set again, once the pass before it is through: restarting
     * a pass that takes longer than the period would never reach its end. */
    if (!e && now >= t->resend_at) {
        t->cursor = 0;
        t->resend_at = now + s->resend_ms;
        e = s_after(s, 0);
    }
    if (!e)
        return;
    json_t *arr = json_array();
    size_t  n = 0;
    for (; e && n < s->batch; e = e->next, n++) {
        if (json_array_append(arr, e->am) < 0)
            break;
        t->sent_gen = e->gen;
    }
    char *body = n ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    int r = body ? tp_http_post(t->req, body, strlen(body)) : -ENOMEM;
    free(body);
    if (r < 0) { /* out of memory: try again soon, as after a failed POST */
        t->attempts++;
        t->retry_at = now + s_backoff_ms(s, t);
        return;
    }
    t->sent_n = n;
    t->in_flight = true;
}

static void s_gc(struct sink_am *s) {
    uint64_t acked = s_min_acked(s);
    if (acked == s->gc_acked)
        return;
    s->gc_acked = acked;
    struct am_alert *e, *tmp;
    DL_FOREACH_SAFE(s->list, e, tmp) {
        if (e->gen > acked)
            break;
        if (e->resolved)
            s_free_alert(s, e);
    }
}

static void s_pump(tp_sink_t *base, uint64_t now, uint64_t *ret_next) {
    struct sink_am *s = (struct sink_am *)base;
    *ret_next = UINT64_MAX;
    if (s->hold)
        return;
    tp_http_perform(s->http);
    bool started = false;
    for (size_t i = 0; i < s->n_t; i++) {
        struct target *t = &s->t[i];
        if (t->in_flight)
            s_take_result(s, t, now);
        if (!t->in_flight && now >= t->retry_at) {
            s_post_next(s, t, now);
            started |= t->in_flight;
        }
        uint64_t next = t->in_flight ? UINT64_MAX : t->retry_at > now ? t->retry_at : t->resend_at;
        if (next < *ret_next)
            *ret_next = next;
    }
    if (started)
        tp_http_perform(s->http);
    s_gc(s);
}

static size_t s_pollfds(tp_sink_t *base, struct pollfd *fds, size_t max, uint64_t now,
                        uint64_t *ret_next) {
    struct sink_am *s = (struct sink_am *)base;
    return tp_http_pollfds(s->http, fds, max, now, ret_next);
}

/* The oldest change not at every Alertmanager yet. */
static uint64_t s_floor(tp_sink_t *base) {
    struct sink_am *s = (struct sink_am *)base;
    uint64_t        floor = UINT64_MAX;
    for (struct am_alert *e = s_after(s, s_min_acked(s)); e; e = e->next)
        if (e->seq && e->seq < floor)
            floor = e->seq;
    return floor;
}

static void s_destroy(tp_sink_t *base) {
    struct sink_am *s = (struct sink_am *)base;
    if (!s)
        return;
    struct am_alert *e, *tmp;
    DL_FOREACH_SAFE(s->list, e, tmp)
    s_free_alert(s, e);
    for (size_t i = 0; i < s->n_t; i++)
        free(s->t[i].url);
    free(s->t);
    tp_http_destroy(&s->http); /* after the requests' users */
    free(s);
}

static const struct tp_sink_ops s_ops = {
    .name = "alertmanager",
    .deliver = s_deliver,
    .reopen = NULL,
    .destroy = s_destroy,
    .pollfds = s_pollfds,
    .pump = s_pump,
    .floor = s_floor,
};

void tp_sink_alertmanager_caught_up(tp_sink_t *base) {
    ((struct sink_am *)base)->hold = false;
}

int tp_sink_alertmanager_new(const struct tp_sink_alertmanager_config *cfg, char *why,
                             size_t whylen, tp_sink_t **ret) {
    struct sink_am *s = calloc(1, sizeof *s);
    int             r = -ENOMEM;
    snprintf(why, whylen, "out of memory");
    if (!s)
        return -ENOMEM;
    s->base.ops = &s_ops;
    s->resend_ms = cfg->resend_ms;
    s->batch = cfg->batch;
    s->posted_upto = cfg->posted_upto;
    s->hold = cfg->hold;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    s->rng = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid() ^ 0x85ebca6bu;
    if (!(s->t = calloc(cfg->n_urls, sizeof *s->t)))
        goto fail;
    if ((r = tp_http_new(&cfg->http, &s->http)) < 0)
        goto fail;
    for (size_t i = 0; i < cfg->n_urls; i++) {
        struct target *t = &s->t[s->n_t];
        size_t         len = strlen(cfg->urls[i]);
        while (len > 0 && cfg->urls[i][len - 1] == '/')
            len--;
        r = -ENOMEM;
        if (asprintf(&t->url, "%.*s%s", (int)len, cfg->urls[i], TP_AM_PATH) < 0) {
            t->url = NULL;
            goto fail;
        }
        s->n_t++;
        if ((r = tp_http_req_new(s->http, t->url, why, whylen, &t->req)) < 0)
            goto fail;
    }
    *ret = &s->base;
    return 0;
fail:
    if (r == -EIO)
        snprintf(why, whylen, "libcurl cannot start");
    s_destroy(&s->base);
    return r;
}
