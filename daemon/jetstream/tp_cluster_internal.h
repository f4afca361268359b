/* tp_cluster_internal — what tp_cluster.c and tp_cluster_snap.c share: a
 * partition's serving state, the cluster's, its counters, and the bounded
 * waits of the worker's blocking requests. Not for other modules. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

#include "tp_cluster.h"
#include "tp_engine.h"
#include "tp_lease.h"

#define API_WAIT_MS 5000 /* a JetStream API request (libnats' default) */

enum {
    C_RECEIVED,
    C_ACKED,
    C_TERMED,
    C_PUBLISHED,
    C_PUB_ERRORS,
    C_REBUILDS,
    C_REBUILD_EVENTS,
    C_SUPPRESSED,
    C_SNAP_SAVED,
    C_SNAP_LOADED,
    C_SNAP_BAD,
    C_COUNT
};

typedef struct {
    struct tp_cluster *c;
    unsigned           p;
    uint64_t           gen; /* the lease holding this state belongs to; 0: not served */
    tp_engine_t       *engine;
    natsSubscription  *sub;        /* the durable pull consumer, once live */
    uint64_t           done_seq;   /* highest stream sequence applied to engine */
    uint64_t           since_snap; /* events applied since the last snapshot (or load) */
    uint64_t           floor;      /* the durable's ack floor when we took over */
    bool               suppress;   /* applying an event at or below floor */
    bool               batch;      /* live batch: publish async, PubAcks awaited before the acks */
    bool               pub_failed;
    bool               ack_all; /* the durable's AckPolicy is AckAll: one ack per batch */
    size_t             batch_alerts;
    int64_t            retry_ms;
} tp_cluster_part_t;

struct tp_cluster {
    const tp_config_t   *cfg;
    char                 instance[128];
    natsConnection      *nc;
    jsCtx               *js;
    tp_lease_t          *lease;
    tp_cluster_part_t   *parts; /* [partition_count] */
    pthread_t            worker;
    bool                 started;
    atomic_bool          stop;
    atomic_uint_fast64_t n[C_COUNT];
    atomic_uint_fast64_t async_errors; /* PubAck failures of async publishes */
    atomic_int_fast64_t  last_rebuild_ms;
    atomic_bool          unsaved_warned;
};

void tp_cluster_add(tp_cluster_t *c, int k, uint64_t v);

/* How long a blocking request of the worker may wait: at most `cap`, and
 * never past the validity of any partition it serves. At least 1 ms. */
int64_t tp_cluster_wait_ms(tp_cluster_t *c, int64_t cap);

/* jsOptions for one API request of the worker (tp_cluster_wait_ms). */
jsOptions *tp_cluster_api_opts(tp_cluster_t *c, jsOptions *jo);

/* A fresh engine for pt (replacing any), its alerts sunk into the alerts
 * stream. 0 or -errno. */
int tp_cluster_engine_new(tp_cluster_part_t *pt);

/* tp_cluster_snap.c: partition snapshots in nats.snapshot_stream. */

/* Loads pt's newest good snapshot (of the nats.snapshot_keep kept) into
 * pt->engine (fresh): 0 with pt->done_seq its sequence and *ret_any
 * whether events follow it, or none good (done_seq stays 0, pt->engine
 * fresh: a full replay; a bad one is counted and logged); <0 JetStream did
 * not answer (retry the take-over). */
int tp_cluster_snap_load(tp_cluster_part_t *pt, const char *subject, bool *ret_any);

/* Saves pt's state at pt->done_seq (every event up to it applied, its
 * alerts stored). A failure is logged; the next try comes after another
 * nats.snapshot_every events. */
void tp_cluster_snap_save(tp_cluster_part_t *pt);

/* pt was given back to a member that joined: saves its state, if it
 * changed since the last snapshot, while the key is still ours (left_ms),
 * so that the newcomer loads it instead of replaying what came since.
 * pt is not served any more (the caller drops it next). */
void tp_cluster_snap_handover(tp_cluster_part_t *pt, int64_t left_ms);
