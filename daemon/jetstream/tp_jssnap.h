/* tp_jssnap — lease mode's partition snapshots, kept in JetStream so that
 * whichever instance takes a partition over finds them (docs/jetstream.md).
 * Used by tp_cluster only.
 *
 * libnats 3.4 (Debian's) has no Object Store, and a KV value is capped by
 * the server's max_payload (1 MB), so a snapshot goes into a stream of its
 * own (nats.snapshot_stream, subjects tp.snapshots.>), one message per
 * 256 KiB chunk on tp.snapshots.<P>.c, each with a Tp-Snap-Id header;
 * then one head message on tp.snapshots.<P>.h naming the snapshot: its
 * events-stream sequence, the stream sequence of its first chunk, its
 * chunk count, bytes and id, and the head sequence and first chunk of each
 * older snapshot kept with it (nats.snapshot_keep in all, newest first).
 * The head is written last, so a writer cut short leaves only orphan
 * chunks and the previous head still holds; then the chunks and heads
 * below the oldest one kept are purged.
 *
 * The bytes: a 40-byte header (magic "TPJSNAP\n", format version, the
 * partition, the sequence, body length, the body's XXH3-64), then the body
 * in tp_snapio's format: the engine's section (tp_engine_save). A reader
 * checks the header against the head and the checksum of the whole body
 * before the engine sees a byte. All calls block (JetStream API requests):
 * the cluster's worker thread only. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

#include "tp_config.h"
#include "tp_engine.h"

#define TP_JSSNAP_MAX_KEEP 100 /* nats.snapshot_keep's upper bound */

/* Creates nats.snapshot_stream if missing. 0 or -errno (why set). */
int tp_jssnap_ensure(jsCtx *js, const tp_config_t *cfg, char *why, size_t whylen);

/* Saves e, which has applied partition p's events up to stream sequence
 * seq, as p's newest snapshot. id: unique to this save (instance, lease
 * generation, seq). Nothing waits past deadline_ms (monotonic ms). 0 (ret_bytes: the
 * snapshot's size), -ENOTSUP (a rule keeps state that cannot be saved),
 * or -errno. */
int tp_jssnap_save(jsCtx *js, const tp_config_t *cfg, unsigned p, uint64_t seq,
                   const tp_engine_t *e, const char *id, int64_t deadline_ms, uint64_t *ret_bytes);

/* Loads p's snapshot `age` (0 the newest, 1 the one before, ... up to
 * nats.snapshot_keep - 1) into e (just made by tp_engine_new). 0 with
 * ret_seq (its sequence) and ret_bytes; -ENOENT none that old; -EBADMSG missing
 * chunks, corrupt, wrong checksum; -EPROTO another format or other rules;
 * -EIO JetStream did not answer. On an error e may be half loaded: the
 * caller makes a fresh one. */
int tp_jssnap_load(jsCtx *js, const tp_config_t *cfg, unsigned p, unsigned age, tp_engine_t *e,
                   int64_t deadline_ms, uint64_t *ret_seq, uint64_t *ret_bytes);
