/* tp_dedup — see tp_dedup.h. */
#include "tp_dedup.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tp_hash.h"
#include "tp_oa.h"

#define INLINE_ID 52 /* ids up to this long live in their slot: no malloc */

/* One remembered id, a slot of the ring (64 bytes). Longer ids keep a
 * malloc'd copy, its pointer in id[]. */
typedef struct {
    uint64_t hash;
    uint32_t len;
    char     id[INLINE_ID];
} s_slot_t;

struct tp_dedup {
    tp_oa_t   index; /* ring slots by XXH3 of the id */
    s_slot_t *ring;  /* arrival order; ring[head] is the oldest */
    size_t    capacity;
    size_t    head;
    size_t    count;
};

int tp_dedup_new(size_t capacity, tp_dedup_t **ret) {
    if (capacity == 0)
        return -EINVAL;
    if (capacity > SIZE_MAX / sizeof(s_slot_t))
        return -ENOMEM;
    tp_dedup_t *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->capacity = capacity;
    /* Pages are touched as the window fills, not here. */
    if (!(d->ring = calloc(capacity, sizeof *d->ring))) {
        tp_dedup_destroy(&d);
        return -ENOMEM;
    }
    *ret = d;
    return 0;
}

static const char *s_id(const s_slot_t *s) {
    if (s->len <= INLINE_ID)
        return s->id;
    const char *heap;
    memcpy(&heap, s->id, sizeof heap);
    return heap;
}

static void s_slot_free(s_slot_t *s) {
    if (s->len > INLINE_ID)
        free((void *)(uintptr_t)s_id(s));
}

int tp_dedup_seen(const tp_dedup_t *d, const char *id, size_t len, uint64_t *ret_hash) {
    uint64_t h = XXH3_64bits(id, len);
    *ret_hash = h;
    for (tp_oa_slot_t *s = tp_oa_first(&d->index, h); s; s = tp_oa_next(&d->index, s, h)) {
        const s_slot_t *e = s->item;
        if (e->len == len && memcmp(s_id(e), id, len) == 0)
            return 1;
    }
    return 0;
}

int tp_dedup_check(tp_dedup_t *d, const char *id, size_t len) {
    uint64_t h;
    if (tp_dedup_seen(d, id, len, &h))
        return 1;
    return tp_dedup_remember(d, id, len, h);
}

int tp_dedup_remember(tp_dedup_t *d, const char *id, size_t len, uint64_t h) {
    if (len > UINT32_MAX)
        return -ENOMEM;
    char *heap = NULL;
    if (len > INLINE_ID && !(heap = malloc(len)))
        return -ENOMEM;
    if (d->count == d->capacity) {
        /* The oldest goes; its slot takes the new id. */
        s_slot_t *old = &d->ring[d->head];
        tp_oa_remove_item(&d->index, old->hash, old);
        s_slot_free(old);
        d->head = (d->head + 1) % d->capacity;
        d->count--;
    }
    s_slot_t *e = &d->ring[(d->head + d->count) % d->capacity];
    if (tp_oa_put(&d->index, h, e) < 0) {
        free(heap);
        return -ENOMEM;
    }
    e->hash = h;
    e->len = (uint32_t)len;
    if (heap) {
        memcpy(heap, id, len);
        memcpy(e->id, &heap, sizeof heap);
    } else {
        memcpy(e->id, id, len);
    }
    d->count++;
    return 0;
}

size_t tp_dedup_size(const tp_dedup_t *d) {
    return d->count;
}

void tp_dedup_destroy(tp_dedup_t **p) {
    tp_dedup_t *d = p ? *p : NULL;
    if (!d)
        return;
    for (size_t i = 0; i < d->count; i++)
        s_slot_free(&d->ring[(d->head + i) % d->capacity]);
    tp_oa_clear(&d->index);
    free(d->ring);
    free(d);
    *p = NULL;
}

/* Snapshot: the ids oldest first, so a load into an empty window of any
 * capacity keeps the newest ones (what the window would hold had it seen
 * the same events). */
#define DEDUP_SNAP_VERSION 1

void tp_dedup_save(const tp_dedup_t *d, tp_snapw_t *w) {
    tp_snapw_section(w, TP_SNAP_TAG('D', 'D', 'U', 'P'), DEDUP_SNAP_VERSION);
    tp_snapw_u64(w, d->count);
    for (size_t i = 0; i < d->count; i++) {
        const s_slot_t *e = &d->ring[(d->head + i) % d->capacity];
        tp_snapw_bytes(w, s_id(e), e->len);
    }
}

int tp_dedup_load(tp_dedup_t *d, tp_snapr_t *r) {
    uint64_t n = 0;
    int      k = tp_snapr_section(r, TP_SNAP_TAG('D', 'D', 'U', 'P'), DEDUP_SNAP_VERSION, NULL);
    if (k < 0 || (k = tp_snapr_u64(r, &n)) < 0)
        return k;
    for (uint64_t i = 0; i < n; i++) {
        const void *id;
        size_t      len;
        if ((k = tp_snapr_bytes(r, 1u << 16, &id, &len)) < 0)
            return k;
        if ((k = tp_dedup_check(d, id, len)) < 0)
            return k;
    }
    return 0;
}
