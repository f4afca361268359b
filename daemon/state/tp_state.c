/* tp_state — see tp_state.h. */
#include "tp_state.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tp_config.h"
#include "tp_intern.h"
#include "tp_oa.h"

struct tp_state {
    tp_oa_t      calls;   /* tp_call_t by XXH3 of call_id */
    tp_intern_t *strings; /* hcp, rep, account, territory: shared by many calls */
};

int tp_state_new(tp_state_t **ret) {
    tp_state_t *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    int r = tp_intern_new(&s->strings);
    if (r < 0) {
        tp_state_destroy(&s);
        return r;
    }
    *ret = s;
    return 0;
}

static bool s_blank(const char *s) {
    if (!s)
        return true;
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

static bool s_list_has_data(char *const *items, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!s_blank(items[i]))
            return true;
    return false;
}

unsigned tp_call_present_fields(const Touchpoint__V1__CallLogged *c) {
    unsigned m = 0;
    if (s_list_has_data(c->products, c->n_products))
        m |= TP_FIELD_PRODUCTS;
    if (s_list_has_data(c->topics, c->n_topics))
        m |= TP_FIELD_TOPICS;
    if (!s_blank(c->notes))
        m |= TP_FIELD_NOTES;
    if (!s_blank(c->next_step))
        m |= TP_FIELD_NEXT_STEP;
    if (s_list_has_data(c->attendees, c->n_attendees))
        m |= TP_FIELD_ATTENDEES;
    if (!s_blank(c->account_id))
        m |= TP_FIELD_ACCOUNT_ID;
    if (!s_blank(c->territory))
        m |= TP_FIELD_TERRITORY;
    return m;
}

/* Copies the version's event id into the call, in the buffer it has when
 * that is large enough: every version of a call has a new event id, and a
 * strdup/free per event was most of the engine's mallocs. Keeps the old
 * one on ENOMEM. */
static int s_set_event_id(tp_call_t *call, const char *src) {
    if (!src)
        src = "";
    size_t len = strlen(src);
    if (len + 1 > call->event_id_cap) {
        /* What the allocator hands out anyway (glibc: 16-byte steps, 8 of
         * them its header), so a slightly longer id still fits, at no cost
         * in bytes per open call. */
        size_t cap = ((len + 1 + 8 + 15) & ~(size_t)15) - 8;
        char  *copy = cap <= UINT16_MAX ? malloc(cap) : NULL;
        if (!copy)
            return -ENOMEM;
        free(call->event_id);
        call->event_id = copy;
        call->event_id_cap = (uint16_t)cap;
    }
    memcpy(call->event_id, src, len + 1);
    return 0;
}

/* Points *dst at the shared copy of src; keeps *dst on ENOMEM. */
static int s_share(tp_intern_t *in, const char **dst, const char *src) {
    if (*dst && strcmp(*dst, src ? src : "") == 0)
        return 0;
    const char *copy = tp_intern_get(in, src);
    if (!copy)
        return -ENOMEM;
    tp_intern_put(in, *dst);
    *dst = copy;
    return 0;
}

static void s_call_free(tp_state_t *s, tp_call_t *call) {
    tp_intern_put(s->strings, call->hcp_id);
    tp_intern_put(s->strings, call->rep_id);
    tp_intern_put(s->strings, call->account_id);
    tp_intern_put(s->strings, call->territory);
    free(call->event_id);
    free(call);
}

/* A version is stale if it is older than the one held, or if it would
 * take a SUBMITTED call back to PLANNED/SAVED: CRMs lock a call once it is
 * submitted, so such a version is a late echo of the draft (producers'
 * clocks disagree), not a reopening. */
static bool s_is_stale(const tp_call_t *held, const Touchpoint__V1__CallLogged *c,
                       int64_t version_ms) {
    if (version_ms < held->version_ms)
        return true;
    return held->status == TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED &&
           (c->status == TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_PLANNED ||
            c->status == TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SAVED);
}

