/* tp_oa — an open-addressing index for the hot tables: 64-bit hash + item.
 *
 * uthash costs a 56-byte handle per element, rebuilds the key's hash on
 * every lookup from a key that callers often had to assemble first (alert
 * ids "rule:subject", deadline keys "owner+subject"), and chases a chain
 * of pointers. Here the caller hashes its key once, in parts if it likes
 * (XXH3 with a seed), and the index keeps that hash next to the item: a
 * lookup walks a few adjacent 16-byte slots and compares the key only when
 * the full 64-bit hash matches.
 *
 * Linear probing, at most half full, deletion by backward shift (no
 * tombstones), so a table that churns forever never degrades. The index
 * does not own its items and knows nothing of their keys: the caller
 * compares. Lookup:
 *
 *     for (tp_oa_slot_t *s = tp_oa_first(&ix, h); s; s = tp_oa_next(&ix, s, h))
 *         if (key_equals(s->item, ...))
 *             return s->item;
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t hash;
    void    *item; /* NULL: empty slot */
} tp_oa_slot_t;

typedef struct {
    tp_oa_slot_t *slots;
    size_t        mask; /* capacity - 1; capacity a power of two, 0 slots before the first put */
    size_t        n;
} tp_oa_t;

/* The next slot holding hash h from slot i on, or NULL. */
static inline tp_oa_slot_t *tp_oa_scan(const tp_oa_t *ix, size_t i, uint64_t h) {
    if (!ix->slots)
        return NULL;
    for (;; i = (i + 1) & ix->mask) {
        tp_oa_slot_t *s = &ix->slots[i];
        if (!s->item)
            return NULL;
        if (s->hash == h)
            return s;
    }
}

/* The first slot holding hash h, or NULL. */
static inline tp_oa_slot_t *tp_oa_first(const tp_oa_t *ix, uint64_t h) {
    return tp_oa_scan(ix, (size_t)h & ix->mask, h);
}

/* The slot after s holding hash h, or NULL. */
static inline tp_oa_slot_t *tp_oa_next(const tp_oa_t *ix, const tp_oa_slot_t *s, uint64_t h) {
    return tp_oa_scan(ix, ((size_t)(s - ix->slots) + 1) & ix->mask, h);
}

/* Adds item under hash h (the caller has checked it is not there). 0 or
 * -ENOMEM (nothing changed). */
int tp_oa_put(tp_oa_t *ix, uint64_t h, void *item);

/* Room for n items in all without growing again (a snapshot's load knows
 * its count up front: one allocation instead of a rehash at every doubling).
 * 0 or -ENOMEM (nothing changed). */
int tp_oa_reserve(tp_oa_t *ix, size_t n);

/* Removes the slot s (from tp_oa_first/next). */
void tp_oa_remove(tp_oa_t *ix, tp_oa_slot_t *s);

/* Removes item, held under hash h; no-op if it is not there. */
void tp_oa_remove_item(tp_oa_t *ix, uint64_t h, const void *item);

/* Frees the slots (not the items); the index is empty and usable. */
void tp_oa_clear(tp_oa_t *ix);
