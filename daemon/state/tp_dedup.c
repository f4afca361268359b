/* tp_dedup — see tp_dedup.h. */
#include "tp_dedup.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tp_hash.h"

typedef struct {
    UT_hash_handle hh;
    size_t         len;
    char           id[]; /* not NUL-terminated; len bytes */
} s_entry_t;

struct tp_dedup {
    s_entry_t  *set;  /* uthash head */
    s_entry_t **ring; /* arrival order; ring[head] is the oldest */
    size_t      capacity;
    size_t      head;
    size_t      count;
};

int tp_dedup_new(size_t capacity, tp_dedup_t **ret) {
    if (capacity == 0)
        return -EINVAL;
    if (capacity > SIZE_MAX / sizeof(s_entry_t *))
        return -ENOMEM;
    tp_dedup_t *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->capacity = capacity;
    if (!(d->ring = calloc(capacity, sizeof *d->ring))) {
        tp_dedup_destroy(&d);
        return -ENOMEM;
    }
    *ret = d;
    return 0;
}

int tp_dedup_check(tp_dedup_t *d, const char *id, size_t len) {
    s_entry_t *e;
    HASH_FIND(hh, d->set, id, len, e);
    if (e)
        return 1;
    e = malloc(sizeof *e + len);
    if (!e)
        return -ENOMEM;
    e->len = len;
    memcpy(e->id, id, len);
    if (d->count == d->capacity) {
        s_entry_t *old = d->ring[d->head];
        HASH_DELETE(hh, d->set, old);
        free(old);
        d->head = (d->head + 1) % d->capacity;
        d->count--;
    }
    HASH_ADD_KEYPTR(hh, d->set, e->id, e->len, e);
    d->ring[(d->head + d->count) % d->capacity] = e;
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
    HASH_CLEAR(hh, d->set);
    for (size_t i = 0; i < d->count; i++)
        free(d->ring[(d->head + i) % d->capacity]);
    free(d->ring);
    free(d);
    *p = NULL;
}
