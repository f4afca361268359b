/* tp_cluster — JetStream mode with nats.ownership: lease: this instance's
 * share of the partitions, one engine each (docs/jetstream.md).
 * Created by tp_daemon instead of tp_nats when ownership is lease.
 *
 * Ownership comes from tp_lease (KV leases). For each partition this
 * instance holds, tp_cluster keeps its own tp_engine (state, event clock,
 * dedup, per-source sequences: nothing is shared between partitions) and
 * consumes the partition's durable pull consumer "<consumer>-p<N>".
 *
 * State handoff: the events stream is the changelog. A new holder first
 * replays tp.events.<N>.> from the stream's start (ordered consumer) into a
 * fresh engine up to the stream's end, then binds the durable consumer and
 * goes live, skipping what the replay already applied. Alerts of replayed
 * events at or below the durable's ack floor are not published (acked
 * implies "its alerts have their PubAck", below); those above it are
 * published again with their deterministic Nats-Msg-Id, so the server
 * drops the ones the previous holder already stored.
 *
 * Snapshots (nats.snapshot_every > 0, tp_cluster_snap.c and tp_jssnap):
 * every snapshot_every events of a partition, and for each partition on a
 * clean stop, its engine is saved to nats.snapshot_stream tagged with the
 * stream sequence it has applied (before that batch's acks, its alerts
 * already stored). A new holder loads the newest one and replays only the
 * events after that sequence; none, or a bad one (checksum, format, other
 * rules: counted), means the full replay above.
 *
 * Acks: an event is acked only after every alert it raised was stored in
 * the alerts stream (synchronous publish, retried while we hold the lease).
 * The local journal plays no part: state lives in the stream.
 *
 * Threads: its own NATS connection (libnats' threads), one worker thread
 * for engines and consumers, tp_lease's thread for the leases; the daemon's
 * loop only reads the counters.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "tp_config.h"

typedef struct tp_cluster tp_cluster_t;

typedef struct {
    uint64_t received, acked, termed; /* live events */
    uint64_t alerts_published, publish_errors;
    uint64_t rebuilds, rebuild_events;
    uint64_t rebuild_suppressed; /* alerts of events at or below the ack floor */
    uint64_t snapshots_saved, snapshots_loaded, snapshots_bad; /* partition snapshots */
    uint64_t leases_claimed, leases_lost, lease_errors;
    unsigned owned, members;  /* partitions served now; live instances seen */
    int64_t  last_rebuild_ms; /* claim to live, the last partition taken over */
} tp_cluster_stats_t;

/* Connects, creates streams and bucket if missing, starts the lease and
 * worker threads. cfg is borrowed. 0 or negative errno, reason in why. */
int tp_cluster_new(const tp_config_t *cfg, char *why, size_t whylen, tp_cluster_t **ret);

/* This instance's lease holder id. */
const char *tp_cluster_instance(const tp_cluster_t *c);

void tp_cluster_get_stats(tp_cluster_t *c, tp_cluster_stats_t *ret);

/* Stops consuming (unacked messages are redelivered to the next holder),
 * then hands the leases back. Accepts NULL. */
void tp_cluster_destroy(tp_cluster_t **p);
