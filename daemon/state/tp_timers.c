/* tp_timers — see tp_timers.h. */
#include "tp_timers.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tp_oa.h"

struct tp_timers {
    tp_timer_t **heap; /* heap[0] is the earliest */
    size_t       n;
    size_t       cap;
    tp_oa_t      index; /* keyed deadlines by s_hash(owner, key) */
    uint64_t     armed; /* arms so far: the next tie-breaker */
    bool unsorted;      /* a snapshot is loading: heap[] in file order until tp_timers_load_done */
};

/* Heap order: due time, then arming order (FIFO among equals). */
static bool s_before(const tp_timer_t *a, const tp_timer_t *b) {
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->armed < b->armed);
}

int tp_timers_new(tp_timers_t **ret) {
    tp_timers_t *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    *ret = t;
    return 0;
}

static void s_place(tp_timers_t *t, size_t i, tp_timer_t *tm) {
    t->heap[i] = tm;
    tm->slot = (uint32_t)i;
}

static void s_sift_up(tp_timers_t *t, size_t i) {
    tp_timer_t *tm = t->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!s_before(tm, t->heap[parent]))
            break;
        s_place(t, i, t->heap[parent]);
        i = parent;
    }
    s_place(t, i, tm);
}

static void s_sift_down(tp_timers_t *t, size_t i) {
    tp_timer_t *tm = t->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= t->n)
            break;
        if (c + 1 < t->n && s_before(t->heap[c + 1], t->heap[c]))
            c++;
        if (!s_before(t->heap[c], tm))
            break;
        s_place(t, i, t->heap[c]);
        i = c;
    }
    s_place(t, i, tm);
}

/* Takes heap slot i out, keeping the heap ordered. */
static void s_heap_remove(tp_timers_t *t, size_t i) {
    t->heap[i]->in_heap = 0;
    tp_timer_t *last = t->heap[--t->n];
    if (i == t->n)
        return;
    s_place(t, i, last);
    s_sift_down(t, i);
    s_sift_up(t, last->slot);
}

/* Room for one more in the heap. 0 or -ENOMEM. */
static int s_reserve(tp_timers_t *t) {
    if (t->n == UINT32_MAX)
        return -ENOMEM; /* slot is 32 bits */
    if (t->n < t->cap)
        return 0;
    size_t       cap = t->cap ? t->cap * 2 : 64;
    tp_timer_t **heap = realloc(t->heap, cap * sizeof *heap);
    if (!heap)
        return -ENOMEM;
    t->heap = heap;
    t->cap = cap;
    return 0;
}

/* Sets tm's due time and arming order, then puts it in (or moves it in)
 * the heap: re-arming counts as arming now, behind its equals. Room must
 * have been reserved for a timer not in the heap yet. */
static void s_set(tp_timers_t *t, tp_timer_t *tm, int64_t due_ms) {
    tm->due_ms = due_ms;
    tm->armed = t->armed++;
    if (tm->in_heap) {
        s_sift_up(t, tm->slot);
        s_sift_down(t, tm->slot);
        return;
    }
    tm->in_heap = 1;
    t->heap[t->n] = tm;
    tm->slot = (uint32_t)t->n++;
    s_sift_up(t, tm->slot);
}

/* A deadline's key is the owner's 4 bytes followed by the subject key, so
 * two rules can arm deadlines for the same call without colliding; its
 * index hash is the subject's XXH3 seeded with the owner, so a lookup
 * never assembles the key. */
static uint64_t s_hash(uint32_t owner, const char *key, size_t klen) {
    return XXH3_64bits_withSeed(key, klen, owner);
}

static tp_deadline_t *s_find_h(const tp_timers_t *t, uint32_t owner, const char *key, size_t klen,
                               uint64_t h) {
    for (tp_oa_slot_t *s = tp_oa_first(&t->index, h); s; s = tp_oa_next(&t->index, s, h)) {
        tp_deadline_t *d = s->item;
        if (d->timer.owner == owner && memcmp(tp_deadline_key(d), key, klen + 1) == 0)
            return d;
    }
    return NULL;
}

