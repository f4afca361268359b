/* tp_bus — see tp_bus.h. */
#include "tp_bus.h"

#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_SOCKS   (TP_MAX_INPUTS + 4)
#define KEEP_FRAMES 4 /* frames kept per message; the rest are drained */

struct tp_bus_sock {
    tp_bus_t      *bus;
    void          *zsock;
    struct event  *ev;     /* readable: ZMQ_FD */
    struct event  *resume; /* zero-timeout timer: the next batch, next loop turn */
    tp_bus_recv_fn fn;
    tp_bus_recv_fn oversize_fn; /* after an oversize message is counted; NULL = none */
    bool           counted;     /* an event input: oversize counted in stats (received too) */
    void          *arg;
    bool           bound;    /* bind mode: unbind at close (removes an ipc file) */
    size_t         max_msg;  /* larger messages are dropped and counted; 0 = no limit */
    char           name[32]; /* "inputs[0]"...: for logs */
    bool           router;   /* keeps the sender's address: tp_bus_peer_address */
    char           peer[64]; /* that of the message being handed on, "" = none */
    char          *endpoint; /* owned copy, for logs */
};
typedef struct tp_bus_sock s_sock_t;

struct tp_bus {
    struct event_base *base;
    void              *zctx;
    s_sock_t           socks[MAX_SOCKS]; /* inputs, routers, the output; zsock NULL = free */
    s_sock_t          *output;
    size_t             subscribers;
    tp_stats_t        *stats; /* oversize; NULL = not counted */
    tp_ratelimit_t     rl;    /* oversize log lines */
    tp_zap_t          *zap;   /* CURVE on: the ZAP handler, closed after the sockets */
    char               public_key[41], secret_key[41]; /* CURVE on: the daemon's keypair */
};

int tp_bus_new(struct event_base *base, tp_bus_t **ret) {
    tp_bus_t *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->base = base;
    b->zctx = zmq_ctx_new();
    if (!b->zctx) {
        int r = errno > 0 ? -errno : -ENOMEM;
        free(b);
        return r;
    }
    *ret = b;
    return 0;
}

static int s_zerr(void) {
    int e = zmq_errno();
    return e > 0 ? -e : -EIO;
}

/* True if the socket has a message waiting (ZMQ_EVENTS), which also makes
 * zmq process pending commands and re-arm the edge of ZMQ_FD. */
static bool s_readable(void *zsock) {
    int    events = 0;
    size_t len = sizeof events;
    return zmq_getsockopt(zsock, ZMQ_EVENTS, &events, &len) == 0 && (events & ZMQ_POLLIN);
}

/* A message over the socket's limit: received whole (zmq has it in
 * memory anyway), then counted, logged and skipped. */
static void s_oversize(s_sock_t *s, size_t bytes) {
    tp_bus_t *b = s->bus;
    uint64_t  suppressed;
    if (b->stats && s->counted)
        tp_stats_count_oversize(b->stats);
    if (tp_ratelimit_below(&b->rl, tp_monotonic_ms(), &suppressed))
        log_warning("Dropped a %zu-byte message from %s '%s': limit %zu%s%s", bytes, s->name,
                    s->endpoint, s->max_msg, s->counted ? " (limits.max_message_bytes)" : "",
                    suppressed ? "; earlier drops were not logged" : "");
}

/* Receives one whole message. 1 received, 0 nothing waiting, <0 error. */
static int s_recv_one(s_sock_t *s) {
    zmq_msg_t  parts[KEEP_FRAMES];
    tp_frame_t frames[KEEP_FRAMES];
    size_t     n = 0, kept = 0, bytes = 0;
    int        more = 1;
    while (more) {
        zmq_msg_t  scratch;
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
        /* libzmq copies the connection's metadata onto the routing-id
         * frame on one receive path only: look at the next frame too. */
        if (s->router && n < 2 && (n == 0 || !s->peer[0])) {
            const char *pa = zmq_msg_gets(m, "Peer-Address");
            snprintf(s->peer, sizeof s->peer, "%s", pa ? pa : "");
        }
        n++;
        bytes += zmq_msg_size(m);
        if (m == &scratch) {
            zmq_msg_close(m);
        } else {
            frames[kept] = (tp_frame_t){ zmq_msg_data(m), zmq_msg_size(m) };
            kept++;
        }
    }
    if (s->max_msg && bytes > s->max_msg) {
        s_oversize(s, bytes);
        if (s->oversize_fn)
            s->oversize_fn(s->arg, frames, n);
    } else {
        s->fn(s->arg, frames, n);
    }
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
            return; /* drained: the edge is re-armed, ZMQ_FD will wake us */
        if (r < 0 && r != -EINTR)
            return; /* ETERM at shutdown; nothing else is expected on SUB */
    }
    /* Batch used up: come back on the next loop turn. Through a zero
     * timeout, not event_active(): libevent runs an event re-activated from
     * its own callback again in the same pass, so under a flood the loop
     * would never reach its timers (rule deadlines, group commits). */
    if (s_readable(s->zsock)) {
        static const struct timeval now = { 0, 0 };
        evtimer_add(s->resume, &now);
    }
}

