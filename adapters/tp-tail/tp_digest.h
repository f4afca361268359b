/* tp_digest — tp-tail's --digest mode: alerts grouped for humans.
 *
 * Like an alert manager's grouping, alerts are gathered by one field (the
 * rep, territory, contract or HCP) over a window of wall time that opens
 * with a group's first alert; when it closes the group becomes one JSON
 * message, so a manager gets one message per window instead of a hundred:
 *
 *   {"group_by":"rep","key":"REP-7","window_start":"2026-01-01T10:00:00.000Z",
 *    "window_end":"...","firing":N,"resolved":M,"by_rule":{"call_late":3,...},
 *    "alerts":[{"alert_id":..,"status":..,"rule":..,"summary":..},...],
 *    "alerts_omitted":K}
 *
 * An alert without the field goes to key "(none)". "alerts" lists the first
 * 50 of the window; the counts cover all of them, "alerts_omitted" says how
 * many the list left out. Each digest carries the lowest alert sequence in
 * it, so --durable saves no position past an alert whose digest was not
 * delivered. Called only by tp-tail's loop; not thread-safe.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tp_digest tp_digest_t;

typedef enum {
    TP_DIGEST_REP,
    TP_DIGEST_TERRITORY,
    TP_DIGEST_CONTRACT,
    TP_DIGEST_HCP,
} tp_digest_by_t;

/* "rep", "territory", "contract" or "hcp". 0 or -EINVAL. */
int tp_digest_parse_by(const char *s, tp_digest_by_t *ret);

/* A digest grouping by `by` over windows of `window_ms` (> 0). 0 or -ENOMEM. */
int tp_digest_new(tp_digest_by_t by, uint64_t window_ms, tp_digest_t **ret);

/* Frees the digest and the groups still open (undelivered). Accepts NULL
 * and *p == NULL; sets *p to NULL. */
void tp_digest_destroy(tp_digest_t **p);

/* Adds one alert JSON line (as tp-tail prints it; borrowed) with sequence
 * `seq`, at monotonic time `now` (the window's clock) and wall time
 * `wall_ms` (for window_start/window_end). 0; -EBADMSG if `line` is not a
 * JSON object; -ENOSPC when a new group is needed but 4096 are open (take
 * them all, then add again); -ENOMEM. */
int tp_digest_add(tp_digest_t *d, const char *line, uint64_t seq, uint64_t now, int64_t wall_ms);

/* When the earliest open window closes (UINT64_MAX: none open). */
uint64_t tp_digest_next(const tp_digest_t *d);

/* Closes one group whose window has ended at `now` (any open group when
 * `all`, e.g. at exit): its message in *ret_body (malloc'd, *ret_len
 * bytes, compact JSON), the lowest sequence in it in *ret_min_seq and a
 * log label in `label`. 1 when one was taken, 0 when none is due, -ENOMEM
 * (the group stays open). */
int tp_digest_take(tp_digest_t *d, uint64_t now, int64_t wall_ms, bool all, char **ret_body,
                   size_t *ret_len, uint64_t *ret_min_seq, char *label, size_t labellen);

/* The lowest sequence in any open group, UINT64_MAX when none. */
uint64_t tp_digest_floor(const tp_digest_t *d);

/* Open groups. */
size_t tp_digest_open(const tp_digest_t *d);
