/* tp_lua_store — a Lua rule's own state (ctx:get / ctx:put), kept in C.
 *
 * The store belongs to the rule, not to its Lua state: a reload that swaps
 * the file keeps it, a snapshot holds it, and a replay of the event log
 * through the engine rebuilds it, as the built-in rules' state is rebuilt. A value is
 * a string, number, boolean or a flat table of those, encoded into one
 * byte string (type byte + payload), so an entry is one allocation.
 * Entries with a ttl are dropped when read past it, and swept every
 * SWEEP_EVERY puts so a rule that never reads them again stays bounded.
 * A snapshot holds the entries as encoded (this machine's byte order: a
 * snapshot is read back by the process that wrote it, or its restart),
 * checked on loading so a bad one is refused, never decoded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_hash.h"
#include "tp_lua_internal.h"

#define STORE_MAX_KEYS  1000000
#define VALUE_MAX_BYTES 65536
#define SWEEP_EVERY     4096

typedef struct entry {
    UT_hash_handle hh;
    int64_t        expires_ms; /* 0 = never */
    size_t         len;
    char          *value; /* encoded */
    char           key[];
} entry_t;

struct tp_lua_store {
    entry_t *map;
    size_t   puts;
};

int tp_lua_store_new(tp_lua_store_t **ret) {
    tp_lua_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    *ret = s;
    return 0;
}

static void s_drop(tp_lua_store_t *s, entry_t *e) {
    HASH_DEL(s->map, e);
    free(e->value);
    free(e);
}

void tp_lua_store_destroy(tp_lua_store_t **p) {
    tp_lua_store_t *s = p ? *p : NULL;
    if (!s)
        return;
    entry_t *e, *tmp;
    TP_HASH_DRAIN(s->map, e, tmp) {
        free(e->value);
        free(e);
    }
    free(s);
    *p = NULL;
}

size_t tp_lua_store_count(const tp_lua_store_t *s) {
    return HASH_COUNT(s->map);
}

typedef struct {
    char  *buf;
    size_t len, cap;
} enc_t;

static int s_put_bytes(enc_t *b, const void *p, size_t n) {
    if (b->len + n > VALUE_MAX_BYTES)
        return -E2BIG;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->len + n)
            cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb)
            return -ENOMEM;
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
    return 0;
}

/* One scalar at idx: 'b' bool, 'i' integer, 'd' float, 's' string. */
static int s_enc_scalar(enc_t *b, lua_State *L, int idx) {
    char t;
    int  r;
    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN: {
        char v[2] = { 'b', (char)lua_toboolean(L, idx) };
        return s_put_bytes(b, v, 2);
    }
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            lua_Integer i = lua_tointeger(L, idx);
            t = 'i';
            return (r = s_put_bytes(b, &t, 1)) < 0 ? r : s_put_bytes(b, &i, sizeof i);
        } else {
            lua_Number d = lua_tonumber(L, idx);
            t = 'd';
            return (r = s_put_bytes(b, &t, 1)) < 0 ? r : s_put_bytes(b, &d, sizeof d);
        }
    case LUA_TSTRING: {
        size_t      n;
        const char *s = lua_tolstring(L, idx, &n);
        uint32_t    n32 = (uint32_t)n;
        t = 's';
        if (n > VALUE_MAX_BYTES)
            return -E2BIG;
        if ((r = s_put_bytes(b, &t, 1)) < 0 || (r = s_put_bytes(b, &n32, sizeof n32)) < 0)
            return r;
        return s_put_bytes(b, s, n);
    }
    default: return -EINVAL;
    }
}

static int s_encode(enc_t *b, lua_State *L, int idx) {
    if (lua_type(L, idx) != LUA_TTABLE)
        return s_enc_scalar(b, L, idx);
    char t = 't';
    int  r = s_put_bytes(b, &t, 1);
    lua_pushnil(L);
    while (r == 0 && lua_next(L, idx)) {
        int kt = lua_type(L, -2);
        if (kt != LUA_TSTRING && !(kt == LUA_TNUMBER && lua_isinteger(L, -2)))
            r = -EINVAL;
        else if ((r = s_enc_scalar(b, L, lua_gettop(L) - 1)) == 0)
            r = s_enc_scalar(b, L, lua_gettop(L));
        lua_pop(L, 1);
    }
    if (r < 0 && lua_gettop(L) > idx)
        lua_settop(L, idx);
    return r;
}

static const char *s_dec_scalar(lua_State *L, const char *p) {
    switch (*p++) {
    case 'b': lua_pushboolean(L, *p); return p + 1;
    case 'i': {
        lua_Integer i;
        memcpy(&i, p, sizeof i);
        lua_pushinteger(L, i);
        return p + sizeof i;
    }
    case 'd': {
        lua_Number d;
        memcpy(&d, p, sizeof d);
        lua_pushnumber(L, d);
        return p + sizeof d;
    }
    default: {
        uint32_t n;
        memcpy(&n, p, sizeof n);
        lua_pushlstring(L, p + sizeof n, n);
        return p + sizeof n + n;
    }
    }
}

void tp_lua_store_get(tp_lua_store_t *s, lua_State *L, const char *key, int64_t now_ms) {
    entry_t *e;
    HASH_FIND_STR(s->map, key, e);
    if (e && e->expires_ms && now_ms >= e->expires_ms) {
        s_drop(s, e);
        e = NULL;
    }
    if (!e) {
        lua_pushnil(L);
        return;
    }
    const char *p = e->value, *end = e->value + e->len;
    if (*p != 't') {
        s_dec_scalar(L, p);
        return;
    }
    luaL_checkstack(L, 4, "get");
    lua_newtable(L);
    for (p++; p < end;) {
        p = s_dec_scalar(L, p);
        p = s_dec_scalar(L, p);
        lua_rawset(L, -3);
    }
}

