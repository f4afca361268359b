/* tp_dedup — idempotency: have we seen this event_id recently?
 *
 * A bounded window: the last `capacity` distinct event_ids, in a hash set
 * (uthash) plus a ring in arrival order; when full, the oldest id is
 * forgotten. Memory is capacity * (id length + ~70 bytes), whatever the
 * producers send. Called by the engine once per valid event.
 */
#pragma once

#include <stddef.h>

typedef struct tp_dedup tp_dedup_t;

/* NULL on ENOMEM or capacity 0. */
tp_dedup_t *tp_dedup_new(size_t capacity);

/* 1 if `id` is in the window (a duplicate), 0 if it was not (it is now
 * remembered), -ENOMEM. */
int tp_dedup_check(tp_dedup_t *d, const char *id, size_t len);

/* Ids currently remembered. */
size_t tp_dedup_size(const tp_dedup_t *d);

void tp_dedup_destroy(tp_dedup_t **p);
