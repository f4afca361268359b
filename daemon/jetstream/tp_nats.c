/* tp_nats — see tp_nats.h. */
#include "tp_nats.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>
/* The adapter is a header of non-static functions written for a less
 * strict warning set; it is included here and nowhere else. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <nats/adapters/libevent.h>
#pragma GCC diagnostic pop

#include "tp_contract.h"
#include "tp_nats_status.h"
#include "tp_partition.h"

#define DELIVER_BATCH     512   /* messages per loop turn, then yield */
#define MAX_ACK_PENDING   1024  /* per partition: bounds the handoff queue */
#define PUB_MAX_PENDING   65536 /* alerts awaiting their PubAck */
#define EVENTS_MAX_AGE_NS (7LL * 86400 * 1000000000LL)
#define ALERTS_MAX_AGE_NS (30LL * 86400 * 1000000000LL)
#define MS_TO_NS(ms)      ((int64_t)(ms)*1000000)

struct tp_nats {
    struct event_base   *base;
    const tp_config_t   *cfg;
    natsConnection      *nc;
    jsCtx               *js;
    natsSubscription    *subs[TP_NATS_MAX_PARTITIONS];
    size_t               n_subs;
    tp_nats_recv_fn      fn;
    void                *arg;
    pthread_mutex_t      mu; /* guards q and n_closed: filled by libnats' delivery thread */
    pthread_cond_t       closed_cond; /* a subscription's handler returned for the last time */
    size_t               n_closed;
    natsMsg            **q;
    size_t               qn, qcap, max_queue;
    struct event        *deliver_ev; /* activated by the delivery thread */
    bool                 ready;      /* tp_nats_new returned: fn may be called */
    struct event        *wake_ev;    /* the setup thread's "done" */
    atomic_bool          setup_done;
    int                  setup_r;
    char                 setup_why[256];
    uint64_t             last_alert_seq;
    uint64_t             received, acked, termed, released, published;
    atomic_uint_fast64_t publish_errors, dropped;
};

void tp_nats_global_init(void) {
    natsLibevent_Init();
}

static int s_fail(tp_nats_t *n, natsStatus s, const char *what) {
    return tp_nats_status_fail(s, what, n->setup_why, sizeof n->setup_why);
}

/* Delivery thread: queue the message for the loop, wake it if idle. The
 * queue is bounded by what the server lets be unacknowledged (MaxAckPending
 * per partition); beyond twice that something is wrong: the message is
 * released, the server redelivers it after AckWait. */
static void s_on_msg_cb(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    (void)nc;
    (void)sub;
    tp_nats_t *n = closure;
    pthread_mutex_lock(&n->mu);
    if (n->qn == n->qcap) {
        size_t    cap = n->qcap ? 2 * n->qcap : 1024;
        natsMsg **q = n->qcap < n->max_queue ? realloc(n->q, cap * sizeof *q) : NULL;
        if (!q) {
            pthread_mutex_unlock(&n->mu);
            atomic_fetch_add(&n->dropped, 1);
            natsMsg_Destroy(msg);
            return;
        }
        n->q = q;
        n->qcap = cap;
    }
    n->q[n->qn++] = msg;
    bool wake = n->qn == 1;
    pthread_mutex_unlock(&n->mu);
    if (wake)
        event_active(n->deliver_ev, EV_READ, 0);
}

