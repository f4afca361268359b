/* tp_stats — the daemon's counters, one plain struct.
 *
 * Written by the engine and the bus on the hot path (plain increments, one
 * thread), read by whoever reports them: the shutdown / SIGUSR1 summary line,
 * /metrics and /status.
 *
 * Every input message (bus, reliable input, HTTP ingest, JetStream) is
 * counted once in `received` and ends in exactly one of: accepted,
 * duplicates, bad[reason], oversize, steps_dropped, cases_over_hcp_limit.
 * So received == accepted + duplicates + tp_stats_refused_total(), and an
 * operator can check that nothing goes uncounted.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "tp_codec.h"

typedef struct tp_stats {
    uint64_t received;                                 /* input messages, whatever became of them */
    uint64_t accepted;                                 /* decoded, valid, not duplicate, applied */
    uint64_t calls, contracting, feedback, watermarks; /* accepted, by payload */
    uint64_t bad[TP_BAD__COUNT];                       /* refused, by reason (bad[0] unused) */
    uint64_t duplicates;                               /* event_id seen before */
    uint64_t seq_gaps;                                 /* times a source skipped ahead */
    uint64_t seq_missing;                              /* events skipped over in those gaps */
    uint64_t seq_regressions;                          /* sequence went backwards (not restart) */
    uint64_t seq_restarts;                             /* a source started again at 1 */
    uint64_t sources_dropped;                          /* events from sources over max_sources */
    uint64_t stale_versions;                           /* call versions older than the one held */
    uint64_t steps_dropped;        /* step events over TP_CASE_MAX_STEPS per case */
    uint64_t cases_over_hcp_limit; /* new contracts refused: HCP at max_open_cases_per_hcp */
    uint64_t alerts_firing;        /* FIRING alerts published */
    uint64_t alerts_resolved;      /* RESOLVED alerts published */
    uint64_t publish_errors;       /* alerts the output refused */
    uint64_t alerts_dropped;       /* refused because a subscriber was full (journal has them) */
    uint64_t journal_commits;      /* group commits of the alert journal */
    uint64_t journal_errors;       /* failed commits (retried) */
    uint64_t replay_requests;      /* REPLAY requests served */
    uint64_t replay_refused;       /* replay requests answered ERROR: malformed, oversize */
    uint64_t replay_oversize;      /* of them, over the request size limit */
    uint64_t replay_busy;          /* replay requests answered busy: no slot for them */
    uint64_t replay_timeouts;      /* replays dropped: the consumer took nothing for too long */
    uint64_t zap_denied;           /* CURVE handshakes refused: key not allowed */
    uint64_t oversize;             /* input messages over limits.max_message_bytes */
} tp_stats_t;

/* Total refused messages over all bad[] reasons (what the codec refuses). */
uint64_t tp_stats_bad_total(const tp_stats_t *s);

/* Every refused input message: bad[] reasons, oversize, steps_dropped and
 * cases_over_hcp_limit. received == accepted + duplicates + this. */
uint64_t tp_stats_refused_total(const tp_stats_t *s);

/* One input message over limits.max_message_bytes: received and refused. */
void tp_stats_count_oversize(tp_stats_t *s);

/* One "key=value ..." line; returns what snprintf returns. */
int tp_stats_format(const tp_stats_t *s, char *buf, size_t len);
