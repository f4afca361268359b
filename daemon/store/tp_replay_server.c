/* tp_replay_server — see tp_replay_server.h. */
#include "tp_replay_server.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_cli.h"
#include "tp_log.h"

#define MAX_IDENTITY 256
#define RETRY_MS     20          /* back-off for a consumer whose queue is full */

typedef struct {
    bool     active;
    uint64_t after;              /* next alert to send has sequence > after */
    size_t   idlen;
    char     id[MAX_IDENTITY];   /* the consumer's ROUTER identity */
} s_stream_t;

struct tp_replay_server {
    tp_bus_t      *bus;
    tp_bus_sock_t *sock;
    tp_journal_t  *journal;
    tp_stats_t    *stats;
    struct event  *pump;         /* runs the streams, one chunk each per turn */
    s_stream_t     streams[TP_REPLAY_STREAMS];
    size_t         n_active;
};

static int s_reply(tp_replay_server_t *r, const s_stream_t *st, const char *what, const char *arg) {
    tp_frame_t frames[3] = { { st->id, st->idlen }, { what, strlen(what) }, { arg, strlen(arg) } };
    return tp_bus_send(r->sock, frames, 3);
}

typedef struct {
    tp_replay_server_t *r;
    s_stream_t        *st;
    int                err;      /* the send error that stopped the chunk */
} s_chunk_t;

static int s_send_row(void *ctx, uint64_t seq, const char *topic, const void *body, size_t len) {
    (void)seq;
    s_chunk_t *c = ctx;
    tp_frame_t frames[3] = { { c->st->id, c->st->idlen }, { topic, strlen(topic) }, { body, len } };
    c->err = tp_bus_send(c->r->sock, frames, 3);
    return c->err < 0 ? 1 : 0;
}

static void s_stream_end(tp_replay_server_t *r, s_stream_t *st) {
    st->active = false;
    r->n_active--;
}

/* One chunk for one consumer. */
static void s_pump_one(tp_replay_server_t *r, s_stream_t *st, bool *ret_retry) {
    s_chunk_t c = { .r = r, .st = st };
    uint64_t last = st->after;
    int64_t n = tp_journal_read_after(r->journal, st->after, TP_REPLAY_CHUNK, s_send_row, &c, &last);
    st->after = last;
    if (n < 0) {
        log_error_errno((int)n, "Failed to read the alert journal for a replay: %m");
        s_reply(r, st, "ERROR", "journal read failed");
        s_stream_end(r, st);
        return;
    }
    if (c.err == -EAGAIN) {                 /* consumer's queue full: later */
        *ret_retry = true;
        return;
    }
    if (c.err < 0) {                        /* gone (EHOSTUNREACH) or worse */
        s_stream_end(r, st);
        return;
    }
    if ((size_t)n == TP_REPLAY_CHUNK)       /* more to come, next turn */
        return;
    char last_s[24];
    snprintf(last_s, sizeof last_s, "%" PRIu64, st->after);
    if (s_reply(r, st, "END", last_s) == -EAGAIN) {
        *ret_retry = true;
        return;
    }
    s_stream_end(r, st);
}

static void s_pump_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    tp_replay_server_t *r = arg;
    bool retry = false;
    for (size_t i = 0; i < TP_REPLAY_STREAMS; i++)
        if (r->streams[i].active)
            s_pump_one(r, &r->streams[i], &retry);
    if (r->n_active == 0)
        return;
    /* A timer, not event_active(): an event re-activated from its own
     * callback runs again in the same loop pass and would starve timers. */
    struct timeval tv = { 0, retry ? RETRY_MS * 1000 : 0 };
    evtimer_add(r->pump, &tv);
}

/* The sequence frame: tp_cli_parse_u64's strict decimal, on a frame that
 * is not NUL-terminated (and must not hide a NUL). */
static bool s_parse_seq(const tp_frame_t *f, uint64_t *ret) {
    char buf[24];
    if (f->len == 0 || f->len >= sizeof buf || memchr(f->data, '\0', f->len))
        return false;
    memcpy(buf, f->data, f->len);
    buf[f->len] = '\0';
    return tp_cli_parse_u64(buf, ret) == 0;
}

static void s_request_cb(void *arg, const tp_frame_t *frames, size_t nframes) {
    tp_replay_server_t *r = arg;
    if (nframes < 1 || frames[0].len == 0 || frames[0].len > MAX_IDENTITY)
        return;
    s_stream_t req = { .idlen = frames[0].len };
    memcpy(req.id, frames[0].data, frames[0].len);
    uint64_t after;
    if (nframes != 3 || frames[1].len != 6 || memcmp(frames[1].data, "REPLAY", 6) != 0) {
        s_reply(r, &req, "ERROR", "expected [REPLAY, <sequence>]");
        return;
    }
    if (!s_parse_seq(&frames[2], &after)) {
        s_reply(r, &req, "ERROR", "sequence must be a decimal number");
        return;
    }
    /* A consumer asking again replaces its running stream. */
    s_stream_t *slot = NULL;
    for (size_t i = 0; i < TP_REPLAY_STREAMS && !slot; i++)
        if (r->streams[i].active && r->streams[i].idlen == req.idlen &&
            memcmp(r->streams[i].id, req.id, req.idlen) == 0)
            slot = &r->streams[i];
    for (size_t i = 0; i < TP_REPLAY_STREAMS && !slot; i++)
        if (!r->streams[i].active) {
            slot = &r->streams[i];
            r->n_active++;
        }
    if (!slot) {
        s_reply(r, &req, "ERROR", "busy: too many replays at once, retry later");
        return;
    }
    req.after = after;
    req.active = true;
    *slot = req;
    r->stats->replay_requests++;
    event_active(r->pump, EV_TIMEOUT, 0);
}

int tp_replay_server_new(struct event_base *base, tp_bus_t *bus, tp_journal_t *journal,
                        const tp_endpoint_t *ep, tp_stats_t *stats, tp_replay_server_t **ret) {
    tp_replay_server_t *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    *r = (tp_replay_server_t){ .bus = bus, .journal = journal, .stats = stats };
    r->pump = evtimer_new(base, s_pump_cb, r);
    int e = r->pump ? tp_bus_add_router(bus, ep, 4096, s_request_cb, r, &r->sock) : -ENOMEM;
    if (e < 0) {
        tp_replay_server_destroy(&r);
        return e;
    }
    *ret = r;
    return 0;
}

void tp_replay_server_destroy(tp_replay_server_t **p) {
    tp_replay_server_t *r = p ? *p : NULL;
    if (!r)
        return;
    /* Requests still queued are dropped: a consumer retries on timeout. */
    tp_bus_close(r->bus, &r->sock, false);
    if (r->pump)
        event_free(r->pump);
    free(r);
    *p = NULL;
}