static int s_setopt_int(void *zsock, int opt, int v) {
    return zmq_setsockopt(zsock, opt, &v, sizeof v) == 0 ? 0 : s_zerr();
}

static int s_setopt_str(void *zsock, int opt, const char *v) {
    return zmq_setsockopt(zsock, opt, v, strlen(v)) == 0 ? 0 : s_zerr();
}

/* CURVE on: a bound socket is a server whose clients ZAP checks in the
 * endpoint's domain; a connected one is a client of ep->curve_server_key. */
static int s_curve(tp_bus_t *b, void *zsock, const tp_endpoint_t *ep) {
    if (!b->zap)
        return 0;
    if (ep->mode == TP_MODE_BIND) {
        int r = s_setopt_int(zsock, ZMQ_CURVE_SERVER, 1);
        if (r == 0)
            r = s_setopt_str(zsock, ZMQ_CURVE_SECRETKEY, b->secret_key);
        if (r == 0)
            r = s_setopt_str(zsock, ZMQ_ZAP_DOMAIN, ep->name);
#ifdef ZMQ_ZAP_ENFORCE_DOMAIN
        /* Without a handler libzmq would admit everyone; we never run
         * without one, but refuse rather than trust that (draft option:
         * EINVAL where libzmq was built without drafts). */
        if (r == 0 && s_setopt_int(zsock, ZMQ_ZAP_ENFORCE_DOMAIN, 1) < 0 && zmq_errno() != EINVAL)
            r = s_zerr();
#endif
        return r;
    }
    if (!ep->curve_server_key)
        return -EINVAL;
    int r = s_setopt_str(zsock, ZMQ_CURVE_SERVERKEY, ep->curve_server_key);
    if (r == 0)
        r = s_setopt_str(zsock, ZMQ_CURVE_PUBLICKEY, b->public_key);
    if (r == 0)
        r = s_setopt_str(zsock, ZMQ_CURVE_SECRETKEY, b->secret_key);
    return r;
}

/* ZMQ_MAXMSGSIZE for a byte limit: a memory guard well above it, so that
 * what is over the limit still arrives and is counted. */
static int64_t s_ceiling(size_t limit) {
    if (limit > (size_t)(INT64_MAX / 4))
        return INT64_MAX;
    int64_t c = (int64_t)limit * 4;
    return c > ((int64_t)16 << 20) ? c : (int64_t)16 << 20;
}

/* Creates, configures, binds or connects a socket and joins it to the
 * loop through its ZMQ_FD. `fn` gets every message read from it. */
