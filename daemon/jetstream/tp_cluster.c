/* tp_cluster — see tp_cluster.h. */
#include "tp_cluster.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "tp_engine.h"
#include "tp_cluster_internal.h"
#include "tp_jssnap.h"
#include "tp_lease.h"
#include "tp_log.h"
#include "tp_nats.h"
#include "tp_nats_status.h"
#include "tp_partition.h"

#define FETCH_BATCH      1024 /* messages per pull request: one round trip per batch */
#define MAX_ACK_PENDING  4096 /* per partition (a durable created here) */
#define IDLE_SLEEP_MS    2    /* nothing to fetch on any partition: sleep, doubling... */
#define IDLE_MAX_MS      50   /* ...up to this (every idle turn is a fetch per partition) */
#define RETRY_MS         1000 /* a failed take-over is tried again after this */
#define PUBLISH_RETRY_MS 250  /* an alert the alerts stream did not store yet */
#define REPLAY_WAIT_MS   5000 /* no message of a replay for this long: give up, retry */
#define EMPTY_WAIT_MS    300  /* a partition that never had a message */

void tp_cluster_add(tp_cluster_t *c, int k, uint64_t v) {
    atomic_fetch_add(&c->n[k], v);
}

/* PubAck (or its failure) of an async alert publish, on libnats' thread. */
static void s_puback_cb(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure) {
    (void)js;
    (void)pa;
    tp_cluster_t *c = closure;
    if (pae) {
        atomic_fetch_add(&c->async_errors, 1);
        tp_cluster_add(c, C_PUB_ERRORS, 1);
    }
    natsMsg_Destroy(msg);
}

