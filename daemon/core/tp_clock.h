/* tp_clock — the daemon's notion of "now", injectable for tests.
 *
 * Two modes (config key `clock`): `wall` reads the real-time clock, `event`
 * is the largest event time (or Watermark) seen so far, so a backfill over
 * last year's export behaves as a live run would have. Rule deadlines are
 * always computed from event timestamps; only "now" differs.
 */
#pragma once

#include <stdint.h>

#include "tp_config.h"

typedef int64_t (*tp_wall_fn)(void *ctx);

typedef struct tp_clock {
    tp_clock_mode_t mode;
    int64_t         event_now_ms; /* largest event time / watermark observed */
    tp_wall_fn      wall;         /* NULL: CLOCK_REALTIME */
    void           *wall_ctx;
} tp_clock_t;

void tp_clock_init(tp_clock_t *c, tp_clock_mode_t mode);

/* Replaces the wall-time source (tests); NULL restores CLOCK_REALTIME. */
void tp_clock_set_wall(tp_clock_t *c, tp_wall_fn fn, void *ctx);

/* Current time in unix ms in the configured mode. */
int64_t tp_clock_now(const tp_clock_t *c);

/* Feeds an event time or watermark; event time never goes backwards. */
void tp_clock_observe(tp_clock_t *c, int64_t event_ms);

/* Real time in unix ms (CLOCK_REALTIME). */
int64_t tp_realtime_ms(void);

/* "2026-01-01T09:00:00Z" (UTC, second precision; ms kept if not 0) into
 * buf (at least 32 bytes). Returns buf. */
char *tp_format_time(int64_t ms, char *buf, size_t len);

/* A compact duration, "2d3h", "1d", "90s", "250ms", "0s", into buf (at
 * least 32 bytes); the largest units first, zero parts omitted, and
 * milliseconds dropped from durations of a second or more. Returns buf. */
char *tp_format_duration(int64_t ms, char *buf, size_t len);
