/* tp_cluster_snap — lease mode's take-over from a partition snapshot:
 * tp_cluster's side of tp_jssnap (when to trust a loaded snapshot, what
 * is counted and logged). See tp_cluster_internal.h. */
#include <errno.h>
#include <stdio.h>

#include "tp_cluster_internal.h"
#include "tp_jssnap.h"
#include "tp_log.h"

/* A whole load or save: never past the leases (tp_cluster_wait_ms), and
 * at most this. */
#define SNAP_WAIT_MS 60000

/* The stream sequence of partition pt's last event, 0 if none. */
static int s_last_seq(tp_cluster_part_t *pt, const char *subject, uint64_t *ret) {
    tp_cluster_t *c = pt->c;
    natsMsg      *m = NULL;
    jsOptions     jo;
    natsStatus    s = js_GetLastMsg(&m, c->js, c->cfg->nats.events_stream, subject,
                                    tp_cluster_api_opts(c, &jo), NULL);
    if (s == NATS_NOT_FOUND) {
        *ret = 0;
        return 0;
    }
    if (s != NATS_OK)
        return -EIO;
    *ret = natsMsg_GetSequence(m);
    natsMsg_Destroy(m);
    return 0;
}

/* Loads snapshot `age` of pt: 0 with pt->done_seq and *ret_any, -ENOENT
 * none that old, 1 a bad one (counted, logged), <0 JetStream did not
 * answer. */
static int s_load(tp_cluster_part_t *pt, const char *subject, unsigned age, bool *ret_any) {
    tp_cluster_t      *c = pt->c;
    const tp_config_t *cfg = c->cfg;
    uint64_t           seq = 0, bytes = 0, last = 0;
    int64_t            t0 = tp_monotonic_ms();
    int                r = tp_jssnap_load(c->js, cfg, pt->p, age, pt->engine,
                                          tp_monotonic_ms() + tp_cluster_wait_ms(c, SNAP_WAIT_MS), &seq, &bytes);
    if (r == -ENOENT)
        return r;
    if (r == 0 && (r = s_last_seq(pt, subject, &last)) == 0 && last < seq)
        r = -ESTALE; /* the events stream is not the one it was taken from */
    if (r == 0) {
        pt->done_seq = seq;
        *ret_any = last > seq;
        tp_cluster_add(c, C_SNAP_LOADED, 1);
        log_info("JetStream snapshot of partition %u loaded%s: sequence %llu (%llu bytes) in "
                 "%lld ms; replaying the events after it (last %llu)",
                 pt->p, age ? " (an older one)" : "", (unsigned long long)seq,
                 (unsigned long long)bytes, (long long)(tp_monotonic_ms() - t0),
                 (unsigned long long)last);
        return 0;
    }
    if (r == -EIO || r == -ETIMEDOUT)
        return r;
    tp_cluster_add(c, C_SNAP_BAD, 1);
    log_warning_errno(r,
                      "JetStream snapshot of partition %u cannot be used (%s); trying the one "
                      "before, or replaying the partition's whole stream: %m",
                      pt->p,
                      r == -EBADMSG  ? "chunks missing, corrupt or wrong checksum"
                      : r == -EPROTO ? "another format, or taken with other rules"
                      : r == -ESTALE ? "newer than the events stream"
                                     : "unreadable");
    return 1;
}

int tp_cluster_snap_load(tp_cluster_part_t *pt, const char *subject, bool *ret_any) {
    const tp_config_t *cfg = pt->c->cfg;
    if (!cfg->nats.snapshot_every)
        return 0;
    /* The newest good one of those kept; a bad one may have half loaded
     * the engine: a fresh one before the next. */
    for (unsigned age = 0; age < cfg->nats.snapshot_keep; age++) {
        int r = s_load(pt, subject, age, ret_any);
        if (r <= 0)
            return r == -ENOENT ? 0 : r;
        pt->done_seq = 0;
        if ((r = tp_cluster_engine_new(pt)) < 0)
            return r;
    }
    return 0;
}

static void s_save(tp_cluster_part_t *pt, int64_t wait_ms) {
    tp_cluster_t *c = pt->c;
    if (!pt->done_seq)
        return;
    /* Cut off from NATS, every request of the save would wait out its
     * timeout (a stop with the server gone took minutes): the next save. */
    if (natsConnection_Status(c->nc) != NATS_CONN_STATUS_CONNECTED) {
        log_warning("JetStream snapshot of partition %u: not saved, not connected to NATS", pt->p);
        return;
    }
    char id[200];
    snprintf(id, sizeof id, "%s-%llu-%llu", c->instance, (unsigned long long)pt->gen,
             (unsigned long long)pt->done_seq);
    int64_t  t0 = tp_monotonic_ms();
    uint64_t bytes = 0;
    int      r = tp_jssnap_save(c->js, c->cfg, pt->p, pt->done_seq, pt->engine, id,
                                tp_monotonic_ms() + wait_ms, &bytes);
    pt->since_snap = 0;
    if (r == -ENOTSUP) {
        if (!atomic_exchange(&c->unsaved_warned, true))
            log_warning("JetStream: no partition snapshots, a rule keeps state that cannot be "
                        "saved yet; a take-over replays the partition's whole stream");
        return;
    }
    if (r < 0) {
        log_warning_errno(r, "JetStream snapshot of partition %u: failed to save it: %m", pt->p);
        return;
    }
    tp_cluster_add(c, C_SNAP_SAVED, 1);
    log_info("JetStream snapshot of partition %u saved: sequence %llu (%llu bytes) in %lld ms",
             pt->p, (unsigned long long)pt->done_seq, (unsigned long long)bytes,
             (long long)(tp_monotonic_ms() - t0));
}

void tp_cluster_snap_save(tp_cluster_part_t *pt) {
    s_save(pt, tp_cluster_wait_ms(pt->c, SNAP_WAIT_MS));
}

void tp_cluster_snap_handover(tp_cluster_part_t *pt, int64_t left_ms) {
    if (!pt->c->cfg->nats.snapshot_every || !pt->since_snap)
        return;
    /* No longer served: the waits are bounded by the other partitions'
     * leases (tp_cluster_wait_ms) and by this key's own validity. */
    uint64_t gen = pt->gen;
    pt->gen = 0;
    int64_t wait = tp_cluster_wait_ms(pt->c, SNAP_WAIT_MS);
    s_save(pt, wait < left_ms ? wait : left_ms);
    pt->gen = gen;
}
