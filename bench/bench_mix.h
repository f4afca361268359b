/* bench_mix — the pre-packed wire messages bench_e2e sends.
 *
 * Everything is packed once, before any clock starts, so the producer in a
 * timed run costs nothing but zmq_send, and the raw ZeroMQ baseline sends
 * byte for byte the same frames the daemon gets.
 *
 * The mix is what a CRM emits (20-event cycle): calls in every status
 * (planned, saved, submitted complete and incomplete, cancelled, one saved
 * and never submitted), one contracting case walked through its steps
 * (a return, four owners so handoffs fires, HCP asks, closed), and feedback (a promoter on a
 * call, a detractor on the contract). About a quarter of events raise or
 * resolve an alert; event time moves BENCH_STEP_MS per event, and the saved
 * call is due an hour after it is saved, so call_unsubmitted deadlines fire
 * all along the stream, as in live traffic.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define BENCH_T0      1767225600000LL /* 2026-01-01T00:00:00Z */
#define BENCH_STEP_MS 200             /* event time per event of the mix */

typedef struct {
    const char *topic;
    uint8_t    *buf;
    size_t      len;
} bench_frame_t;

typedef struct {
    bench_frame_t *f;
    size_t         n;
} bench_frames_t;

/* The realistic mix: n events, ids prefixed by `tag` (so two runs on one
 * daemon never collide in its dedup window), event time from t0. Every
 * `lat_every`-th event (0 = none) is replaced by a latency probe: a
 * submitted call "LAT-<tag>-<index>" without data, which fires
 * call_incomplete as soon as it is processed. */
int bench_mix(bench_frames_t *ret, size_t n, const char *tag, int64_t t0, size_t lat_every);

/* Events first .. first+n-1 of the endless mix from t0 (no latency
 * probes), for a long history sent in parts. With a period (0: none), the
 * subjects of cycle g are those of cycle g % period: calls, contracts and
 * the alerts on them come back instead of piling up, so the open state
 * stays bounded however long the history (event ids stay unique; the two
 * feedback events of a cycle become submitted calls, since a feedback's
 * alerts are named by its own event id). */
int bench_mix_part(bench_frames_t *ret, size_t first, size_t n, const char *tag, int64_t t0,
                   size_t period);

/* n PLANNED calls (call_at a month after t0, so no deadline passes during
 * a run) or n contracting cases each with one STARTED step: the open
 * subjects a daemon holds. */
int bench_open_calls(bench_frames_t *ret, size_t n, const char *tag, int64_t t0);
int bench_open_cases(bench_frames_t *ret, size_t n, const char *tag, int64_t t0);

/* One submitted call without data ("<call_id>"): fires call_incomplete
 * at once; its alert carries call_id, which is how a receiver finds it. */
int bench_marker(bench_frame_t *ret, const char *call_id, int64_t at);

void bench_frames_free(bench_frames_t *f);
