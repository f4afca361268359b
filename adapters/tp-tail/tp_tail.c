/* tp-tail — follows touchpointd's alert stream and prints it as JSON lines.
 *
 * Subscribes to the alert PUB endpoint, decodes each [topic, Alert] message
 * and writes one compact JSON object per alert to stdout: the Alert in proto3
 * JSON plus a "topic" member. Malformed messages are reported on stderr and
 * skipped; nothing a peer sends can make it crash or stop.
 *
 * This file is main() and the poll loop. The options and the help text
 * are tp_tail_opts.c; the SUB and the decoding of [topic, Alert] into a
 * JSON line, tp_tail_sub.c.
 *
 * With --durable FILE it is a Clone-pattern client (DESIGN.md, "Reliable
 * paths"): the loop hands live alerts and replay messages to tp_tail_durable.c,
 * which keeps them in sequence (replay, hold queue, gaps, retry) and keeps
 * the last delivered sequence in FILE.
 *
 * Where alerts go is a sink (sinks/tp_sink.h): stdout, --output FILE,
 * --webhook URL or --alertmanager URL..., behind sinks/tp_sink_queue.c
 * (order, retries, counters). With --digest, tp_digest.c groups alerts first
 * and the sink gets digests. FILE never passes an alert that is still
 * queued, in an open digest, or not yet posted by the sink. The HTTP sinks
 * post in the background (libcurl's multi interface): the loop polls their
 * fds beside the ZeroMQ sockets and never waits on a receiver.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <poll.h>

#include <zmq.h>

#include "tp_cli.h"
#include "tp_digest.h"
#include "tp_sink_alertmanager.h"
#include "tp_sink_file.h"
#include "tp_sink_queue.h"
#include "tp_sink_webhook.h"
#include "tp_tail_durable.h"
#include "tp_tail_opts.h"
#include "tp_tail_sub.h"

#define TP_TAIL_POLL_SLICE_MS 200 /* bounds how late a signal is noticed */
#define TP_TAIL_MAX_HTTP_FDS  16  /* sink fds polled beside the ZeroMQ sockets */

struct tail {
    const struct tp_tail_opts *o;
    void                      *ctx;
    uint64_t                   alerts, malformed; /* alerts handed to the sink / skipped messages */
    uint64_t                   active_ms;         /* last message, replay end or delivery */
    tp_tail_durable_t         *durable;           /* --durable only, else NULL */
    tp_sink_queue_t           *queue;             /* the sink and what waits for it */
    tp_sink_t                 *am;                /* --alertmanager: the queue's sink, borrowed */
    tp_digest_t               *digest;            /* --digest only, else NULL */
    int                        fatal;             /* out of memory on the way to the sink */
    uint64_t                   lost_seq;          /* lowest alert lost so, UINT64_MAX none */
};

static volatile sig_atomic_t s_stop, s_reopen;

static void s_signal_cb(int sig) {
    (void)sig;
    s_stop = 1;
}

static void s_hup_cb(int sig) {
    (void)sig;
    s_reopen = 1;
}

static uint64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* True once --count alerts were handed on: no more are taken. */
static bool s_done(const struct tail *t) {
    return t->o->count > 0 && t->alerts >= t->o->count;
}

/* Something still waits for delivery: a queued message or an open digest. */
static bool s_pending(const struct tail *t) {
    return tp_sink_queue_busy(t->queue) || (t->digest && tp_digest_open(t->digest) > 0);
}

static uint64_t s_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* "alert <alertId>" for logs, read from the line without parsing it all:
 * the id is a plain string in practice, escapes are shown as they are. */
static void s_label(const char *line, char *buf, size_t len) {
    static const char key[] = "\"alertId\":\"";
    const char       *id = strstr(line, key);
    int               n = 0;
    if (id) {
        id += sizeof key - 1;
        while (id[n] && id[n] != '"' && n < 80)
            n += id[n] == '\\' && id[n + 1] ? 2 : 1;
    }
    snprintf(buf, len, "alert %.*s", id ? n : 6, id ? id : "(none)");
}

/* Hands a decoded alert (line owned from here on; NULL = --topic filtered
 * it out) to the digest or the sink queue. */
