/* tp_timers — deadlines for absence rules: one min-heap, one libevent timer.
 *
 * Absence rules ("planned but never submitted within 48 h") arm a deadline
 * per subject, computed from event timestamps. All deadlines live in one
 * binary min-heap ordered by due time, indexed by (owner, key) so re-arming
 * or cancelling is O(log n). The engine fires what is due when its clock
 * passes it; the daemon keeps a single libevent timer on the earliest due
 * time (wall clock) — never one libevent event per deadline.
 *
 * A deadline is due when now > due_ms: something due at 12:00 has not been
 * missed at 12:00:00.000, only after it. Deadlines due at the same instant
 * fire in the order they were armed, so the alert order depends only on
 * the events, not on what else happens to be in the heap.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include "tp_hash.h"

typedef struct tp_deadline {
    UT_hash_handle hh;           /* index by (owner, key) */
    int64_t  due_ms;
    uint64_t armed;              /* arming order, breaks ties between equal due times */
    size_t   slot;               /* position in the heap */
    uint32_t owner;              /* who armed it: rule index or a module id */
    uint32_t keylen;             /* bytes of `key`, after the 4-byte owner */
    char     key[];              /* owner (4 bytes) then the subject key + NUL */
} tp_deadline_t;

typedef struct tp_timers tp_timers_t;

tp_timers_t *tp_timers_new(void);

/* Arms (or moves) the deadline of (owner, key) to due_ms. 0 or -ENOMEM. */
int tp_timers_arm(tp_timers_t *t, uint32_t owner, const char *key, int64_t due_ms);

/* Disarms (owner, key); 1 if it was armed, 0 if not. */
int tp_timers_cancel(tp_timers_t *t, uint32_t owner, const char *key);

/* Disarms every deadline of `owner` (a rule switched off by a reload).
 * Returns how many. */
size_t tp_timers_cancel_owner(tp_timers_t *t, uint32_t owner);

/* Due time of (owner, key), or INT64_MIN if not armed. */
int64_t tp_timers_due(const tp_timers_t *t, uint32_t owner, const char *key);

/* Earliest due time, INT64_MAX if none. */
int64_t tp_timers_next(const tp_timers_t *t);

/* Removes and returns the earliest deadline if now_ms > its due time, else
 * NULL. The caller frees it with free() after use; its subject key is
 * tp_deadline_key(d). */
tp_deadline_t *tp_timers_pop_due(tp_timers_t *t, int64_t now_ms);

/* The subject key a deadline was armed with. */
static inline const char *tp_deadline_key(const tp_deadline_t *d) {
    return d->key + sizeof(uint32_t);
}

size_t tp_timers_count(const tp_timers_t *t);

void tp_timers_destroy(tp_timers_t **p);