/* Loop thread: hand a batch of queued messages to the daemon. */
static void s_deliver_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    tp_nats_t *n = arg;
    if (!n->ready)
        return; /* tp_nats_new re-activates us once it returns */
    natsMsg *batch[DELIVER_BATCH];
    pthread_mutex_lock(&n->mu);
    size_t k = n->qn < DELIVER_BATCH ? n->qn : DELIVER_BATCH;
    if (k) { /* no memcpy from the NULL of a queue never filled */
        memcpy(batch, n->q, k * sizeof *batch);
        memmove(n->q, n->q + k, (n->qn - k) * sizeof *n->q);
        n->qn -= k;
    }
    bool more = n->qn > 0;
    pthread_mutex_unlock(&n->mu);
    for (size_t i = 0; i < k; i++) {
        char topic[64];
        n->received++;
        if (tp_partition_topic(topic, sizeof topic, natsMsg_GetSubject(batch[i])) < 0) {
            tp_nats_term(n, batch[i]); /* not on a subject of ours: never acceptable */
            continue;
        }
        tp_frame_t frames[2] = { { topic, strlen(topic) },
                                 { natsMsg_GetData(batch[i]),
                                   (size_t)natsMsg_GetDataLength(batch[i]) } };
        n->fn(n->arg, batch[i], frames);
    }
    if (more)
        event_active(n->deliver_ev, EV_READ, 0);
}

static void s_wake_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    (void)arg; /* only ends tp_nats_new's loop turn */
}

/* Creates `name` on `subject` (file storage, limits retention, a
 * duplicate window for Nats-Msg-Id, nats.replicas) unless it exists. An
 * existing stream is left as the operator configured it. */
int tp_nats_ensure_stream(jsCtx *js, const tp_config_t *cfg, const char *name, const char *subject,
                          int64_t max_age, char *why, size_t whylen) {
    jsStreamInfo *si = NULL;
    jsErrCode     jerr = 0;
    natsStatus    s = js_GetStreamInfo(&si, js, name, NULL, &jerr);
    jsStreamInfo_Destroy(si);
    if (s == NATS_NOT_FOUND) {
        jsStreamConfig sc;
        jsStreamConfig_Init(&sc);
        const char *subjects[] = { subject };
        sc.Name = name;
        sc.Subjects = subjects;
        sc.SubjectsLen = 1;
        sc.Storage = js_FileStorage;
        sc.MaxAge = max_age;
        sc.Duplicates = MS_TO_NS(cfg->nats.duplicate_window_ms);
        sc.Replicas = (int64_t)cfg->nats.replicas;
        si = NULL;
        s = js_AddStream(&si, js, &sc, NULL, &jerr);
        jsStreamInfo_Destroy(si);
        if (s != NATS_OK && js_GetStreamInfo(&si, js, name, NULL, NULL) == NATS_OK) {
            jsStreamInfo_Destroy(si); /* another instance created it meanwhile */
            s = NATS_OK;
        }
    }
    if (s != NATS_OK)
        return tp_nats_status_fail(s, name, why, whylen);
    return 0;
}

int tp_nats_ensure_streams(jsCtx *js, const tp_config_t *cfg, char *why, size_t whylen) {
    int r = tp_nats_ensure_stream(js, cfg, cfg->nats.events_stream, TP_EVENTS_SUBJECT_PREFIX ">",
                                  EVENTS_MAX_AGE_NS, why, whylen);
    if (r == 0)
        r = tp_nats_ensure_stream(js, cfg, cfg->nats.alerts_stream, TP_ALERTS_SUBJECT_PREFIX ">",
                                  ALERTS_MAX_AGE_NS, why, whylen);
    return r;
}

/* The Alert.sequence of the alerts stream's last message, 0 if none. */
static uint64_t s_last_alert_sequence(tp_nats_t *n) {
    jsStreamInfo *si = NULL;
    uint64_t      seq = 0;
    if (js_GetStreamInfo(&si, n->js, n->cfg->nats.alerts_stream, NULL, NULL) != NATS_OK)
        return 0;
    uint64_t last = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    natsMsg *m = NULL;
    if (last == 0 || js_GetMsg(&m, n->js, n->cfg->nats.alerts_stream, last, NULL, NULL) != NATS_OK)
        return 0;
    Touchpoint__V1__Alert *a = touchpoint__v1__alert__unpack(NULL, (size_t)natsMsg_GetDataLength(m),
                                                             (const uint8_t *)natsMsg_GetData(m));
    if (a)
        seq = a->sequence;
    touchpoint__v1__alert__free_unpacked(a, NULL);
    natsMsg_Destroy(m);
    return seq;
}