static void s_emit(struct tail *t, uint64_t seq, char *line) {
    if (!line)
        return;
    t->alerts++;
    int r;
    if (t->digest) {
        uint64_t now = s_now_ms();
        r = tp_digest_add(t->digest, line, seq, now, (int64_t)s_wall_ms());
        if (r == -ENOSPC) { /* too many groups open: close them all now */
            char    *body, label[128];
            size_t   len;
            uint64_t min_seq;
            while ((r = tp_digest_take(t->digest, now, (int64_t)s_wall_ms(), true, &body, &len,
                                       &min_seq, label, sizeof label)) > 0)
                if ((r = tp_sink_queue_push(t->queue, body, len, min_seq, label)) < 0)
                    break;
            if (r == 0)
                r = tp_digest_add(t->digest, line, seq, now, (int64_t)s_wall_ms());
        }
        free(line);
    } else {
        char label[128];
        s_label(line, label, sizeof label);
        r = tp_sink_queue_push(t->queue, line, strlen(line), seq, label);
    }
    if (r < 0) { /* -ENOMEM: stop; with --durable FILE stays before it */
        t->fatal = r;
        if (seq && seq < t->lost_seq)
            t->lost_seq = seq;
    }
}

/* ---- callbacks for --durable (tp_tail_durable.h) ------------------------- */

static void s_emit_cb(void *userdata, uint64_t seq, char *line) {
    s_emit(userdata, seq, line);
}

static bool s_done_cb(void *userdata) {
    return s_done(userdata);
}

static uint64_t s_floor_cb(void *userdata) {
    const struct tail *t = userdata;
    uint64_t           floor = tp_sink_queue_floor(t->queue);
    if (t->digest && tp_digest_floor(t->digest) < floor)
        floor = tp_digest_floor(t->digest);
    /* an alert lost to out-of-memory was never delivered either */
    return t->lost_seq < floor ? t->lost_seq : floor;
}

static int s_decode_cb(void *userdata, zmq_msg_t frames[2], size_t n_frames, char *why,
                       size_t whylen, uint64_t *ret_seq, char **ret_line) {
    const struct tail *t = userdata;
    return tp_tail_sub_decode(t->o, frames, n_frames, why, whylen, ret_seq, ret_line);
}

/* ---- main loop ----------------------------------------------------------- */

static long s_min_wait(long wait, uint64_t at, uint64_t now) {
    if (at <= now)
        return 0;
    return at - now < (uint64_t)wait ? (long)(at - now) : wait;
}

/* Receives one message from `sock` (the replay DEALER if `replay`) and
 * handles it; 0 or negative errno (fatal, reported). */
static int s_on_readable(struct tail *t, void *sock, bool replay, uint64_t now) {
    zmq_msg_t frames[2];
    size_t    n_frames = 0;
    int       r = tp_tail_sub_recv(sock, frames, &n_frames);
    if (r == -EAGAIN || r == -EINTR)
        return 0;
    if (r < 0) {
        fprintf(stderr, "tp-tail: receive: %s\n", zmq_strerror(-r));
        return r;
    }
    t->active_ms = now;
    char     why[256] = "", *line = NULL;
    uint64_t seq = 0;
    if (replay) /* the DEALER may be gone after this message */
        r = tp_tail_durable_on_replay(t->durable, frames, n_frames, now, why, sizeof why);
    else
        r = tp_tail_sub_decode(t->o, frames, n_frames, why, sizeof why, &seq, &line);
    for (size_t i = 0; i < n_frames && i < 2; i++)
        zmq_msg_close(&frames[i]);
    if (r == -EBADMSG) {
        fprintf(stderr, "tp-tail: skipped malformed %smessage: %s\n", replay ? "replay " : "", why);
        t->malformed++;
        return 0;
    }
    if (r < 0) {
        fprintf(stderr, "tp-tail: %s\n", strerror(-r));
        return r;
    }
    if (replay)
        return 0;
    if (t->durable)
        tp_tail_durable_on_live(t->durable, seq, line, now);
    else
        s_emit(t, seq, line);
    return 0;
}