static int s_open(tp_bus_t *b, int type, const tp_endpoint_t *ep, size_t max_msg, tp_bus_recv_fn fn,
                  void *arg, s_sock_t **ret) {
    /* Slots are reused after tp_bus_close; handles point into the array,
     * so sockets never move. */
    s_sock_t *s = NULL;
    for (size_t i = 0; i < MAX_SOCKS && !s; i++)
        if (!b->socks[i].zsock)
            s = &b->socks[i];
    if (!s)
        return -E2BIG;
    *s = (s_sock_t){
        .bus = b, .fn = fn, .arg = arg, .max_msg = max_msg, .counted = type == ZMQ_SUB
    };
    snprintf(s->name, sizeof s->name, "%s", ep->name);
    if (!(s->endpoint = strdup(ep->endpoint)))
        return -ENOMEM;
    s->zsock = zmq_socket(b->zctx, type);
    if (!s->zsock) {
        int r = s_zerr();
        free(s->endpoint);
        *s = (s_sock_t){ 0 };
        return r;
    }
    int hwm_opt = type == ZMQ_SUB ? ZMQ_RCVHWM : ZMQ_SNDHWM;
    int r = s_setopt_int(s->zsock, ZMQ_IPV6, 1);
    if (r == 0)
        r = s_setopt_int(s->zsock, hwm_opt, ep->hwm);
    /* Inputs drop what is queued at shutdown; alerts and replies get a
     * second to flush. */
    if (r == 0)
        r = s_setopt_int(s->zsock, ZMQ_LINGER, type == ZMQ_SUB ? 0 : 1000);
    if (r == 0 && max_msg) {
        int64_t m = s_ceiling(max_msg);
        if (zmq_setsockopt(s->zsock, ZMQ_MAXMSGSIZE, &m, sizeof m) != 0)
            r = s_zerr();
    }
    if (r == 0 && type == ZMQ_XPUB)
        r = s_setopt_int(s->zsock, ZMQ_XPUB_NODROP, 1);
    if (r == 0 && type == ZMQ_ROUTER)
        r = s_setopt_int(s->zsock, ZMQ_ROUTER_MANDATORY, 1);
    if (r == 0 && type == ZMQ_SUB &&
        zmq_setsockopt(s->zsock, ZMQ_SUBSCRIBE, TP_TOPIC_PREFIX, strlen(TP_TOPIC_PREFIX)) != 0)
        r = s_zerr();
    if (r == 0)
        r = s_curve(b, s->zsock, ep);
    if (r == 0 && (ep->mode == TP_MODE_BIND ? zmq_bind(s->zsock, ep->endpoint)
                                            : zmq_connect(s->zsock, ep->endpoint)) != 0)
        r = s_zerr();
    s->bound = r == 0 && ep->mode == TP_MODE_BIND;
    int    fd;
    size_t fdlen = sizeof fd;
    if (r == 0 && zmq_getsockopt(s->zsock, ZMQ_FD, &fd, &fdlen) != 0)
        r = s_zerr();
    if (r == 0) {
        s->ev = event_new(b->base, fd, EV_READ | EV_PERSIST, s_readable_cb, s);
        s->resume = evtimer_new(b->base, s_readable_cb, s);
        if (!s->ev || !s->resume || event_add(s->ev, NULL) != 0)
            r = -ENOMEM;
    }
    if (r < 0) {
        if (s->resume)
            event_free(s->resume);
        if (s->ev)
            event_free(s->ev);
        zmq_close(s->zsock);
        free(s->endpoint);
        *s = (s_sock_t){ 0 };
        return r;
    }
    /* Messages may already be queued (connect to a busy peer): the edge
     * fired before we listened, so look once now. */
    event_active(s->ev, EV_READ, 0);
    *ret = s;
    return 0;
}

void tp_bus_set_counters(tp_bus_t *b, tp_stats_t *stats, const tp_ratelimit_t *rl) {
    b->stats = stats;
    b->rl = *rl;
}

int tp_bus_enable_curve(tp_bus_t *b, const char *public_key, const char *secret_key,
                        tp_zap_t **ret_zap) {
    if (b->zap)
        return -EEXIST;
    if (strlen(public_key) != 40 || strlen(secret_key) != 40)
        return -EINVAL;
    int r = tp_zap_new(b->base, b->zctx, b->stats, &b->rl, &b->zap);
    if (r < 0)
        return r;
    memcpy(b->public_key, public_key, 41);
    memcpy(b->secret_key, secret_key, 41);
    *ret_zap = b->zap;
    return 0;
}

int tp_bus_add_input(tp_bus_t *b, const tp_endpoint_t *ep, size_t max_msg_bytes, tp_bus_recv_fn fn,
                     void *arg, tp_bus_sock_t **ret) {
    s_sock_t *s;
    int       r = s_open(b, ZMQ_SUB, ep, max_msg_bytes, fn, arg, &s);
    if (r == 0 && ret)
        *ret = s;
    return r;
}

