/* tp_rule_index — see tp_rule_index.h. */
#include "tp_rule_index.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tp_hash.h"

typedef tp_rule_index_head_t s_head_t;

static s_head_t *s_head(const void *rec) {
    return (s_head_t *)((const unsigned char *)rec - offsetof(s_head_t, payload));
}

int tp_rule_index_new(size_t payload_size, void (*clear)(void *rec), tp_rule_index_t **ret) {
    tp_rule_index_t *ix = calloc(1, sizeof *ix);
    if (!ix)
        return -ENOMEM;
    ix->payload_size = payload_size;
    ix->clear = clear;
    *ret = ix;
    return 0;
}

void *tp_rule_index_add(tp_rule_index_t *ix, const char *id) {
    size_t    len = strlen(id);
    s_head_t *h = calloc(1, sizeof *h + ix->payload_size + len + 1);
    if (!h)
        return NULL;
    char *copy = (char *)h->payload + ix->payload_size;
    memcpy(copy, id, len + 1);
    h->id = copy;
    HASH_ADD_KEYPTR(hh, ix->records, h->id, len, h);
    return h->payload;
}

static void s_free(tp_rule_index_t *ix, s_head_t *h) {
    HASH_DEL(ix->records, h);
    if (ix->clear)
        ix->clear(h->payload);
    free(h);
}

void tp_rule_index_drop(tp_rule_index_t *ix, void *rec) {
    s_free(ix, s_head(rec));
}

void tp_rule_index_destroy(tp_rule_index_t **p) {
    tp_rule_index_t *ix = p ? *p : NULL;
    if (!ix)
        return;
    s_head_t *h, *tmp;
    HASH_ITER(hh, ix->records, h, tmp) s_free(ix, h);
    free(ix);
    *p = NULL;
}

void tp_rule_index_free(void *ix) {
    tp_rule_index_t *p = ix;
    tp_rule_index_destroy(&p);
}

/* Snapshot: the records in insertion order (the order the table walks, so
 * anything a rule does record by record happens in the same order after a
 * restart), each its id then what the rule writes. */
void tp_rule_index_save(const tp_rule_index_t *ix, tp_snapw_t *w,
                        void (*save)(const void *rec, tp_snapw_t *w)) {
    tp_snapw_u64(w, HASH_COUNT(ix->records));
    for (const s_head_t *h = ix->records; h; h = h->hh.next) {
        tp_snapw_str(w, h->id);
        save(h->payload, w);
    }
}

int tp_rule_index_load(tp_rule_index_t *ix, tp_snapr_t                        *r,
                       int (*load)(void *rec, tp_snapr_t *r, void *arg), void *arg) {
    uint64_t n = 0;
    int      k = tp_snapr_u64(r, &n);
    for (uint64_t i = 0; k == 0 && i < n; i++) {
        char id[4096];
        if ((k = tp_snapr_strbuf(r, id, sizeof id)) != 0)
            return k < 0 ? k : -EBADMSG;
        void *rec = tp_rule_index_find(ix, id) ? NULL : tp_rule_index_add(ix, id);
        if (!rec)
            return tp_rule_index_find(ix, id) ? -EBADMSG : -ENOMEM;
        k = load(rec, r, arg);
    }
    return k < 0 ? k : tp_snapr_error(r);
}
