/* tp_dedup — idempotency: have we seen this event_id recently?
 *
 * A bounded window: the last `capacity` distinct event_ids, in a ring of
 * 64-byte slots in arrival order (an id of up to 52 bytes lives in its
 * slot) indexed by an open-addressing hash (tp_oa); when full, the oldest
 * id is forgotten and its slot takes the new one, so a full window
 * allocates nothing per event. Memory is capacity * ~100 bytes (plus the
 * length of ids longer than 52), whatever the producers send. Called by
 * the engine once per valid event.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct tp_dedup tp_dedup_t;

/* A window of `capacity` ids into *ret. 0, -EINVAL (capacity 0) or
 * -ENOMEM. */
int tp_dedup_new(size_t capacity, tp_dedup_t **ret);

/* 1 if `id` is in the window (a duplicate), 0 if it was not (it is now
 * remembered), -ENOMEM. tp_dedup_seen then tp_dedup_remember. */
int tp_dedup_check(tp_dedup_t *d, const char *id, size_t len);

/* 1 if `id` is in the window, 0 if not; remembers nothing. *ret_hash gets
 * the id's hash for tp_dedup_remember, so an event is hashed once. The
 * engine asks first and remembers only an event it handled: one refused
 * for a limit must be accepted when the producer resends it. */
int tp_dedup_seen(const tp_dedup_t *d, const char *id, size_t len, uint64_t *ret_hash);

/* Remembers `id` (not in the window: tp_dedup_seen said 0), `hash` from
 * tp_dedup_seen; the oldest id goes if the window is full. 0 or -ENOMEM
 * (nothing remembered). */
int tp_dedup_remember(tp_dedup_t *d, const char *id, size_t len, uint64_t hash);

/* Ids currently remembered. */
size_t tp_dedup_size(const tp_dedup_t *d);

/* Frees the window; accepts NULL; sets *p to NULL. */
void tp_dedup_destroy(tp_dedup_t **p);

/* Snapshot section (tp_snapio): the window's ids, oldest first. Load into
 * an empty window: 0 or negative errno (-EBADMSG/-EPROTO: a bad file). */
#include "tp_snapio.h"
void tp_dedup_save(const tp_dedup_t *d, tp_snapw_t *w);
int  tp_dedup_load(tp_dedup_t *d, tp_snapr_t *r);