/* libnats: sub is closed and its message handler will not run again. */
static void s_sub_closed_cb(void *closure) {
    tp_nats_t *n = closure;
    pthread_mutex_lock(&n->mu);
    n->n_closed++;
    pthread_cond_signal(&n->closed_cond);
    pthread_mutex_unlock(&n->mu);
}

/* One durable push consumer per owned partition, created if missing. */
static int s_subscribe(tp_nats_t *n, unsigned p) {
    char subject[64], durable[160];
    snprintf(subject, sizeof subject, TP_EVENTS_SUBJECT_PREFIX "%u.>", p);
    snprintf(durable, sizeof durable, "%s-p%u", n->cfg->nats.consumer, p);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = n->cfg->nats.events_stream;
    so.ManualAck = true;
    so.Config.Durable = durable;
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.DeliverPolicy = js_DeliverAll;
    so.Config.AckWait = MS_TO_NS(n->cfg->nats.ack_wait_ms);
    so.Config.MaxAckPending = MAX_ACK_PENDING;
    jsErrCode         jerr = 0;
    natsSubscription *sub = NULL;
    natsStatus        s = js_Subscribe(&sub, n->js, subject, s_on_msg_cb, n, NULL, &so, &jerr);
    if (s != NATS_OK)
        return s_fail(n, s, durable);
    /* The server bounds what is in flight (MaxAckPending); libnats must
     * not drop any of it as a slow consumer. */
    natsSubscription_SetPendingLimits(sub, -1, -1);
    natsSubscription_SetOnCompleteCB(sub, s_sub_closed_cb, n);
    n->subs[n->n_subs++] = sub;
    return 0;
}

static void *s_setup_thread(void *arg) {
    tp_nats_t         *n = arg;
    const tp_config_t *cfg = n->cfg;
    int                r = tp_nats_ensure_streams(n->js, cfg, n->setup_why, sizeof n->setup_why);
    if (r == 0)
        n->last_alert_seq = s_last_alert_sequence(n);
    size_t np = cfg->nats.n_partitions ? cfg->nats.n_partitions : cfg->nats.partition_count;
    for (size_t i = 0; r == 0 && i < np; i++)
        r = s_subscribe(n, cfg->nats.n_partitions ? cfg->nats.partitions[i] : (unsigned)i);
    n->setup_r = r;
    atomic_store(&n->setup_done, true);
    event_active(n->wake_ev, EV_READ, 0);
    return NULL;
}

/* PubAck (or its failure) of an alert, on libnats' reply thread. */
static void s_puback_cb(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure) {
    (void)js;
    (void)pa;
    tp_nats_t *n = closure;
    if (pae)
        atomic_fetch_add(&n->publish_errors, 1);
    natsMsg_Destroy(msg);
}

int tp_nats_connect(const tp_config_t *cfg, struct event_base *base, natsConnection **ret,
                    char *why, size_t whylen) {
    natsOptions *opts = NULL;
    natsStatus   s;
    int          r = 0;
    char         urls[1024], *servers[16], *save = NULL;
    int          n_servers = 0;
    snprintf(urls, sizeof urls, "%s", cfg->nats.url);
    for (char *u = strtok_r(urls, ", ", &save); u && n_servers < 16;
         u = strtok_r(NULL, ", ", &save))
        servers[n_servers++] = u;
    if ((s = natsOptions_Create(&opts)) != NATS_OK ||
        (s = natsOptions_SetServers(opts, (const char **)servers, n_servers)) != NATS_OK ||
        (base &&
         (s = natsOptions_SetEventLoop(opts, base, natsLibevent_Attach, natsLibevent_Read,
                                       natsLibevent_Write, natsLibevent_Detach)) != NATS_OK) ||
        (base && (s = natsOptions_UseGlobalMessageDelivery(opts, true)) != NATS_OK) ||
        (s = natsOptions_SetMaxReconnect(opts, -1)) != NATS_OK ||
        (s = natsOptions_SetReconnectWait(opts, 250)) != NATS_OK) {
        r = tp_nats_status_fail(s, "NATS options", why, whylen);
    } else if ((s = natsConnection_Connect(ret, opts)) != NATS_OK) {
        r = tp_nats_status_fail(s, cfg->nats.url, why, whylen);
    }
    natsOptions_Destroy(opts);
    return r;
}