static tp_deadline_t *s_find(const tp_timers_t *t, uint32_t owner, const char *key) {
    if (!t->index.n)
        return NULL;
    size_t klen = strlen(key);
    return s_find_h(t, owner, key, klen, s_hash(owner, key, klen));
}

int tp_timers_arm(tp_timers_t *t, uint32_t owner, const char *key, int64_t due_ms) {
    size_t         klen = strlen(key);
    uint64_t       h = s_hash(owner, key, klen);
    tp_deadline_t *d = t->index.n ? s_find_h(t, owner, key, klen, h) : NULL;
    if (d) {
        s_set(t, &d->timer, due_ms);
        return 0;
    }
    if (klen > 400)
        return -ENAMETOOLONG;
    if (owner > TP_TIMER_OWNER_MAX || s_reserve(t) < 0)
        return -ENOMEM;
    d = malloc(sizeof *d + sizeof owner + klen + 1);
    if (!d)
        return -ENOMEM;
    d->hash = h;
    d->timer = (tp_timer_t){ .owner = owner & TP_TIMER_OWNER_MAX, .keyed = 1 };
    memcpy(d->key, &owner, sizeof owner);
    memcpy(d->key + sizeof owner, key, klen + 1);
    if (tp_oa_put(&t->index, h, d) < 0) {
        free(d);
        return -ENOMEM;
    }
    s_set(t, &d->timer, due_ms);
    return 0;
}

int tp_timers_arm_timer(tp_timers_t *t, tp_timer_t *tm, uint32_t owner, int64_t due_ms) {
    if (owner > TP_TIMER_OWNER_MAX || (!tm->in_heap && s_reserve(t) < 0))
        return -ENOMEM;
    tm->owner = owner & TP_TIMER_OWNER_MAX;
    tm->keyed = 0;
    s_set(t, tm, due_ms);
    return 0;
}

void tp_timers_cancel_timer(tp_timers_t *t, tp_timer_t *tm) {
    if (tm->in_heap)
        s_heap_remove(t, tm->slot);
}

int tp_timers_cancel(tp_timers_t *t, uint32_t owner, const char *key) {
    tp_deadline_t *d = s_find(t, owner, key);
    if (!d)
        return 0;
    tp_oa_remove_item(&t->index, d->hash, d);
    s_heap_remove(t, d->timer.slot);
    free(d);
    return 1;
}

size_t tp_timers_cancel_owner(tp_timers_t *t, uint32_t owner) {
    /* Keep the others in place, then rebuild the heap bottom-up (O(n)):
     * removing one by one would move unvisited entries past the cursor. */
    size_t kept = 0, n = 0;
    for (size_t i = 0; i < t->n; i++) {
        tp_timer_t *tm = t->heap[i];
        if (tm->owner != owner) {
            s_place(t, kept++, tm);
            continue;
        }
        tm->in_heap = 0;
        tp_deadline_t *d = tp_deadline_of(tm);
        if (d) {
            tp_oa_remove_item(&t->index, d->hash, d);
            free(d);
        }
        n++;
    }
    t->n = kept;
    for (size_t i = kept / 2; i-- > 0;)
        s_sift_down(t, i);
    return n;
}

long tp_timers_move_owners(tp_timers_t *t, uint32_t lo, size_t n, const uint32_t *to) {
    /* The index may hold two entries with one (owner, key) for a moment
     * (one moved there, one not yet moved away): it compares items, not
     * keys, on removal. Due times and arming order stay, so the heap only
     * closes the gaps the dropped ones leave. */
    size_t kept = 0;
    long   dropped = 0;
    int    r = 0;
    for (size_t i = 0; i < t->n; i++) {
        tp_timer_t    *tm = t->heap[i];
        tp_deadline_t *d = tp_deadline_of(tm);
        if (!d || tm->owner < lo || tm->owner - lo >= n) {
            s_place(t, kept++, tm);
            continue;
        }
        uint32_t owner = to[tm->owner - lo];
        tp_oa_remove_item(&t->index, d->hash, d);
        if (owner <= TP_TIMER_OWNER_MAX) {
            const char *key = tp_deadline_key(d);
            tm->owner = owner;
            memcpy(d->key, &owner, sizeof owner);
            d->hash = s_hash(owner, key, strlen(key));
            if (tp_oa_put(&t->index, d->hash, d) == 0) { /* one slot was just freed */
                s_place(t, kept++, tm);
                continue;
            }
            r = -ENOMEM;
        }
        tm->in_heap = 0;
        free(d);
        dropped++;
    }
    t->n = kept;
    for (size_t i = kept / 2; i-- > 0;)
        s_sift_down(t, i);
    return r < 0 ? r : dropped;
}