int tp_state_apply_call(tp_state_t *s, const Touchpoint__V1__CallLogged *c, const char *event_id,
                        int64_t version_ms, tp_call_t **ret_call) {
    tp_call_t *call = tp_state_find_call(s, c->call_id);
    bool       created = false;
    if (call && s_is_stale(call, c, version_ms)) {
        *ret_call = call;
        return 0;
    }
    if (!call) {
        size_t len = strlen(c->call_id);
        call = calloc(1, sizeof *call + len + 1);
        if (!call)
            return -ENOMEM;
        memcpy(call->call_id, c->call_id, len + 1);
        created = true;
    }
    if (s_share(s->strings, &call->hcp_id, c->hcp_id) < 0 ||
        s_share(s->strings, &call->rep_id, c->rep_id) < 0 ||
        s_share(s->strings, &call->account_id, c->account_id) < 0 ||
        s_share(s->strings, &call->territory, c->territory) < 0 ||
        s_set_event_id(call, event_id) < 0) {
        if (created)
            s_call_free(s, call);
        return -ENOMEM;
    }
    call->version_ms = version_ms;
    call->call_at_ms = c->call_at_ms;
    call->submitted_at_ms = c->submitted_at_ms;
    call->status = (uint8_t)c->status;
    call->channel = (uint8_t)c->channel;
    call->present = (uint16_t)tp_call_present_fields(c);
    /* "First SUBMITTED" is a fact of the call, not of one observer: it
     * survives a rebuild, so a correction is never taken for a submission. */
    bool submitted = c->status == TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED;
    call->first_submitted = submitted && !call->ever_submitted;
    call->ever_submitted |= submitted;
    if (created) {
        call->hash = XXH3_64bits(call->call_id, strlen(call->call_id));
        if (tp_oa_put(&s->calls, call->hash, call) < 0) {
            s_call_free(s, call);
            return -ENOMEM;
        }
    }
    *ret_call = call;
    return 1;
}

tp_call_t *tp_state_find_call(tp_state_t *s, const char *call_id) {
    if (!s->calls.n)
        return NULL;
    size_t   len = strlen(call_id);
    uint64_t h = XXH3_64bits(call_id, len);
    for (tp_oa_slot_t *sl = tp_oa_first(&s->calls, h); sl; sl = tp_oa_next(&s->calls, sl, h)) {
        tp_call_t *call = sl->item;
        if (memcmp(call->call_id, call_id, len + 1) == 0)
            return call;
    }
    return NULL;
}

void tp_state_forget_call(tp_state_t *s, tp_call_t *call) {
    tp_oa_remove_item(&s->calls, call->hash, call);
    s_call_free(s, call);
}

size_t tp_state_calls(const tp_state_t *s) {
    return s->calls.n;
}

void tp_state_destroy(tp_state_t **p) {
    tp_state_t *s = p ? *p : NULL;
    if (!s)
        return;
    for (size_t i = 0; s->calls.slots && i <= s->calls.mask; i++)
        if (s->calls.slots[i].item)
            s_call_free(s, s->calls.slots[i].item);
    tp_oa_clear(&s->calls);
    tp_intern_destroy(&s->strings);
    free(s);
    *p = NULL;
}

/* Snapshot: every call with the version held and its retention deadline
 * (the timer lives in the record, so it is saved here).
 *
 * Version 2 writes the shared strings (HCP, rep, account, territory) once,
 * in a table ahead of the calls, and each call names them by index: a
 * million calls name a few tens of thousands of distinct strings, and
 * interning them again call by call (a hash lookup each, four per call)
 * was a third of the load. Version 1 (each call's strings inline) still
 * loads. */
#define CALLS_SNAP_VERSION 2
#define ID_MAX             4096 /* longer than any id the codec accepts */
#define N_SHARED           4

static void s_shared_of(const tp_call_t *c, const char *ret[N_SHARED]) {
    ret[0] = c->hcp_id;
    ret[1] = c->rep_id;
    ret[2] = c->account_id;
    ret[3] = c->territory;
}

/* The table being written: distinct pointers (interned strings are equal
 * exactly when their pointers are), found by a hash of the pointer. */
typedef struct {
    tp_oa_t      ix; /* item: index + 1 */
    const char **v;
    size_t       n, cap;
} s_strtab_t;

static uint64_t s_ptr_hash(const char *p) {
    uintptr_t v = (uintptr_t)p;
    return XXH3_64bits(&v, sizeof v);
}

