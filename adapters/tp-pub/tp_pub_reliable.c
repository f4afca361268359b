/* tp_pub_reliable — tp-pub's --reliable mode; see tp_pub_reliable.h.
 *
 * Every entry of the window has a due time: when it must next be sent (now,
 * for an event not sent yet; last send + its back-off otherwise). The
 * earliest due time is cached in `next_due_ns`, so the window is scanned only
 * when something may be due, not per message; answers make the cache stale
 * on the early side, which costs one scan, never a late resend.
 *
 * The DEALER has ZMQ_IMMEDIATE set: with no daemon connected a send fails
 * with EAGAIN instead of queueing copies for a peer that may never come
 * back. The client then marks itself `blocked`, polls for ZMQ_POLLOUT, and
 * sends everything due the moment ZeroMQ has reconnected.
 */
#include "tp_pub_reliable.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "tp_contract.h"
#include "tp_pub.h"

/* uthash: an allocation failure must not exit(); it sets the entry's flag. */
#define HASH_NONFATAL_OOM      1
#define uthash_nonfatal_oom(e) ((e)->oom = true)
#include <uthash.h>

#define NS_PER_MS             1000000u
#define TP_PUB_BACKOFF_MAX_MS 30000u /* resend delays double up to this */
#define TP_PUB_MAX_ANSWER     65536  /* ZMQ_MAXMSGSIZE: an answer is small */
#define TP_PUB_MAX_REASON     512    /* bytes of a NACK reason printed */

struct entry {
    char          *event_id; /* hash key, owned */
    const char    *topic;    /* static, from tp_topic_for_payload */
    uint8_t       *buf;      /* serialised Envelope, owned */
    size_t         len;
    size_t         lineno;   /* input line, for the NACK report */
    uint64_t       due_ns;   /* next (re)send */
    unsigned       attempts; /* sends so far */
    bool           oom;      /* set by uthash when adding failed */
    UT_hash_handle hh;
};

struct tp_pub_reliable {
    struct tp_pub_reliable_config cfg; /* copied; strings borrowed */
    void                         *ctx;
    void                         *sock;           /* DEALER */
    struct entry                 *window;         /* uthash head, in insertion order */
    uint64_t                      next_due_ns;    /* no entry is due before this */
    bool                          blocked;        /* a send hit EAGAIN: wait for POLLOUT */
    bool                          malformed_seen; /* a malformed answer was reported */
    struct tp_pub_reliable_stats  stats;          /* pending kept as HASH_COUNT */
};

static uint64_t s_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void s_entry_free(struct entry *e) {
    if (!e)
        return;
    free(e->event_id);
    free(e->buf);
    free(e);
}

int tp_pub_reliable_new(const struct tp_pub_reliable_config *cfg, tp_pub_reliable_t **ret) {
    int                zero = 0, one = 1;
    int64_t            maxmsg = TP_PUB_MAX_ANSWER;
    tp_pub_reliable_t *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->cfg = *cfg;
    r->next_due_ns = UINT64_MAX;
    r->ctx = zmq_ctx_new();
    if (r->ctx)
        r->sock = zmq_socket(r->ctx, ZMQ_DEALER);
    if (!r->sock || zmq_setsockopt(r->sock, ZMQ_LINGER, &zero, sizeof zero) < 0 ||
        zmq_setsockopt(r->sock, ZMQ_IMMEDIATE, &one, sizeof one) < 0 ||
        zmq_setsockopt(r->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) < 0 ||
        tp_curve_client_apply(cfg->curve, r->sock) < 0 ||
        (cfg->bind ? zmq_bind(r->sock, cfg->endpoint) : zmq_connect(r->sock, cfg->endpoint)) < 0) {
        int err = -zmq_errno();
        tp_pub_reliable_destroy(&r);
        return err;
    }
    *ret = r;
    return 0;
}

void tp_pub_reliable_destroy(tp_pub_reliable_t **p) {
    tp_pub_reliable_t *r = p ? *p : NULL;
    if (!r)
        return;
    struct entry *e, *tmp;
    HASH_ITER(hh, r->window, e, tmp) {
        HASH_DEL(r->window, e);
        s_entry_free(e);
    }
    if (r->sock)
        zmq_close(r->sock);
    if (r->ctx)
        zmq_ctx_term(r->ctx);
    free(r);
    *p = NULL;
}

/* How long to wait for an answer after the attempts-th send: ack_timeout,
 * doubling per send, capped at 30 s (or at ack_timeout if that is longer). */