int64_t tp_timers_due(const tp_timers_t *t, uint32_t owner, const char *key) {
    const tp_deadline_t *d = s_find(t, owner, key);
    return d ? d->timer.due_ms : INT64_MIN;
}

int64_t tp_timers_next(const tp_timers_t *t) {
    return t->n ? t->heap[0]->due_ms : INT64_MAX;
}

tp_timer_t *tp_timers_pop(tp_timers_t *t, int64_t now_ms) {
    if (t->n == 0 || !(now_ms > t->heap[0]->due_ms))
        return NULL;
    tp_timer_t    *tm = t->heap[0];
    tp_deadline_t *d = tp_deadline_of(tm);
    if (d)
        tp_oa_remove_item(&t->index, d->hash, d);
    s_heap_remove(t, 0);
    return tm;
}

size_t tp_timers_count(const tp_timers_t *t) {
    return t->n;
}

void tp_timers_destroy(tp_timers_t **p) {
    tp_timers_t *t = p ? *p : NULL;
    if (!t)
        return;
    /* Embedded timers belong to their records: the engine destroys the
     * timers before the state and the cases they are part of. */
    tp_oa_clear(&t->index);
    for (size_t i = 0; i < t->n; i++) {
        t->heap[i]->in_heap = 0;
        free(tp_deadline_of(t->heap[i]));
    }
    free(t->heap);
    free(t);
    *p = NULL;
}

/* Snapshot: the arming counter and every keyed deadline with its due time
 * and arming order, so deadlines due at the same instant still fire in
 * the order they were armed before the restart. Embedded timers are saved
 * by their records (tp_timers_save_timer / tp_timers_load_timer). */
#define TIMERS_SNAP_VERSION 1

/* Room for n more in the heap at once. 0 or -ENOMEM. */
static int s_reserve_n(tp_timers_t *t, uint64_t n) {
    if (n > UINT32_MAX - t->n)
        return -ENOMEM; /* slot is 32 bits */
    if (t->n + n <= t->cap)
        return 0;
    tp_timer_t **heap = realloc(t->heap, (t->n + n) * sizeof *heap);
    if (!heap)
        return -ENOMEM;
    t->heap = heap;
    t->cap = t->n + n;
    return 0;
}

/* A loaded timer with its saved due time and arming order, at the end of
 * the heap: tp_timers_load_done orders them all in one O(n) heapify, where
 * a sift-up per timer cost O(log n) cache misses each. The order (due time,
 * then arming order) is total, so the heap pops exactly as before. */
static int s_load_append(tp_timers_t *t, tp_timer_t *tm, int64_t due, uint64_t armed) {
    if (s_reserve(t) < 0)
        return -ENOMEM;
    tm->due_ms = due;
    tm->armed = armed;
    tm->in_heap = 1;
    s_place(t, t->n++, tm);
    return 0;
}

void tp_timers_save(const tp_timers_t *t, tp_snapw_t *w) {
    tp_snapw_section(w, TP_SNAP_TAG('T', 'I', 'M', 'R'), TIMERS_SNAP_VERSION);
    tp_snapw_u64(w, t->armed);
    tp_snapw_u64(w, t->index.n);
    for (size_t i = 0; i < t->n; i++) {
        const tp_timer_t *tm = t->heap[i];
        if (!tm->keyed)
            continue;
        const tp_deadline_t *d = tp_deadline_of((tp_timer_t *)tm);
        tp_snapw_u64(w, tm->owner);
        tp_snapw_str(w, tp_deadline_key(d));
        tp_snapw_i64(w, tm->due_ms);
        tp_snapw_u64(w, tm->armed);
    }
}

