/* tp_zap — see tp_zap.h. */
#include "tp_zap.h"

#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "tp_curve_key.h"

/* uthash: an allocation failure must not exit(); it sets the entry's flag. */
#undef uthash_nonfatal_oom
#define uthash_nonfatal_oom(e) ((e)->oom = true)
#include "tp_hash.h"

#define MAX_DOMAINS 32
#define ZAP_FRAMES  7 /* a CURVE request; extra frames are drained */

typedef struct s_key {
    uint8_t        key[32];
    bool           oom; /* set by uthash when adding failed */
    UT_hash_handle hh;
} s_key_t;

typedef struct {
    char     name[32];
    s_key_t *keys; /* uthash set */
    size_t   n;
} s_domain_t;

struct tp_zap {
    void          *zsock; /* REP on TP_ZAP_ENDPOINT */
    struct event  *ev;    /* readable: ZMQ_FD */
    tp_stats_t    *stats;
    tp_ratelimit_t rl;
    s_domain_t     domains[MAX_DOMAINS];
    size_t         n_domains;
    unsigned       bad_line;
};

static void s_free_keys(s_key_t **set) {
    TP_HASH_FREE_ALL(*set, s_key_t);
}

static s_domain_t *s_find(const tp_zap_t *z, const char *domain, size_t len) {
    for (size_t i = 0; i < z->n_domains; i++)
        if (strlen(z->domains[i].name) == len && memcmp(z->domains[i].name, domain, len) == 0)
            return (s_domain_t *)&z->domains[i];
    return NULL;
}

static bool s_allowed(const tp_zap_t *z, zmq_msg_t *domain, zmq_msg_t *mech, zmq_msg_t *key) {
    const s_domain_t *d = s_find(z, zmq_msg_data(domain), zmq_msg_size(domain));
    if (!d || zmq_msg_size(mech) != 5 || memcmp(zmq_msg_data(mech), "CURVE", 5) != 0 ||
        zmq_msg_size(key) != 32)
        return false;
    s_key_t *hit;
    HASH_FIND(hh, d->keys, zmq_msg_data(key), 32, hit);
    return hit != NULL;
}

/* A frame as printable text of at most `max` bytes, for the log. */
static const char *s_text(zmq_msg_t *m, size_t max, int *ret_len) {
    size_t n = zmq_msg_size(m);
    *ret_len = (int)(n < max ? n : max);
    return n ? zmq_msg_data(m) : "";
}

static void s_denied(tp_zap_t *z, zmq_msg_t *f) {
    if (z->stats)
        z->stats->zap_denied++;
    uint64_t suppressed;
    if (!tp_ratelimit_below(&z->rl, tp_monotonic_ms(), &suppressed))
        return;
    char key[TP_Z85_LEN + 1] = "(none)";
    if (zmq_msg_size(&f[6]) == 32)
        zmq_z85_encode(key, zmq_msg_data(&f[6]), 32);
    int         ml, dl, al;
    const char *mech = s_text(&f[5], 16, &ml), *dom = s_text(&f[2], 32, &dl),
               *addr = s_text(&f[3], 64, &al);
    log_warning("Refused %.*s client %s on %.*s (peer address \"%.*s\"): key not in its "
                "curve_clients%s",
                ml, mech, key, dl, dom, al, addr,
                suppressed ? "; earlier refusals were not logged" : "");
}

/* Reads one request (1 read, 0 nothing waiting, <0 error) and answers it:
 * REP needs an answer to every request, also a malformed one. */
static int s_serve_one(tp_zap_t *z) {
    zmq_msg_t f[ZAP_FRAMES];
    size_t    n = 0;
    int       more = 1, r = 1;
    for (size_t i = 0; i < ZAP_FRAMES; i++)
        zmq_msg_init(&f[i]);
    while (more) {
        zmq_msg_t  scratch;
        zmq_msg_t *m = n < ZAP_FRAMES ? &f[n] : &scratch;
        if (m == &scratch)
            zmq_msg_init(m);
        if (zmq_msg_recv(m, z->zsock, ZMQ_DONTWAIT) < 0) {
            int e = zmq_errno();
            r = e == EAGAIN && n == 0 ? 0 : -e;
            if (m == &scratch)
                zmq_msg_close(m);
            goto out;
        }
        more = zmq_msg_more(m);
        n++;
        if (m == &scratch)
            zmq_msg_close(m);
    }
    bool ok = n == ZAP_FRAMES && zmq_msg_size(&f[0]) == 3 &&
              memcmp(zmq_msg_data(&f[0]), "1.0", 3) == 0 && s_allowed(z, &f[2], &f[5], &f[6]);
    if (!ok)
        s_denied(z, f);
    /* Reply: version, request id, status, text, user id, metadata. */
    const char *code = ok ? "200" : "400", *text = ok ? "OK" : "not allowed";
    if (zmq_send(z->zsock, "1.0", 3, ZMQ_SNDMORE) < 0 ||
        zmq_send(z->zsock, n > 1 ? zmq_msg_data(&f[1]) : "", n > 1 ? zmq_msg_size(&f[1]) : 0,
                 ZMQ_SNDMORE) < 0 ||
        zmq_send(z->zsock, code, 3, ZMQ_SNDMORE) < 0 ||
        zmq_send(z->zsock, text, strlen(text), ZMQ_SNDMORE) < 0 ||
        zmq_send(z->zsock, "", 0, ZMQ_SNDMORE) < 0 || zmq_send(z->zsock, "", 0, 0) < 0)
        r = -zmq_errno();
out:
    for (size_t i = 0; i < ZAP_FRAMES; i++)
        zmq_msg_close(&f[i]);
    return r;
}