/* The index of p in the table, added if new; SIZE_MAX on ENOMEM. */
static size_t s_strtab_index(s_strtab_t *t, const char *p) {
    uint64_t h = s_ptr_hash(p);
    for (tp_oa_slot_t *sl = tp_oa_first(&t->ix, h); sl; sl = tp_oa_next(&t->ix, sl, h))
        if (t->v[(uintptr_t)sl->item - 1] == p)
            return (uintptr_t)sl->item - 1;
    if (t->n == t->cap) {
        size_t       cap = t->cap ? 2 * t->cap : 1024;
        const char **v = realloc(t->v, cap * sizeof *v);
        if (!v)
            return SIZE_MAX;
        t->v = v;
        t->cap = cap;
    }
    if (tp_oa_put(&t->ix, h, (void *)(uintptr_t)(t->n + 1)) < 0)
        return SIZE_MAX;
    t->v[t->n] = p;
    return t->n++;
}

void tp_state_save(const tp_state_t *s, tp_snapw_t *w) {
    s_strtab_t  t = { 0 };
    const char *sh[N_SHARED];
    int         r = 0;
    for (size_t i = 0; r == 0 && s->calls.slots && i <= s->calls.mask; i++) {
        const tp_call_t *c = s->calls.slots[i].item;
        if (!c)
            continue;
        s_shared_of(c, sh);
        for (size_t f = 0; f < N_SHARED; f++)
            if (s_strtab_index(&t, sh[f]) == SIZE_MAX)
                r = -ENOMEM;
    }
    tp_snapw_section(w, TP_SNAP_TAG('C', 'A', 'L', 'L'), CALLS_SNAP_VERSION);
    if (r < 0) {
        tp_snapw_fail(w, r);
        goto out;
    }
    tp_snapw_u64(w, t.n);
    for (size_t i = 0; i < t.n; i++)
        tp_snapw_str(w, t.v[i]);
    tp_snapw_u64(w, s->calls.n);
    for (size_t i = 0; s->calls.slots && i <= s->calls.mask; i++) {
        const tp_call_t *c = s->calls.slots[i].item;
        if (!c)
            continue;
        tp_snapw_str(w, c->call_id);
        tp_snapw_i64(w, c->version_ms);
        tp_snapw_i64(w, c->call_at_ms);
        tp_snapw_i64(w, c->submitted_at_ms);
        tp_snapw_u64(w, c->status);
        tp_snapw_u64(w, c->channel);
        tp_snapw_u64(w, c->present);
        tp_snapw_bool(w, c->ever_submitted);
        tp_snapw_bool(w, c->first_submitted);
        s_shared_of(c, sh);
        for (size_t f = 0; f < N_SHARED; f++)
            tp_snapw_u64(w, s_strtab_index(&t, sh[f])); /* all found: no allocation */
        tp_snapw_str(w, c->event_id);
        tp_timers_save_timer(&c->retention, w);
    }
out:
    tp_oa_clear(&t.ix);
    free(t.v);
}

/* One shared string of a call: by index into the table (version 2), or
 * inline (version 1). */
/* A string of the table being loaded and the references the calls loaded
 * so far hold to it (given to the intern table at the end, in one go). */
typedef struct {
    const char *s;
    size_t      refs;
} s_shared_t;

static int s_load_shared(tp_state_t *s, tp_snapr_t *r, bool by_index, s_shared_t *tab, uint64_t nt,
                         const char **dst) {
    if (by_index) {
        uint64_t i = 0;
        int      k = tp_snapr_u64(r, &i);
        if (k < 0)
            return k;
        if (i >= nt)
            return -EBADMSG;
        *dst = tab[i].s;
        tab[i].refs++;
        return 0;
    }
    char str[ID_MAX];
    int  k = tp_snapr_strbuf(r, str, sizeof str);
    return k < 0 ? k : s_share(s->strings, dst, str);
}

/* The table of version 2 into *ret (NULL if empty), each string interned
 * once and holding one reference until s_put_table. */
