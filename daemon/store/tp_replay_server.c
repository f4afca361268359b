/* tp_replay_server — see tp_replay_server.h. */
#include "tp_replay_server.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tp_cli.h"
#include "tp_log.h"

#define MAX_IDENTITY 256
#define MAX_PEER     64  /* "Peer-Address": an IPv6 address fits */
#define RETRY_MS     20  /* back-off for a consumer whose queue is full */
#define SETTLE_MS    100 /* see tp_replay_server_destroy */

typedef struct {
    bool     active;
    uint64_t after;       /* next alert to send has sequence > after */
    int64_t  progress_ms; /* monotonic: the request, or the last message taken */
    size_t   idlen;
    char     id[MAX_IDENTITY]; /* the consumer's ROUTER identity */
    char     peer[MAX_PEER];   /* its address, "" if libzmq gives none */
} s_stream_t;

struct tp_replay_server {
    tp_bus_t          *bus;
    tp_bus_sock_t     *sock;
    tp_journal_t      *journal;
    tp_stats_t        *stats;
    tp_replay_limits_t limits;
    tp_ratelimit_t     rl;   /* log lines about refused and dropped replays */
    struct event      *pump; /* runs the streams, one chunk each per turn */
    s_stream_t         streams[TP_REPLAY_STREAMS];
    size_t             n_active;
    bool               backlogged; /* a consumer's queue was ever full: see destroy */
};

static int s_reply(tp_replay_server_t *r, const s_stream_t *st, const char *what, const char *arg) {
    tp_frame_t frames[3] = { { st->id, st->idlen }, { what, strlen(what) }, { arg, strlen(arg) } };
    return tp_bus_send(r->sock, frames, 3);
}

/* A refused request: counted, answered, logged rate-limited. */
static void s_refuse(tp_replay_server_t *r, const s_stream_t *req, uint64_t *counter,
                     const char *why) {
    (*counter)++;
    s_reply(r, req, "ERROR", why);
    uint64_t suppressed;
    if (tp_ratelimit_below(&r->rl, tp_monotonic_ms(), &suppressed))
        log_warning("Refused a replay request%s%s: %s", req->peer[0] ? " from " : "", req->peer,
                    why);
}

typedef struct {
    tp_replay_server_t *r;
    s_stream_t         *st;
    int                 err; /* the send error that stopped the chunk */
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

/* The consumer's queue is full. A consumer reading slowly frees some of
 * it now and then; one that took nothing for stall_timeout loses its slot
 * (what is queued for it stays in its bounded queue until it reads or
 * goes). */
static void s_stalled(tp_replay_server_t *r, s_stream_t *st, int64_t now, bool *ret_retry) {
    r->backlogged = true;
    if (now - st->progress_ms < r->limits.stall_timeout_ms) {
        *ret_retry = true;
        return;
    }
    r->stats->replay_timeouts++;
    uint64_t suppressed;
    if (tp_ratelimit_below(&r->rl, now, &suppressed))
        log_warning("Dropped a replay%s%s at sequence %" PRIu64 ": the consumer took nothing for "
                    "%lld ms (replay.stall_timeout)",
                    st->peer[0] ? " to " : "", st->peer, st->after,
                    (long long)(now - st->progress_ms));
    s_stream_end(r, st);
}

/* One chunk for one consumer. */
static void s_pump_one(tp_replay_server_t *r, s_stream_t *st, int64_t now, bool *ret_retry) {
    s_chunk_t c = { .r = r, .st = st };
    uint64_t  last = st->after;
    int64_t   n =
        tp_journal_read_after(r->journal, st->after, TP_REPLAY_CHUNK, s_send_row, &c, &last);
    if (last != st->after)
        st->progress_ms = now;
    st->after = last;
    if (n < 0) {
        log_error_errno((int)n, "Failed to read the alert journal for a replay: %m");
        s_reply(r, st, "ERROR", "journal read failed");
        s_stream_end(r, st);
        return;
    }
    if (c.err == -EAGAIN) {
        s_stalled(r, st, now, ret_retry);
        return;
    }
    if (c.err < 0) { /* gone (EHOSTUNREACH) or worse */
        s_stream_end(r, st);
        return;
    }
    if ((size_t)n == TP_REPLAY_CHUNK) /* more to come, next turn */
        return;
    char last_s[24];
    snprintf(last_s, sizeof last_s, "%" PRIu64, st->after);
    if (s_reply(r, st, "END", last_s) == -EAGAIN) {
        s_stalled(r, st, now, ret_retry);
        return;
    }
    s_stream_end(r, st);
}

static void s_pump_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    tp_replay_server_t *r = arg;
    bool                retry = false;
    int64_t             now = tp_monotonic_ms();
    for (size_t i = 0; i < TP_REPLAY_STREAMS; i++)
        if (r->streams[i].active)
            s_pump_one(r, &r->streams[i], now, &retry);
    if (r->n_active == 0)
        return;
    /* A timer, not event_active(): an event re-activated from its own
     * callback runs again in the same loop pass and would starve timers. */
    struct timeval tv = { 0, retry ? RETRY_MS * 1000 : 0 };
    evtimer_add(r->pump, &tv);
}

