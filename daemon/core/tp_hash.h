/* tp_hash — uthash with XXH3 as its hash function, and the one way a table
 * is emptied. Daemon modules include this, never <uthash.h>, so every table
 * in the daemon hashes the same way.
 *
 * uthash's default (Jenkins) walks the key 12 bytes at a time with a dozen
 * operations per step; the rules look up alert ids and deadline keys of
 * 20-60 bytes several times per event, and those lookups were 10% of the
 * daemon's instructions (callgrind). XXH3 (Debian's libxxhash-dev, inlined:
 * no library at run time) hashes such keys in a few dozen instructions.
 * Table order changes with the hash: nothing may depend on it (nothing
 * does: iterations that are shown to people sort first).
 */
#pragma once

#define XXH_INLINE_ALL
#include <xxhash.h>

#define HASH_FUNCTION(keyptr, keylen, hashv) \
    ((hashv) = (unsigned)XXH3_64bits((keyptr), (size_t)(keylen)))
#include <uthash.h>

/* Frees a table's index (buckets and header, what HASH_CLEAR frees) and
 * nothing else: the elements, and the insertion-order links they hold,
 * stay valid. NULL is a no-op. */
static inline void tp_hash_free_index(UT_hash_table *tbl) {
    if (!tbl)
        return;
    HASH_BLOOM_FREE(tbl);
    uthash_free(tbl->buckets, tbl->num_buckets * sizeof(struct UT_hash_bucket));
    uthash_free(tbl, sizeof(UT_hash_table));
}

/* Empties the table `head` (handle named hh), visiting each element once so
 * the loop body can free it; `head` is NULL from the start. The index goes
 * first, then the loop follows the elements' own links: one pass, without
 * the per-element unlinking of HASH_DEL. What a destroy function does:
 *
 *     s_entry_t *e, *tmp;
 *     TP_HASH_DRAIN(in->table, e, tmp)
 *         free(e);
 */
#define TP_HASH_DRAIN(head, el, tmp)                                                   \
    for ((el) = (head), (head) = NULL, tp_hash_free_index((el) ? (el)->hh.tbl : NULL); \
         (el) && ((tmp) = (el)->hh.next, 1); (el) = (tmp))

/* Frees every element of `head` (elements of `type` that own nothing but
 * their own allocation) and leaves the table empty. */
#define TP_HASH_FREE_ALL(head, type) \
    do {                             \
        type *e_, *t_;               \
        TP_HASH_DRAIN(head, e_, t_)  \
        free(e_);                    \
    } while (0)