static void s_sleep_ms(int64_t ms) {
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

static bool s_held(tp_cluster_part_t *pt) {
    return !atomic_load(&pt->c->stop) && tp_lease_held(pt->c->lease, pt->p) == pt->gen;
}

/* How long a blocking request of the worker may wait: at most `cap`, and
 * never past the validity of any lease we hold (a partition served or being
 * taken over), so that a worker waiting on a cluster it cannot reach still
 * lets go of each partition in time (and says so). A partition still served
 * whose lease has already lapsed must be let go first: 1 ms, the least. */
int64_t tp_cluster_wait_ms(tp_cluster_t *c, int64_t cap) {
    int64_t wait = cap;
    for (unsigned p = 0; p < c->cfg->nats.partition_count; p++) {
        int64_t  left;
        uint64_t held = tp_lease_held_for(c->lease, p, &left);
        if (c->parts[p].gen && held != c->parts[p].gen)
            return 1;
        if (held && left < wait)
            wait = left;
    }
    return wait > 0 ? wait : 1;
}

/* jsOptions for one API request of the worker (tp_cluster_wait_ms). */
jsOptions *tp_cluster_api_opts(tp_cluster_t *c, jsOptions *jo) {
    jsOptions_Init(jo);
    jo->Wait = tp_cluster_wait_ms(c, API_WAIT_MS);
    return jo;
}

/* The engine's alert sink: store the alert in the alerts stream before the
 * event that raised it is acked. Retried while we hold the partition (a
 * NATS node going away makes the stream unavailable for a few seconds);
 * on giving up the partition is reset, and the next holder (maybe us)
 * re-derives the alert. Alerts of events at or below the ack floor are
 * already stored: not sent again. */
static int s_sink_cb(void *ctx, const char *topic, const uint8_t *buf, size_t len,
                     const Touchpoint__V1__Alert *alert) {
    tp_cluster_part_t *pt = ctx;
    tp_cluster_t      *c = pt->c;
    if (pt->suppress) {
        tp_cluster_add(c, C_SUPPRESSED, 1);
        return 0;
    }
    if (pt->pub_failed)
        return 0;
    char id[512], subject[256];
    tp_nats_alert_msg_id(id, sizeof id, alert);
    snprintf(subject, sizeof subject, TP_ALERTS_SUBJECT_PREFIX "%s", topic);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = id;
    if (pt->batch) { /* PubAck awaited by s_poll, before the batch's acks */
        if (js_PublishAsync(c->js, subject, buf, (int)len, &po) != NATS_OK) {
            tp_cluster_add(c, C_PUB_ERRORS, 1);
            pt->pub_failed = true;
        } else {
            tp_cluster_add(c, C_PUBLISHED, 1);
            pt->batch_alerts++;
        }
        return 0;
    }
    for (;;) {
        jsPubAck *pa = NULL;
        po.MaxWait = tp_cluster_wait_ms(c, API_WAIT_MS);
        natsStatus s = js_Publish(&pa, c->js, subject, buf, (int)len, &po, NULL);
        jsPubAck_Destroy(pa);
        if (s == NATS_OK) {
            tp_cluster_add(c, C_PUBLISHED, 1);
            return 0;
        }
        tp_cluster_add(c, C_PUB_ERRORS, 1);
        if (!s_held(pt)) {
            pt->pub_failed = true;
            return 0;
        }
        s_sleep_ms(PUBLISH_RETRY_MS);
    }
}

enum { SETTLE_NONE, SETTLE_ACK, SETTLE_TERM };

/* One event of partition pt from the stream (live: from the durable
 * consumer, *ret_settle says how to settle it once its alerts are stored;
 * else from the replay). Returns 0, or negative errno when the partition
 * must be reset. */
static int s_apply(tp_cluster_part_t *pt, natsMsg *m, bool live, uint64_t *ret_pending,
                   int *ret_settle) {
    tp_cluster_t  *c = pt->c;
    jsMsgMetaData *meta = NULL;
    if (natsMsg_GetMetaData(&meta, m) != NATS_OK)
        return -EBADMSG;
    uint64_t seq = meta->Sequence.Stream;
    if (ret_pending)
        *ret_pending = meta->NumPending;
    jsMsgMetaData_Destroy(meta);
    if (ret_settle)
        *ret_settle = SETTLE_NONE;
    if (seq <= pt->done_seq) { /* a redelivery of what the replay applied */
        if (ret_settle)
            *ret_settle = SETTLE_ACK;
        return 0;
    }
    char   topic[64], why[256] = "";
    int    r = TP_REFUSED;
    size_t len = (size_t)natsMsg_GetDataLength(m);
    if (!live)
        tp_cluster_add(c, C_REBUILD_EVENTS, 1);
    if (tp_partition_topic(topic, sizeof topic, natsMsg_GetSubject(m)) == 0 &&
        len <= c->cfg->max_message_bytes) {
        tp_frame_t frames[2] = { { topic, strlen(topic) }, { natsMsg_GetData(m), len } };
        pt->suppress = seq <= pt->floor;
        pt->pub_failed = false;
        r = tp_engine_handle_why(pt->engine, frames, 2, why, sizeof why, NULL, 0);
        pt->suppress = false;
        if (pt->pub_failed)
            return -EIO;
        if (r < 0)
            return r;
    }
    pt->done_seq = seq;
    pt->since_snap++;
    if (ret_settle) /* refused: it can never be accepted, no redelivery */
        *ret_settle = r == TP_REFUSED ? SETTLE_TERM : SETTLE_ACK;
    return 0;
}

/* Stops serving pt: the durable consumer stays (Destroy, not Unsubscribe),
 * what it delivered unacked goes to the next holder after ack_wait. */
static void s_drop(tp_cluster_part_t *pt) {
    natsSubscription_Destroy(pt->sub);
    pt->sub = NULL;
    tp_engine_destroy(&pt->engine);
    pt->gen = 0;
}

/* The durable's ack floor, creating the durable if missing, and whether
 * the partition has any message (the durable delivered some or has some
 * pending). Delivered.Stream and AckFloor.Stream are no use for that: a
 * filtered consumer moves them past other partitions' messages. */
static int s_ack_floor(tp_cluster_part_t *pt, const char *durable, const char *subject,
                       uint64_t *ret_floor, bool *ret_any) {
    tp_cluster_t   *c = pt->c;
    jsConsumerInfo *ci = NULL;
    jsErrCode       jerr = 0;
    jsOptions       jo;
    natsStatus      s = js_GetConsumerInfo(&ci, c->js, c->cfg->nats.events_stream, durable,
                                           tp_cluster_api_opts(c, &jo), &jerr);
    if (s == NATS_NOT_FOUND) {
        jsConsumerConfig cc;
        jsConsumerConfig_Init(&cc);
        cc.Durable = durable;
        cc.FilterSubject = subject;
        /* AckAll: acking a batch's last message settles the whole batch
         * (every message of it is settled only once all are applied and
         * their alerts stored), one ack instead of one per event. */
        cc.AckPolicy = js_AckAll;
        cc.DeliverPolicy = js_DeliverAll;
        cc.AckWait = c->cfg->nats.ack_wait_ms * 1000000;
        cc.MaxAckPending = MAX_ACK_PENDING;
        s = js_AddConsumer(&ci, c->js, c->cfg->nats.events_stream, &cc, tp_cluster_api_opts(c, &jo),
                           &jerr);
    }
    if (s != NATS_OK)
        return -EIO;
    *ret_floor = ci->AckFloor.Stream;
    /* A durable created by an older version acks each message. */
    pt->ack_all = ci->Config && ci->Config->AckPolicy == js_AckAll;
    *ret_any = ci->Delivered.Consumer > 0 || ci->NumPending > 0;
    jsConsumerInfo_Destroy(ci);
    return 0;
}

/* Replays the partition from the stream's start into pt->engine, up to
 * the message that has none pending after it. `any`: the durable says
 * there are messages, so silence is a failure, not an empty partition
 * (an ephemeral consumer's own NumPending may read 0 right after its
 * creation on a cluster). */
static int s_replay(tp_cluster_part_t *pt, const char *subject, bool any) {
    tp_cluster_t *c = pt->c;
    jsSubOptions  so;
    jsSubOptions_Init(&so);
    so.Stream = c->cfg->nats.events_stream;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverAll;
    if (pt->done_seq) { /* after the snapshot loaded */
        so.Config.DeliverPolicy = js_DeliverByStartSequence;
        so.Config.OptStartSeq = pt->done_seq + 1;
    }
    natsSubscription *rs = NULL;
    jsOptions         jo;
    if (js_SubscribeSync(&rs, c->js, subject, tp_cluster_api_opts(c, &jo), &so, NULL) != NATS_OK)
        return -EIO;
    natsSubscription_SetPendingLimits(rs, -1, -1);
    int      r = 0;
    uint64_t pending = 1;
    bool     got = false;
    while (r == 0 && pending > 0) {
        natsMsg   *m = NULL;
        natsStatus s;
        if (!s_held(pt)) {
            r = -ECANCELED;
        } else if ((s = natsSubscription_NextMsg(
                        &m, rs,
                        tp_cluster_wait_ms(c, got || any ? REPLAY_WAIT_MS : EMPTY_WAIT_MS))) !=
                   NATS_OK) {
            if (got || any || s != NATS_TIMEOUT)
                r = -ETIMEDOUT;
            pending = 0; /* an empty partition */
        } else {
            got = true;
            r = s_apply(pt, m, false, &pending, NULL);
            natsMsg_Destroy(m);
        }
    }
    natsSubscription_Unsubscribe(rs); /* an ephemeral consumer: delete it */
    natsSubscription_Destroy(rs);
    return r;
}

int tp_cluster_engine_new(tp_cluster_part_t *pt) {
    tp_engine_destroy(&pt->engine);
    int r = tp_engine_new(pt->c->cfg, &pt->engine);
    if (r == 0)
        tp_engine_set_sink(pt->engine, s_sink_cb, pt);
    return r;
}

/* Takes over partition pt (lease generation gen): ack floor, replay,
 * then the durable consumer. 0 or negative errno (pt dropped). */
static int s_start(tp_cluster_part_t *pt, uint64_t gen) {
    tp_cluster_t      *c = pt->c;
    const tp_config_t *cfg = c->cfg;
    int64_t            t0 = tp_monotonic_ms();
    uint64_t ev0 = atomic_load(&c->n[C_REBUILD_EVENTS]), sup0 = atomic_load(&c->n[C_SUPPRESSED]);
    char     subject[64], durable[160];
    snprintf(subject, sizeof subject, TP_EVENTS_SUBJECT_PREFIX "%u.>", pt->p);
    snprintf(durable, sizeof durable, "%s-p%u", cfg->nats.consumer, pt->p);
    pt->gen = gen;
    pt->done_seq = 0;
    pt->since_snap = 0;
    bool any = false;
    int  r = s_ack_floor(pt, durable, subject, &pt->floor, &any);
    if (r == 0 && (r = tp_cluster_engine_new(pt)) == 0) {
        r = tp_cluster_snap_load(pt, subject, &any);
        uint64_t from = pt->done_seq;
        if (r == 0 && (!from || any))
            r = s_replay(pt, subject, any);
    }
    if (r == 0) {
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = cfg->nats.events_stream;
        so.Consumer = durable;
        jsOptions jo;
        if (js_PullSubscribe(&pt->sub, c->js, subject, durable, tp_cluster_api_opts(c, &jo), &so,
                             NULL) != NATS_OK)
            r = -EIO;
    }
    if (r < 0) {
        s_drop(pt);
        return r;
    }
    int64_t ms = tp_monotonic_ms() - t0;
    tp_cluster_add(c, C_REBUILDS, 1);
    atomic_store(&c->last_rebuild_ms, ms);
    log_info("JetStream partition %u live: rebuilt from %llu events in %lld ms (ack floor %llu, "
             "%llu alerts below it not sent again)",
             pt->p, (unsigned long long)(atomic_load(&c->n[C_REBUILD_EVENTS]) - ev0), (long long)ms,
             (unsigned long long)pt->floor,
             (unsigned long long)(atomic_load(&c->n[C_SUPPRESSED]) - sup0));
    if (cfg->nats.snapshot_every && pt->since_snap >= cfg->nats.snapshot_every)
        tp_cluster_snap_save(pt); /* a long replay: the next take-over need not repeat it */
    return 0;
}

/* One batch of pt's live events: applied, their alerts published
 * asynchronously, every PubAck awaited, then the events acked (acked
 * implies "its alerts are stored"). >0 if there were any, 0 none, <0 the
 * partition must be reset (nothing of the batch acked: the rebuild covers
 * it). */
static int s_poll(tp_cluster_part_t *pt) {
    tp_cluster_t *c = pt->c;
    if (c->cfg->clock == TP_CLOCK_WALL) {
        pt->pub_failed = false;
        tp_engine_fire_due(pt->engine);
        if (pt->pub_failed)
            return -EIO;
    }
    if (!s_held(pt))
        return 0; /* no longer ours: the worker drops it next turn */
    /* Reconnecting: a pull request sent now may never be answered, and
     * the wait for it (no Expires, below) would keep the worker from
     * letting go of partitions whose leases lapse meanwhile. */
    if (natsConnection_Status(c->nc) != NATS_CONN_STATUS_CONNECTED)
        return 0;
    natsMsgList    list = { 0 };
    jsFetchRequest fr;
    jsFetchRequest_Init(&fr);
    fr.Batch = FETCH_BATCH;
    fr.NoWait = true;
    /* No Expires: with one, nats-server 2.9 holds a no-wait request that
     * cannot fill its batch until it expires, which halved the rate and
     * doubled the CPU per event. A no-wait fetch returns at once; cut off
     * from the cluster, test_nats_split shows the worker still lets go in
     * time. */
    if (natsSubscription_FetchRequest(&list, pt->sub, &fr) != NATS_OK)
        return 0; /* nothing now (or NATS away: next turn) */
    int      r = 0, settle[FETCH_BATCH];
    uint64_t errors = atomic_load(&c->async_errors);
    pt->batch = true;
    pt->batch_alerts = 0;
    for (int i = 0; i < list.Count && i < FETCH_BATCH && r == 0; i++) {
        tp_cluster_add(c, C_RECEIVED, 1);
        r = s_apply(pt, list.Msgs[i], true, NULL, &settle[i]);
    }
    pt->batch = false;
    if (r == 0 && pt->batch_alerts) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait =
            tp_cluster_wait_ms(c, c->cfg->nats.lease_ttl_ms); /* only while the leases last */
        if (js_PublishAsyncComplete(c->js, &po) != NATS_OK ||
            atomic_load(&c->async_errors) != errors)
            r = -EIO;
    }
    /* Settled only while the lease is still ours: a holder cut off from
     * the cluster must not ack after its lease may have passed on (and a
     * PubAck wait cut short by the lease is the lease's doing). */
    if ((r == 0 || r == -EIO) && !s_held(pt))
        r = -ECANCELED;
    /* Before the acks, so that "acked" implies "in a snapshot if one was
     * due" (a crash in between: the redelivery is below the snapshot's
     * sequence, skipped). */
    if (r == 0 && c->cfg->nats.snapshot_every && pt->since_snap >= c->cfg->nats.snapshot_every)
        tp_cluster_snap_save(pt);
    int last = list.Count < FETCH_BATCH ? list.Count - 1 : FETCH_BATCH - 1;
    for (int i = 0; i <= last && r == 0; i++) {
        if (settle[i] == SETTLE_TERM) {
            natsMsg_Term(list.Msgs[i], NULL); /* with AckAll, also acks those before it */
            tp_cluster_add(c, C_TERMED, 1);
        } else {
            /* A lost ack costs a redelivery, skipped. With AckAll the last
             * message's ack settles the ones before it. */
            if (!pt->ack_all || i == last)
                natsMsg_Ack(list.Msgs[i], NULL);
            tp_cluster_add(c, C_ACKED, 1);
        }
    }
    int n = list.Count;
    natsMsgList_Destroy(&list); /* unsettled ones are redelivered after ack_wait */
    return r < 0 ? r : n;
}