int tp_timers_load(tp_timers_t *t, tp_snapr_t *r) {
    uint64_t armed = 0, n = 0;
    int      k = tp_snapr_section(r, TP_SNAP_TAG('T', 'I', 'M', 'R'), TIMERS_SNAP_VERSION, NULL);
    if (k < 0 || (k = tp_snapr_u64(r, &armed)) < 0 || (k = tp_snapr_u64(r, &n)) < 0)
        return k;
    /* Sized once: the count is in the file (a corrupt one fails here). */
    if ((k = s_reserve_n(t, n)) < 0 || (k = tp_oa_reserve(&t->index, t->index.n + n)) < 0)
        return k;
    t->unsorted = true;
    for (uint64_t i = 0; i < n; i++) {
        char     key[512];
        uint64_t owner = 0, at = 0;
        int64_t  due = 0;
        if ((k = tp_snapr_u64(r, &owner)) < 0 || (k = tp_snapr_strbuf(r, key, sizeof key)) < 0 ||
            (k = tp_snapr_i64(r, &due)) < 0 || (k = tp_snapr_u64(r, &at)) < 0)
            return k;
        if (owner > TP_TIMER_OWNER_MAX)
            return -EBADMSG;
        /* Keys are unique in what was saved (the index held each once): no
         * lookup before adding. */
        uint32_t       o = (uint32_t)owner;
        size_t         klen = strlen(key);
        tp_deadline_t *d = malloc(sizeof *d + sizeof o + klen + 1);
        if (!d)
            return -ENOMEM;
        d->hash = s_hash(o, key, klen);
        d->timer = (tp_timer_t){ .owner = o, .keyed = 1 };
        memcpy(d->key, &o, sizeof o);
        memcpy(d->key + sizeof o, key, klen + 1);
        if (tp_oa_put(&t->index, d->hash, d) < 0) {
            free(d);
            return -ENOMEM;
        }
        s_load_append(t, &d->timer, due, at); /* room reserved above */
        if (at >= t->armed)
            t->armed = at + 1;
    }
    if (armed > t->armed)
        t->armed = armed;
    return 0;
}

void tp_timers_load_done(tp_timers_t *t) {
    if (!t->unsorted)
        return;
    t->unsorted = false;
    for (size_t i = t->n / 2; i-- > 0;)
        s_sift_down(t, i);
}

void tp_timers_save_timer(const tp_timer_t *tm, tp_snapw_t *w) {
    tp_snapw_bool(w, tm->in_heap);
    if (!tm->in_heap)
        return;
    tp_snapw_u64(w, tm->owner);
    tp_snapw_i64(w, tm->due_ms);
    tp_snapw_u64(w, tm->armed);
}

int tp_timers_load_timer(tp_timers_t *t, tp_timer_t *tm, tp_snapr_t *r) {
    bool     in = false;
    uint64_t owner = 0, at = 0;
    int64_t  due = 0;
    int      k = tp_snapr_bool(r, &in);
    if (k < 0 || !in)
        return k;
    if ((k = tp_snapr_u64(r, &owner)) < 0 || (k = tp_snapr_i64(r, &due)) < 0 ||
        (k = tp_snapr_u64(r, &at)) < 0)
        return k;
    if (owner > TP_TIMER_OWNER_MAX)
        return -EBADMSG;
    tm->owner = (uint32_t)owner;
    tm->keyed = 0;
    if (t->unsorted) {
        if ((k = s_load_append(t, tm, due, at)) < 0)
            return k;
    } else {
        if ((k = tp_timers_arm_timer(t, tm, (uint32_t)owner, due)) < 0)
            return k;
        tm->armed = at; /* its saved arming order, and its place again */
        s_sift_up(t, tm->slot);
        s_sift_down(t, tm->slot);
    }
    if (at >= t->armed)
        t->armed = at + 1;
    return 0;
}
