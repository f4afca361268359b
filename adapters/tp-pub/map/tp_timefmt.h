/* tp_timefmt — timestamps as CRM exports write them, to unix milliseconds.
 *
 * Used by tp_map (tp-pub --map) for the `time:` and `timezone:` options of a
 * mapping file. No time-zone database: a zone is a fixed UTC offset, so a
 * mapping for a region with daylight saving time names the offset its export
 * uses (most CRM exports write UTC anyway).
 */
#pragma once

#include <stdint.h>

/* Parses `s` per `fmt`, storing unix ms in *ret_ms:
 *   "iso8601"  YYYY-MM-DD, or YYYY-MM-DD(T| )HH:MM[:SS[.fff]] with an optional
 *              zone: Z, +HH:MM, +HHMM, +HH (also '-');
 *   "unix_ms", "unix_s"  decimal integers;
 *   anything else is a strptime(3) pattern ("%m/%d/%Y %H:%M") that must
 *              consume all of `s` (a %z in it gives the zone).
 * Text without a zone is taken at tz_offset_s seconds east of UTC.
 * 0, or -EINVAL. */
int tp_timefmt_parse(const char *s, const char *fmt, int32_t tz_offset_s, int64_t *ret_ms);

/* "UTC", "Z", "+01:00", "-0530", "+05" -> seconds east of UTC (at most
 * 18 h). 0 or -EINVAL. */
int tp_timefmt_parse_offset(const char *s, int32_t *ret_s);

/* Whether `fmt` is one of the named formats or a pattern with a '%'. */
int tp_timefmt_check(const char *fmt);
