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

/* A place in the heap. Either part of a keyed deadline (tp_deadline_t,
 * found by (owner, key)) or embedded in a record that has exactly one
 * deadline of its kind, a call's or a case's retention: that one costs no
 * allocation and no index entry (112 bytes less per open call) and is
 * reached from its record. An embedded timer must be cancelled or have
 * fired before its record is freed; calloc'd it is not armed. */
typedef struct tp_timer {
    int64_t  due_ms;
    uint64_t armed;       /* arming order, breaks ties between equal due times */
    uint32_t slot;        /* position in the heap, while in_heap */
    uint32_t owner : 30;  /* who armed it: rule index or a module id */
    uint32_t keyed : 1;   /* the `timer` of a tp_deadline_t */
    uint32_t in_heap : 1; /* armed */
} tp_timer_t;

typedef struct tp_deadline {
    uint64_t   hash; /* index by (owner, key): XXH3 of the key seeded with the owner */
    tp_timer_t timer;
    char       key[]; /* owner (4 bytes) then the subject key + NUL */
} tp_deadline_t;

#define TP_TIMER_OWNER_MAX ((1u << 30) - 1)

typedef struct tp_timers tp_timers_t;

/* An empty set of deadlines into *ret. 0 or -ENOMEM. */
int tp_timers_new(tp_timers_t **ret);

/* Arms (or moves) the deadline of (owner, key) to due_ms. 0 or -ENOMEM. */
int tp_timers_arm(tp_timers_t *t, uint32_t owner, const char *key, int64_t due_ms);

/* Disarms (owner, key); 1 if it was armed, 0 if not. */
int tp_timers_cancel(tp_timers_t *t, uint32_t owner, const char *key);

/* Disarms every deadline of `owner` (a rule switched off by a reload).
 * Returns how many. */
size_t tp_timers_cancel_owner(tp_timers_t *t, uint32_t owner);

/* Gives the keyed deadlines of owners lo .. lo+n-1 the owner to[owner-lo]
 * (UINT32_MAX: dropped), keeping their keys, due times and arming order:
 * a snapshot's run-time rules that come back in other slots. to[] must
 * not send two owners to one. Returns how many were dropped, or -ENOMEM
 * (the ones moved so far stay moved). */
long tp_timers_move_owners(tp_timers_t *t, uint32_t lo, size_t n, const uint32_t *to);

/* Due time of (owner, key), or INT64_MIN if not armed. */
int64_t tp_timers_due(const tp_timers_t *t, uint32_t owner, const char *key);

/* Earliest due time, INT64_MAX if none. */
int64_t tp_timers_next(const tp_timers_t *t);

/* Arms (or moves) an embedded timer to due_ms. 0 or -ENOMEM. */
int tp_timers_arm_timer(tp_timers_t *t, tp_timer_t *tm, uint32_t owner, int64_t due_ms);

/* Disarms an embedded timer if it is armed. */
void tp_timers_cancel_timer(tp_timers_t *t, tp_timer_t *tm);

/* Due time of an embedded timer, 0 if it is not armed. */
static inline int64_t tp_timer_due(const tp_timer_t *tm) {
    return tm->in_heap ? tm->due_ms : 0;
}

/* Removes and returns the earliest timer if now_ms > its due time, else
 * NULL. A keyed one is a deadline (tp_deadline_of): the caller frees it
 * with free() after use. An embedded one belongs to its record. */
tp_timer_t *tp_timers_pop(tp_timers_t *t, int64_t now_ms);

/* The deadline a keyed timer is part of; NULL for an embedded one. */
static inline tp_deadline_t *tp_deadline_of(tp_timer_t *tm) {
    return tm->keyed ? (tp_deadline_t *)(void *)((char *)tm - offsetof(tp_deadline_t, timer))
                     : NULL;
}

/* The subject key a deadline was armed with. */
static inline const char *tp_deadline_key(const tp_deadline_t *d) {
    return d->key + sizeof(uint32_t);
}

size_t tp_timers_count(const tp_timers_t *t);

/* Frees the heap and every keyed deadline in it (embedded timers are
 * their records'); accepts NULL; sets *p to NULL. */
void tp_timers_destroy(tp_timers_t **p);

/* Snapshot section (tp_snapio): every keyed deadline and the arming
 * order. Load into an empty set, before or after the records that embed
 * timers: 0 or negative errno. */
#include "tp_snapio.h"
void tp_timers_save(const tp_timers_t *t, tp_snapw_t *w);
int  tp_timers_load(tp_timers_t *t, tp_snapr_t *r);
/* After tp_timers_load and the records' tp_timers_load_timer: puts every
 * loaded timer in heap order at once. Nothing may fire, cancel or pop
 * before it. */
void tp_timers_load_done(tp_timers_t *t);
/* An embedded timer, written by the record it belongs to. */
void tp_timers_save_timer(const tp_timer_t *tm, tp_snapw_t *w);
int  tp_timers_load_timer(tp_timers_t *t, tp_timer_t *tm, tp_snapr_t *r);