/* The sequence frame (not NUL-terminated): decimal digits only, so no
 * sign, space or NUL, and at most INT64_MAX, the journal's sequence space
 * (SQLite integers are signed: 2^64-1 would bind as -1 and match all). */
static const char *s_parse_seq(const tp_frame_t *f, uint64_t *ret) {
    static const char *const not_decimal = "sequence must be a decimal number";
    static const char *const too_big =
        "sequence is past the journal's range (at most 9223372036854775807)";
    const char *p = f->data;
    char        buf[24];
    uint64_t    v;
    if (f->len == 0)
        return not_decimal;
    for (size_t i = 0; i < f->len; i++)
        if (p[i] < '0' || p[i] > '9')
            return not_decimal;
    if (f->len >= sizeof buf)
        return too_big;
    memcpy(buf, p, f->len);
    buf[f->len] = '\0';
    if (tp_cli_parse_u64(buf, &v) < 0 || v > (uint64_t)INT64_MAX)
        return too_big;
    *ret = v;
    return NULL;
}

/* The request's identity and peer address; false if it has no identity. */
static bool s_request_from(tp_replay_server_t *r, const tp_frame_t *frames, size_t nframes,
                           s_stream_t *req) {
    if (nframes < 1 || frames[0].len == 0 || frames[0].len > MAX_IDENTITY)
        return false;
    *req = (s_stream_t){ .idlen = frames[0].len };
    memcpy(req->id, frames[0].data, frames[0].len);
    snprintf(req->peer, sizeof req->peer, "%s", tp_bus_peer_address(r->sock));
    return true;
}

/* A slot for req: its own running replay (asking again replaces it), else
 * a free one within its address's share; NULL with the reason if none. */
static s_stream_t *s_slot(tp_replay_server_t *r, const s_stream_t *req, const char **ret_why) {
    s_stream_t *free_slot = NULL;
    unsigned    same_peer = 0;
    for (size_t i = 0; i < TP_REPLAY_STREAMS; i++) {
        s_stream_t *st = &r->streams[i];
        if (!st->active) {
            free_slot = free_slot ? free_slot : st;
            continue;
        }
        if (st->idlen == req->idlen && memcmp(st->id, req->id, req->idlen) == 0)
            return st;
        same_peer += req->peer[0] && strcmp(st->peer, req->peer) == 0;
    }
    if (req->peer[0] && same_peer >= r->limits.max_per_peer) {
        *ret_why = "busy: too many replays from your address at once (replay.max_per_peer), "
                   "retry later";
        return NULL;
    }
    if (!free_slot) {
        *ret_why = "busy: too many replays at once, retry later";
        return NULL;
    }
    r->n_active++;
    return free_slot;
}

