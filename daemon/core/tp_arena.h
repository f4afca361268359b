/* tp_arena — a bump allocator for what lives exactly as long as one event.
 *
 * protobuf-c's unpack allocates every string, repeated field and
 * sub-message separately, and free_unpacked walks them all again: about 20
 * malloc/free pairs per event, the largest share of decoding after the
 * parse itself. Unpacking into an arena makes each of those a pointer bump
 * and frees them all at once with tp_arena_reset() when the event is done.
 * The engine owns one and resets it after every event; nothing decoded may
 * be kept past that (state and alerts copy what they keep).
 *
 * Requests that do not fit the block get their own malloc'd chunk, freed
 * at the next reset, so any message size within the bus limit decodes.
 */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

typedef struct tp_arena tp_arena_t;

/* An arena whose fixed block holds `block` bytes into *ret. 0 or -ENOMEM. */
int tp_arena_new(size_t block, tp_arena_t **ret);

/* The protobuf-c allocator view of `a` (its free is a no-op); valid as
 * long as `a` is. */
ProtobufCAllocator *tp_arena_allocator(tp_arena_t *a);

/* Forgets everything allocated since the last reset. */
void tp_arena_reset(tp_arena_t *a);

/* Frees the arena; accepts NULL; sets *p to NULL. */
void tp_arena_destroy(tp_arena_t **p);