static void s_drop_if_lost(tp_cluster_part_t *pt) {
    if (pt->gen && pt->gen != tp_lease_held(pt->c->lease, pt->p)) {
        int64_t left = 0;
        bool    handover = tp_lease_releasing(pt->c->lease, pt->p, &left);
        log_notice("JetStream partition %u: no longer ours (%s), stopped serving it", pt->p,
                   handover ? "handed to a new member" : "lease lost or lapsed");
        if (handover) /* the key is still ours: the newcomer need not replay */
            tp_cluster_snap_handover(pt, left);
        s_drop(pt);
    }
}

static void *s_worker(void *arg) {
    tp_cluster_t *c = arg;
    unsigned      count = c->cfg->nats.partition_count;
    int64_t       idle_ms = 0;
    while (!atomic_load(&c->stop)) {
        bool busy = false;
        /* Every partition whose lease lapsed goes first, before a take-over
         * or a batch keeps the worker busy. */
        for (unsigned p = 0; p < count; p++)
            s_drop_if_lost(&c->parts[p]);
        for (unsigned p = 0; p < count && !atomic_load(&c->stop); p++) {
            tp_cluster_part_t *pt = &c->parts[p];
            s_drop_if_lost(pt);
            uint64_t gen = tp_lease_held(c->lease, p);
            if (gen && !pt->gen && tp_monotonic_ms() >= pt->retry_ms) {
                int r = s_start(pt, gen);
                if (r < 0) {
                    log_warning_errno(r, "JetStream partition %u: take-over failed, retrying: %m",
                                      p);
                    pt->retry_ms = tp_monotonic_ms() + RETRY_MS;
                }
                busy = true;
            }
            if (!pt->gen) {
                tp_lease_not_serving(c->lease, p);
                continue;
            }
            int n = s_poll(pt);
            if (n == -ECANCELED) {
                log_notice("JetStream partition %u: no longer ours (its lease ran out during a "
                           "batch, left unacked), stopped serving it",
                           p);
                s_drop(pt);
            } else if (n < 0) {
                /* Unacked events would come back out of order: rebuild. */
                log_warning_errno(n,
                                  "JetStream partition %u: an alert could not be stored; "
                                  "rebuilding the partition: %m",
                                  p);
                s_drop(pt);
            }
            busy |= n != 0;
        }
        idle_ms = busy      ? 0
                  : idle_ms ? (idle_ms * 2 < IDLE_MAX_MS ? idle_ms * 2 : IDLE_MAX_MS)
                            : IDLE_SLEEP_MS;
        if (idle_ms)
            s_sleep_ms(idle_ms);
    }
    /* A clean stop hands over a fresh snapshot (the leases are still
     * ours: they go only after the worker stopped). */
    for (unsigned p = 0; p < count; p++) {
        tp_cluster_part_t *pt = &c->parts[p];
        if (pt->gen && c->cfg->nats.snapshot_every && pt->since_snap &&
            tp_lease_held(c->lease, p) == pt->gen)
            tp_cluster_snap_save(pt);
        if (pt->gen)
            s_drop(pt);
    }
    return NULL;
}