static uint64_t s_backoff_ns(const tp_pub_reliable_t *r, unsigned attempts) {
    uint64_t ms = r->cfg.ack_timeout_ms;
    uint64_t cap = ms > TP_PUB_BACKOFF_MAX_MS ? ms : TP_PUB_BACKOFF_MAX_MS;
    for (unsigned i = 1; i < attempts && ms < cap; i++)
        ms *= 2;
    return (ms < cap ? ms : cap) * NS_PER_MS;
}

/* Sends one entry without blocking. 0; -EAGAIN when ZeroMQ cannot take it
 * now (no daemon connected, or its queue full); other negative errno. */
static int s_send_entry(tp_pub_reliable_t *r, struct entry *e, uint64_t now) {
    /* Multipart is atomic: once the first frame is queued, so is the second. */
    if (zmq_send(r->sock, e->topic, strlen(e->topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(r->sock, e->buf, e->len, ZMQ_DONTWAIT) < 0) {
        int err = zmq_errno();
        if (err == EAGAIN)
            r->blocked = true;
        if (err == EAGAIN || err == EINTR) {
            r->next_due_ns = 0; /* still due: scan again */
            return -EAGAIN;
        }
        return -err;
    }
    e->attempts++;
    e->due_ns = now + s_backoff_ns(r, e->attempts);
    if (e->due_ns < r->next_due_ns)
        r->next_due_ns = e->due_ns;
    return 0;
}

/* Sends every entry that is due, oldest first, until ZeroMQ pushes back.
 * While blocked it asks ZeroMQ (ZMQ_EVENTS, without waiting) whether it can
 * take messages again: a reconnect may have happened while tp-pub was
 * reading input rather than polling. */
static int s_send_due(tp_pub_reliable_t *r, uint64_t now) {
    if (r->blocked) {
        int    events = 0;
        size_t size = sizeof events;
        if (zmq_getsockopt(r->sock, ZMQ_EVENTS, &events, &size) < 0)
            return -zmq_errno();
        r->blocked = !(events & ZMQ_POLLOUT);
    }
    if (r->blocked || now < r->next_due_ns)
        return 0;
    uint64_t      next = UINT64_MAX;
    struct entry *e, *tmp;
    HASH_ITER(hh, r->window, e, tmp) {
        if (e->due_ns <= now) {
            bool resend = e->attempts > 0;
            int  err = s_send_entry(r, e, now);
            if (err == -EAGAIN)
                return 0; /* next_due_ns is 0 now */
            if (err < 0)
                return err;
            if (resend)
                r->stats.resent++;
        }
        if (e->due_ns < next)
            next = e->due_ns;
    }
    r->next_due_ns = next;
    return 0;
}

/* Prints a peer-supplied reason: at most TP_PUB_MAX_REASON bytes, control
 * characters as '?', so that a daemon cannot garble the terminal. */
static void s_print_reason(const zmq_msg_t *m) {
    const unsigned char *s = zmq_msg_data((zmq_msg_t *)m);
    size_t               n = zmq_msg_size((zmq_msg_t *)m);
    for (size_t i = 0; i < n && i < TP_PUB_MAX_REASON; i++)
        fputc(s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i], stderr);
    fputs(n > TP_PUB_MAX_REASON ? "...\n" : "\n", stderr);
}

static bool s_frame_is(zmq_msg_t *m, const char *word) {
    size_t n = strlen(word);
    return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), word, n) == 0;
}

/* One answer: ["ACK", id] or ["NACK", id-or-empty, reason]. An answer for an
 * id not in the window (already answered, or never ours) is ignored. */
static void s_on_answer(tp_pub_reliable_t *r, zmq_msg_t f[3], size_t n, bool *progress) {
    bool ack = n == 2 && s_frame_is(&f[0], "ACK"), nack = n == 3 && s_frame_is(&f[0], "NACK");
    if (!ack && !nack) {
        if (!r->malformed_seen)
            fprintf(stderr,
                    "tp-pub: ignoring malformed answers from '%s' (expected "
                    "[\"ACK\", id] or [\"NACK\", id, reason])\n",
                    r->cfg.endpoint);
        r->malformed_seen = true;
        return;
    }
    struct entry *e = NULL;
    size_t        idlen = zmq_msg_size(&f[1]);
    if (idlen > 0)
        HASH_FIND(hh, r->window, zmq_msg_data(&f[1]), idlen, e);
    if (nack && idlen == 0) {
        fprintf(stderr, "tp-pub: %s: refused by the daemon, event not named: ", r->cfg.input_name);
        s_print_reason(&f[2]);
    }
    if (!e)
        return;
    if (nack) {
        fprintf(stderr, "tp-pub: %s:%zu: refused by the daemon: ", r->cfg.input_name, e->lineno);
        s_print_reason(&f[2]);
        r->stats.refused++;
    } else {
        r->stats.acknowledged++;
    }
    HASH_DEL(r->window, e);
    s_entry_free(e);
    *progress = true;
}

