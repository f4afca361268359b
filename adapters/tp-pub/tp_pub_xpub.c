/* tp_pub_xpub — tp-pub's plain mode: events out of an XPUB socket, and
 * --dry-run, which checks the same lines and prints them instead.
 *
 * The XPUB lets tp-pub see its subscribers: it waits for the first
 * subscription before sending anything, which avoids losing the first
 * events to ZeroMQ's slow-joiner window without sleeping. See tp_pub.h.
 */
#include "tp_pub.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "tp_json.h"

#define TP_PUB_LINGER_MS 10000 /* flush budget at exit */

struct publisher {
    void    *ctx;
    void    *sock;       /* XPUB */
    bool     subscribed; /* a subscription has been seen */
    uint64_t start_ns;   /* pacing origin: when the first event went out */
};

static uint64_t s_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void s_pub_close(struct publisher *p) {
    /* zmq_ctx_term() blocks until queued messages are flushed or
     * ZMQ_LINGER expires: that is what delivers the tail of a burst. */
    if (p->sock)
        zmq_close(p->sock);
    if (p->ctx)
        zmq_ctx_term(p->ctx);
    *p = (struct publisher){ 0 };
}

static int s_pub_open(struct publisher *p, const struct tp_pub_opts *o) {
    int hwm = 0, linger = TP_PUB_LINGER_MS;
    *p = (struct publisher){ 0 };
    p->ctx = zmq_ctx_new();
    if (!p->ctx)
        return -zmq_errno();
    p->sock = zmq_socket(p->ctx, ZMQ_XPUB);
    /* SNDHWM 0: a burst from a file is queued, not dropped at 1000. */
    if (!p->sock || zmq_setsockopt(p->sock, ZMQ_SNDHWM, &hwm, sizeof hwm) < 0 ||
        zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        tp_curve_client_apply(&o->curve, p->sock) < 0 ||
        (o->bind ? zmq_bind(p->sock, o->endpoint) : zmq_connect(p->sock, o->endpoint)) < 0) {
        int r = -zmq_errno();
        s_pub_close(p);
        return r;
    }
    return 0;
}

/* Reads the subscription messages queued on the XPUB, waiting up to
 * timeout_ms for one (0: just drain). Notes when one is a subscribe. */
static int s_pub_drain(struct publisher *p, int timeout_ms) {
    uint64_t deadline = s_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        uint64_t       now = s_now_ns();
        long           wait = timeout_ms == 0 || p->subscribed || now >= deadline
                                  ? 0
                                  : (long)((deadline - now + 999999) / 1000000);
        zmq_pollitem_t item = { .socket = p->sock, .events = ZMQ_POLLIN };
        int            n = zmq_poll(&item, 1, wait);
        if (n < 0 && zmq_errno() == EINTR)
            continue;
        if (n < 0)
            return -zmq_errno();
        if (n == 0)
            return 0;
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, p->sock, ZMQ_DONTWAIT) < 0) {
            int r = zmq_errno();
            zmq_msg_close(&msg);
            if (r == EAGAIN || r == EINTR)
                continue;
            return -r;
        }
        if (zmq_msg_size(&msg) > 0 && ((const uint8_t *)zmq_msg_data(&msg))[0] == 1)
            p->subscribed = true;
        zmq_msg_close(&msg);
    }
}

/* Sends one event as event number `seq`, paced, waiting for the first
 * subscriber before the first one. 0; -ETIMEDOUT no subscriber (reported);
 * negative errno. */
static int s_pub_event(struct publisher *p, const struct tp_pub_opts *o,
                       const struct tp_pub_event *ev, uint64_t seq) {
    if (!p->subscribed) {
        int r = s_pub_drain(p, (int)o->wait_ms);
        if (r < 0)
            return r;
        if (!p->subscribed) {
            fprintf(stderr, "tp-pub: no subscriber on '%s' within %" PRIu64 " ms\n", o->endpoint,
                    o->wait_ms);
            return -ETIMEDOUT;
        }
    }
    tp_pub_sleep_until(tp_pub_pace_at(&p->start_ns, o->rate, seq));
    if (zmq_send(p->sock, ev->topic, strlen(ev->topic), ZMQ_SNDMORE) < 0 ||
        zmq_send(p->sock, ev->buf, ev->len, 0) < 0)
        return -zmq_errno();
    return s_pub_drain(p, 0);
}

int tp_pub_run_xpub(struct tp_pub_run *run) {
    const struct tp_pub_opts *o = run->o;
    struct publisher          pub;
    int                       r = s_pub_open(&pub, o);
    if (r < 0) {
        fprintf(stderr, "tp-pub: cannot %s '%s': %s\n", o->bind ? "bind" : "connect to",
                o->endpoint, zmq_strerror(-r));
        return TP_PUB_EXIT_USAGE;
    }
    uint64_t            published = 0;
    struct tp_pub_event ev;
    while (tp_pub_next(run, NULL, &ev) > 0) {
        r = s_pub_event(&pub, o, &ev, published);
        tp_pub_event_clear(&ev);
        if (r < 0) {
            if (r != -ETIMEDOUT)
                fprintf(stderr, "tp-pub: send to '%s' failed: %s\n", o->endpoint, zmq_strerror(-r));
            run->status = TP_PUB_EXIT_USAGE;
            break;
        }
        published++;
    }
    fprintf(stderr, "tp-pub: published %" PRIu64 ", bad lines %" PRIu64 "\n", published, run->bad);
    s_pub_close(&pub);
    return tp_pub_exit_status(run, false);
}

int tp_pub_run_dry(struct tp_pub_run *run) {
    const char         *id_why = run->o->reliable ? TP_PUB_RELIABLE_ID_WHY : NULL;
    uint64_t            checked = 0;
    struct tp_pub_event ev;
    while (tp_pub_next(run, id_why, &ev) > 0) {
        char *json = tp_json_dumps_message(ev.env);
        tp_pub_event_clear(&ev);
        if (!json) {
            fputs("tp-pub: out of memory\n", stderr);
            run->status = TP_PUB_EXIT_USAGE;
            break;
        }
        puts(json);
        free(json);
        checked++;
    }
    fprintf(stderr, "tp-pub: checked %" PRIu64 ", bad lines %" PRIu64 "\n", checked, run->bad);
    return tp_pub_exit_status(run, false);
}
