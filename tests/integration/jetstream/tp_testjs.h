/* tp_testjs — what the JetStream cluster tests share (test_nats_cluster,
 * test_nats_quorum, test_nats_split): the generated realistic stream, which
 * partitions each instance's log says it serves, waiting for a fair split,
 * publishing with retries, a budget for a test's sequential waits, and
 * restarting a clustered nats-server killed earlier.
 *
 * The stream is deterministic: 24 HCPs a round, one event each (calls in
 * every status with corrections and cancellations, detractor feedback,
 * contracting cases with returns), a watermark per round, event time only
 * growing; s_pinned in test_nats_cluster pins what a single node raises.
 */
#pragma once

#include <stdbool.h>

#include "tp_testnats.h"

#define TP_JS_PARTITIONS "8"
#define TP_JS_N_PART     8
#define TP_JS_ROUNDS     24
#define TP_JS_MAX_KEYS   4096

/* Rounds [r0, r1) of the stream into path; `last` adds a final watermark
 * 30 days on, so every armed deadline fires. Parts of one stream must be
 * generated in order, starting at round 0. */
void tp_js_generate(const char *path, unsigned r0, unsigned r1, bool last);

/* The generated stream in three parts (rounds 0-8, 8-16, 16-24 and the
 * final watermark) in a temp dir, and the single-node reference for all of
 * it: sorted "alert_id|status" keys (tp_nats_reference). */
typedef struct {
    char  *dir, *parts[3];
    char **ref;
    size_t nref;
} tp_js_stream_t;

tp_js_stream_t *tp_js_stream_new(void);
void            tp_js_stream_free(tp_js_stream_t **p);

/* The partitions d's log says it serves now, as a bit set: "JetStream
 * partition N live:" adds N, any "JetStream partition N: ..." (no longer
 * ours, take-over failed, dropped to be rebuilt) removes it. */
unsigned tp_js_live_of(tp_dfx_t *d);

/* Prints the end of d's log (for a failure's message). */
void tp_js_dump_log(const char *name, tp_dfx_t *d);

/* The test's budget for its sequential waits (each takes the smaller of
 * its own limit and what is left, so a slow run fails with the step that
 * ran out rather than being killed by ctest without a word). */
void      tp_js_budget_start(long long budget_ms);
long long tp_js_budget(long long want_ms, const char *what);

/* tp-pub --nats with the whole file (--partitions TP_JS_PARTITIONS) until it
 * exits 0: while a stream elects a new leader, PubAcks fail and a producer
 * sends again, which Nats-Msg-Id makes safe. Returns the messages it
 * published (from its summary). */
unsigned long tp_js_publish(tp_dfx_t *d, const char *urls, const char *path);

/* Waits until every partition is live on exactly one of d[0..n) and none
 * holds more than ceil(parts / n), and d[must_own] holds some (must_own ==
 * n: no such condition); owned[] gets each one's set. */
void tp_js_wait_fair_split(tp_dfx_t *d[], unsigned n, unsigned owned[], unsigned must_own,
                           const char *when);

/* Starts srv[i] again (killed by tp_nats_kill) with its name, ports and
 * storage, in the cluster of srv[0..n). */
void tp_js_restart_node(tp_nats_srv_t **srv, size_t n, size_t i);