static void s_request_cb(void *arg, const tp_frame_t *frames, size_t nframes) {
    tp_replay_server_t *r = arg;
    s_stream_t          req;
    if (!s_request_from(r, frames, nframes, &req))
        return;
    uint64_t    after = 0;
    const char *why = NULL;
    if (nframes != 3 || frames[1].len != 6 || memcmp(frames[1].data, "REPLAY", 6) != 0)
        why = "expected [REPLAY, <sequence>]";
    else
        why = s_parse_seq(&frames[2], &after);
    if (why) {
        s_refuse(r, &req, &r->stats->replay_refused, why);
        return;
    }
    s_stream_t *slot = s_slot(r, &req, &why);
    if (!slot) {
        s_refuse(r, &req, &r->stats->replay_busy, why);
        return;
    }
    req.after = after;
    req.active = true;
    req.progress_ms = tp_monotonic_ms();
    *slot = req;
    r->stats->replay_requests++;
    event_active(r->pump, EV_TIMEOUT, 0);
}

/* A request over TP_REPLAY_MAX_REQUEST (the bus has counted it in
 * stats->oversize and logged it): answered, so the consumer knows. */
static void s_oversize_cb(void *arg, const tp_frame_t *frames, size_t nframes) {
    tp_replay_server_t *r = arg;
    s_stream_t          req;
    if (!s_request_from(r, frames, nframes, &req))
        return;
    r->stats->replay_oversize++;
    s_refuse(r, &req, &r->stats->replay_refused, "request too large");
}

void tp_replay_server_set_limits(tp_replay_server_t *r, const tp_replay_limits_t *limits) {
    r->limits = *limits;
    if (r->limits.max_per_peer == 0)
        r->limits.max_per_peer = 1;
}

int tp_replay_server_new(struct event_base *base, tp_bus_t *bus, tp_journal_t *journal,
                         const tp_endpoint_t *ep, const tp_replay_limits_t *limits,
                         tp_stats_t *stats, tp_replay_server_t **ret) {
    tp_replay_server_t *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    *r = (tp_replay_server_t){
        .bus = bus, .journal = journal, .stats = stats, .rl = { .interval_ms = 10000, .burst = 10 }
    };
    tp_replay_server_set_limits(r, limits);
    tp_endpoint_t rep = *ep;
    rep.hwm = TP_REPLAY_WINDOW;
    r->pump = evtimer_new(base, s_pump_cb, r);
    int e = r->pump ? tp_bus_add_router(bus, &rep, TP_REPLAY_MAX_REQUEST, s_request_cb, r, &r->sock)
                    : -ENOMEM;
    if (e < 0) {
        tp_replay_server_destroy(&r);
        return e;
    }
    tp_bus_on_oversize(r->sock, s_oversize_cb);
    *ret = r;
    return 0;
}

void tp_replay_server_destroy(tp_replay_server_t **p) {
    tp_replay_server_t *r = p ? *p : NULL;
    if (!r)
        return;
    /* libzmq 4.3 aborts (errno_assert in session_base_t::clean_pipes,
     * zeromq/libzmq#3442) when a connection whose engine stopped halfway
     * through a multipart message, as it does towards a consumer that reads
     * nothing, sees its peer hang up after the socket began to close. A
     * consumer that left just before we stop is the likely case: give the
     * I/O thread a moment to notice such hang-ups while the pipes are still
     * open. Only once some consumer's queue has been full, so a stop or a
     * reload moving the endpoint is otherwise not delayed. */
    if (r->backlogged)
        nanosleep(&(struct timespec){ .tv_nsec = SETTLE_MS * 1000000L }, NULL);
    /* Requests still queued are dropped: a consumer retries on timeout. */
    tp_bus_close(r->bus, &r->sock, false);
    if (r->pump)
        event_free(r->pump);
    free(r);
    *p = NULL;
}