int tp_nats_jetstream(natsConnection *nc, jsPubAckHandler ack_cb, void *closure,
                      int64_t stall_wait_ms, jsCtx **ret, char *why, size_t whylen) {
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = PUB_MAX_PENDING;
    jo.PublishAsync.AckHandler = ack_cb;
    jo.PublishAsync.AckHandlerClosure = closure;
    if (stall_wait_ms > 0)
        jo.PublishAsync.StallWait = stall_wait_ms;
    natsStatus s = natsConnection_JetStream(ret, nc, &jo);
    return s == NATS_OK ? 0 : tp_nats_status_fail(s, "JetStream context", why, whylen);
}

int tp_nats_new(struct event_base *base, const tp_config_t *cfg, tp_nats_recv_fn fn, void *arg,
                char *why, size_t whylen, tp_nats_t **ret) {
    tp_nats_t *n = calloc(1, sizeof *n);
    if (!n) {
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    n->base = base;
    n->cfg = cfg;
    n->fn = fn;
    n->arg = arg;
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->closed_cond, NULL);
    int r;
    n->deliver_ev = event_new(base, -1, 0, s_deliver_cb, n);
    n->wake_ev = event_new(base, -1, 0, s_wake_cb, n);
    if (!n->deliver_ev || !n->wake_ev) {
        r = -ENOMEM;
        snprintf(n->setup_why, sizeof n->setup_why, "out of memory");
        goto fail;
    }
    size_t np = cfg->nats.n_partitions ? cfg->nats.n_partitions : cfg->nats.partition_count;
    n->max_queue = 2 * MAX_ACK_PENDING * np;
    if ((r = tp_nats_connect(cfg, base, &n->nc, n->setup_why, sizeof n->setup_why)) < 0)
        goto fail;
    /* A full window cannot drain while we wait on the loop thread: fail
     * fast instead (the journal keeps the alert; see tp_nats.h). */
    if ((r = tp_nats_jetstream(n->nc, s_puback_cb, n, 1, &n->js, n->setup_why,
                               sizeof n->setup_why)) < 0)
        goto fail;
    /* Setup makes blocking API requests whose replies the loop reads: run
     * it on a thread and turn the loop until it is done. */
    pthread_t t;
    if ((r = -pthread_create(&t, NULL, s_setup_thread, n)) < 0) {
        snprintf(n->setup_why, sizeof n->setup_why, "cannot start the setup thread");
        goto fail;
    }
    while (!atomic_load(&n->setup_done))
        event_base_loop(base, EVLOOP_ONCE);
    pthread_join(t, NULL);
    if ((r = n->setup_r) < 0)
        goto fail;
    n->ready = true;
    event_active(n->deliver_ev, EV_READ, 0);
    *ret = n;
    return 0;
fail:
    snprintf(why, whylen, "%s", n->setup_why);
    tp_nats_destroy(&n);
    return r;
}

uint64_t tp_nats_last_alert_sequence(const tp_nats_t *n) {
    return n->last_alert_seq;
}

void tp_nats_ack(tp_nats_t *n, void *msg) {
    /* A lost ack costs a redelivery, which dedup turns into another ack. */
    natsMsg_Ack(msg, NULL);
    natsMsg_Destroy(msg);
    n->acked++;
}