static int s_load_table(tp_state_t *s, tp_snapr_t *r, s_shared_t **ret, uint64_t *ret_n) {
    uint64_t n = 0;
    int      k = tp_snapr_u64(r, &n);
    if (k < 0)
        return k;
    if (n > (1u << 28))
        return -EBADMSG;
    s_shared_t *tab = n ? calloc((size_t)n, sizeof *tab) : NULL;
    if (n && !tab)
        return -ENOMEM;
    *ret = tab;
    *ret_n = n;
    for (uint64_t i = 0; i < n; i++) {
        char str[ID_MAX];
        if ((k = tp_snapr_strbuf(r, str, sizeof str)) < 0)
            return k;
        if (!(tab[i].s = tp_intern_get(s->strings, str)))
            return -ENOMEM;
    }
    return 0;
}

/* The calls' references in, the table's own out (every string of the
 * table had a call, so none goes). */
static void s_flush_refs(s_shared_t *tab, uint64_t n) {
    for (uint64_t i = 0; tab && i < n && tab[i].s; i++) {
        tp_intern_ref(tab[i].s, tab[i].refs);
        tab[i].refs = 0;
    }
}

static void s_put_table(tp_state_t *s, s_shared_t *tab, uint64_t n) {
    s_flush_refs(tab, n);
    for (uint64_t i = 0; tab && i < n && tab[i].s; i++)
        tp_intern_put(s->strings, tab[i].s);
    free(tab);
}

int tp_state_load(tp_state_t *s, tp_timers_t *t, tp_snapr_t *r) {
    uint64_t    n = 0, nt = 0;
    uint32_t    version = 0;
    s_shared_t *tab = NULL;
    int k = tp_snapr_section(r, TP_SNAP_TAG('C', 'A', 'L', 'L'), CALLS_SNAP_VERSION, &version);
    if (k < 0)
        return k;
    if (version >= 2 && (k = s_load_table(s, r, &tab, &nt)) < 0)
        goto out;
    if ((k = tp_snapr_u64(r, &n)) < 0)
        goto out;
    /* Sized once (a count beyond what the file can hold fails here). */
    if (n > (1u << 30) || (k = tp_oa_reserve(&s->calls, s->calls.n + n)) < 0) {
        k = k < 0 ? k : -EBADMSG;
        goto out;
    }
    for (uint64_t i = 0; i < n; i++) {
        char     id[ID_MAX], str[ID_MAX];
        uint64_t status = 0, channel = 0, present = 0;
        if ((k = tp_snapr_strbuf(r, id, sizeof id)) < 0)
            goto out;
        size_t     len = strlen(id);
        tp_call_t *c = calloc(1, sizeof *c + len + 1);
        if (!c) {
            k = -ENOMEM;
            goto out;
        }
        memcpy(c->call_id, id, len + 1);
        tp_snapr_i64(r, &c->version_ms);
        tp_snapr_i64(r, &c->call_at_ms);
        tp_snapr_i64(r, &c->submitted_at_ms);
        tp_snapr_u64(r, &status);
        tp_snapr_u64(r, &channel);
        tp_snapr_u64(r, &present);
        tp_snapr_bool(r, &c->ever_submitted);
        tp_snapr_bool(r, &c->first_submitted);
        c->status = (uint8_t)status;
        c->channel = (uint8_t)channel;
        c->present = (uint16_t)present;
        const char **shared[N_SHARED] = { &c->hcp_id, &c->rep_id, &c->account_id, &c->territory };
        k = tp_snapr_error(r);
        for (size_t f = 0; f < N_SHARED && k >= 0; f++)
            k = s_load_shared(s, r, version >= 2, tab, nt, shared[f]);
        if (k >= 0 && (k = tp_snapr_strbuf(r, str, sizeof str)) >= 0)
            k = s_set_event_id(c, str);
        if (k >= 0 && (k = tp_snapr_error(r)) == 0) {
            c->hash = XXH3_64bits(c->call_id, len);
            k = tp_oa_put(&s->calls, c->hash, c);
        }
        if (k < 0) {
            s_flush_refs(tab, nt); /* the references c drops must be in first */
            s_call_free(s, c);
            goto out;
        }
        /* In the index now: freed with the state if its timer fails. */
        if ((k = tp_timers_load_timer(t, &c->retention, r)) < 0)
            goto out;
    }
    k = tp_snapr_error(r);
out:
    s_put_table(s, tab, nt);
    return k;
}