int tp_cluster_new(const tp_config_t *cfg, char *why, size_t whylen, tp_cluster_t **ret) {
    tp_cluster_t *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    c->cfg = cfg;
    int r = 0;
    if (cfg->nats.instance) {
        snprintf(c->instance, sizeof c->instance, "%s", cfg->nats.instance);
    } else {
        char host[64] = "host";
        gethostname(host, sizeof host - 1);
        for (char *s = host; *s; s++) /* KV key characters only */
            if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') && !(*s >= '0' && *s <= '9'))
                *s = '-';
        snprintf(c->instance, sizeof c->instance, "%s-%ld", host, (long)getpid());
    }
    c->parts = calloc(cfg->nats.partition_count, sizeof *c->parts);
    if (!c->parts) {
        snprintf(why, whylen, "out of memory");
        r = -ENOMEM;
        goto fail;
    }
    for (unsigned p = 0; p < cfg->nats.partition_count; p++)
        c->parts[p] = (tp_cluster_part_t){ .c = c, .p = p };
    if ((r = tp_nats_connect(cfg, NULL, &c->nc, why, whylen)) < 0)
        goto fail;
    if ((r = tp_nats_jetstream(c->nc, s_puback_cb, c, 0, &c->js, why, whylen)) < 0 ||
        (r = tp_nats_ensure_streams(c->js, cfg, why, whylen)) < 0 ||
        (cfg->nats.snapshot_every && (r = tp_jssnap_ensure(c->js, cfg, why, whylen)) < 0) ||
        (r = tp_lease_new(c->nc, cfg, c->instance, why, whylen, &c->lease)) < 0)
        goto fail;
    if ((r = -pthread_create(&c->worker, NULL, s_worker, c)) < 0) {
        snprintf(why, whylen, "cannot start the worker thread");
        goto fail;
    }
    c->started = true;
    *ret = c;
    return 0;
fail:
    tp_cluster_destroy(&c);
    return r;
}

