/* tp_intern — see tp_intern.h. */
#include "tp_intern.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tp_hash.h"

typedef struct {
    UT_hash_handle hh;
    uint32_t       refs;
    char           s[];
} s_entry_t;

struct tp_intern {
    s_entry_t *table;
};

static s_entry_t *s_entry_of(const char *s) {
    return (s_entry_t *)(void *)((char *)(uintptr_t)s - offsetof(s_entry_t, s));
}

int tp_intern_new(tp_intern_t **ret) {
    tp_intern_t *in = calloc(1, sizeof *in);
    if (!in)
        return -ENOMEM;
    *ret = in;
    return 0;
}

const char *tp_intern_get(tp_intern_t *in, const char *s) {
    if (!s)
        s = "";
    size_t     len = strlen(s);
    s_entry_t *e;
    HASH_FIND(hh, in->table, s, len, e);
    if (!e) {
        if (!(e = malloc(sizeof *e + len + 1)))
            return NULL;
        e->refs = 0;
        memcpy(e->s, s, len + 1);
        HASH_ADD_KEYPTR(hh, in->table, e->s, len, e);
    }
    e->refs++;
    return e->s;
}

void tp_intern_ref(const char *s, size_t n) {
    s_entry_of(s)->refs += (uint32_t)n;
}

void tp_intern_put(tp_intern_t *in, const char *s) {
    if (!s)
        return;
    s_entry_t *e = s_entry_of(s);
    if (--e->refs > 0)
        return;
    HASH_DEL(in->table, e);
    free(e);
}

size_t tp_intern_refs(const tp_intern_t *in, const char *s) {
    if (!s)
        s = "";
    const s_entry_t *e;
    HASH_FIND(hh, in->table, s, strlen(s), e);
    return e ? e->refs : 0;
}

size_t tp_intern_count(const tp_intern_t *in) {
    return HASH_COUNT(in->table);
}

void tp_intern_destroy(tp_intern_t **p) {
    tp_intern_t *in = p ? *p : NULL;
    if (!in)
        return;
    TP_HASH_FREE_ALL(in->table, s_entry_t);
    free(in);
    *p = NULL;
}
