/* tp_oa — see tp_oa.h. */
#include "tp_oa.h"

#include <errno.h>
#include <stdlib.h>

#define MIN_SLOTS 64

static void s_insert(tp_oa_slot_t *slots, size_t mask, uint64_t h, void *item) {
    size_t i = (size_t)h & mask;
    while (slots[i].item)
        i = (i + 1) & mask;
    slots[i] = (tp_oa_slot_t){ .hash = h, .item = item };
}

/* Rehashes into `cap` slots (a power of two, above twice n). */
static int s_resize(tp_oa_t *ix, size_t cap) {
    if (cap > SIZE_MAX / sizeof(tp_oa_slot_t))
        return -ENOMEM;
    tp_oa_slot_t *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    if (ix->slots)
        for (size_t i = 0; i <= ix->mask; i++)
            if (ix->slots[i].item)
                s_insert(slots, cap - 1, ix->slots[i].hash, ix->slots[i].item);
    free(ix->slots);
    ix->slots = slots;
    ix->mask = cap - 1;
    return 0;
}

static int s_grow(tp_oa_t *ix) {
    return s_resize(ix, ix->slots ? (ix->mask + 1) * 2 : MIN_SLOTS);
}

int tp_oa_put(tp_oa_t *ix, uint64_t h, void *item) {
    /* At most half full: probes stay short and an empty slot always ends
     * a scan. */
    if (!ix->slots || 2 * (ix->n + 1) > ix->mask + 1) {
        int r = s_grow(ix);
        if (r < 0)
            return r;
    }
    s_insert(ix->slots, ix->mask, h, item);
    ix->n++;
    return 0;
}

void tp_oa_remove(tp_oa_t *ix, tp_oa_slot_t *s) {
    /* Backward shift: move up every later entry of the run that would not
     * be found past the hole any more. */
    size_t hole = (size_t)(s - ix->slots), mask = ix->mask;
    for (size_t i = (hole + 1) & mask; ix->slots[i].item; i = (i + 1) & mask) {
        size_t home = (size_t)ix->slots[i].hash & mask;
        /* Entry i may fill the hole if its home is not in (hole, i]. */
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            ix->slots[hole] = ix->slots[i];
            hole = i;
        }
    }
    ix->slots[hole] = (tp_oa_slot_t){ 0 };
    ix->n--;
}

void tp_oa_remove_item(tp_oa_t *ix, uint64_t h, const void *item) {
    for (tp_oa_slot_t *s = tp_oa_first(ix, h); s; s = tp_oa_next(ix, s, h))
        if (s->item == item) {
            tp_oa_remove(ix, s);
            return;
        }
}

void tp_oa_clear(tp_oa_t *ix) {
    free(ix->slots);
    *ix = (tp_oa_t){ 0 };
}

int tp_oa_reserve(tp_oa_t *ix, size_t n) {
    size_t cap = ix->slots ? ix->mask + 1 : MIN_SLOTS;
    while (2 * n > cap) {
        if (cap > SIZE_MAX / 2 / sizeof(tp_oa_slot_t))
            return -ENOMEM;
        cap *= 2;
    }
    return ix->slots && cap == ix->mask + 1 ? 0 : s_resize(ix, cap);
}