const char *tp_cluster_instance(const tp_cluster_t *c) {
    return c->instance;
}

void tp_cluster_get_stats(tp_cluster_t *c, tp_cluster_stats_t *ret) {
    tp_lease_stats_t ls = { 0 };
    if (c->lease)
        tp_lease_get_stats(c->lease, &ls);
    *ret = (tp_cluster_stats_t){
        .received = atomic_load(&c->n[C_RECEIVED]),
        .acked = atomic_load(&c->n[C_ACKED]),
        .termed = atomic_load(&c->n[C_TERMED]),
        .alerts_published = atomic_load(&c->n[C_PUBLISHED]),
        .publish_errors = atomic_load(&c->n[C_PUB_ERRORS]),
        .rebuilds = atomic_load(&c->n[C_REBUILDS]),
        .rebuild_events = atomic_load(&c->n[C_REBUILD_EVENTS]),
        .rebuild_suppressed = atomic_load(&c->n[C_SUPPRESSED]),
        .snapshots_saved = atomic_load(&c->n[C_SNAP_SAVED]),
        .snapshots_loaded = atomic_load(&c->n[C_SNAP_LOADED]),
        .snapshots_bad = atomic_load(&c->n[C_SNAP_BAD]),
        .leases_claimed = ls.claimed,
        .leases_lost = ls.lost,
        .lease_errors = ls.renew_errors,
        .owned = ls.owned,
        .members = ls.members,
        .last_rebuild_ms = atomic_load(&c->last_rebuild_ms),
    };
}

void tp_cluster_destroy(tp_cluster_t **pp) {
    tp_cluster_t *c = pp ? *pp : NULL;
    if (!c)
        return;
    if (c->started) {
        atomic_store(&c->stop, true);
        pthread_join(c->worker, NULL);
    }
    /* Only after the worker stopped: nobody may serve a partition we hand over. */
    tp_lease_destroy(&c->lease);
    if (c->js) { /* PubAcks still due would call s_puback_cb on c */
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = 2000;
        js_PublishAsyncComplete(c->js, &po);
    }
    jsCtx_Destroy(c->js);
    if (c->nc) {
        natsConnection_Close(c->nc);
        natsConnection_Destroy(c->nc);
    }
    free(c->parts);
    free(c);
    *pp = NULL;
}