int tp_bus_add_router(tp_bus_t *b, const tp_endpoint_t *ep, size_t max_msg_bytes, tp_bus_recv_fn fn,
                      void *arg, tp_bus_sock_t **ret) {
    int r = s_open(b, ZMQ_ROUTER, ep, max_msg_bytes, fn, arg, ret);
    if (r == 0)
        (*ret)->router = true;
    return r;
}

const char *tp_bus_peer_address(const tp_bus_sock_t *s) {
    return s->peer;
}

/* XPUB delivers [1, topic] when a subscriber subscribes and [0, topic]
 * when it leaves: reading them keeps the count, and keeps the queue of
 * subscription messages from growing. */
static void s_subscription_cb(void *arg, const tp_frame_t *frames, size_t nframes) {
    tp_bus_t *b = arg;
    if (nframes != 1 || frames[0].len < 1)
        return;
    unsigned char kind = ((const unsigned char *)frames[0].data)[0];
    if (kind == 1)
        b->subscribers++;
    else if (kind == 0 && b->subscribers > 0)
        b->subscribers--;
}

int tp_bus_set_output(tp_bus_t *b, const tp_endpoint_t *ep) {
    if (b->output)
        return -EEXIST;
    return s_open(b, ZMQ_XPUB, ep, 0, s_subscription_cb, b, &b->output);
}

size_t tp_bus_subscribers(const tp_bus_t *b) {
    return b->subscribers;
}

/* ZMQ_FD is shared by the read and write sides: a send can consume the
 * edge that announced incoming messages, so look again after each send. */
static void s_after_send(s_sock_t *s) {
    if (s->ev && s_readable(s->zsock))
        event_active(s->ev, EV_READ, 0);
}

void tp_bus_on_oversize(tp_bus_sock_t *s, tp_bus_recv_fn fn) {
    s->oversize_fn = fn;
    s->counted = true;
}

int tp_bus_send(tp_bus_sock_t *s, const tp_frame_t *frames, size_t n) {
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++)
        if (zmq_send(s->zsock, frames[i].data, frames[i].len,
                     ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0)) < 0)
            r = s_zerr();
    s_after_send(s);
    /* Only the first frame can be refused: zmq takes a message whole. */
    return r;
}

int tp_bus_publish(tp_bus_t *b, const char *topic, const void *data, size_t len) {
    if (!b->output)
        return -ENOTCONN;
    tp_frame_t frames[2] = { { topic, strlen(topic) }, { data, len } };
    return tp_bus_send(b->output, frames, 2);
}

static void s_close(s_sock_t *s) {
    /* Unbind frees the address at once (a reload may bind it again right
     * away); libzmq 4.3 leaves an ipc:// file behind, so remove it, as a
     * daemon cleans up the sockets it created. */
    char   ep[1024];
    size_t len = sizeof ep;
    if (s->bound && zmq_getsockopt(s->zsock, ZMQ_LAST_ENDPOINT, ep, &len) == 0) {
        zmq_unbind(s->zsock, ep);
        if (strncmp(ep, "ipc://", 6) == 0 && ep[6] != '@')
            unlink(ep + 6);
    }
    event_free(s->resume);
    event_free(s->ev);
    zmq_close(s->zsock);
    free(s->endpoint);
    *s = (s_sock_t){ 0 };
}

tp_bus_sock_t *tp_bus_output(tp_bus_t *b) {
    return b->output;
}

void tp_bus_close(tp_bus_t *b, tp_bus_sock_t **p, bool drain) {
    s_sock_t *s = p ? *p : NULL;
    if (!s)
        return;
    /* What is already queued was sent to us: hand it on before the socket
     * goes, so a reload moving an endpoint loses nothing that arrived. */
    while (drain && s_recv_one(s) > 0)
        ;
    if (s == b->output) {
        b->output = NULL;
        b->subscribers = 0;
    }
    s_close(s);
    *p = NULL;
}

void tp_bus_destroy(tp_bus_t **p) {
    tp_bus_t *b = p ? *p : NULL;
    if (!b)
        return;
    for (size_t i = MAX_SOCKS; i-- > 0;)
        if (b->socks[i].zsock)
            s_close(&b->socks[i]);
    /* After every socket it guards: no handshake runs without it. */
    tp_zap_destroy(&b->zap);
    explicit_bzero(b->secret_key, sizeof b->secret_key);
    zmq_ctx_term(b->zctx);
    free(b);
    *p = NULL;
}
