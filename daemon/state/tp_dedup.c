/* tp_dedup — see tp_dedup.h. */
#include "tp_dedup.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tp_hash.h"

#define SNAP_VERSION 2    /* 1: the ids themselves; 2: their 128-bit keys */
#define SNAP_BLOCK   4096 /* keys per byte string in a snapshot */
#define KEY_BYTES    16

struct tp_dedup {
    tp_dedup_key_t *ring;  /* arrival order; ring[head] is the oldest */
    uint32_t       *table; /* ring position + 1 by key, 0 empty; mask + 1 slots */
    size_t          mask;
    size_t          capacity;
    size_t          head;
    size_t          count;
};

int tp_dedup_new(size_t capacity, tp_dedup_t **ret) {
    if (capacity == 0)
        return -EINVAL;
    if (capacity > ((size_t)1 << 31)) /* positions are 32-bit; the table twice that */
        return -ENOMEM;
    tp_dedup_t *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    size_t slots = 16;
    while (slots < capacity * 2) /* at most half full: short probes */
        slots *= 2;
    d->capacity = capacity;
    d->mask = slots - 1;
    /* calloc: pages are touched as the window fills, not here. */
    if (!(d->ring = calloc(capacity, sizeof *d->ring)) ||
        !(d->table = calloc(slots, sizeof *d->table))) {
        tp_dedup_destroy(&d);
        return -ENOMEM;
    }
    *ret = d;
    return 0;
}

static bool s_eq(tp_dedup_key_t a, tp_dedup_key_t b) {
    return a.lo == b.lo && a.hi == b.hi;
}

/* The table slot holding key, or the empty one where it would go. */
static size_t s_find(const tp_dedup_t *d, tp_dedup_key_t key) {
    size_t i = (size_t)key.lo & d->mask;
    while (d->table[i] && !s_eq(d->ring[d->table[i] - 1], key))
        i = (i + 1) & d->mask;
    return i;
}

static tp_dedup_key_t s_key(const char *id, size_t len) {
    XXH128_hash_t h = XXH3_128bits(id, len);
    return (tp_dedup_key_t){ h.low64, h.high64 };
}

int tp_dedup_seen(const tp_dedup_t *d, const char *id, size_t len, tp_dedup_key_t *ret_key) {
    tp_dedup_key_t key = s_key(id, len);
    *ret_key = key;
    return d->table[s_find(d, key)] != 0;
}

int tp_dedup_check(tp_dedup_t *d, const char *id, size_t len) {
    tp_dedup_key_t key;
    if (tp_dedup_seen(d, id, len, &key))
        return 1;
    return tp_dedup_remember(d, key);
}

/* Empties table slot i, moving later entries of its probe run back so that
 * every key stays reachable from its home slot (linear probing's deletion,
 * no tombstones to fill the table up). */
static void s_unlink(tp_dedup_t *d, size_t i) {
    for (size_t j = (i + 1) & d->mask; d->table[j]; j = (j + 1) & d->mask) {
        size_t home = (size_t)d->ring[d->table[j] - 1].lo & d->mask;
        /* j's entry may move to i unless its home lies cyclically in (i, j]. */
        if (((j - home) & d->mask) >= ((j - i) & d->mask)) {
            d->table[i] = d->table[j];
            i = j;
        }
    }
    d->table[i] = 0;
}

int tp_dedup_remember(tp_dedup_t *d, tp_dedup_key_t key) {
    if (d->count == d->capacity) {
        /* The oldest goes; its ring slot takes the new key. */
        s_unlink(d, s_find(d, d->ring[d->head]));
        d->head = (d->head + 1) % d->capacity;
        d->count--;
    }
    size_t pos = (d->head + d->count) % d->capacity;
    d->ring[pos] = key;
    d->table[s_find(d, key)] = (uint32_t)(pos + 1);
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
    free(d->table);
    free(d->ring);
    free(d);
    *p = NULL;
}

/* Snapshot: the keys oldest first, in byte strings of up to SNAP_BLOCK
 * keys (little-endian lo, hi), so that a load into an empty window of any
 * capacity keeps the newest ones (what the window would hold had it seen
 * the same events), without hashing anything again. */
void tp_dedup_save(const tp_dedup_t *d, tp_snapw_t *w) {
    unsigned char buf[SNAP_BLOCK * KEY_BYTES];
    tp_snapw_section(w, TP_SNAP_TAG('D', 'D', 'U', 'P'), SNAP_VERSION);
    tp_snapw_u64(w, d->count);
    for (size_t i = 0; i < d->count;) {
        size_t k = 0;
        for (; k < SNAP_BLOCK && i < d->count; k++, i++) {
            const tp_dedup_key_t *e = &d->ring[(d->head + i) % d->capacity];
            tp_snap_le64(buf + k * KEY_BYTES, e->lo);
            tp_snap_le64(buf + k * KEY_BYTES + 8, e->hi);
        }
        tp_snapw_bytes(w, buf, k * KEY_BYTES);
    }
}

int tp_dedup_load(tp_dedup_t *d, tp_snapr_t *r) {
    uint64_t n = 0;
    uint32_t version = 0;
    int      k = tp_snapr_section(r, TP_SNAP_TAG('D', 'D', 'U', 'P'), SNAP_VERSION, &version);
    if (k < 0)
        return k;
    if (version != SNAP_VERSION) /* the ids themselves: not worth a second reader */
        return -EPROTO;
    if ((k = tp_snapr_u64(r, &n)) < 0)
        return k;
    for (uint64_t i = 0; i < n;) {
        const unsigned char *p;
        size_t               len;
        uint64_t             want = n - i < SNAP_BLOCK ? n - i : SNAP_BLOCK;
        if ((k = tp_snapr_bytes(r, SNAP_BLOCK * KEY_BYTES, (const void **)&p, &len)) < 0)
            return k;
        if (len != want * KEY_BYTES)
            return -EBADMSG;
        for (size_t j = 0; j < want; j++, i++) {
            tp_dedup_key_t key = { tp_snap_get_le(p + j * KEY_BYTES, 8),
                                   tp_snap_get_le(p + j * KEY_BYTES + 8, 8) };
            if (!d->table[s_find(d, key)]) /* twice in a bad file: once */
                tp_dedup_remember(d, key);
        }
    }
    return 0;
}
