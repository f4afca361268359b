/* tp_hash — uthash with XXH3 as its hash function. Daemon modules include
 * this, never <uthash.h>, so every table in the daemon hashes the same way.
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
