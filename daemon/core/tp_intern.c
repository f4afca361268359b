/* tp_intern — see tp_intern.h. */
#include "tp_intern.h"

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
    size_t     n;
};

static s_entry_t *s_entry_of(const char *s) {
    return (s_entry_t *)(void *)((char *)(uintptr_t)s - offsetof(s_entry_t, s));
}

tp_intern_t *tp_intern_new(void) {
    return calloc(1, sizeof(tp_intern_t));
}

const char *tp_intern_get(tp_intern_t *in, const char *s) {
    if (!s)
        s = "";
    size_t len = strlen(s);
    s_entry_t *e;
    HASH_FIND(hh, in->table, s, len, e);
    if (!e) {
        if (!(e = malloc(sizeof *e + len + 1)))
            return NULL;
        e->refs = 0;
        memcpy(e->s, s, len + 1);
        HASH_ADD_KEYPTR(hh, in->table, e->s, len, e);
        in->n++;
    }
    e->refs++;
    return e->s;
}

void tp_intern_put(tp_intern_t *in, const char *s) {
    if (!s)
        return;
    s_entry_t *e = s_entry_of(s);
    if (--e->refs > 0)
        return;
    HASH_DEL(in->table, e);
    in->n--;
    free(e);
}

size_t tp_intern_count(const tp_intern_t *in) {
    return in->n;
}

void tp_intern_destroy(tp_intern_t **p) {
    tp_intern_t *in = p ? *p : NULL;
    if (!in)
        return;
    s_entry_t *e, *tmp;
    HASH_ITER(hh, in->table, e, tmp) {
        HASH_DEL(in->table, e);
        free(e);
    }
    free(in);
    *p = NULL;
}
