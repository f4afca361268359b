/* tp_rule_index — the records a rule keeps per subject (an HCP, a
 * contract), found by the subject's id.
 *
 * channel_mismatch, uncoordinated_contact and follow_up_missing keep one
 * record per HCP, hcp_burden one per contract; each had its own hash table
 * with the same find / get-or-create / drop / free-all code. A record is
 * the rule's own struct (payload_size bytes, zeroed when created) with the
 * id stored behind it; `clear` (optional) frees what a record owns before
 * the record goes. Lookups are uthash on XXH3 (tp_hash.h), as before.
 */
#pragma once

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tp_hash.h"

typedef struct tp_rule_index tp_rule_index_t;

/* Private, here only so that the lookups below inline (they run on every
 * call event): what the index puts in front of each record, and itself. */
typedef struct {
    UT_hash_handle hh;
    const char    *id; /* behind the payload, same allocation */
    alignas(max_align_t) unsigned char payload[];
} tp_rule_index_head_t;

struct tp_rule_index {
    tp_rule_index_head_t *records; /* uthash by id */
    size_t                payload_size;
    void (*clear)(void *rec);
};

/* An id with its length and XXH3 hash, computed once per event and used
 * by every index it is looked up in (the engine hashes an event's hcp_id
 * once for the three per-HCP rules: tp_event_t.hcp). */
typedef struct tp_key {
    const char *s;
    size_t      len;
    uint64_t    hash; /* XXH3_64bits(s, len): the hash uthash uses here (tp_hash.h) */
} tp_key_t;

static inline tp_key_t tp_key(const char *s) {
    size_t len = strlen(s);
    return (tp_key_t){ .s = s, .len = len, .hash = XXH3_64bits(s, len) };
}

/* A new, empty index of payload_size-byte records. 0 or -ENOMEM. */
int tp_rule_index_new(size_t payload_size, void (*clear)(void *rec), tp_rule_index_t **ret);

/* The record of key k, or NULL: no hashing, the key carries its hash. */
static inline void *tp_rule_index_find_key(const tp_rule_index_t *ix, const tp_key_t *k) {
    tp_rule_index_head_t *h;
    HASH_FIND_BYHASHVALUE(hh, ix->records, k->s, (unsigned)k->len, (unsigned)k->hash, h);
    return h ? h->payload : NULL;
}

/* The record of `id`, or NULL. */
static inline void *tp_rule_index_find(const tp_rule_index_t *ix, const char *id) {
    tp_key_t k = tp_key(id);
    return tp_rule_index_find_key(ix, &k);
}

/* A new, zeroed record for an `id` the index does not hold; NULL when out
 * of memory. */
void *tp_rule_index_add(tp_rule_index_t *ix, const char *id);

/* The record of key k, created (zeroed) if there is none; *ret_created
 * (if not NULL) says which. NULL when out of memory. */
static inline void *tp_rule_index_get_key(tp_rule_index_t *ix, const tp_key_t *k,
                                          bool *ret_created) {
    void *rec = tp_rule_index_find_key(ix, k);
    if (ret_created)
        *ret_created = !rec;
    return rec ? rec : tp_rule_index_add(ix, k->s);
}

/* The same by `id`. */
static inline void *tp_rule_index_get(tp_rule_index_t *ix, const char *id, bool *ret_created) {
    tp_key_t k = tp_key(id);
    return tp_rule_index_get_key(ix, &k, ret_created);
}

/* The id a record is kept under (valid while the record is). */
static inline const char *tp_rule_index_id(const void *rec) {
    const unsigned char *p = rec;
    return ((const tp_rule_index_head_t *)(p - offsetof(tp_rule_index_head_t, payload)))->id;
}

/* Clears and frees one record. */
void tp_rule_index_drop(tp_rule_index_t *ix, void *rec);

/* Clears and frees every record, then the index; NULL-safe. */
void tp_rule_index_destroy(tp_rule_index_t **p);

/* The same for a rule whose whole state is one index: its tp_rule_t.free. */
void tp_rule_index_free(void *ix);

/* Snapshot (tp_snapio): every record, in insertion order, as its id then
 * what save writes. Load into an empty index: each record is created
 * zeroed and handed to load (arg passed along). 0 or negative errno. */
#include "tp_snapio.h"
void tp_rule_index_save(const tp_rule_index_t *ix, tp_snapw_t *w,
                        void (*save)(const void *rec, tp_snapw_t *w));
int  tp_rule_index_load(tp_rule_index_t *ix, tp_snapr_t                        *r,
                        int (*load)(void *rec, tp_snapr_t *r, void *arg), void *arg);