/* Closes due digest windows (every open one when `all`) into the queue. */
static int s_close_digests(struct tail *t, uint64_t now, bool all) {
    int r = 0;
    while (t->digest) {
        char    *body, label[128];
        size_t   len;
        uint64_t min_seq;
        r = tp_digest_take(t->digest, now, (int64_t)s_wall_ms(), all, &body, &len, &min_seq, label,
                           sizeof label);
        if (r <= 0)
            break;
        if ((r = tp_sink_queue_push(t->queue, body, len, min_seq, label)) < 0) {
            if (min_seq && min_seq < t->lost_seq)
                t->lost_seq = min_seq;
            break;
        }
    }
    return r < 0 ? r : 0;
}

/* Moves what is due to the sink; *ret_next is when more will be due.
 * 0, -ETIME (--webhook-retries ran out, reported) or -ENOMEM. */
static int s_deliver(struct tail *t, uint64_t now, bool all, uint64_t *ret_next) {
    int r = s_close_digests(t, now, all);
    if (r < 0)
        return r;
    r = tp_sink_queue_pump(t->queue, now, ret_next);
    if (r == -EINTR) /* SIGINT/SIGTERM during a POST: we are leaving */
        r = 0;
    if (t->digest && tp_digest_next(t->digest) < *ret_next)
        *ret_next = tp_digest_next(t->digest);
    return r;
}

/* The loop: deliver what is due, then read more unless the queue is full
 * (back-pressure: alerts wait in the daemon's journal, not here), or
 * --count alerts were taken. Ends on a signal, after --count alerts were
 * delivered, after --timeout-ms with nothing to read or deliver. */
