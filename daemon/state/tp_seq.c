/* tp_seq — see tp_seq.h. */
#include "tp_seq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "tp_hash.h"

typedef struct {
    UT_hash_handle hh;
    uint64_t       last; /* highest sequence seen */
    char           source[];
} s_source_t;

struct tp_seq {
    s_source_t *sources;
    size_t      max;
};

int tp_seq_new(size_t max_sources, tp_seq_t **ret) {
    tp_seq_t *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->max = max_sources;
    *ret = s;
    return 0;
}

int tp_seq_observe(tp_seq_t *s, const char *source, uint64_t seq, uint64_t *ret_missing) {
    if (ret_missing)
        *ret_missing = 0;
    if (seq == 0)
        return TP_SEQ_UNSEQUENCED;
    s_source_t *e;
    size_t      len = strlen(source);
    HASH_FIND(hh, s->sources, source, len, e);
    if (!e) {
        if (HASH_COUNT(s->sources) >= s->max)
            return TP_SEQ_FULL;
        e = malloc(sizeof *e + len + 1);
        if (!e)
            return -ENOMEM;
        memcpy(e->source, source, len + 1);
        e->last = seq;
        HASH_ADD_KEYPTR(hh, s->sources, e->source, len, e);
        return TP_SEQ_OK;
    }
    if (seq == e->last + 1) {
        e->last = seq;
        return TP_SEQ_OK;
    }
    if (seq > e->last) {
        if (ret_missing)
            *ret_missing = seq - e->last - 1;
        e->last = seq;
        return TP_SEQ_GAP;
    }
    if (seq == 1) {
        e->last = 1;
        return TP_SEQ_RESTART;
    }
    return TP_SEQ_REGRESSION;
}

uint64_t tp_seq_last(const tp_seq_t *s, const char *source) {
    s_source_t *e;
    HASH_FIND(hh, s->sources, source, strlen(source), e);
    return e ? e->last : 0;
}

size_t tp_seq_sources(const tp_seq_t *s) {
    return HASH_COUNT(s->sources);
}

void tp_seq_destroy(tp_seq_t **p) {
    tp_seq_t *s = p ? *p : NULL;
    if (!s)
        return;
    TP_HASH_FREE_ALL(s->sources, s_source_t);
    free(s);
    *p = NULL;
}

/* Snapshot: each source's last sequence. */
#define SEQ_SNAP_VERSION 1

void tp_seq_save(const tp_seq_t *s, tp_snapw_t *w) {
    tp_snapw_section(w, TP_SNAP_TAG('S', 'E', 'Q', 'S'), SEQ_SNAP_VERSION);
    tp_snapw_u64(w, HASH_COUNT(s->sources));
    for (const s_source_t *e = s->sources; e; e = e->hh.next) {
        tp_snapw_bytes(w, e->source, strlen(e->source));
        tp_snapw_u64(w, e->last);
    }
}

int tp_seq_load(tp_seq_t *s, tp_snapr_t *r) {
    uint64_t n = 0;
    int      k = tp_snapr_section(r, TP_SNAP_TAG('S', 'E', 'Q', 'S'), SEQ_SNAP_VERSION, NULL);
    if (k < 0 || (k = tp_snapr_u64(r, &n)) < 0)
        return k;
    for (uint64_t i = 0; i < n; i++) {
        /* A view is valid only until the reader's next call: copied
         * before the sequence after it is read (a refill between the two
         * read back a corrupt source name). */
        char        src[1024];
        const void *view;
        size_t      len;
        uint64_t    last;
        if ((k = tp_snapr_bytes(r, sizeof src, &view, &len)) < 0)
            return k;
        memcpy(src, view, len);
        if ((k = tp_snapr_u64(r, &last)) < 0)
            return k;
        if (HASH_COUNT(s->sources) >= s->max)
            continue; /* a smaller lim.max_sources now: as if never seen */
        s_source_t *e = malloc(sizeof *e + len + 1);
        if (!e)
            return -ENOMEM;
        memcpy(e->source, src, len);
        e->source[len] = '\0';
        e->last = last;
        HASH_ADD_KEYPTR(hh, s->sources, e->source, len, e);
    }
    return 0;
}
