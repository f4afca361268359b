/* tp_call_list — see tp_call_list.h. */
#include "tp_call_list.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int tp_call_list_find(const tp_call_list_t *l, const char *call_id) {
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].call_id, call_id) == 0)
            return (int)i;
    return -1;
}

void tp_call_list_remove(tp_call_list_t *l, size_t i) {
    free(l->v[i].call_id);
    memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof l->v[0]);
    l->n--;
}

static int s_insert(tp_call_list_t *l, const tp_call_t *call) {
    size_t at = l->n;
    while (at > 0 && l->v[at - 1].call_at_ms > call->call_at_ms)
        at--;
    if (l->n == l->max) {
        if (at == 0)
            return 0;
        tp_call_list_remove(l, 0);
        at--;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2u * l->cap : 4u;
        if (cap > l->max)
            cap = l->max;
        tp_call_ref_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = (uint8_t)cap;
    }
    size_t idlen = strlen(call->call_id);
    size_t replen = l->reps && call->rep_id ? strlen(call->rep_id) : 0;
    char  *ids = malloc(idlen + 1 + replen + 1);
    if (!ids)
        return -ENOMEM;
    memcpy(ids, call->call_id, idlen + 1);
    ids[idlen + 1] = '\0';
    if (replen)
        memcpy(ids + idlen + 1, call->rep_id, replen + 1);
    memmove(&l->v[at + 1], &l->v[at], (l->n - at) * sizeof l->v[0]);
    l->v[at] = (tp_call_ref_t){ .call_at_ms = call->call_at_ms,
                                .call_id = ids,
                                .rep_id = ids + idlen + 1,
                                .channel = call->channel };
    l->n++;
    return 0;
}

int tp_call_list_put(tp_call_list_t *l, const tp_call_t *call, int i) {
    if (i < 0)
        return s_insert(l, call);
    tp_call_ref_t e = l->v[i];
    const char   *rep = l->reps && call->rep_id ? call->rep_id : "";
    if (strcmp(e.rep_id, rep) != 0) { /* the correction names another rep */
        tp_call_list_remove(l, (size_t)i);
        return s_insert(l, call);
    }
    /* Corrections are most of the traffic: move the entry, keep its copy. */
    memmove(&l->v[i], &l->v[i + 1], (l->n - (size_t)i - 1) * sizeof l->v[0]);
    l->n--;
    size_t at = l->n;
    while (at > 0 && l->v[at - 1].call_at_ms > call->call_at_ms)
        at--;
    memmove(&l->v[at + 1], &l->v[at], (l->n - at) * sizeof l->v[0]);
    e.call_at_ms = call->call_at_ms;
    e.channel = call->channel;
    l->v[at] = e;
    l->n++;
    return 0;
}

void tp_call_list_clear(tp_call_list_t *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].call_id);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

void tp_call_list_save(const tp_call_list_t *l, tp_snapw_t *w) {
    tp_snapw_u64(w, l->n);
    for (size_t i = 0; i < l->n; i++) {
        tp_snapw_i64(w, l->v[i].call_at_ms);
        tp_snapw_str(w, l->v[i].call_id);
        tp_snapw_str(w, l->v[i].rep_id);
        tp_snapw_u64(w, l->v[i].channel);
    }
}

int tp_call_list_load(tp_call_list_t *l, tp_snapr_t *r) {
    uint64_t n = 0;
    int      k = tp_snapr_u64(r, &n);
    for (uint64_t i = 0; k == 0 && i < n; i++) {
        char     id[4096], rep[4096];
        int64_t  at = 0;
        uint64_t channel = 0;
        if ((k = tp_snapr_i64(r, &at)) < 0 || (k = tp_snapr_strbuf(r, id, sizeof id)) < 0 ||
            (k = tp_snapr_strbuf(r, rep, sizeof rep)) < 0 || (k = tp_snapr_u64(r, &channel)) < 0)
            return k;
        k = 0;
        if (l->max == 0)
            continue;
        if (l->n == l->max)
            tp_call_list_remove(l, 0);
        if (l->n == l->cap) {
            size_t         cap = l->cap ? 2u * l->cap : 4u;
            tp_call_ref_t *v;
            if (cap > l->max)
                cap = l->max;
            if (!(v = realloc(l->v, cap * sizeof *v)))
                return -ENOMEM;
            l->v = v;
            l->cap = (uint8_t)cap;
        }
        size_t idlen = strlen(id), replen = l->reps ? strlen(rep) : 0;
        char  *ids = malloc(idlen + 1 + replen + 1);
        if (!ids)
            return -ENOMEM;
        memcpy(ids, id, idlen + 1);
        memcpy(ids + idlen + 1, rep, replen);
        ids[idlen + 1 + replen] = '\0';
        l->v[l->n++] = (tp_call_ref_t){
            .call_at_ms = at, .call_id = ids, .rep_id = ids + idlen + 1, .channel = (uint8_t)channel
        };
    }
    return k;
}
