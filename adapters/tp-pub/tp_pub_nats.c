/* tp_pub_nats — see tp_pub_nats.h. */
#include "tp_pub_nats.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "tp_contract.h"
#include "tp_nats_status.h"
#include "tp_pub.h"
#include "tp_partition.h"

#define MAX_REPORTED 10 /* PubAck failures printed, then only counted */

struct tp_pub_nats {
    natsConnection      *nc;
    jsCtx               *js;
    unsigned             partitions;
    uint64_t             wait_ms;
    uint64_t             published;
    atomic_uint_fast64_t acknowledged, duplicates, failed;
};

/* PubAck (or failure), on libnats' reply thread. */
static void s_ack_cb(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure) {
    (void)js;
    tp_pub_nats_t *p = closure;
    if (pae) {
        if (atomic_fetch_add(&p->failed, 1) < MAX_REPORTED)
            fprintf(stderr, "tp-pub: %s: not stored: %s%s\n", natsMsg_GetSubject(msg),
                    pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err),
                    pae->Err == NATS_NO_RESPONDERS
                        ? " (no stream holds tp.events.>: start "
                          "touchpointd with nats.enabled, which creates it)"
                        : "");
    } else {
        atomic_fetch_add(&p->acknowledged, 1);
        if (pa && pa->Duplicate)
            atomic_fetch_add(&p->duplicates, 1);
    }
    natsMsg_Destroy(msg);
}

int tp_pub_nats_new(const char *url, unsigned partitions, uint64_t window, uint64_t wait_ms,
                    char *err, size_t errlen, tp_pub_nats_t **ret) {
    tp_pub_nats_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    p->partitions = partitions;
    p->wait_ms = wait_ms;
    natsStatus s = natsConnection_ConnectTo(&p->nc, url);
    int        r = 0;
    if (s != NATS_OK) {
        r = tp_nats_status_fail(s, url, err, errlen);
        goto fail;
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = (int64_t)window;
    jo.PublishAsync.AckHandler = s_ack_cb;
    jo.PublishAsync.AckHandlerClosure = p;
    jo.PublishAsync.StallWait = (int64_t)wait_ms; /* a full window waits for PubAcks */
    if ((s = natsConnection_JetStream(&p->js, p->nc, &jo)) != NATS_OK) {
        r = tp_nats_status_fail(s, "JetStream context", err, errlen);
        goto fail;
    }
    *ret = p;
    return 0;
fail:
    tp_pub_nats_destroy(&p);
    return r;
}

static int s_publish(tp_pub_nats_t *p, const char *subject, const char *msg_id, const uint8_t *buf,
                     size_t len, char *err, size_t errlen) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = msg_id;
    natsStatus s = js_PublishAsync(p->js, subject, buf, (int)len, &po);
    if (s != NATS_OK)
        return tp_nats_status_fail(s, subject, err, errlen);
    p->published++;
    return 0;
}

int tp_pub_nats_send(tp_pub_nats_t *p, const Touchpoint__V1__Envelope *env, const char *topic,
                     const uint8_t *buf, size_t len, char *err, size_t errlen) {
    char        subject[128], id[256];
    const char *key = tp_partition_key(env);
    if (key) {
        if (tp_partition_subject(subject, sizeof subject, tp_partition_of(key, p->partitions),
                                 topic) < 0) {
            snprintf(err, errlen, "no subject for topic %s", topic);
            return -EINVAL;
        }
        return s_publish(p, subject, env->event_id, buf, len, err, errlen);
    }
    /* No key: a watermark moves event time on every partition. */
    for (unsigned i = 0; i < p->partitions; i++) {
        if (tp_partition_subject(subject, sizeof subject, i, topic) < 0) {
            snprintf(err, errlen, "no subject for topic %s", topic);
            return -EINVAL;
        }
        snprintf(id, sizeof id, "%s@%u", env->event_id, i);
        int r = s_publish(p, subject, id, buf, len, err, errlen);
        if (r < 0)
            return r;
    }
    return 0;
}

int tp_pub_nats_drain(tp_pub_nats_t *p) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = (int64_t)p->wait_ms;
    natsStatus s = js_PublishAsyncComplete(p->js, &po);
    return tp_nats_status_errno(s);
}

void tp_pub_nats_get_stats(tp_pub_nats_t *p, struct tp_pub_nats_stats *ret) {
    *ret = (struct tp_pub_nats_stats){
        .published = p->published,
        .acknowledged = atomic_load(&p->acknowledged),
        .duplicates = atomic_load(&p->duplicates),
        .failed = atomic_load(&p->failed),
    };
}

void tp_pub_nats_destroy(tp_pub_nats_t **pp) {
    tp_pub_nats_t *p = pp ? *pp : NULL;
    if (!p)
        return;
    jsCtx_Destroy(p->js);
    natsConnection_Destroy(p->nc);
    free(p);
    *pp = NULL;
}

/* ---- the --nats mode of tp-pub (tp_pub.h) -------------------------------- */

int tp_pub_run_nats(struct tp_pub_run *run) {
    const struct tp_pub_opts *o = run->o;
    char                      err[512] = "";
    tp_pub_nats_t            *nats = NULL;
    if (tp_pub_nats_new(o->nats, (unsigned)o->partitions, o->window, o->wait_ms, err, sizeof err,
                        &nats) < 0) {
        fprintf(stderr, "tp-pub: cannot connect to '%s': %s\n", o->nats, err);
        return TP_PUB_EXIT_USAGE;
    }
    uint64_t            events = 0, pace_start = 0;
    struct tp_pub_event ev;
    while (tp_pub_next(run, TP_PUB_NATS_ID_WHY, &ev) > 0) {
        tp_pub_sleep_until(tp_pub_pace_at(&pace_start, o->rate, events));
        err[0] = '\0';
        int r = tp_pub_nats_send(nats, (const Touchpoint__V1__Envelope *)ev.env, ev.topic, ev.buf,
                                 ev.len, err, sizeof err);
        if (r < 0)
            fprintf(stderr, "tp-pub: %s:%zu: %s\n", run->name, ev.lineno,
                    *err ? err : strerror(-r));
        tp_pub_event_clear(&ev);
        if (r < 0) {
            run->status = TP_PUB_EXIT_USAGE;
            break;
        }
        events++;
    }
    int                      r = tp_pub_nats_drain(nats);
    struct tp_pub_nats_stats st;
    tp_pub_nats_get_stats(nats, &st);
    uint64_t pending = st.published - st.acknowledged - st.failed;
    if (r < 0)
        fprintf(stderr, "tp-pub: %" PRIu64 " messages unacknowledged after %" PRIu64 " ms\n",
                pending, o->wait_ms);
    fprintf(stderr,
            "tp-pub: published %" PRIu64 " events (%" PRIu64 " messages), acknowledged %" PRIu64
            " (duplicates %" PRIu64 "), failed %" PRIu64 ", bad lines %" PRIu64 "\n",
            events, st.published, st.acknowledged, st.duplicates, st.failed, run->bad);
    tp_pub_nats_destroy(&nats);
    return tp_pub_exit_status(run, st.failed > 0 || pending > 0);
}