static void s_sweep(tp_lua_store_t *s, int64_t now_ms) {
    entry_t *e, *tmp;
    HASH_ITER(hh, s->map, e, tmp) {
        if (e->expires_ms && now_ms >= e->expires_ms)
            s_drop(s, e);
    }
}

int tp_lua_store_put(tp_lua_store_t *s, lua_State *L, const char *key, int idx, int64_t now_ms,
                     int64_t ttl_ms, char *err, size_t errlen) {
    entry_t *e;
    HASH_FIND_STR(s->map, key, e);
    if (lua_isnoneornil(L, idx)) {
        if (e)
            s_drop(s, e);
        return 0;
    }
    if (++s->puts % SWEEP_EVERY == 0)
        s_sweep(s, now_ms);
    enc_t b = { 0 };
    int   r = s_encode(&b, L, idx);
    if (r == -EINVAL || r == -E2BIG) {
        snprintf(err, errlen,
                 r == -EINVAL ? "put: a value is a string, number, boolean or a flat table of "
                                "those (string or integer keys)"
                              : "put: value larger than %d bytes",
                 VALUE_MAX_BYTES);
        free(b.buf);
        return -EINVAL;
    }
    if (r < 0) {
        free(b.buf);
        return r;
    }
    if (!e) {
        if (HASH_COUNT(s->map) >= STORE_MAX_KEYS) {
            snprintf(err, errlen, "put: the store holds %d keys already", STORE_MAX_KEYS);
            free(b.buf);
            return -ENOSPC;
        }
        size_t klen = strlen(key);
        if (!(e = calloc(1, sizeof *e + klen + 1))) {
            free(b.buf);
            return -ENOMEM;
        }
        memcpy(e->key, key, klen + 1);
        HASH_ADD(hh, s->map, key, klen, e);
    }
    free(e->value);
    e->value = b.buf;
    e->len = b.len;
    e->expires_ms = ttl_ms ? now_ms + ttl_ms : 0;
    return 0;
}

/* ---- Snapshots ---- */

void tp_lua_store_save(const tp_lua_store_t *s, tp_snapw_t *w) {
    tp_snapw_u64(w, s->puts);
    tp_snapw_u64(w, HASH_COUNT(s->map));
    for (const entry_t *e = s->map; e; e = e->hh.next) {
        tp_snapw_str(w, e->key);
        tp_snapw_i64(w, e->expires_ms);
        tp_snapw_bytes(w, e->value, e->len);
    }
}

/* The bytes after one encoded scalar at p (before end), or NULL if it is
 * not one; ret_type its type byte. */
static const char *s_check_scalar(const char *p, const char *end, char *ret_type) {
    if (p >= end)
        return NULL;
    *ret_type = *p++;
    size_t need;
    switch (*ret_type) {
    case 'b': need = 1; break;
    case 'i': need = sizeof(lua_Integer); break;
    case 'd': need = sizeof(lua_Number); break;
    case 's': {
        uint32_t n;
        if ((size_t)(end - p) < sizeof n)
            return NULL;
        memcpy(&n, p, sizeof n);
        p += sizeof n;
        need = n;
        break;
    }
    default: return NULL;
    }
    return (size_t)(end - p) < need ? NULL : p + need;
}

/* True if value[0..len) is what s_encode writes. */
static bool s_valid(const char *value, size_t len) {
    const char *p = value, *end = value + len;
    char        t;
    if (len > 0 && *p != 't')
        return s_check_scalar(p, end, &t) == end;
    if (len == 0)
        return false;
    for (p++; p < end;) {
        if (!(p = s_check_scalar(p, end, &t)) || (t != 's' && t != 'i') ||
            !(p = s_check_scalar(p, end, &t)))
            return false;
    }
    return true;
}

int tp_lua_store_load(tp_lua_store_t *s, tp_snapr_t *r) {
    uint64_t puts = 0, n = 0;
    int      k;
    if ((k = tp_snapr_u64(r, &puts)) < 0 || (k = tp_snapr_u64(r, &n)) < 0)
        return k;
    if (n > STORE_MAX_KEYS)
        return -EBADMSG;
    for (uint64_t i = 0; i < n; i++) {
        char       *key = NULL;
        int64_t     expires = 0;
        const void *value;
        size_t      len;
        if ((k = tp_snapr_str(r, 1 << 16, &key)) < 0 || (k = tp_snapr_i64(r, &expires)) < 0 ||
            (k = tp_snapr_bytes(r, VALUE_MAX_BYTES + 16, &value, &len)) < 0) {
            free(key);
            return k;
        }
        entry_t *e = NULL;
        if (key)
            HASH_FIND_STR(s->map, key, e);
        if (!key || e || !s_valid(value, len)) {
            free(key);
            return -EBADMSG;
        }
        size_t klen = strlen(key);
        if (!(e = calloc(1, sizeof *e + klen + 1)) || !(e->value = malloc(len))) {
            free(e);
            free(key);
            return -ENOMEM;
        }
        memcpy(e->key, key, klen + 1);
        free(key);
        memcpy(e->value, value, len);
        e->len = len;
        e->expires_ms = expires;
        HASH_ADD(hh, s->map, key, klen, e);
    }
    s->puts = (size_t)puts;
    return 0;
}
