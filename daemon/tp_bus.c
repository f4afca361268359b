/* tp_bus — see tp_bus.h. */
#include "tp_bus.h"

#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define MAX_INPUTS  TP_MAX_INPUTS
#define KEEP_FRAMES 4             /* frames kept per message; the rest are drained */

typedef struct {
    tp_bus_t      *bus;
    void          *zsock;
    struct event  *ev;            /* NULL for the output */
    tp_bus_recv_fn fn;
    void          *arg;
} s_sock_t;

struct tp_bus {
    struct event_base *base;
    void              *zctx;
    s_sock_t           inputs[MAX_INPUTS];
    size_t             n_inputs;
    s_sock_t           output;
};

tp_bus_t *tp_bus_new(struct event_base *base) {
    tp_bus_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->base = base;
    b->zctx = zmq_ctx_new();
    if (!b->zctx) {
        free(b);
        return NULL;
    }
    return b;
}

static int s_zerr(void) {
    int e = zmq_errno();
    return e > 0 ? -e : -EIO;
}

/* True if the socket has a message waiting (ZMQ_EVENTS), which also makes
 * zmq process pending commands and re-arm the edge of ZMQ_FD. */
static bool s_readable(void *zsock) {
    int events = 0;
    size_t len = sizeof events;
    return zmq_getsockopt(zsock, ZMQ_EVENTS, &events, &len) == 0 && (events & ZMQ_POLLIN);
}

/* Receives one whole message. 1 received, 0 nothing waiting, <0 error. */
static int s_recv_one(s_sock_t *s) {
    zmq_msg_t parts[KEEP_FRAMES];
    tp_frame_t frames[KEEP_FRAMES];
    size_t n = 0, kept = 0;
    int more = 1;
    while (more) {
        zmq_msg_t scratch;
        zmq_msg_t *m = kept < KEEP_FRAMES ? &parts[kept] : &scratch;
        zmq_msg_init(m);
        /* Only the first part can be EAGAIN: zmq delivers multipart
         * messages atomically. */
        if (zmq_msg_recv(m, s->zsock, ZMQ_DONTWAIT) < 0) {
            int r = s_zerr();
            zmq_msg_close(m);
            for (size_t i = 0; i < kept; i++)
                zmq_msg_close(&parts[i]);
            return r == -EAGAIN && n == 0 ? 0 : r;
        }
        more = zmq_msg_more(m);
        n++;
        if (m == &scratch) {
            zmq_msg_close(m);
        } else {
            frames[kept] = (tp_frame_t){ zmq_msg_data(m), zmq_msg_size(m) };
            kept++;
        }
    }
    s->fn(s->arg, frames, n);
    for (size_t i = 0; i < kept; i++)
        zmq_msg_close(&parts[i]);
    return 1;
}

static void s_readable_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    s_sock_t *s = arg;
    for (int budget = TP_BUS_BATCH; budget > 0; budget--) {
        int r = s_recv_one(s);
        if (r == 0)
            return;   /* drained: the edge is re-armed, ZMQ_FD will wake us */
        if (r < 0 && r != -EINTR)
            return;   /* ETERM at shutdown; nothing else is expected on SUB */
    }
    /* Batch used up: come back on the next loop turn, after other events. */
    if (s_readable(s->zsock))
        event_active(s->ev, EV_READ, 0);
}

static int s_setopt_int(void *zsock, int opt, int v) {
    return zmq_setsockopt(zsock, opt, &v, sizeof v) == 0 ? 0 : s_zerr();
}

static int s_open(tp_bus_t *b, s_sock_t *s, int type, const tp_endpoint_t *ep) {
    s->bus = b;
    s->zsock = zmq_socket(b->zctx, type);
    if (!s->zsock)
        return s_zerr();
    int r = s_setopt_int(s->zsock, ZMQ_IPV6, 1);
    if (r == 0)
        r = s_setopt_int(s->zsock, type == ZMQ_SUB ? ZMQ_RCVHWM : ZMQ_SNDHWM, ep->hwm);
    /* Inputs drop what is queued at shutdown; the output gets a second to
     * flush alerts already published. */
    if (r == 0)
        r = s_setopt_int(s->zsock, ZMQ_LINGER, type == ZMQ_SUB ? 0 : 1000);
    if (r == 0) {
        int rc = ep->mode == TP_MODE_BIND ? zmq_bind(s->zsock, ep->endpoint)
                                          : zmq_connect(s->zsock, ep->endpoint);
        if (rc != 0)
            r = s_zerr();
    }
    if (r < 0) {
        zmq_close(s->zsock);
        s->zsock = NULL;
    }
    return r;
}

int tp_bus_add_input(tp_bus_t *b, const tp_endpoint_t *ep, const char *prefix,
                     size_t max_msg_bytes, tp_bus_recv_fn fn, void *arg) {
    if (b->n_inputs >= MAX_INPUTS)
        return -E2BIG;
    s_sock_t *s = &b->inputs[b->n_inputs];
    *s = (s_sock_t){ .fn = fn, .arg = arg };
    int64_t maxmsg = (int64_t)max_msg_bytes;
    int r = s_open(b, s, ZMQ_SUB, ep);
    if (r < 0)
        return r;
    if (zmq_setsockopt(s->zsock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        zmq_setsockopt(s->zsock, ZMQ_SUBSCRIBE, prefix, strlen(prefix)) != 0) {
        r = s_zerr();
        goto fail;
    }
    int fd;
    size_t fdlen = sizeof fd;
    if (zmq_getsockopt(s->zsock, ZMQ_FD, &fd, &fdlen) != 0) {
        r = s_zerr();
        goto fail;
    }
    s->ev = event_new(b->base, fd, EV_READ | EV_PERSIST, s_readable_cb, s);
    if (!s->ev || event_add(s->ev, NULL) != 0) {
        r = -ENOMEM;
        goto fail;
    }
    b->n_inputs++;
    /* Messages may already be queued (connect to a busy peer): the edge
     * fired before we listened, so look once now. */
    event_active(s->ev, EV_READ, 0);
    return 0;
fail:
    if (s->ev)
        event_free(s->ev);
    zmq_close(s->zsock);
    *s = (s_sock_t){ 0 };
    return r;
}

int tp_bus_set_output(tp_bus_t *b, const tp_endpoint_t *ep) {
    if (b->output.zsock)
        return -EEXIST;
    return s_open(b, &b->output, ZMQ_PUB, ep);
}

int tp_bus_publish(tp_bus_t *b, const char *topic, const void *data, size_t len) {
    void *z = b->output.zsock;
    if (!z)
        return -ENOTCONN;
    if (zmq_send(z, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return s_zerr();
    /* Once the first part is accepted the second cannot be refused. */
    if (zmq_send(z, data, len, ZMQ_DONTWAIT) < 0)
        return s_zerr();
    return 0;
}

void tp_bus_destroy(tp_bus_t **p) {
    tp_bus_t *b = p ? *p : NULL;
    if (!b)
        return;
    for (size_t i = b->n_inputs; i-- > 0;) {
        event_free(b->inputs[i].ev);
        zmq_close(b->inputs[i].zsock);
    }
    if (b->output.zsock)
        zmq_close(b->output.zsock);
    zmq_ctx_term(b->zctx);
    free(b);
    *p = NULL;
}