/* ZMQ_FD is edge-triggered: serve until EAGAIN, which also re-arms it. */
static void s_readable_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    tp_zap_t *z = arg;
    for (;;) {
        int r = s_serve_one(z);
        if (r == 0)
            return;
        if (r < 0 && r != -EINTR) {
            if (r != -ETERM)
                log_error_errno(r, "ZAP handler failed: %m");
            return;
        }
    }
}

int tp_zap_new(struct event_base *base, void *zctx, tp_stats_t *stats, const tp_ratelimit_t *rl,
               tp_zap_t **ret) {
    tp_zap_t *z = calloc(1, sizeof *z);
    if (!z)
        return -ENOMEM;
    z->stats = stats;
    z->rl = *rl;
    int    linger = 0, fd, r = 0;
    size_t fdlen = sizeof fd;
    z->zsock = zmq_socket(zctx, ZMQ_REP);
    if (!z->zsock || zmq_setsockopt(z->zsock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(z->zsock, TP_ZAP_ENDPOINT) != 0 ||
        zmq_getsockopt(z->zsock, ZMQ_FD, &fd, &fdlen) != 0)
        r = zmq_errno() > 0 ? -zmq_errno() : -EIO;
    if (r == 0) {
        z->ev = event_new(base, fd, EV_READ | EV_PERSIST, s_readable_cb, z);
        if (!z->ev || event_add(z->ev, NULL) != 0)
            r = -ENOMEM;
    }
    if (r < 0) {
        tp_zap_destroy(&z);
        return r;
    }
    *ret = z;
    return 0;
}

/* An allow-list being read: the keys so far, not yet in force. */
typedef struct {
    s_key_t *set;
    size_t   n;
} s_load_t;

static int s_add_key_cb(void *arg, const uint8_t key[32]) {
    s_load_t *l = arg;
    s_key_t  *k;
    HASH_FIND(hh, l->set, key, 32, k);
    if (k)
        return 0; /* listed twice: once is enough */
    if (l->n == TP_ZAP_MAX_KEYS)
        return -E2BIG;
    if (!(k = calloc(1, sizeof *k)))
        return -ENOMEM;
    memcpy(k->key, key, 32);
    HASH_ADD(hh, l->set, key, 32, k);
    if (k->oom) {
        free(k);
        return -ENOMEM;
    }
    l->n++;
    return 0;
}

int tp_zap_load(tp_zap_t *z, const char *domain, const char *path) {
    if (strlen(domain) >= sizeof z->domains[0].name)
        return -ENAMETOOLONG;
    s_domain_t *d = s_find(z, domain, strlen(domain));
    if (!d && z->n_domains == MAX_DOMAINS)
        return -E2BIG;
    s_load_t l = { 0 };
    int      r = tp_curve_allow_list_read(path, s_add_key_cb, &l, &z->bad_line);
    if (r < 0) {
        s_free_keys(&l.set);
        return r;
    }
    if (!d) {
        d = &z->domains[z->n_domains++];
        snprintf(d->name, sizeof d->name, "%s", domain);
    }
    s_free_keys(&d->keys);
    d->keys = l.set;
    d->n = l.n;
    return 0;
}

unsigned tp_zap_bad_line(const tp_zap_t *z) {
    return z->bad_line;
}

size_t tp_zap_count(const tp_zap_t *z, const char *domain) {
    const s_domain_t *d = s_find(z, domain, strlen(domain));
    return d ? d->n : 0;
}

void tp_zap_destroy(tp_zap_t **p) {
    tp_zap_t *z = p ? *p : NULL;
    if (!z)
        return;
    if (z->ev)
        event_free(z->ev);
    if (z->zsock)
        zmq_close(z->zsock);
    for (size_t i = 0; i < z->n_domains; i++)
        s_free_keys(&z->domains[i].keys);
    free(z);
    *p = NULL;
}