/* Reads every answer already queued on the DEALER. Sets *progress when one
 * of them ended a window entry. 0 or negative errno. */
static int s_recv_answers(tp_pub_reliable_t *r, bool *progress) {
    for (;;) {
        zmq_msg_t f[3];
        size_t    n = 0;
        int       more = 1, err = 0;
        while (more) {
            zmq_msg_t extra, *m = n < 3 ? &f[n] : &extra; /* frames past the third: dropped */
            zmq_msg_init(m);
            if (zmq_msg_recv(m, r->sock, ZMQ_DONTWAIT) < 0) {
                err = zmq_errno();
                zmq_msg_close(m);
                break;
            }
            more = zmq_msg_more(m);
            if (m == &extra)
                zmq_msg_close(m);
            n++;
        }
        if (err == 0)
            s_on_answer(r, f, n, progress); /* n > 3 is malformed */
        for (size_t i = 0; i < n && i < 3; i++)
            zmq_msg_close(&f[i]);
        if (err == EAGAIN || err == EINTR)
            return 0;
        if (err != 0)
            return -err;
    }
}

/* The loop of the module: handles answers and resends until at most
 * `max_pending` entries are left and the clock has reached `not_before`.
 * -ETIMEDOUT when more than max_pending stayed unanswered for wait_ms
 * without any answer ending an entry. */
static int s_run(tp_pub_reliable_t *r, size_t max_pending, uint64_t not_before) {
    uint64_t progress_ns = s_now_ns(), wait_ns = r->cfg.wait_ms * NS_PER_MS;
    for (;;) {
        bool     progress = false;
        int      err = s_recv_answers(r, &progress);
        uint64_t now = s_now_ns();
        if (err == 0)
            err = s_send_due(r, now);
        if (err < 0)
            return err;
        if (progress)
            progress_ns = now;
        bool full = HASH_COUNT(r->window) > max_pending;
        if (!full && now >= not_before)
            return 0;
        if (full && now - progress_ns >= wait_ns)
            return -ETIMEDOUT;

        uint64_t deadline = full ? progress_ns + wait_ns : not_before;
        if (!r->blocked && r->next_due_ns < deadline)
            deadline = r->next_due_ns;
        uint64_t       wait_ms = deadline > now ? (deadline - now + NS_PER_MS - 1) / NS_PER_MS : 0;
        zmq_pollitem_t item = { .socket = r->sock,
                                .events = ZMQ_POLLIN | (r->blocked ? ZMQ_POLLOUT : 0) };
        int            n = zmq_poll(&item, 1, (long)(wait_ms < 60000 ? wait_ms : 60000));
        if (n < 0 && zmq_errno() != EINTR)
            return -zmq_errno();
        if (n > 0 && (item.revents & ZMQ_POLLOUT))
            r->blocked = false;
    }
}

int tp_pub_reliable_send(tp_pub_reliable_t *r, const char *event_id, const char *topic,
                         uint8_t *buf, size_t len, size_t lineno, uint64_t not_before_ns) {
    int err = s_run(r, r->cfg.window - 1, not_before_ns);
    if (err < 0) {
        free(buf);
        return err;
    }
    struct entry *e = NULL;
    HASH_FIND_STR(r->window, event_id, e);
    if (e) { /* repeated id: one entry, newest bytes */
        free(e->buf);
    } else {
        e = calloc(1, sizeof *e);
        if (!e || !(e->event_id = strdup(event_id))) {
            free(e);
            free(buf);
            return -ENOMEM;
        }
        HASH_ADD_KEYPTR(hh, r->window, e->event_id, strlen(e->event_id), e);
        if (e->oom) {
            e->buf = buf;
            s_entry_free(e);
            return -ENOMEM;
        }
    }
    e->topic = topic;
    e->buf = buf;
    e->len = len;
    e->lineno = lineno;
    e->due_ns = 0;
    r->stats.published++;
    if (r->blocked) {
        r->next_due_ns = 0; /* goes out when ZeroMQ takes it */
        return 0;
    }
    err = s_send_entry(r, e, s_now_ns());
    return err == -EAGAIN ? 0 : err;
}

