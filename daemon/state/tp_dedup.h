/* tp_dedup — idempotency: have we seen this event_id recently?
 *
 * A bounded window: the last `capacity` distinct event_ids, each kept as
 * its 128-bit XXH3 (16 bytes, whatever the id's length) in a ring in
 * arrival order, indexed by an open-addressing table of ring positions
 * (linear probing, at most half full). When full, the oldest id is
 * forgotten and its ring slot takes the new one: nothing is allocated per
 * event, and memory is capacity * ~32 bytes whatever the producers send.
 *
 * Two ids are taken for the same when their 128-bit hashes are equal: over
 * a window of n ids the odds that any two distinct ones collide are about
 * n^2 / 2^129 (1e-28 for the default 200,000), far below a disk's error
 * rate. Keyed by the event_id alone: the contract says it is unique per
 * event, whichever source sends it. Called by the engine once per valid
 * event.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct tp_dedup tp_dedup_t;

/* An id's key: its 128-bit XXH3. */
typedef struct {
    uint64_t lo, hi;
} tp_dedup_key_t;

/* A window of `capacity` ids into *ret. 0, -EINVAL (capacity 0) or
 * -ENOMEM (also above 2^31 ids). */
int tp_dedup_new(size_t capacity, tp_dedup_t **ret);

/* 1 if `id` is in the window (a duplicate), 0 if it was not (it is now
 * remembered). tp_dedup_seen then tp_dedup_remember. */
int tp_dedup_check(tp_dedup_t *d, const char *id, size_t len);

/* 1 if `id` is in the window, 0 if not; remembers nothing. *ret_key gets
 * the id's key for tp_dedup_remember, so an event is hashed once. The
 * engine asks first and remembers only an event it handled: one refused
 * for a limit must be accepted when the producer resends it. */
int tp_dedup_seen(const tp_dedup_t *d, const char *id, size_t len, tp_dedup_key_t *ret_key);

/* Remembers the id whose key tp_dedup_seen gave (it said 0); the oldest id
 * goes if the window is full. Always 0 (nothing to allocate): an int so
 * that callers keep checking. */
int tp_dedup_remember(tp_dedup_t *d, tp_dedup_key_t key);

/* Ids currently remembered. */
size_t tp_dedup_size(const tp_dedup_t *d);

/* Frees the window; accepts NULL; sets *p to NULL. */
void tp_dedup_destroy(tp_dedup_t **p);

/* Snapshot section (tp_snapio), version 2: the window's keys, oldest
 * first, 16 bytes each. Load into an empty window of any capacity (the
 * newest ones are kept): 0 or negative errno (-EBADMSG a bad file,
 * -EPROTO a section of version 1, which held the ids themselves: the
 * caller falls back to an older snapshot or a full replay). */
#include "tp_snapio.h"
void tp_dedup_save(const tp_dedup_t *d, tp_snapw_t *w);
int  tp_dedup_load(tp_dedup_t *d, tp_snapr_t *r);
