/* tp_timers — see tp_timers.h. */
#include "tp_timers.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct tp_timers {
    tp_deadline_t **heap;        /* heap[0] is the earliest */
    size_t          n;
    size_t          cap;
    tp_deadline_t  *index;       /* uthash over key (owner bytes + subject) */
    uint64_t        armed;       /* arms so far: the next tie-breaker */
};

/* Heap order: due time, then arming order (FIFO among equals). */
static bool s_before(const tp_deadline_t *a, const tp_deadline_t *b) {
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->armed < b->armed);
}

tp_timers_t *tp_timers_new(void) {
    return calloc(1, sizeof(tp_timers_t));
}

static void s_place(tp_timers_t *t, size_t i, tp_deadline_t *d) {
    t->heap[i] = d;
    d->slot = i;
}

static void s_sift_up(tp_timers_t *t, size_t i) {
    tp_deadline_t *d = t->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!s_before(d, t->heap[parent]))
            break;
        s_place(t, i, t->heap[parent]);
        i = parent;
    }
    s_place(t, i, d);
}

static void s_sift_down(tp_timers_t *t, size_t i) {
    tp_deadline_t *d = t->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= t->n)
            break;
        if (c + 1 < t->n && s_before(t->heap[c + 1], t->heap[c]))
            c++;
        if (!s_before(t->heap[c], d))
            break;
        s_place(t, i, t->heap[c]);
        i = c;
    }
    s_place(t, i, d);
}

/* Takes heap slot i out, keeping the heap ordered. */
static void s_heap_remove(tp_timers_t *t, size_t i) {
    tp_deadline_t *last = t->heap[--t->n];
    if (i == t->n)
        return;
    s_place(t, i, last);
    s_sift_down(t, i);
    s_sift_up(t, last->slot);
}

/* The index key is the owner's 4 bytes followed by the subject key, so two
 * rules can arm deadlines for the same call without colliding. */
static size_t s_make_key(char *buf, size_t cap, uint32_t owner, const char *key) {
    size_t len = strlen(key);
    if (len + sizeof owner + 1 > cap)
        return 0;
    memcpy(buf, &owner, sizeof owner);
    memcpy(buf + sizeof owner, key, len + 1);
    return sizeof owner + len;
}

static tp_deadline_t *s_find(const tp_timers_t *t, uint32_t owner, const char *key) {
    char buf[512];
    size_t len = s_make_key(buf, sizeof buf, owner, key);
    tp_deadline_t *d = NULL;
    if (len)
        HASH_FIND(hh, t->index, buf, len, d);
    return d;
}

int tp_timers_arm(tp_timers_t *t, uint32_t owner, const char *key, int64_t due_ms) {
    tp_deadline_t *d = s_find(t, owner, key);
    if (d) {
        /* Re-arming counts as arming now: it moves behind its equals. */
        d->due_ms = due_ms;
        d->armed = t->armed++;
        s_sift_up(t, d->slot);
        s_sift_down(t, d->slot);
        return 0;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        tp_deadline_t **heap = realloc(t->heap, cap * sizeof *heap);
        if (!heap)
            return -ENOMEM;
        t->heap = heap;
        t->cap = cap;
    }
    size_t klen = strlen(key);
    if (klen > 400)
        return -ENAMETOOLONG;
    d = malloc(sizeof *d + sizeof owner + klen + 1);
    if (!d)
        return -ENOMEM;
    d->due_ms = due_ms;
    d->armed = t->armed++;
    d->owner = owner;
    d->keylen = (uint32_t)(sizeof owner + klen);
    s_make_key(d->key, sizeof owner + klen + 1, owner, key);
    HASH_ADD(hh, t->index, key, d->keylen, d);
    t->heap[t->n] = d;
    d->slot = t->n++;
    s_sift_up(t, d->slot);
    return 0;
}

int tp_timers_cancel(tp_timers_t *t, uint32_t owner, const char *key) {
    tp_deadline_t *d = s_find(t, owner, key);
    if (!d)
        return 0;
    HASH_DELETE(hh, t->index, d);
    s_heap_remove(t, d->slot);
    free(d);
    return 1;
}

size_t tp_timers_cancel_owner(tp_timers_t *t, uint32_t owner) {
    /* Keep the others in place, then rebuild the heap bottom-up (O(n)):
     * removing one by one would move unvisited entries past the cursor. */
    size_t kept = 0, n = 0;
    for (size_t i = 0; i < t->n; i++) {
        tp_deadline_t *d = t->heap[i];
        if (d->owner == owner) {
            HASH_DELETE(hh, t->index, d);
            free(d);
            n++;
        } else {
            s_place(t, kept++, d);
        }
    }
    t->n = kept;
    for (size_t i = kept / 2; i-- > 0;)
        s_sift_down(t, i);
    return n;
}

int64_t tp_timers_due(const tp_timers_t *t, uint32_t owner, const char *key) {
    const tp_deadline_t *d = s_find(t, owner, key);
    return d ? d->due_ms : INT64_MIN;
}

int64_t tp_timers_next(const tp_timers_t *t) {
    return t->n ? t->heap[0]->due_ms : INT64_MAX;
}

tp_deadline_t *tp_timers_pop_due(tp_timers_t *t, int64_t now_ms) {
    if (t->n == 0 || !(now_ms > t->heap[0]->due_ms))
        return NULL;
    tp_deadline_t *d = t->heap[0];
    HASH_DELETE(hh, t->index, d);
    s_heap_remove(t, 0);
    return d;
}

size_t tp_timers_count(const tp_timers_t *t) {
    return t->n;
}

void tp_timers_destroy(tp_timers_t **p) {
    tp_timers_t *t = p ? *p : NULL;
    if (!t)
        return;
    HASH_CLEAR(hh, t->index);
    for (size_t i = 0; i < t->n; i++)
        free(t->heap[i]);
    free(t->heap);
    free(t);
    *p = NULL;
}