int tp_pub_reliable_wait_peer(tp_pub_reliable_t *r) {
    uint64_t deadline = s_now_ns() + r->cfg.wait_ms * NS_PER_MS;
    for (;;) {
        zmq_pollitem_t item = { .socket = r->sock, .events = ZMQ_POLLOUT };
        uint64_t       now = s_now_ns();
        long wait = now >= deadline ? 0 : (long)((deadline - now + NS_PER_MS - 1) / NS_PER_MS);
        int  n = zmq_poll(&item, 1, wait);
        if (n < 0 && zmq_errno() != EINTR)
            return -zmq_errno();
        if (n > 0)
            return 0;
        if (n == 0 && wait == 0)
            return -ETIMEDOUT;
    }
}

int tp_pub_reliable_drain(tp_pub_reliable_t *r) {
    return s_run(r, 0, 0);
}

void tp_pub_reliable_get_stats(const tp_pub_reliable_t *r, struct tp_pub_reliable_stats *ret) {
    *ret = r->stats;
    ret->pending = HASH_COUNT(r->window);
}

/* ---- the --reliable mode of tp-pub (tp_pub.h) ---------------------------- */

int tp_pub_run_reliable(struct tp_pub_run *run) {
    const struct tp_pub_opts           *o = run->o;
    const struct tp_pub_reliable_config cfg = {
        .endpoint = o->endpoint,
        .bind = o->bind,
        .input_name = run->name,
        .window = (size_t)o->window,
        .ack_timeout_ms = o->ack_timeout_ms,
        .wait_ms = o->wait_ms,
        .curve = &o->curve,
    };
    tp_pub_reliable_t           *rel = NULL;
    struct tp_pub_reliable_stats st = { 0 };
    int                          r = tp_pub_reliable_new(&cfg, &rel);
    if (r < 0) {
        fprintf(stderr, "tp-pub: cannot %s '%s': %s\n", o->bind ? "bind" : "connect to",
                o->endpoint, zmq_strerror(-r));
        return TP_PUB_EXIT_USAGE;
    }
    uint64_t            published = 0, pace_start = 0;
    bool                unanswered = false; /* gave up waiting for answers */
    struct tp_pub_event ev;
    while (tp_pub_next(run, TP_PUB_RELIABLE_ID_WHY, &ev) > 0) {
        if (published == 0 && (r = tp_pub_reliable_wait_peer(rel)) < 0) {
            if (r == -ETIMEDOUT)
                fprintf(stderr, "tp-pub: no daemon on '%s' within %" PRIu64 " ms\n", o->endpoint,
                        o->wait_ms);
            else
                fprintf(stderr, "tp-pub: polling '%s' failed: %s\n", o->endpoint, zmq_strerror(-r));
            tp_pub_event_clear(&ev);
            run->status = TP_PUB_EXIT_USAGE;
            break;
        }
        const Touchpoint__V1__Envelope *env = (const Touchpoint__V1__Envelope *)ev.env;
        uint8_t                        *buf = ev.buf; /* taken by tp_pub_reliable_send */
        ev.buf = NULL;
        r = tp_pub_reliable_send(rel, env->event_id, ev.topic, buf, ev.len, ev.lineno,
                                 tp_pub_pace_at(&pace_start, o->rate, published));
        tp_pub_event_clear(&ev);
        tp_pub_reliable_get_stats(rel, &st);
        if (r == -ETIMEDOUT) {
            unanswered = true;
            break;
        }
        if (r < 0) {
            fprintf(stderr, "tp-pub: send to '%s' failed: %s\n", o->endpoint, zmq_strerror(-r));
            run->status = TP_PUB_EXIT_USAGE;
            break;
        }
        published++;
        if (o->stop_on_error && st.refused > 0)
            break;
    }
    /* Whatever was sent is waited for, also after a bad line. */
    r = run->status == 0 && !unanswered ? tp_pub_reliable_drain(rel) : 0;
    if (r == -ETIMEDOUT)
        unanswered = true;
    else if (r < 0) {
        fprintf(stderr, "tp-pub: talking to '%s' failed: %s\n", o->endpoint, zmq_strerror(-r));
        run->status = TP_PUB_EXIT_USAGE;
    }
    tp_pub_reliable_get_stats(rel, &st);
    if (unanswered)
        fprintf(stderr,
                "tp-pub: %" PRIu64 " events unacknowledged after %" PRIu64 " ms "
                "without an answer from '%s'\n",
                st.pending, o->wait_ms, o->endpoint);
    fprintf(stderr,
            "tp-pub: published %" PRIu64 ", acknowledged %" PRIu64 ", refused %" PRIu64
            ", resent %" PRIu64 ", bad lines %" PRIu64 "\n",
            st.published, st.acknowledged, st.refused, st.resent, run->bad + st.refused);
    tp_pub_reliable_destroy(&rel);
    return tp_pub_exit_status(run, st.refused > 0 || unanswered);
}