static int s_run(struct tail *t, void *sub) {
    const struct tp_tail_opts *o = t->o;
    t->active_ms = s_now_ms();
    if (t->durable)
        tp_tail_durable_start(t->durable, t->ctx, t->active_ms);
    for (;;) {
        uint64_t next = UINT64_MAX;
        if (s_reopen) {
            s_reopen = 0;
            if (tp_sink_queue_reopen(t->queue) == 0 && o->output)
                fprintf(stderr, "tp-tail: reopened '%s'\n", o->output);
        }
        /* --alertmanager --durable: post once the open set is rebuilt */
        if (t->am && !(t->durable && tp_tail_durable_replaying(t->durable)) &&
            tp_sink_queue_length(t->queue) == 0)
            tp_sink_alertmanager_caught_up(t->am);
        int r = t->fatal ? t->fatal : s_deliver(t, s_now_ms(), s_stop || s_done(t), &next);
        if (r == -ENOMEM)
            fputs("tp-tail: out of memory\n", stderr);
        if (r < 0)
            return r;
        if (s_stop || (s_done(t) && !s_pending(t)))
            break;
        uint64_t now = s_now_ms(); /* a delivery may have taken a while */
        if (s_pending(t))
            t->active_ms = now; /* --timeout-ms: idle means nothing to deliver either */
        long  wait = s_min_wait(TP_TAIL_POLL_SLICE_MS, next, now);
        bool  reading = !tp_sink_queue_full(t->queue) && !s_done(t);
        bool  replaying = false;
        void *dealer = NULL;
        if (t->durable) {
            if (!reading)
                tp_tail_durable_defer(t->durable, now);
            wait = s_min_wait(wait, tp_tail_durable_tick(t->durable, now), now);
            replaying = tp_tail_durable_replaying(t->durable);
            dealer = tp_tail_durable_socket(t->durable);
            /* a replay that ended or failed counts as activity; times only grow */
            if (tp_tail_durable_settled_ms(t->durable) > t->active_ms)
                t->active_ms = tp_tail_durable_settled_ms(t->durable);
        }
        if (o->timeout_ms > 0 && !replaying) {
            if (now - t->active_ms >= o->timeout_ms)
                break;
            wait = s_min_wait(wait, t->active_ms + o->timeout_ms, now);
        }
        zmq_pollitem_t items[2 + TP_TAIL_MAX_HTTP_FDS] = {
            { .socket = sub, .events = ZMQ_POLLIN }, { .socket = dealer, .events = ZMQ_POLLIN }
        };
        /* not reading: only the sink's fds, or zmq_poll just waits for the next retry */
        size_t n_items = reading ? 2 : 0;
        items[1].socket = reading ? dealer : NULL;
        struct pollfd fds[TP_TAIL_MAX_HTTP_FDS];
        uint64_t      http_next;
        size_t n_fds = tp_sink_queue_pollfds(t->queue, fds, TP_TAIL_MAX_HTTP_FDS, now, &http_next);
        for (size_t i = 0; i < n_fds; i++)
            items[n_items++] = (zmq_pollitem_t){
                .fd = fds[i].fd,
                .events = (short)(((fds[i].events & POLLIN) ? ZMQ_POLLIN : 0) |
                                  ((fds[i].events & POLLOUT) ? ZMQ_POLLOUT : 0)),
            };
        wait = s_min_wait(wait, http_next, now);
        int n = zmq_poll(n_items ? items : NULL, (int)n_items, wait);
        if (n < 0 && zmq_errno() == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "tp-tail: zmq_poll: %s\n", zmq_strerror(zmq_errno()));
            return -EIO;
        }
        if (!reading || n == 0)
            continue;
        if (dealer && (items[1].revents & ZMQ_POLLIN))
            r = s_on_readable(t, dealer, true, now);
        if (r == 0 && (items[0].revents & ZMQ_POLLIN) && !s_done(t))
            r = s_on_readable(t, sub, false, now);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The credentials for the HTTP sinks, from files others may not read:
 * 0, or a negative errno with the reason in `why`. */
static int s_read_credentials(const struct tp_tail_opts *o, char **ret_bearer, char **ret_basic,
                              char *why, size_t whylen) {
    char *bearer = NULL, *basic = NULL;
    int   r = tp_token_file_read("--bearer-token-file", o->bearer_token_file, &bearer, why, whylen);
    if (r == 0)
        r = tp_token_file_read("--basic-auth-file", o->basic_auth_file, &basic, why, whylen);
    if (r == 0 && basic && !strchr(basic, ':')) {
        snprintf(why, whylen, "--basic-auth-file '%s': expected one line USER:PASSWORD",
                 o->basic_auth_file);
        r = -EBADMSG;
    }
    if (r == 0 && o->ca_file && access(o->ca_file, R_OK) < 0) {
        r = -errno;
        snprintf(why, whylen, "--ca-file '%s': %s", o->ca_file, strerror(errno));
    }
    if (r < 0) {
        free(bearer);
        if (basic)
            explicit_bzero(basic, strlen(basic));
        free(basic);
        return r;
    }
    *ret_bearer = bearer;
    *ret_basic = basic;
    return 0;
}

/* The sink for the options, in a queue: 0 or TP_TAIL_EXIT_USAGE (reported). */
static int s_make_queue(struct tail *t, tp_sink_queue_t **ret) {
    const struct tp_tail_opts  *o = t->o;
    char                        why[512] = "out of memory";
    tp_sink_t                  *sink = NULL;
    char                       *bearer = NULL, *basic = NULL;
    int                         r = s_read_credentials(o, &bearer, &basic, why, sizeof why);
    const struct tp_http_config http = {
        .ca_file = o->ca_file,
        .bearer_token = bearer,
        .basic_auth = basic,
        .headers = o->headers,
        .n_headers = o->n_headers,
        .timeout_ms = o->webhook_timeout_ms,
    };
    if (r < 0) {
    } else if (o->n_alertmanager) {
        const struct tp_sink_alertmanager_config cfg = {
            .urls = o->alertmanager,
            .n_urls = o->n_alertmanager,
            .http = http,
            .resend_ms = o->alertmanager_resend_ms,
            .batch = o->alertmanager_batch,
            .posted_upto = t->durable ? tp_tail_durable_loaded(t->durable) : 0,
            .hold = t->durable != NULL,
        };
        r = tp_sink_alertmanager_new(&cfg, why, sizeof why, &sink);
        t->am = r == 0 ? sink : NULL;
    } else if (o->webhook) {
        const struct tp_sink_webhook_config cfg = { .url = o->webhook, .http = http };
        r = tp_sink_webhook_new(&cfg, why, sizeof why, &sink);
    } else {
        r = tp_sink_file_new(o->output, o->fsync, why, sizeof why, &sink);
    }
    if (bearer)
        explicit_bzero(bearer, strlen(bearer));
    if (basic)
        explicit_bzero(basic, strlen(basic));
    free(bearer);
    free(basic);
    if (r == 0)
        r = tp_sink_queue_new(sink, TP_TAIL_QUEUE_MAX, o->webhook_retries, ret);
    if (r < 0) {
        fprintf(stderr, "tp-tail: %s\n", r == -ENOMEM ? "out of memory" : why);
        return TP_TAIL_EXIT_USAGE;
    }
    return 0;
}

int main(int argc, char **argv) {
    struct tp_tail_opts o;
    int                 r = tp_tail_parse_args(argc, argv, &o);
    if (r != 0)
        return r > 0 ? 0 : TP_TAIL_EXIT_USAGE;

    struct tail t = { .o = &o, .lost_seq = UINT64_MAX };
    if (o.durable) {
        const struct tp_tail_durable_config cfg = {
            .path = o.durable,
            .replay_endpoint = o.replay_endpoint,
            .replay_timeout_ms = o.replay_timeout_ms,
            .userdata = &t,
            .curve = &o.curve,
            .emit = s_emit_cb,
            .done = s_done_cb,
            .decode = s_decode_cb,
            .floor = s_floor_cb,
            .from_zero = o.n_alertmanager > 0, /* the open set is rebuilt from the journal */
        };
        r = tp_tail_durable_new(&cfg, &t.durable);
        if (r < 0) {
            if (r == -ENOMEM)
                fputs("tp-tail: out of memory\n", stderr);
            else
                fprintf(stderr, "tp-tail: cannot use '%s': %s\n", o.durable,
                        r == -EBADMSG ? "not a decimal sequence number" : strerror(-r));
            return TP_TAIL_EXIT_USAGE;
        }
    }
    if (s_make_queue(&t, &t.queue) != 0) {
        tp_tail_durable_destroy(&t.durable);
        return TP_TAIL_EXIT_USAGE;
    }
    if (o.digest && tp_digest_new(o.digest_by, o.digest_window_ms, &t.digest) < 0) {
        fputs("tp-tail: out of memory\n", stderr);
        tp_tail_durable_destroy(&t.durable);
        tp_sink_queue_destroy(&t.queue);
        return TP_TAIL_EXIT_USAGE;
    }

    struct sigaction sa = { .sa_handler = s_signal_cb }; /* no SA_RESTART: zmq_poll sees EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct sigaction hup = { .sa_handler = s_hup_cb }; /* reopen --output; else a no-op */
    sigemptyset(&hup.sa_mask);
    sigaction(SIGHUP, &hup, NULL);
    if (o.webhook || o.n_alertmanager) /* a receiver closing on us is an error to retry */
        signal(SIGPIPE, SIG_IGN);

    int   status = 0;
    void *sock = NULL;
    t.ctx = zmq_ctx_new();
    if (!t.ctx) {
        fprintf(stderr, "tp-tail: zmq_ctx_new: %s\n", zmq_strerror(zmq_errno()));
        status = TP_TAIL_EXIT_USAGE;
        goto out;
    }
    r = tp_tail_sub_open(t.ctx, &o, &sock);
    if (r < 0) {
        fprintf(stderr, "tp-tail: cannot %s '%s': %s\n", o.bind ? "bind" : "connect to", o.endpoint,
                zmq_strerror(-r));
        status = TP_TAIL_EXIT_USAGE;
        goto out;
    }
    r = s_run(&t, sock);
    if (r == -ETIME)
        status = TP_TAIL_EXIT_FAILED;
    else if (r < 0)
        status = TP_TAIL_EXIT_USAGE;
    if (t.durable && tp_tail_durable_save(t.durable, s_now_ms()) < 0)
        status = TP_TAIL_EXIT_USAGE;
    struct tp_sink_counters c = tp_sink_queue_counters(t.queue);
    if (c.failed > 0 && status == 0)
        status = TP_TAIL_EXIT_FAILED;
    fprintf(stderr, "tp-tail: alerts %" PRIu64 ", malformed %" PRIu64 "\n", t.alerts, t.malformed);
    fprintf(stderr,
            "tp-tail: delivered %" PRIu64 ", retried %" PRIu64 ", failed %" PRIu64
            ", pending %zu\n",
            c.delivered, c.retried, c.failed,
            tp_sink_queue_length(t.queue) + (t.digest ? tp_digest_open(t.digest) : 0));
out:
    tp_tail_durable_destroy(&t.durable);
    if (sock)
        zmq_close(sock);
    if (t.ctx)
        zmq_ctx_term(t.ctx);
    tp_digest_destroy(&t.digest);
    tp_sink_queue_destroy(&t.queue);
    return status;
}
