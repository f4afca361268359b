/* tp_backfill — backfill: run the rules over a historic export, in event time.
 *
 * `touchpointd --replay FILE.jsonl` reads one proto3-JSON Envelope per line
 * (the format tp-pub reads), feeds each to a fresh engine in `event` clock
 * mode as fast as it can, prints every alert as a JSON line and exits. The
 * alerts are the ones a live run over the same events would have raised:
 * deadlines are computed from event timestamps and fire as event time
 * passes them. End the export with a Watermark at its cut-off time to let
 * the deadlines up to then fire. No sockets and no state directory are
 * touched, so it can run beside a live daemon.
 */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "tp_config.h"
#include "tp_stats.h"

typedef struct {
    uint64_t   lines;             /* non-blank lines read */
    uint64_t   bad_lines;         /* not JSON / not an Envelope */
    tp_stats_t stats;             /* the engine's counters at the end */
    size_t     open_alerts;       /* still FIRING at the end */
    size_t     pending_deadlines; /* armed, beyond the last event time */
    int64_t    event_time_ms;     /* event time reached */
} tp_backfill_result_t;

/* Replays `path` ("-" = stdin) with the rules and thresholds of `cfg`
 * (its clock is taken as `event`); alerts go to `out` as JSON lines, bad
 * lines are reported on stderr as "path:line: reason" and skipped. Returns
 * 0 or a negative errno (file unreadable, ENOMEM); fills *ret. */
int tp_backfill_file(const tp_config_t *cfg, const char *path, FILE *out,
                     tp_backfill_result_t *ret);