void tp_nats_term(tp_nats_t *n, void *msg) {
    natsMsg_Term(msg, NULL);
    natsMsg_Destroy(msg);
    n->termed++;
}

void tp_nats_release(tp_nats_t *n, void *msg) {
    natsMsg_Destroy(msg);
    n->released++;
}

static const char *s_status_name(int status) {
    return status == TOUCHPOINT__V1__ALERT_STATUS__ALERT_STATUS_RESOLVED ? "RESOLVED" : "FIRING";
}

/* (alert_id, status) alone would make a re-fired alert (FIRING, RESOLVED,
 * FIRING) a duplicate within the window; detected_at_ms tells the firings
 * apart and is the same when one is sent again. */
void tp_nats_alert_msg_id(char *buf, size_t len, const Touchpoint__V1__Alert *a) {
    snprintf(buf, len, "%s:%s:%" PRId64, a->alert_id, s_status_name(a->status), a->detected_at_ms);
}

int tp_nats_publish_alert(tp_nats_t *n, const char *topic, const void *body, size_t len) {
    Touchpoint__V1__Alert *a = touchpoint__v1__alert__unpack(NULL, len, body);
    if (!a) {
        atomic_fetch_add(&n->publish_errors, 1);
        return -EBADMSG;
    }
    char id[512], subject[256];
    tp_nats_alert_msg_id(id, sizeof id, a);
    snprintf(subject, sizeof subject, TP_ALERTS_SUBJECT_PREFIX "%s", topic);
    touchpoint__v1__alert__free_unpacked(a, NULL);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = id;
    natsStatus s = js_PublishAsync(n->js, subject, body, (int)len, &po);
    if (s != NATS_OK) {
        atomic_fetch_add(&n->publish_errors, 1);
        return tp_nats_status_errno(s);
    }
    n->published++;
    return 0;
}

void tp_nats_get_stats(const tp_nats_t *n, tp_nats_stats_t *ret) {
    *ret = (tp_nats_stats_t){
        .received = n->received,
        .acked = n->acked,
        .termed = n->termed,
        .released = n->released + atomic_load(&n->dropped),
        .alerts_published = n->published,
        .publish_errors = atomic_load(&n->publish_errors),
    };
}

/* Closing the connection closes every subscription; libnats' delivery
 * thread may still be inside s_on_msg_cb for one of them (touching q, mu
 * and deliver_ev) until it calls s_sub_closed_cb. Only then may they go:
 * freeing them right after the close, as phase 1 did, raced with it. */
static void s_wait_closed(tp_nats_t *n) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5; /* a libnats that never calls back: do not hang */
    pthread_mutex_lock(&n->mu);
    while (n->n_closed < n->n_subs &&
           pthread_cond_timedwait(&n->closed_cond, &n->mu, &deadline) == 0)
        ;
    pthread_mutex_unlock(&n->mu);
}

void tp_nats_destroy(tp_nats_t **p) {
    tp_nats_t *n = p ? *p : NULL;
    if (!n)
        return;
    if (n->nc) {
        natsConnection_Close(n->nc);
        s_wait_closed(n);
    }
    /* Destroy, not Unsubscribe: an explicit unsubscribe would delete a
     * consumer libnats created, and with it the partition's position. */
    for (size_t i = 0; i < n->n_subs; i++)
        natsSubscription_Destroy(n->subs[i]);
    jsCtx_Destroy(n->js);
    natsConnection_Destroy(n->nc);
    for (size_t i = 0; i < n->qn; i++)
        natsMsg_Destroy(n->q[i]);
    free(n->q);
    if (n->deliver_ev)
        event_free(n->deliver_ev);
    if (n->wake_ev)
        event_free(n->wake_ev);
    pthread_cond_destroy(&n->closed_cond);
    pthread_mutex_destroy(&n->mu);
    free(n);
    *p = NULL;
}
